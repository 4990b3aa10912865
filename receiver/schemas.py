"""The normalized event (schema version 1), loaded from Huawei's callback payload.

Huawei's field names stop here: everything past this module speaks the event's own names,
which docs/event.schema.json documents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load

from receiver.errors import BadRequest
from receiver.identity import event_id, idempotency_key
from receiver.signature import Verification

SCHEMA_VERSION = 1
KNOWN_TYPES = frozenset(
    {
        "RECORD_START",
        "RECORD_NEW_FILE_START",
        "RECORD_FILE_COMPLETE",
        "RECORD_OVER",
        "RECORD_FAILED",
    }
)
_DIGITS = re.compile(r"[0-9]{1,19}")
_MAX_COUNT = 2**63 - 1


def rfc3339(moment: datetime) -> str:
    """A UTC time as RFC 3339 with a Z, fractions only when there are any."""
    text = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace(".000000", "").replace("+00:00", "Z")


def utc_from_unix(seconds: float) -> str:
    """Unix seconds as RFC 3339 UTC."""
    return rfc3339(datetime.fromtimestamp(seconds, UTC))


class Count(fields.Field):
    """A non-negative integer, sent as a JSON integer or a string of digits ("854")."""

    default_error_messages = {"invalid": "must be a non-negative integer or a string of digits"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | None:
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                return None
            if not _DIGITS.fullmatch(value):
                raise self.make_error("invalid")
            value = int(value)
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
            raise self.make_error("invalid")
        return value


class UtcTime(fields.Field):
    """An ISO 8601 time, normalized to RFC 3339 UTC; a time without a zone is taken as UTC."""

    default_error_messages = {"invalid": "must be a time like 2020-03-08T14:10:25Z"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if value.strip() == "":
            return None
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise self.make_error("invalid") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return rfc3339(moment)


def _text(vendor_name: str) -> fields.String:
    return fields.String(
        data_key=vendor_name,
        load_default=None,
        allow_none=True,
        error_messages={"invalid": "must be a string"},
    )


class CallbackSchema(Schema):
    """Huawei's recording callback, as our names and types."""

    class Meta:
        unknown = EXCLUDE

    type = fields.String(data_key="event_type", required=True)
    project_id = _text("project_id")
    publish_domain = _text("publish_domain")
    app = _text("app")
    stream = _text("stream")
    task_id = _text("task_id")
    job_id = _text("job_id")
    format = _text("record_format")
    download_url = _text("download_url")
    play_url = _text("play_url")
    asset_id = _text("asset_id")
    size_bytes = Count(data_key="file_size", load_default=None, allow_none=True)
    duration_seconds = Count(data_key="record_duration", load_default=None, allow_none=True)
    width = Count(data_key="width", load_default=None, allow_none=True)
    height = Count(data_key="height", load_default=None, allow_none=True)
    start_time = UtcTime(data_key="start_time", load_default=None, allow_none=True)
    end_time = UtcTime(data_key="end_time", load_default=None, allow_none=True)
    obs_location = _text("obs_location")
    obs_bucket = _text("obs_bucket")
    obs_object = _text("obs_object")
    error_message = _text("error_message")

    @pre_load
    def _accept_heigh(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # A third party's documentation spells height "heigh"; take it when height is absent.
        if data.get("height") is None and data.get("heigh") is not None:
            data = {**data, "height": data["heigh"]}
        return data


_CALLBACK_SCHEMA = CallbackSchema()


def _first_error(messages: Mapping[str, Any]) -> tuple[str, str]:
    name, problems = next(iter(messages.items()))
    text = problems[0] if isinstance(problems, list) and problems else str(problems)
    return name, text


def normalize(
    payload: Mapping[str, Any], verification: Verification, identity: str, now: float
) -> dict[str, Any]:
    """The versioned event for a verified payload; BadRequest names a wrongly typed field."""
    try:
        fields_ = _CALLBACK_SCHEMA.load(payload)
    except ValidationError as exc:
        name, text = _first_error(exc.messages_dict)
        raise BadRequest(f"{name} {text}", code="invalid_field", field=name) from None
    event: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": event_id(identity),
        "type": fields_.pop("type"),
        "idempotency_key": "",
        "received_at": utc_from_unix(now),
        "reconciled": False,
        **fields_,
        "signature": {
            "sign_type": verification.sign_type.value,
            "expires_at": utc_from_unix(verification.expires_at)
            if verification.signature
            else None,
            "key_fingerprint": verification.key_fingerprint,
        },
        "raw": {name: value for name, value in payload.items() if name != "auth_sign"},
    }
    event["idempotency_key"] = idempotency_key(event, identity)
    return event
