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

    def idempotency(self, key: str) -> str:
        """Marks an idempotency key as seen; its value is the entry id of the event."""
        return f"{self.tag}:idem:{key}"

    @property
    def deliveries(self) -> str:
        """Sorted set of pending deliveries, scored by when each is next due (ms)."""
        return f"{self.tag}:deliveries"

    @property
    def delivery_prefix(self) -> str:
        """Prefix of the hash holding one delivery's event and attempt count."""
        return f"{self.tag}:delivery:"

    def delivery(self, delivery_id: str) -> str:
        """The hash of one delivery ("<entry id>/<handler>")."""
        return self.delivery_prefix + delivery_id

    def fanned(self, entry_id: str) -> str:
        """Marks an events entry whose deliveries were created, so it is never fanned out twice."""
        return f"{self.tag}:fanned:{entry_id}"

    @property
    def dead(self) -> str:
        """The dead-letter stream: deliveries that failed for good, with their last error."""
        return f"{self.tag}:dead"
