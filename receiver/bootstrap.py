"""The composition root: the one place that builds Redis clients and wires the parts."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from receiver.callbacks import CallbackRegistry
from receiver.config import RedisSettings, Settings
from receiver.intake import Clock, Intake
from receiver.keys import Keys
from receiver.store import EventStore


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a receiver process uses, built once per process."""

    settings: Settings
    redis: redis.Redis
    keys: Keys
    store: EventStore
    intake: Intake


def connect_redis(settings: RedisSettings) -> redis.Redis:
    """A client with short, explicit timeouts, so a hung Redis cannot hold a worker."""
    if settings.url is None:
        raise ValueError("no Redis URL configured")
    return redis.Redis.from_url(
        settings.url,
        socket_timeout=settings.socket_timeout_seconds,
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
    client = client if client is not None else connect_redis(settings.redis)
    keys = Keys(settings.redis.namespace)
    store = EventStore(client, keys, retry_after_seconds=settings.redis.retry_after_seconds)
    intake = Intake(
        registry=CallbackRegistry(settings.callbacks, settings.window),
        store=store,
        http=settings.http,
        window=settings.window,
        clock=clock,
    )
    return Services(settings, client, keys, store, intake)
