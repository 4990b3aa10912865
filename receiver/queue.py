"""The delivery queue in Redis: fan-out from the events stream, leases, retries, dead letters.

Events entry --(consumer group, fanout.lua)--> one delivery per routed handler, each a hash
plus a member of a sorted set scored by when it is next due. A worker leases due deliveries
(lease.lua pushes their due time to the lease's end); success deletes the delivery, failure
reschedules it, a last failure moves it to the dead-letter stream. A worker that dies leaves
its leases to run out, and the deliveries become due again: at least once, never lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

import redis

from receiver.keys import Keys

log = logging.getLogger(__name__)
MIN_MARK_MS = 86_400_000


def _script(client: redis.Redis, name: str) -> Any:
    return client.register_script(resources.files("receiver").joinpath(name).read_text("utf-8"))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry of the events stream."""

    entry_id: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Lease:
    """A delivery taken by this worker until its lease runs out."""

    delivery_id: str
    event: dict[str, Any]
    attempt: int

    @property
    def handler(self) -> str:
        """The handler's name."""
        return self.delivery_id.rsplit("/", 1)[1]

    @property
    def entry_id(self) -> str:
        """The events entry it came from."""
        return self.delivery_id.rsplit("/", 1)[0]


class OutcomeKind(StrEnum):
    """What became of one attempt."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one attempt, to be recorded."""

    lease: Lease
    kind: OutcomeKind
    error: str = ""
    due_ms: int = 0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A delivery that failed for good."""

    dead_id: str
    delivery_id: str
    handler: str
    event: dict[str, Any]
    attempts: int
    last_error: str
    failed_at_ms: int


class DeliveryQueue:
    """Every Redis operation of delivery, under one namespace."""

    def __init__(self, client: redis.Redis, keys: Keys, group: str) -> None:
        self.client = client
        self.keys = keys
        self.group = group
        self._fanout = _script(client, "fanout.lua")
        self._lease = _script(client, "lease.lua")
        self._reclaim = _script(client, "reclaim.lua")

    def ensure_group(self) -> None:
        """Create the consumer group (reading from the first entry) unless it exists."""
        try:
            self.client.xgroup_create(self.keys.events, self.group, id="0", mkstream=True)
            log.info("created consumer group %s on %s", self.group, self.keys.events)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read_new(self, consumer: str, count: int, block_ms: int | None) -> list[Entry]:
        """Entries never handed to the group before, re-creating a vanished group."""
        try:
            reply = self.client.xreadgroup(
                self.group, consumer, {self.keys.events: ">"}, count=count, block=block_ms
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("consumer group %s vanished; re-creating it", self.group)
            self.ensure_group()
            return []
        return [entry for _, messages in reply or [] for entry in self._entries(messages)]

    def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> tuple[list[Entry], int]:
        """Entries a dead consumer read but never fanned out, and how many were deleted."""
        try:
            deleted, live = self._reclaim(
                keys=[self.keys.events], args=[self.group, consumer, min_idle_ms, count]
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group()
            return [], 0
        messages = [(entry_id, _pairs(flat)) for entry_id, flat in live]
        return list(self._entries(messages)), int(deleted)

    def prune_consumers(self, min_idle_ms: int) -> int:
        """Forget consumers (dead workers) idle that long that hold no entry; returns how many."""
        try:
            consumers = self.client.xinfo_consumers(self.keys.events, self.group)
        except redis.ResponseError:
            return 0
        gone = [
            _text(consumer["name"])
            for consumer in consumers
            if int(consumer["pending"]) == 0 and int(consumer["idle"]) >= min_idle_ms
        ]
        for name in gone:
            self.client.xgroup_delconsumer(self.keys.events, self.group, name)
        return len(gone)

    @staticmethod
    def _entries(messages: Iterable[tuple[Any, Any]]) -> Iterable[Entry]:
        for entry_id, fields in messages:
            yield Entry(_text(entry_id), json.loads(fields[b"event"]))

    def fan_out(
        self, routed: Sequence[tuple[Entry, Sequence[str]]], now_ms: int, mark_ms: int
    ) -> int:
        """Create each entry's deliveries (once) and acknowledge it, in one round trip."""
        if not routed:
            return 0
        with self.client.pipeline(transaction=False) as pipe:
            for entry, handlers in routed:
                delivery_ids = [f"{entry.entry_id}/{name}" for name in handlers]
                keys = [self.keys.events, self.keys.deliveries, self.keys.fanned(entry.entry_id)]
                keys += [self.keys.delivery(delivery_id) for delivery_id in delivery_ids]
                event_json = json.dumps(entry.event, ensure_ascii=False, separators=(",", ":"))
                args = [self.group, entry.entry_id, now_ms, max(mark_ms, MIN_MARK_MS), event_json]
                self._fanout(keys=keys, args=args + delivery_ids, client=pipe)
            return sum(int(created) for created in pipe.execute())

    def lease(self, now_ms: int, lease_ms: int, limit: int) -> list[Lease]:
        """Take up to limit due deliveries for lease_ms."""
        flat = self._lease(
            keys=[self.keys.deliveries],
            args=[now_ms, now_ms + lease_ms, self.keys.delivery_prefix, limit],
        )
        return [
            Lease(_text(flat[i]), json.loads(flat[i + 1]), int(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]

    def extend(self, delivery_ids: Sequence[str], until_ms: int) -> None:
        """Keep leases of deliveries still in progress (a slow, alive handler)."""
        if delivery_ids:
            self.client.zadd(self.keys.deliveries, dict.fromkeys(delivery_ids, until_ms), xx=True)

    def release(self, delivery_ids: Sequence[str], now_ms: int) -> None:
        """Give back leased deliveries that were not started, due at once."""
        self.extend(delivery_ids, now_ms)

    def record(self, outcomes: Sequence[Outcome], now_ms: int) -> None:
        """Record what became of leased deliveries, all in one transaction."""
        if not outcomes:
            return
        with self.client.pipeline(transaction=True) as pipe:
            for outcome in outcomes:
                delivery_id = outcome.lease.delivery_id
                if outcome.kind is OutcomeKind.RETRY:
                    pipe.hset(self.keys.delivery(delivery_id), "last_error", outcome.error)
                    pipe.zadd(self.keys.deliveries, {delivery_id: outcome.due_ms}, xx=True)
                    continue
                if outcome.kind is OutcomeKind.DEAD:
                    pipe.xadd(self.keys.dead, self._dead_fields(outcome, now_ms))
                pipe.zrem(self.keys.deliveries, delivery_id)
                pipe.delete(self.keys.delivery(delivery_id))
            pipe.execute()

    @staticmethod
    def _dead_fields(outcome: Outcome, now_ms: int) -> dict[str, Any]:
        lease = outcome.lease
        return {
            "delivery": lease.delivery_id,
            "handler": lease.handler,
            "event": json.dumps(lease.event, ensure_ascii=False, separators=(",", ":")),
            "attempts": lease.attempt,
            "last_error": outcome.error,
            "failed_at_ms": now_ms,
        }

    def next_due_ms(self) -> int | None:
        """When the earliest delivery is due, or None when there is none."""
        first = self.client.zrange(self.keys.deliveries, 0, 0, withscores=True)
        return int(first[0][1]) if first else None

    def pending_count(self) -> int:
        """Deliveries not yet done (due, leased or waiting to retry)."""
        return int(self.client.zcard(self.keys.deliveries))

    def trim(self, cutoff_ms: int) -> int:
        """Trim processed entries older than cutoff_ms; unread or pending ones are never trimmed."""
        minimum = f"{cutoff_ms}-0"
        try:
            groups = self.client.xinfo_groups(self.keys.events)
        except redis.ResponseError:
            return 0
        for group in groups:
            last = _text(group["last-delivered-id"])
            minimum = _min_id(minimum, _next_id(last))
            pending = self.client.xpending(self.keys.events, _text(group["name"]))
            if pending["pending"]:
                minimum = _min_id(minimum, _text(pending["min"]))
        return int(self.client.xtrim(self.keys.events, minid=minimum, approximate=False))

    # Dead letters

    def dead_letters(self, count: int = 100, start: str = "-") -> list[DeadLetter]:
        """Dead letters, oldest first."""
        return [
            self._dead(entry_id, fields)
            for entry_id, fields in self.client.xrange(self.keys.dead, min=start, count=count)
        ]

    def dead_letter(self, dead_id: str) -> DeadLetter | None:
        """One dead letter by its id."""
        found = self.client.xrange(self.keys.dead, min=dead_id, max=dead_id)
        return self._dead(*found[0]) if found else None

    @staticmethod
    def _dead(entry_id: Any, fields: dict[bytes, bytes]) -> DeadLetter:
        return DeadLetter(
            dead_id=_text(entry_id),
            delivery_id=_text(fields[b"delivery"]),
            handler=_text(fields[b"handler"]),
            event=json.loads(fields[b"event"]),
            attempts=int(fields[b"attempts"]),
            last_error=_text(fields[b"last_error"]),
            failed_at_ms=int(fields[b"failed_at_ms"]),
        )

    def replay(self, letter: DeadLetter, now_ms: int) -> None:
        """Deliver a dead letter again from its first attempt, and remove it from the stream."""
        event_json = json.dumps(letter.event, ensure_ascii=False, separators=(",", ":"))
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.keys.delivery(letter.delivery_id),
                mapping={"event": event_json, "attempts": 0, "created_ms": now_ms},
            )
            pipe.zadd(self.keys.deliveries, {letter.delivery_id: now_ms})
            pipe.xdel(self.keys.dead, letter.dead_id)
            pipe.execute()

    def purge(self, dead_ids: Sequence[str]) -> int:
        """Delete dead letters; returns how many were deleted."""
        return int(self.client.xdel(self.keys.dead, *dead_ids)) if dead_ids else 0


def _pairs(flat: Sequence[Any]) -> dict[Any, Any]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _parse_id(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def _min_id(a: str, b: str) -> str:
    return a if _parse_id(a) <= _parse_id(b) else b


def _next_id(entry_id: str) -> str:
    milliseconds, sequence = _parse_id(entry_id)
    return f"{milliseconds}-{sequence + 1}"
