"""Every Redis key name the receiver uses, in one place.

All keys share one hash tag, "{namespace}", so a Lua script touching several of them runs on one
Redis Cluster slot.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one namespace."""

    namespace: str

    @property
    def tag(self) -> str:
        """The hash tag every key starts with."""
        return "{" + self.namespace + "}"

    @property
    def events(self) -> str:
        """The stream of accepted events."""
        return f"{self.tag}:events"

    def claim(self, identity: str) -> str:
        """The replay claim of one delivery; its value is the event's stream entry id."""
        return f"{self.tag}:claim:{identity}"
