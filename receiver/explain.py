"""Why a callback would be accepted or rejected, step by step (`receiver explain`).

Every step runs the receiver's own code (parsing, config lookup, timestamp window, signing,
normalization, the replay claim), so an explanation cannot disagree with a real answer. Keys
are never shown: the signed string masks them, signatures are shown as short prefixes.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

import redis

from receiver.callbacks import WILDCARD, CallbackRegistry, Source
from receiver.config import Settings
from receiver.errors import ReceiverError
from receiver.identity import replay_identity
from receiver.intake import REQUIRED_FIELDS, required_text
from receiver.keys import Keys
from receiver.parsing import parse_body
from receiver.schemas import normalize, utc_from_unix
from receiver.signature import (
    SIGNED_FIELDS,
    SignType,
    Verification,
    parse_timestamp,
    sign,
    text_field,
)


@dataclass
class Step:
    """One check: its name, whether it passed (None: not applicable), and what was found."""

    name: str
    passed: bool | None
    detail: str


@dataclass
class Explanation:
    """The verdict the receiver would give, and the steps that lead to it."""

    steps: list[Step] = field(default_factory=list)
    status: int = 200
    code: str = "accepted"

    def fail(self, name: str, error: ReceiverError) -> Explanation:
        """Record the failing step and the answer it leads to."""
        self.steps.append(Step(name, False, error.message))
        self.status, self.code = error.status, error.code
        return self

    def as_dict(self) -> dict[str, Any]:
        """The explanation as JSON-ready data."""
        return {
            "status": self.status,
            "code": self.code,
            "steps": [vars(step) for step in self.steps],
        }


def _short(signature: str) -> str:
    return f"{signature[:8]}…" if signature else "(none)"


def explain(
    body: bytes,
    settings: Settings,
    now: float,
    *,
    client: redis.Redis | None = None,
) -> Explanation:
    """Explain what the receiver configured by settings would answer to body at time now."""
    result = Explanation()
    try:
        payload = parse_body(
            body, max_bytes=settings.http.max_body_bytes, max_depth=settings.http.max_depth
        )
        event_type, domain, app = (required_text(payload, name) for name in REQUIRED_FIELDS)
    except ReceiverError as error:
        return result.fail("body", error)
    result.steps.append(Step("body", True, f"a JSON object; {event_type} for {domain}/{app}"))
    registry = CallbackRegistry(settings.callbacks, settings.window)
    try:
        source = registry.resolve(domain, app)
    except ReceiverError as error:
        configured = sorted({config.label for config in settings.callbacks})
        error.message += f"; configured: {', '.join(configured)}"
        return result.fail("config", error)
    config = source.config
    how = "exact app match" if config.app != WILDCARD else f"no config for app {app!r}; wildcard"
    result.steps.append(
        Step(
            "config",
            True,
            f"{config.label} ({how}), {config.sign_type.value}, {len(config.keys)} key(s)",
        )
    )
    verification = _explain_signature(result, payload, settings, source, now)
    if verification is None:
        return result
    if not source.subscribes(event_type):
        result.steps.append(
            Step(
                "subscription",
                False,
                f"{event_type} is not in the config's events: answered 200 'ignored', not stored",
            )
        )
        result.code = "ignored"
        return result
    identity = replay_identity(verification, payload)
    try:
        event = normalize(payload, verification, identity, now)
    except ReceiverError as error:
        return result.fail("fields", error)
    result.steps.append(
        Step("fields", True, f"normalized; idempotency key {event['idempotency_key']}")
    )
    _explain_replay(result, identity, settings, client)
    return result


def _explain_signature(
    result: Explanation, payload: dict[str, Any], settings: Settings, source: Source, now: float
) -> Verification | None:
    """The verifier's own verdict, with what explains it: expiry, signed text, key by key."""
    try:
        verification: Verification | None = source.verifier.verify(payload, now)
        failure: ReceiverError | None = None
    except ReceiverError as error:
        verification, failure = None, error
    if source.config.sign_type is SignType.NONE:
        result.steps.append(Step("signature", None, "unsigned config: no signature is checked"))
        return verification
    try:
        expires_at, timestamp_text = parse_timestamp(payload.get("auth_timestamp"))
    except ReceiverError:
        timestamp_text = None
    if timestamp_text is not None:
        _explain_details(result, payload, settings, source, now, expires_at, timestamp_text)
    if failure is not None:
        result.fail("verdict", failure)
        return None
    result.steps.append(Step("verdict", True, "the signature is genuine and current"))
    return verification


def _explain_details(
    result: Explanation,
    payload: dict[str, Any],
    settings: Settings,
    source: Source,
    now: float,
    expires_at: int,
    timestamp_text: str,
) -> None:
    window = settings.window
    remaining = expires_at - now
    current = -window.leeway_seconds <= remaining <= window.max_validity_seconds
    result.steps.append(
        Step(
            "timestamp",
            current,
            f"expires {utc_from_unix(expires_at)}, "
            f"{'in' if remaining >= 0 else 'ago'} {abs(remaining):.0f}s (leeway "
            f"{window.leeway_seconds}s, max validity {window.max_validity_seconds}s)",
        )
    )
    sign_type = source.config.sign_type
    try:
        result.steps.append(
            Step("signed string", None, _signed_text(payload, sign_type, timestamp_text))
        )
    except ReceiverError:
        return  # a signed field of the wrong type: the verdict says which
    received = payload.get("auth_sign")
    received_text = received.lower() if isinstance(received, str) else ""
    keys = source.config.keys
    for number, key in enumerate(keys, start=1):
        expected = sign(sign_type, key.reveal(), payload, timestamp_text)
        matches = hmac.compare_digest(expected, received_text) if received_text.isascii() else False
        result.steps.append(
            Step(
                f"key {number} of {len(keys)} ({key.fingerprint()})",
                matches,
                f"expected {_short(expected)}, received {_short(received_text)}",
            )
        )


def _signed_text(payload: dict[str, Any], sign_type: SignType, timestamp_text: str) -> str:
    if sign_type is SignType.MD5:
        return f"MD5(<key> + {timestamp_text!r})"
    parts = [f"auth_timestamp={timestamp_text!r}"]
    parts += [f"{name}={text_field(payload, name)!r}" for name in SIGNED_FIELDS]
    return "HMAC-SHA256(<key>, " + " + ".join(parts) + ")"


def _explain_replay(
    result: Explanation, identity: str, settings: Settings, client: redis.Redis | None
) -> None:
    if client is None:
        result.steps.append(Step("replay", None, "not checked: no Redis configured"))
        return
    try:
        original = client.get(Keys(settings.redis.namespace).claim(identity))
    except redis.RedisError as exc:
        result.steps.append(Step("replay", None, f"not checked: Redis {type(exc).__name__}"))
        return
    if original is None:
        result.steps.append(Step("replay", True, "not seen before: would be stored"))
        return
    result.code = "duplicate"
    entry = original.decode() if isinstance(original, bytes) else original
    result.steps.append(
        Step(
            "replay",
            None,
            f"seen already: a duplicate of stream entry {entry}, answered 200 and not stored again",
        )
    )
