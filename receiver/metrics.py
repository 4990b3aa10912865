"""Prometheus metrics, correct under several gunicorn workers (multiprocess mode).

Set PROMETHEUS_MULTIPROC_DIR (an empty directory, the same for web and worker processes on a
host) before the processes start; /metrics then adds up every process's counters. Without it,
each process reports its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import redis
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from receiver.keys import Keys

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def multiprocess_mode() -> bool:
    """Whether counters are shared through PROMETHEUS_MULTIPROC_DIR."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """The receiver's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.callbacks = Counter(
            "receiver_callbacks",
            "Callbacks received, by outcome (accepted, duplicate, ignored, rejected, "
            "unavailable) and rejection reason.",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "receiver_request_duration_seconds",
            "Time to answer an HTTP request, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.deliveries = Counter(
            "receiver_deliveries",
            "Delivery attempts, by handler and outcome (delivered, retry, dead).",
            ["handler", "outcome"],
            registry=self.registry,
        )


class QueueCollector(Collector):
    """Stream length, routing backlog, pending deliveries and dead letters, read at scrape."""

    def __init__(self, client: redis.Redis, keys: Keys, group: str) -> None:
        self._client = client
        self._keys = keys
        self._group = group

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("receiver_redis_up", "Whether Redis answered the scrape.")
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.xlen(self._keys.events)
                pipe.zcard(self._keys.deliveries)
                pipe.xlen(self._keys.dead)
                stream, deliveries, dead = pipe.execute()
            unrouted = self._unrouted()
        except redis.RedisError as exc:
            log.warning("metrics: redis unavailable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for name, text, value in (
            ("receiver_stream_length", "Entries in the events stream.", stream),
            (
                "receiver_stream_unrouted",
                "Events read by no worker yet, or read but not routed.",
                unrouted,
            ),
            (
                "receiver_deliveries_pending",
                "Deliveries due, in progress or waiting to retry.",
                deliveries,
            ),
            ("receiver_dead_letters", "Entries in the dead-letter stream.", dead),
        ):
            gauge = GaugeMetricFamily(name, text)
            gauge.add_metric([], value)
            yield gauge

    def _unrouted(self) -> int:
        try:
            groups = self._client.xinfo_groups(self._keys.events)
        except redis.ResponseError:
            return 0
        for group in groups:
            name = group["name"]
            if (name.decode() if isinstance(name, bytes) else name) == self._group:
                lag = group.get("lag")
                return int(group.get("pending", 0)) + int(lag or 0)
        return 0


def exposition(metrics: Metrics, queue: Collector) -> tuple[bytes, str]:
    """The /metrics body and its content type."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(metrics.registry))
    registry.register(queue)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()
