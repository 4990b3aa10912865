"""Receiving one callback: parse, find its config, verify, normalize, store once.

Knows nothing of HTTP: it takes the body's bytes and returns a Receipt or raises a ReceiverError.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from receiver.callbacks import CallbackRegistry
from receiver.config import HttpSettings
from receiver.errors import BadRequest, ReceiverError
from receiver.identity import event_id, replay_identity
from receiver.parsing import parse_body
from receiver.schemas import normalize
from receiver.signature import TimeWindow, text_field
from receiver.store import EventStore, Outcome, Receipt

Clock = Callable[[], float]
log = logging.getLogger(__name__)
REQUIRED_FIELDS = ("event_type", "publish_domain", "app")


def claim_ttl_ms(expires_at: int, leeway_seconds: int, now: float) -> int:
    """How long a replay claim must live: until the signature can no longer be accepted."""
    return max(1000, math.ceil((expires_at + leeway_seconds - now) * 1000))


def required_text(payload: Mapping[str, Any], name: str) -> str:
    """A string field that must be present and non-empty."""
    value = text_field(payload, name)
    if not value:
        raise BadRequest(f"{name} is required", code="missing_field", field=name)
    return value


class Intake:
    """Turns callback bodies into stored events, each delivery at most once."""

    def __init__(
        self,
        *,
        registry: CallbackRegistry,
        store: EventStore,
        http: HttpSettings,
        window: TimeWindow,
        clock: Clock,
    ) -> None:
        self._registry = registry
        self._store = store
        self._http = http
        self._window = window
        self._clock = clock

    def receive(self, body: bytes) -> Receipt:
        """Store the callback in body once, or raise the error that says why not."""
        payload = parse_body(
            body, max_bytes=self._http.max_body_bytes, max_depth=self._http.max_depth
        )
        event_type, domain, app = (required_text(payload, name) for name in REQUIRED_FIELDS)
        try:
            source = self._registry.resolve(domain, app)
            now = self._clock()
            verification = source.verifier.verify(payload, now)
        except ReceiverError as error:
            error.context = {"publish_domain": domain, "app": app, "event_type": event_type}
            raise
        identity = replay_identity(verification, payload)
        if not source.subscribes(event_type):
            log.info(
                "callback ignored: %s is not subscribed by %s", event_type, source.config.label
            )
            return Receipt(Outcome.IGNORED, event_id(identity))
        event = normalize(payload, verification, identity, now)
        ttl_ms = claim_ttl_ms(verification.expires_at, self._window.leeway_seconds, now)
        return self._store.claim_and_append(identity, ttl_ms, event)
