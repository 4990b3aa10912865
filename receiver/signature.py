"""Huawei Cloud Live callback signatures: signing, and strict verification.

MD5 mode:        auth_sign = hex(MD5(key + auth_timestamp))
HMACSHA256 mode: auth_sign = hex(HMAC-SHA256(key, auth_timestamp + event_type + publish_domain
                                              + app + stream + download_url + play_url))
Absent or null fields count as empty strings; text is UTF-8; hex is compared case-insensitively.
auth_timestamp is the moment the signature expires, in Unix seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from receiver.errors import BadRequest, SignatureRejected
from receiver.secret import Secret

SIGNED_FIELDS = ("event_type", "publish_domain", "app", "stream", "download_url", "play_url")
_TIMESTAMP_TEXT = re.compile(r"[0-9]{1,12}")
_HEX = {64: re.compile(r"[0-9a-fA-F]{64}"), 32: re.compile(r"[0-9a-fA-F]{32}")}


class SignType(StrEnum):
    """How a callback config signs its callbacks."""

    HMACSHA256 = "HMACSHA256"
    MD5 = "MD5"
    NONE = "NONE"


def text_field(payload: Mapping[str, object], name: str) -> str:
    """A string field of the payload, with absent or null read as empty."""
    value = payload.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", code="invalid_field", field=name)
    return value


def signed_message(payload: Mapping[str, object], timestamp_text: str) -> str:
    """The exact text HMACSHA256 mode signs."""
    return timestamp_text + "".join(text_field(payload, name) for name in SIGNED_FIELDS)


def sign(sign_type: SignType, key: str, payload: Mapping[str, object], timestamp_text: str) -> str:
    """auth_sign for a payload, as Huawei computes it (lowercase hex)."""
    if sign_type is SignType.MD5:
        return hashlib.md5((key + timestamp_text).encode("utf-8")).hexdigest()  # noqa: S324
    if sign_type is SignType.HMACSHA256:
        message = signed_message(payload, timestamp_text).encode("utf-8")
        return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
    raise ValueError(f"sign type {sign_type} does not sign")


def parse_timestamp(value: object) -> tuple[int, str]:
    """auth_timestamp as (seconds, the text that was signed); digits only, int or string."""
    if isinstance(value, bool) or value is None:
        raise _malformed_timestamp()
    if isinstance(value, int):
        text = str(value) if value >= 0 else ""
    elif isinstance(value, str):
        text = value
    else:
        raise _malformed_timestamp()
    if not _TIMESTAMP_TEXT.fullmatch(text):
        raise _malformed_timestamp()
    return int(text), text


def _malformed_timestamp() -> SignatureRejected:
    return SignatureRejected(
        "auth_timestamp must be Unix seconds: an integer or a string of decimal digits",
        code="malformed_timestamp",
        field="auth_timestamp",
    )


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """How late (leeway) and how far ahead (max_validity) an expiry may be."""

    leeway_seconds: int
    max_validity_seconds: int

    def check(self, expires_at: int, now: float) -> None:
        """Raise unless a signature expiring at expires_at is acceptable at now."""
        if now > expires_at + self.leeway_seconds:
            raise SignatureRejected("the signature has expired (auth_timestamp)", code="expired")
        if expires_at > now + self.max_validity_seconds:
            raise SignatureRejected(
                "auth_timestamp is further ahead than the allowed validity",
                code="too_far_ahead",
            )


@dataclass(frozen=True, slots=True)
class Verification:
    """What a successful verification proved."""

    sign_type: SignType
    expires_at: int
    signature: str  # lowercase hex, or "" for unsigned configs
    key_fingerprint: str | None


class Verifier:
    """Checks callbacks against the keys of one callback config."""

    def __init__(self, sign_type: SignType, keys: Sequence[Secret], window: TimeWindow) -> None:
        if sign_type is not SignType.NONE and not keys:
            raise ValueError("a signing config needs at least one key")
        self.sign_type = sign_type
        self._keys = tuple(keys)
        self._window = window

    def __repr__(self) -> str:
        return f"Verifier(sign_type={self.sign_type.value}, keys={len(self._keys)})"

    def verify(self, payload: Mapping[str, object], now: float) -> Verification:
        """Prove the payload genuine and current, or raise SignatureRejected."""
        if self.sign_type is SignType.NONE:
            expires_at = int(now) + self._window.max_validity_seconds
            return Verification(self.sign_type, expires_at, "", None)
        for name in ("auth_sign", "auth_timestamp"):
            if payload.get(name) in (None, ""):
                raise SignatureRejected(f"{name} is missing", code="missing_signature", field=name)
        expires_at, timestamp_text = parse_timestamp(payload["auth_timestamp"])
        self._window.check(expires_at, now)
        received = self._received_signature(payload)
        for key in self._keys:
            expected = sign(self.sign_type, key.reveal(), payload, timestamp_text)
            if hmac.compare_digest(expected.encode("ascii"), received.encode("ascii")):
                return Verification(self.sign_type, expires_at, received, key.fingerprint())
        raise SignatureRejected("auth_sign does not match", code="bad_signature")

    def _received_signature(self, payload: Mapping[str, object]) -> str:
        value = payload.get("auth_sign")
        length = 32 if self.sign_type is SignType.MD5 else 64
        if not isinstance(value, str) or not _HEX[length].fullmatch(value):
            raise SignatureRejected(
                f"auth_sign must be {length} hexadecimal characters",
                code="malformed_signature",
                field="auth_sign",
            )
        return value.lower()
