"""Downstream handlers: where events go, and the table of who receives what.

A handler is called with the event; it returns on success, raises PermanentFailure when trying
again cannot help, and raises anything else (RetryableFailure to name a Retry-After) to be
tried again later.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from receiver.config import HandlerConfig


class DeliveryFailure(Exception):
    """A handler could not deliver the event."""


class RetryableFailure(DeliveryFailure):
    """Try again later; retry_after_seconds is the receiver's own wish, when it said one."""

    def __init__(self, message: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class PermanentFailure(DeliveryFailure):
    """Trying again cannot help: dead-letter at once."""


class Handler(Protocol):
    """Delivers one event."""

    name: str

    def __call__(self, event: Mapping[str, Any]) -> None: ...


@dataclass
class PythonHandler:
    """Calls an importable function with the event."""

    name: str
    function: Callable[[Mapping[str, Any]], Any]

    def __call__(self, event: Mapping[str, Any]) -> None:
        self.function(event)


def import_target(target: str) -> Callable[[Mapping[str, Any]], Any]:
    """The function named by "package.module:function"."""
    module_name, _, attribute = target.partition(":")
    function = getattr(importlib.import_module(module_name), attribute)
    if not callable(function):
        raise TypeError(f"{target} is not callable")
    return function


@dataclass
class StreamHandler:
    """Appends the event to another Redis stream, for other services."""

    name: str
    client: redis.Redis
    stream: str

    def __call__(self, event: Mapping[str, Any]) -> None:
        fields = {
            "event": json.dumps(event, ensure_ascii=False, separators=(",", ":")),
            "idempotency_key": str(event.get("idempotency_key", "")),
        }
        try:
            self.client.xadd(self.stream, fields)
        except redis.RedisError as exc:
            raise RetryableFailure(f"redis: {type(exc).__name__}: {exc}") from exc


class HandlerTable:
    """Which handlers receive an event, in one visible place."""

    def __init__(self, routes: Sequence[tuple[HandlerConfig, Handler]]) -> None:
        self._routes = tuple(routes)
        self._by_name = {config.name: handler for config, handler in routes}

    def routed(self, event: Mapping[str, Any]) -> list[str]:
        """Names of the handlers routed this event."""
        return [config.name for config, _ in self._routes if config.wants(event)]

    def get(self, name: str) -> Handler | None:
        """A handler by name (None when it was removed from the configuration)."""
        return self._by_name.get(name)

    def describe(self) -> list[str]:
        """One line per handler: its name, kind and what it is routed."""
        lines = []
        for config, _ in self._routes:
            events = ", ".join(sorted(config.events)) if config.events else "all events"
            scope = "/".join(part or "*" for part in (config.publish_domain, config.app))
            lines.append(f"{config.name} ({config.kind.value}): {events} from {scope}")
        return lines
