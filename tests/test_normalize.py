"""The normalized event: names, types, times, idempotency keys, and its published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from support import NOW, load_payload, payload_names

from receiver.errors import BadRequest
from receiver.identity import idempotency_key
from receiver.schemas import normalize
from receiver.signature import SignType, Verification

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "event.schema.json").read_text())
VERIFIED = Verification(SignType.HMACSHA256, int(NOW) + 300, "ab" * 32, "0123abcd")
IDENTITY = "sig:" + "ab" * 32


def event_of(payload, verification=VERIFIED, identity=IDENTITY):
    return normalize(payload, verification, identity, NOW)


@pytest.mark.parametrize("name", payload_names())
def test_every_recorded_sample_normalizes_to_a_valid_event(name):
    event = event_of(load_payload(name))
    jsonschema.validate(event, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert event["schema_version"] == 1


def test_an_unsigned_event_with_extras_and_an_unknown_type_is_valid_too():
    payload = {"event_type": "RECORD_SOMETHING_NEW", "publish_domain": "d", "app": "a", "x": [1]}
    unsigned = Verification(SignType.NONE, int(NOW) + 3600, "", None)
    event = event_of(payload, unsigned, "body:" + "0" * 64)
    jsonschema.validate(event, SCHEMA)
    assert event["type"] == "RECORD_SOMETHING_NEW"
    assert event["raw"]["x"] == [1]


def test_the_seed_003_example_maps_to_the_event_names():
    event = event_of(load_payload("seed_003_record_file_complete"))
    assert event["type"] == "RECORD_FILE_COMPLETE"
    assert event["size_bytes"] == 3957964
    assert event["duration_seconds"] == 120
    assert (event["width"], event["height"]) == (1280, 720)
    assert event["format"] == "HLS"
    assert event["start_time"] == "2020-03-08T14:10:25Z"
    assert event["obs_bucket"] == "mybucket"
    assert event["received_at"] == "2027-01-15T08:00:00Z"
    assert event["signature"] == {
        "sign_type": "HMACSHA256",
        "expires_at": "2027-01-15T08:05:00Z",
        "key_fingerprint": "0123abcd",
    }


def test_the_raw_payload_is_kept_without_auth_sign():
    payload = load_payload("seed_003_record_file_complete")
    raw = event_of(payload)["raw"]
    assert "auth_sign" not in raw
    assert raw == {name: value for name, value in payload.items() if name != "auth_sign"}


@pytest.mark.parametrize(
    ("field", "sent", "name", "expected"),
    [
        ("width", "854", "width", 854),
        ("width", 854, "width", 854),
        ("width", 854.0, "width", 854),
        ("file_size", "33406499", "size_bytes", 33406499),
        ("file_size", "", "size_bytes", None),
        ("file_size", None, "size_bytes", None),
        ("record_duration", " 403 ", "duration_seconds", 403),
        ("heigh", "480", "height", 480),
        ("start_time", "2020-08-17T17:30:16+08:00", "start_time", "2020-08-17T09:30:16Z"),
        ("start_time", "2020-08-17T09:30:16", "start_time", "2020-08-17T09:30:16Z"),
        ("start_time", "2020-08-17T09:30:16.250Z", "start_time", "2020-08-17T09:30:16.250000Z"),
        ("end_time", "", "end_time", None),
    ],
)
def test_vendor_quirks_are_normalized(field, sent, name, expected):
    payload = {"event_type": "RECORD_FILE_COMPLETE", "publish_domain": "d", "app": "a"}
    event = event_of(payload | {field: sent})
    assert event[name] == expected


def test_height_wins_over_heigh_when_both_are_sent():
    payload = {"event_type": "RECORD_FILE_COMPLETE", "height": 720, "heigh": 480}
    assert event_of(payload)["height"] == 720


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("width", "wide"),
        ("width", -1),
        ("width", True),
        ("width", 1.5),
        ("width", 2**64),
        ("file_size", [1]),
        ("start_time", "08/17/2020"),
        ("start_time", 0),
        ("stream", 5),
        ("error_message", {"a": 1}),
    ],
)
def test_a_wrongly_typed_field_is_a_bad_request_naming_it(field, sent):
    with pytest.raises(BadRequest) as caught:
        event_of({"event_type": "RECORD_FILE_COMPLETE", field: sent})
    assert caught.value.field == field
    assert caught.value.code == "invalid_field"
    assert field in caught.value.message


COMPLETE = {"type": "RECORD_FILE_COMPLETE"}


@pytest.mark.parametrize(
    ("event_a", "event_b", "same"),
    [
        pytest.param(
            COMPLETE | {"obs_bucket": "b", "obs_object": "o", "task_id": "t1"},
            COMPLETE | {"obs_bucket": "b", "obs_object": "o", "task_id": "t2"},
            True,
            id="file-complete-is-the-obs-object",
        ),
        pytest.param(
            COMPLETE | {"obs_bucket": "b", "obs_object": "o1"},
            COMPLETE | {"obs_bucket": "b", "obs_object": "o2"},
            False,
            id="other-objects-differ",
        ),
        pytest.param(
            COMPLETE | {"download_url": "https://x/1.m3u8"},
            COMPLETE | {"download_url": "https://x/1.m3u8", "asset_id": "z"},
            True,
            id="file-complete-without-obs-is-the-download-url",
        ),
        pytest.param(
            {"type": "RECORD_NEW_FILE_START", "job_id": "j", "task_id": "t1"},
            {"type": "RECORD_NEW_FILE_START", "job_id": "j", "task_id": "t2"},
            True,
            id="new-file-is-the-job",
        ),
        pytest.param(
            {"type": "RECORD_OVER", "task_id": "t"},
            {"type": "RECORD_OVER", "task_id": "t", "stream": "other"},
            True,
            id="others-are-the-task-and-type",
        ),
        pytest.param(
            {"type": "RECORD_OVER", "task_id": "t"},
            {"type": "RECORD_FAILED", "task_id": "t"},
            False,
            id="types-of-one-task-differ",
        ),
    ],
)
def test_idempotency_keys_name_the_event_not_the_delivery(event_a, event_b, same):
    key_a = idempotency_key(event_a, "sig:one")
    key_b = idempotency_key(event_b, "sig:two")
    assert (key_a == key_b) is same


def test_without_identifying_fields_the_idempotency_key_is_the_delivery():
    key = idempotency_key({"type": "RECORD_START"}, "sig:one")
    assert key.startswith("dlv_")
    assert key != idempotency_key({"type": "RECORD_START"}, "sig:two")
