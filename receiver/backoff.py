"""When to try a failed delivery again: exponential backoff with jitter."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before attempt n+1 after attempt n failed: base * 2^(n-1), capped, jittered.

    The jitter keeps each delay within [d/2, d] of its nominal value d, so retries of many
    deliveries that failed together spread out while staying predictable.
    """

    base_seconds: float
    max_seconds: float
    random: Callable[[], float] = field(default=random.random)

    def nominal(self, attempt: int) -> float:
        """The delay before jitter."""
        return min(self.max_seconds, self.base_seconds * 2 ** min(attempt - 1, 60))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the attempt-th attempt failed, honouring a Retry-After."""
        nominal = self.nominal(attempt)
        jittered = nominal / 2 + nominal / 2 * self.random()
        if retry_after is not None:
            jittered = max(jittered, min(retry_after, self.max_seconds))
        return jittered
