"""The composition root: the one place that builds Redis clients and wires the parts."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from receiver.backoff import Backoff
from receiver.callbacks import CallbackRegistry
from receiver.config import HandlerConfig, HandlerKind, RedisSettings, Settings
from receiver.forwarding import HttpHandler
from receiver.handlers import Handler, HandlerTable, PythonHandler, StreamHandler, import_target
from receiver.intake import Clock, Intake
from receiver.keys import Keys
from receiver.metrics import Metrics, QueueCollector
from receiver.queue import DeliveryQueue
from receiver.redis_checks import check_durability
from receiver.store import EventStore
from receiver.worker import Worker


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a receiver process uses, built once per process."""

    settings: Settings
    redis: redis.Redis
    keys: Keys
    store: EventStore
    intake: Intake
    metrics: Metrics
    queue_metrics: QueueCollector


def connect_redis(settings: RedisSettings, *, socket_timeout: float | None = None) -> redis.Redis:
    """A client with short, explicit timeouts, so a hung Redis cannot hold a worker."""
    if settings.url is None:
        raise ValueError("no Redis URL configured")
    return redis.Redis.from_url(
        settings.url,
        socket_timeout=socket_timeout or settings.socket_timeout_seconds,
        socket_connect_timeout=settings.connect_timeout_seconds,
        # One immediate retry on a fresh connection survives a Redis restart; more would
        # hold the request past its budget.
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )


def build_services(
    settings: Settings, *, client: redis.Redis | None = None, clock: Clock = time.time
) -> Services:
    """Wire the receiver from its settings, a Redis client (built if not given) and a clock."""
    if client is None:
        client = connect_redis(settings.redis)
        check_redis(client, settings)
    keys = Keys(settings.redis.namespace)
    store = EventStore(
        client,
        keys,
        retry_after_seconds=settings.redis.retry_after_seconds,
        remember_seconds=settings.redis.remember_days * 86_400,
    )
    intake = Intake(
        registry=CallbackRegistry(settings.callbacks, settings.window),
        store=store,
        http=settings.http,
        window=settings.window,
        clock=clock,
    )
    metrics = Metrics()
    queue_metrics = QueueCollector(client, keys, settings.delivery.group)
    return Services(settings, client, keys, store, intake, metrics, queue_metrics)


def check_redis(client: redis.Redis, settings: Settings) -> None:
    """Warn about (or, when required, refuse) a Redis that may lose events; unreachable is fine."""
    # An unreachable Redis is not refused here: callbacks get 503 until it is back (/readyz).
    with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
        check_durability(client, require=settings.redis.require_durable)


def build_handler(config: HandlerConfig, client: redis.Redis, concurrency: int) -> Handler:
    """The handler a configuration describes."""
    if config.kind is HandlerKind.HTTP:
        return HttpHandler.from_config(config, maxsize=concurrency)
    if config.kind is HandlerKind.PYTHON:
        return PythonHandler(config.name, import_target(str(config.target)))
    return StreamHandler(config.name, client, str(config.stream))


def build_worker(
    settings: Settings,
    *,
    client: redis.Redis | None = None,
    clock: Clock = time.time,
    backoff: Backoff | None = None,
    consumer: str | None = None,
    metrics: Metrics | None = None,
) -> Worker:
    """Wire a delivery worker; its client waits longer than the web's, to block on the stream."""
    if client is None:
        client = connect_redis(
            settings.redis, socket_timeout=max(5.0, settings.redis.socket_timeout_seconds)
        )
    delivery = settings.delivery
    table = HandlerTable(
        [
            (config, build_handler(config, client, delivery.concurrency))
            for config in settings.handlers
        ]
    )
    worker = Worker(
        queue=DeliveryQueue(client, Keys(settings.redis.namespace), delivery.group),
        table=table,
        settings=delivery,
        backoff=backoff or Backoff(delivery.backoff_base_seconds, delivery.backoff_max_seconds),
        clock=clock,
        metrics=metrics or Metrics(),
    )
    if consumer:
        worker.consumer = consumer
    return worker
