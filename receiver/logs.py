"""Logging: one JSON object per line, carrying the request id of the request being served."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Adds the current request id (or null) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Send the receiver's logs to stderr, as JSON lines unless json is False."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if json:
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}{request_id}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.setLevel(level.upper())  # libraries that set their own loggers' levels obey it too
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class SampledLog:
    """Logs at most `per_second` lines per key; a flood is summarized, not written out.

    Every line after a quiet spell carries `suppressed`: how many lines of its key were skipped
    since the last one written, so nothing is silently lost from the count.
    """

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_second = per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float, int]] = {}

    def allow(self, key: str) -> int | None:
        """The number suppressed before this line if it may be written, else None."""
        now = self._clock()
        with self._lock:
            tokens, last, suppressed = self._buckets.get(key, (self._per_second, now, 0))
            tokens = min(self._per_second, tokens + (now - last) * self._per_second)
            if tokens < 1:
                self._buckets[key] = (tokens, now, suppressed + 1)
                return None
            self._buckets[key] = (tokens - 1, now, 0)
            return suppressed
