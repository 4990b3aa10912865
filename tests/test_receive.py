"""POSTing callbacks: what is stored, what is refused, and what every answer says."""

from __future__ import annotations

import json

import pytest
from support import (
    KEY_LIVE,
    KEY_LIVE_OLD,
    KEY_MD5,
    KEY_UNKNOWN,
    KEY_WILDCARD,
    NOW,
    body_of,
    key_for,
    load_payload,
    payload_names,
    signed,
)

PATH = "/callbacks/huawei-live"
SEED_003 = load_payload("seed_003_record_file_complete")


def post(client, body, *, path=PATH, content_type="application/json"):
    return client.post(path, data=body, content_type=content_type)


@pytest.mark.parametrize("name", payload_names())
def test_every_recorded_sample_is_accepted_once_stored(client, events, name):
    payload = load_payload(name)
    response = post(client, body_of(signed(payload, key=key_for(payload))))
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["status"] == 0
    assert answer["outcome"] == "accepted"
    stored = events()
    assert len(stored) == 1
    assert stored[0]["id"] == answer["event_id"]
    assert stored[0]["type"] == payload["event_type"]


def test_the_seed_002_path_alias_receives_callbacks(client, events):
    payload = signed(load_payload("seed_002_vodcallback"))
    response = post(client, body_of(payload), path="/openapi/v1/ivmAlarm/Live/vodCallBack")
    assert response.status_code == 200
    assert [event["stream"] for event in events()] == ["886_142279"]


def test_a_second_delivery_is_answered_200_naming_the_original_and_not_stored(client, events):
    body = body_of(signed(SEED_003, key=KEY_LIVE))
    first = post(client, body).get_json()
    second = post(client, body)
    assert second.status_code == 200
    answer = second.get_json()
    assert answer["duplicate"] is True
    assert answer["outcome"] == "duplicate"
    assert answer["event_id"] == first["event_id"]
    assert answer["stream_id"] == first["stream_id"]
    assert len(events()) == 1


def test_a_resend_with_an_unsigned_field_changed_is_still_a_duplicate(client, events):
    original = signed(SEED_003, key=KEY_LIVE)
    resend = {**original, "file_size": 1, "obs_object": "elsewhere", "extra": "added"}
    post(client, body_of(original))
    answer = post(client, body_of(resend)).get_json()
    assert answer["outcome"] == "duplicate"
    assert len(events()) == 1


def test_a_resend_with_characters_shifted_between_app_and_stream_is_a_duplicate(client, events):
    original = signed({**SEED_003, "app": "liv", "stream": "emystream"})
    shifted = {**original, "app": "live", "stream": "mystream"}  # same concatenation, same sign
    # The shifted app resolves to another config with another key: it cannot verify there.
    assert post(client, body_of(original)).status_code == 200
    assert post(client, body_of(shifted)).status_code == 401
    wildcard = signed(
        {**SEED_003, "publish_domain": "pushsit.xxxx.com", "app": "ab", "stream": "c"}
    )
    moved = {**wildcard, "app": "a", "stream": "bc"}
    assert post(client, body_of(wildcard)).get_json()["outcome"] == "accepted"
    assert post(client, body_of(moved)).get_json()["outcome"] == "duplicate"
    assert len(events()) == 2


def test_a_resend_with_the_same_fields_newly_signed_is_stored_with_the_same_idempotency_key(
    client, events, clock
):
    post(client, body_of(signed(SEED_003, key=KEY_LIVE)))
    clock.advance(1)
    post(client, body_of(signed(SEED_003, key=KEY_LIVE, expires_at=NOW + 301)))
    first, second = events()
    assert first["id"] != second["id"]
    assert first["idempotency_key"] == second["idempotency_key"]


def test_two_different_md5_events_in_the_same_second_are_both_stored(client, events):
    start = signed(
        load_payload("record_start") | {"publish_domain": "md5.example.com"},
        key=KEY_MD5,
        sign_type="MD5",
    )
    over = signed(
        load_payload("record_over") | {"publish_domain": "md5.example.com"},
        key=KEY_MD5,
        sign_type="MD5",
    )
    assert start["auth_sign"] == over["auth_sign"]
    assert post(client, body_of(start)).get_json()["outcome"] == "accepted"
    assert post(client, body_of(over)).get_json()["outcome"] == "accepted"
    assert post(client, body_of(over)).get_json()["outcome"] == "duplicate"
    assert [event["type"] for event in events()] == ["RECORD_START", "RECORD_OVER"]


def test_an_md5_replay_with_reordered_keys_and_spacing_is_a_duplicate(client, events):
    payload = signed(SEED_003 | {"publish_domain": "md5.example.com"}, key=KEY_MD5, sign_type="MD5")
    reordered = json.dumps(dict(reversed(list(payload.items()))), indent=4).encode()
    post(client, body_of(payload))
    assert post(client, reordered).get_json()["outcome"] == "duplicate"
    assert len(events()) == 1


def test_the_replay_claim_lives_until_the_signature_can_no_longer_be_accepted(
    client, redis_client, services
):
    post(client, body_of(signed(SEED_003, key=KEY_LIVE, expires_at=NOW + 300)))
    [claim] = redis_client.keys(services.keys.claim("*"))
    leeway = services.settings.window.leeway_seconds
    assert 300 + leeway - 1 <= redis_client.ttl(claim) <= 300 + leeway


def test_keys_share_one_hash_tag(client, redis_client, services):
    post(client, body_of(signed(SEED_003, key=KEY_LIVE)))
    names = {name.decode() for name in redis_client.keys("*")}
    kinds = sorted(name.split(":")[1] for name in names)
    assert kinds == ["claim", "events", "idem"]
    assert all(name.startswith("{test}:") for name in names)


def test_an_exact_app_config_wins_over_the_wildcard(client):
    assert post(client, body_of(signed(SEED_003, key=KEY_LIVE))).status_code == 200
    assert post(client, body_of(signed(SEED_003, key=KEY_WILDCARD))).status_code == 401
    other_app = SEED_003 | {"app": "vod"}
    assert post(client, body_of(signed(other_app, key=KEY_WILDCARD))).status_code == 200
    assert post(client, body_of(signed(other_app | {"app": "x"}, key=KEY_LIVE))).status_code == 401


@pytest.mark.parametrize("key", [KEY_LIVE, KEY_LIVE_OLD], ids=["new", "old"])
def test_both_keys_of_a_rotation_are_accepted(client, key):
    assert post(client, body_of(signed(SEED_003, key=key))).status_code == 200


def test_publish_domain_matches_without_regard_to_case(client):
    payload = SEED_003 | {"publish_domain": "PUSH.Example.COM"}
    assert post(client, body_of(signed(payload, key=KEY_LIVE))).status_code == 200


def test_an_unsigned_config_accepts_callbacks_without_a_signature(client, events):
    payload = load_payload("record_start") | {"publish_domain": "open.example.com"}
    assert post(client, body_of(payload)).get_json()["outcome"] == "accepted"
    assert post(client, body_of(payload)).get_json()["outcome"] == "duplicate"
    assert events()[0]["signature"] == {
        "sign_type": "NONE",
        "expires_at": None,
        "key_fingerprint": None,
    }


def test_an_event_type_the_config_does_not_subscribe_is_answered_200_and_not_stored(client, events):
    payload = load_payload("record_start") | {"publish_domain": "filtered.example.com"}
    answer = post(client, body_of(signed(payload))).get_json()
    assert answer["outcome"] == "ignored"
    assert events() == []


def test_an_unknown_event_type_and_extra_fields_are_accepted_and_kept(client, events):
    payload = SEED_003 | {"event_type": "RECORD_PAUSED", "new_field": {"nested": [1, 2]}}
    assert post(client, body_of(signed(payload, key=KEY_LIVE))).status_code == 200
    [event] = events()
    assert event["type"] == "RECORD_PAUSED"
    assert event["raw"]["new_field"] == {"nested": [1, 2]}


def test_a_forged_flood_writes_nothing_to_redis(client, redis_client):
    before = redis_client.info("stats")["total_commands_processed"]
    for number in range(20):
        forged = signed(SEED_003 | {"stream": f"s{number}"}, key=KEY_UNKNOWN)
        assert post(client, body_of(forged)).status_code == 401
    after = redis_client.info("stats")["total_commands_processed"]
    assert after - before == 1  # the INFO call itself


def without(payload, name):
    return {key: value for key, value in payload.items() if key != name}


def signed_body(**changes):
    return body_of(signed(SEED_003 | changes, key=KEY_LIVE))


def with_auth(**changes):
    return body_of(signed(SEED_003, key=KEY_LIVE) | changes)


HOSTILE = [
    ("wrong-key", body_of(signed(SEED_003, key=KEY_UNKNOWN)), 401, "bad_signature"),
    ("tampered-stream", with_auth(stream="other"), 401, "bad_signature"),
    ("tampered-event-type", with_auth(event_type="RECORD_FAILED"), 401, "bad_signature"),
    ("expired", body_of(signed(SEED_003, key=KEY_LIVE, expires_at=NOW - 3600)), 401, "expired"),
    (
        "far-future",
        body_of(signed(SEED_003, key=KEY_LIVE, expires_at=NOW + 86400 * 365)),
        401,
        "too_far_ahead",
    ),
    ("null-signature", with_auth(auth_sign=None), 401, "missing_signature"),
    (
        "no-signature",
        body_of(without(signed(SEED_003, key=KEY_LIVE), "auth_sign")),
        401,
        "missing_signature",
    ),
    (
        "no-timestamp",
        body_of(without(signed(SEED_003, key=KEY_LIVE), "auth_timestamp")),
        401,
        "missing_signature",
    ),
    ("non-numeric-timestamp", with_auth(auth_timestamp="tomorrow"), 401, "malformed_timestamp"),
    ("float-timestamp", with_auth(auth_timestamp=1.8e9), 401, "malformed_timestamp"),
    ("boolean-timestamp", with_auth(auth_timestamp=True), 401, "malformed_timestamp"),
    ("huge-timestamp", with_auth(auth_timestamp=10**40), 401, "malformed_timestamp"),
    ("signature-not-hex", with_auth(auth_sign="g" * 64), 401, "malformed_signature"),
    (
        "unknown-domain",
        body_of(signed(SEED_003 | {"publish_domain": "evil.example.com"})),
        403,
        "unknown_source",
    ),
    ("missing-event-type", body_of(without(SEED_003, "event_type")), 400, "missing_field"),
    ("missing-domain", body_of(without(SEED_003, "publish_domain")), 400, "missing_field"),
    ("empty-app", signed_body(app=""), 400, "missing_field"),
    ("domain-a-number", with_auth(publish_domain=42), 400, "invalid_field"),
    ("stream-an-object", with_auth(stream={"a": 1}), 400, "invalid_field"),
    ("file-size-not-a-number", signed_body(file_size="big"), 400, "invalid_field"),
    ("file-size-negative", signed_body(file_size=-1), 400, "invalid_field"),
    ("width-a-fraction", signed_body(width=854.5), 400, "invalid_field"),
    ("start-time-garbage", signed_body(start_time="yesterday"), 400, "invalid_field"),
    ("start-time-a-number", signed_body(start_time=1583676745), 400, "invalid_field"),
    ("malformed-json", b'{"event_type": "RECORD_START",', 400, "malformed_json"),
    ("single-quotes", b"{'event_type': 'RECORD_START'}", 400, "malformed_json"),
    ("trailing-garbage", signed_body() + b"}", 400, "malformed_json"),
    ("nan", b'{"event_type": NaN}', 400, "malformed_json"),
    ("infinity", b'{"file_size": Infinity}', 400, "malformed_json"),
    ("huge-integer", b'{"file_size": ' + b"9" * 5000 + b"}", 400, "malformed_json"),
    ("json-array", b"[]", 400, "not_an_object"),
    ("json-array-of-callback", b"[" + signed_body() + b"]", 400, "not_an_object"),
    ("json-string", b'"RECORD_START"', 400, "not_an_object"),
    ("json-number", b"42", 400, "not_an_object"),
    ("json-null", b"null", 400, "not_an_object"),
    ("empty-body", b"", 400, "empty_body"),
    ("whitespace-body", b"  \n ", 400, "empty_body"),
    ("invalid-utf8", b'{"stream": "\xff\xfe"}', 400, "invalid_utf8"),
    ("utf16-body", '{"stream": "x"}'.encode("utf-16"), 400, "invalid_utf8"),
    ("encoded-surrogate", b'{"stream": "\xed\xa0\x80"}', 400, "invalid_utf8"),
    (
        "escaped-lone-surrogate",
        b'{"event_type": "\\ud800", "publish_domain": "a", "app": "b"}',
        400,
        "invalid_unicode",
    ),
    ("deep-nesting", b'{"x": ' + b"[" * 40 + b"]" * 40 + b"}", 400, "too_deep"),
    ("very-deep-nesting", b'{"x": ' + b"[" * 30000 + b"]" * 30000 + b"}", 400, "malformed_json"),
    ("huge-body", b'{"x": "' + b"a" * 70_000 + b'"}', 413, "payload_too_large"),
]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [pytest.param(body, status, code, id=name) for name, body, status, code in HOSTILE],
)
def test_hostile_input_gets_a_clear_4xx_and_stores_nothing(client, events, body, status, code):
    response = post(client, body)
    assert response.status_code == status
    answer = response.get_json()
    assert answer["status"] == 1
    assert answer["error"] == code
    assert answer["message"]
    assert events() == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_the_content_type_does_not_matter(client, content_type):
    response = post(client, body_of(signed(SEED_003, key=KEY_LIVE)), content_type=content_type)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", PATH, 405), ("PUT", PATH, 405), ("POST", "/nowhere", 404), ("GET", "/", 404)],
)
def test_other_methods_and_paths_answer_json_errors(client, method, path, status):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.get_json()["status"] == 1


def test_error_bodies_never_contain_a_key_or_the_received_signature(client):
    payload = signed(SEED_003, key=KEY_UNKNOWN)
    text = post(client, body_of(payload)).get_data(as_text=True)
    for secret in (KEY_LIVE, KEY_LIVE_OLD, KEY_WILDCARD, KEY_UNKNOWN, payload["auth_sign"]):
        assert secret not in text


def test_health_and_readiness_answer_when_redis_is_up(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}
