"""The delivery worker: fans events out to handlers and delivers them at least once.

One loop: read new events entries through the consumer group and fan each out; now and then
reclaim entries a dead consumer left unacknowledged and trim processed entries; lease due
deliveries and run them on a thread pool while a heartbeat keeps their leases alive.

SIGTERM or SIGINT: finish the deliveries in hand, give back the leased ones not started, exit
(warm stop). A second signal exits at once (cold stop); its leases run out and other workers
deliver them again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from types import FrameType

import redis

from receiver.backoff import Backoff
from receiver.config import DeliverySettings
from receiver.handlers import HandlerTable, PermanentFailure
from receiver.metrics import Metrics
from receiver.queue import DeliveryQueue, Entry, Lease, Outcome, OutcomeKind

log = logging.getLogger(__name__)
Clock = Callable[[], float]
TRIM_EVERY_SECONDS = 60.0
PRUNE_IDLE_MS = 3_600_000  # consumers silent this long, holding nothing, are forgotten
IDLE_BLOCK_MS = 500


def default_consumer_name() -> str:
    """A consumer name unique to this process."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class WorkerStats:
    """What one worker did, for logs and tests."""

    fanned_out: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    reclaimed: int = 0
    deleted_while_pending: int = 0
    trimmed: int = 0


@dataclass
class Worker:
    """Delivers events from the queue to the handler table."""

    queue: DeliveryQueue
    table: HandlerTable
    settings: DeliverySettings
    backoff: Backoff
    clock: Clock = time.time
    consumer: str = field(default_factory=default_consumer_name)
    stats: WorkerStats = field(default_factory=WorkerStats)
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._finished = threading.Event()
        self._lock = threading.Lock()  # guards _running, which the heartbeat reads
        self._pool: ThreadPoolExecutor | None = None
        self._running: dict[Future[Outcome | None], Lease] = {}
        self._last_trim = 0.0
        self._last_reclaim = 0.0

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # Lifecycle

    def install_signal_handlers(self) -> None:
        """Warm stop on the first SIGTERM/SIGINT, cold stop on the second."""
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._on_signal)

    def _on_signal(self, number: int, _frame: FrameType | None) -> None:
        if self._stopping.is_set():
            log.warning("second signal: exiting at once; leased deliveries will be retried")
            os._exit(128 + number)
        log.info("signal %s: finishing deliveries in hand, then exiting", number)
        self._stopping.set()

    def stop(self) -> None:
        """Ask the loop to finish what it holds and return."""
        self._stopping.set()

    def run(self, *, burst: bool = False) -> WorkerStats:
        """Work until stopped (or, in burst mode, until no delivery is left)."""
        self.queue.ensure_group()
        self._finished.clear()
        self._pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="deliver")
        heartbeat = threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True)
        heartbeat.start()
        log.info("worker %s started; handlers: %s", self.consumer, "; ".join(self.table.describe()))
        try:
            while not self._stopping.is_set():
                try:
                    busy = self.step()
                    if burst and not busy and self._drained():
                        break
                    if not busy:
                        self._idle()
                except redis.RedisError as exc:
                    log.warning("redis unavailable (%s); retrying in 1s", type(exc).__name__)
                    self._stopping.wait(1.0)
        finally:
            self._stopping.set()
            self._pool.shutdown(wait=True)
            self._harvest_safely()
            self._finished.set()
            heartbeat.join()
            self._stopping.clear()
        log.info("worker %s stopped: %s", self.consumer, self.stats)
        return self.stats

    def _drained(self) -> bool:
        if self._running or self.queue.pending_count():
            return False
        return self._fan_out(self.queue.read_new(self.consumer, 100, None)) == 0

    def _idle(self) -> None:
        if self._running:
            wait(list(self._running), timeout=IDLE_BLOCK_MS / 1000, return_when=FIRST_COMPLETED)
            return
        next_due = self.queue.next_due_ms()
        wait_ms = IDLE_BLOCK_MS if next_due is None else next_due - self._now_ms()
        wait_ms = max(1, min(IDLE_BLOCK_MS, wait_ms))
        self._fan_out(self.queue.read_new(self.consumer, 100, wait_ms))

    # One round of work

    def step(self) -> int:
        """Do whatever is ready now; returns how much was done."""
        done = self._fan_out(self.queue.read_new(self.consumer, 100, None))
        now = self.clock()
        if now - self._last_reclaim >= max(1.0, self.settings.claim_idle_seconds / 2):
            self._last_reclaim = now
            done += self._reclaim()
        if now - self._last_trim >= TRIM_EVERY_SECONDS:
            self._last_trim = now
            self.stats.trimmed += self.queue.trim(
                int((now - self.settings.retention_seconds) * 1000)
            )
        return done + self._deliver_due()

    def _fan_out(self, entries: list[Entry]) -> int:
        mark_ms = self.settings.retention_seconds * 1000
        routed = [(entry, self.table.routed(entry.event)) for entry in entries]
        self.stats.fanned_out += self.queue.fan_out(routed, self._now_ms(), mark_ms)
        return len(entries)

    def _reclaim(self) -> int:
        idle_ms = int(self.settings.claim_idle_seconds * 1000)
        entries, deleted = self.queue.reclaim(self.consumer, idle_ms, 100)
        self.queue.prune_consumers(max(idle_ms, PRUNE_IDLE_MS))
        if entries or deleted:
            log.warning(
                "reclaimed %d entries of a dead consumer (%d deleted while pending)",
                len(entries),
                deleted,
            )
        self.stats.reclaimed += len(entries)
        self.stats.deleted_while_pending += deleted
        return self._fan_out(entries) + deleted

    def _deliver_due(self) -> int:
        """Record finished deliveries, then lease as many due ones as there are free slots.

        The pool is kept fed continuously, so one slow delivery never holds back the others.
        """
        done = self._harvest()
        pool = self._pool
        if pool is None:
            raise RuntimeError("deliveries run only inside Worker.run()")
        free = self.settings.concurrency * 2 - len(self._running)
        if free <= 0 or self._stopping.is_set():
            return done
        lease_ms = int(self.settings.lease_seconds * 1000)
        leases = self.queue.lease(self._now_ms(), lease_ms, free)
        for lease in leases:
            future = pool.submit(self._attempt, lease)
            with self._lock:
                self._running[future] = lease
        return done + len(leases)

    def _harvest(self) -> int:
        """Record the outcomes of finished deliveries in one transaction."""
        finished = [future for future in self._running if future.done()]
        if not finished:
            return 0
        with self._lock:
            for future in finished:
                del self._running[future]
        outcomes = [outcome for future in finished if (outcome := future.result())]
        try:
            self.queue.record(outcomes, self._now_ms())
        except redis.RedisError as exc:
            # The outcomes could not be recorded; the leases run out and the deliveries are
            # attempted again: at least once, never lost.
            log.warning("could not record %d deliveries: %s", len(outcomes), type(exc).__name__)
            outcomes = []
        self._count(outcomes)
        return len(finished)

    def _harvest_safely(self) -> None:
        try:
            self._harvest()
        except redis.RedisError as exc:
            log.warning("could not record the last deliveries: %s", type(exc).__name__)

    def _count(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            self.metrics.deliveries.labels(outcome.lease.handler, outcome.kind.value).inc()
            if outcome.kind is OutcomeKind.DELIVERED:
                self.stats.delivered += 1
            elif outcome.kind is OutcomeKind.RETRY:
                self.stats.retried += 1
                log.info(
                    "delivery %s attempt %d failed (%s); next at %d",
                    outcome.lease.delivery_id,
                    outcome.lease.attempt,
                    outcome.error,
                    outcome.due_ms,
                )
            else:
                self.stats.dead += 1
                log.warning(
                    "delivery %s dead-lettered after %d attempt(s): %s",
                    outcome.lease.delivery_id,
                    outcome.lease.attempt,
                    outcome.error,
                )

    def _attempt(self, lease: Lease) -> Outcome | None:
        """Deliver one leased delivery; None gives it back untried (warm stop)."""
        if self._stopping.is_set():
            with contextlib.suppress(redis.RedisError):  # else its lease simply runs out
                self.queue.release([lease.delivery_id], self._now_ms())
            return None
        handler = self.table.get(lease.handler)
        if handler is None:
            return Outcome(lease, OutcomeKind.DEAD, "handler is no longer configured")
        try:
            handler(lease.event)
        except PermanentFailure as exc:
            return Outcome(lease, OutcomeKind.DEAD, str(exc))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if lease.attempt >= self.settings.max_attempts:
                return Outcome(lease, OutcomeKind.DEAD, error)
            delay = self.backoff.delay(lease.attempt, getattr(exc, "retry_after_seconds", None))
            return Outcome(lease, OutcomeKind.RETRY, error, self._now_ms() + int(delay * 1000))
        return Outcome(lease, OutcomeKind.DELIVERED)

    def _heartbeat(self) -> None:
        lease_ms = int(self.settings.lease_seconds * 1000)
        while not self._finished.wait(self.settings.lease_seconds / 3):
            with self._lock:
                holding = [lease.delivery_id for lease in self._running.values()]
            try:
                self.queue.extend(holding, self._now_ms() + lease_ms)
            except redis.RedisError as exc:
                log.warning("could not extend leases: %s", type(exc).__name__)
