"""Names of a delivery and of an event: replay identity, event id, idempotency key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from receiver.signature import SignType, Verification


def canonical_json(value: object) -> bytes:
    """One byte string per JSON value, whatever the key order or white space it came with."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def replay_identity(verification: Verification, payload: Mapping[str, object]) -> str:
    """What makes two deliveries the same delivery.

    HMAC signatures bind the signed fields and the expiry, so the signature is the identity: a
    resend with an unsigned field changed is still the same delivery. MD5 signatures bind only
    key and expiry (two events in one second share one), so the whole payload is the identity.
    """
    if verification.sign_type is SignType.HMACSHA256:
        return "sig:" + verification.signature
    return "body:" + hashlib.sha256(canonical_json(payload)).hexdigest()


def event_id(identity: str) -> str:
    """The event's id: stable for one delivery, so a duplicate names the same id."""
    return "evt_" + _digest(identity)


def idempotency_key(event: Mapping[str, object], identity: str) -> str:
    """What identifies the event itself, shared by re-signed resends and reconciliation.

    A completed file is the file (OBS bucket and object, else its download URL); a new file is
    its job; other events are their task; anything else falls back to the delivery.
    """
    kind = event.get("type")
    if kind == "RECORD_FILE_COMPLETE":
        bucket, obj = event.get("obs_bucket"), event.get("obs_object")
        if bucket and obj:
            return "file_" + _digest("obs", str(bucket), str(obj))
        if event.get("download_url"):
            return "file_" + _digest("url", str(event["download_url"]))
    elif kind == "RECORD_NEW_FILE_START" and event.get("job_id"):
        return "job_" + _digest(str(event["job_id"]), str(kind))
    elif kind != "RECORD_NEW_FILE_START" and event.get("task_id"):
        return "task_" + _digest(str(event["task_id"]), str(kind))
    return "dlv_" + _digest(identity)
