"""The durable side of intake: one atomic claim-and-append per delivery."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

import redis

from receiver.errors import Unavailable
from receiver.keys import Keys


class Outcome(StrEnum):
    """What became of a verified callback."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Receipt:
    """The answer intake gives for a verified callback."""

    outcome: Outcome
    event_id: str
    stream_id: str | None = None


def encode_event(event: dict[str, Any]) -> str:
    """The stream entry's JSON text of an event."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


class EventStore:
    """Appends events to the stream, each delivery at most once."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        retry_after_seconds: int = 5,
        remember_seconds: int = 30 * 86_400,
    ) -> None:
        self._client = client
        self._keys = keys
        self._retry_after = retry_after_seconds
        self._remember_ms = remember_seconds * 1000
        source = resources.files("receiver").joinpath("claim_append.lua").read_text("utf-8")
        self._claim_append = client.register_script(source)

    def claim_and_append(self, identity: str, ttl_ms: int, event: dict[str, Any]) -> Receipt:
        """Append the event unless the identity was claimed; either way name the entry."""
        return self._run(self._keys.claim(identity), ttl_ms, event)

    def append_unless_known(self, event: dict[str, Any]) -> Receipt:
        """Append the event unless an event with its idempotency key was stored (reconciliation)."""
        return self._run(self._keys.idempotency(event["idempotency_key"]), self._remember_ms, event)

    def _run(self, claim_key: str, ttl_ms: int, event: dict[str, Any]) -> Receipt:
        marker = self._keys.idempotency(event["idempotency_key"])
        keys = [claim_key, self._keys.events, marker]
        args: list[Any] = [ttl_ms, self._remember_ms, "event", encode_event(event)]
        try:
            appended, entry_id = self._claim_append(keys=keys, args=args)
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        outcome = Outcome.ACCEPTED if appended == 1 else Outcome.DUPLICATE
        return Receipt(outcome, event["id"], _text(entry_id))

    def ping(self) -> None:
        """Raise Unavailable unless Redis answers."""
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: redis.RedisError) -> Unavailable:
        return Unavailable(
            f"event storage is unavailable ({type(exc).__name__}); retry later",
            code="storage_unavailable",
            retry_after_seconds=self._retry_after,
        )


def _text(value: bytes | str) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value
