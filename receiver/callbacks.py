"""Which callback config, and so which keys, a callback is checked against."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from receiver.config import CallbackConfig
from receiver.errors import UnknownSource
from receiver.signature import TimeWindow, Verifier

WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class Source:
    """A callback config with the verifier built from its keys."""

    config: CallbackConfig
    verifier: Verifier

    def subscribes(self, event_type: str) -> bool:
        """Whether the config asked for events of this type."""
        return self.config.events is None or event_type in self.config.events


class CallbackRegistry:
    """Finds the config for (publish_domain, app): an exact app wins over "*"."""

    def __init__(self, configs: Iterable[CallbackConfig], window: TimeWindow) -> None:
        self._sources = {
            (config.publish_domain, config.app): Source(
                config, Verifier(config.sign_type, config.keys, window)
            )
            for config in configs
        }

    def resolve(self, publish_domain: str, app: str) -> Source:
        """The source for a callback, or UnknownSource."""
        domain = publish_domain.lower()
        source = self._sources.get((domain, app)) or self._sources.get((domain, WILDCARD))
        if source is None:
            raise UnknownSource(
                "no callback config for this publish_domain and app", code="unknown_source"
            )
        return source
