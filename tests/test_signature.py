"""Huawei's signing scheme, to the letter: known answers, then one broken thing at a time."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from support import KEY_LIVE, KEY_LIVE_OLD, KEY_MD5, KEY_UNKNOWN, NOW, load_payload, signed

from receiver.errors import BadRequest, SignatureRejected
from receiver.secret import Secret
from receiver.signature import SignType, TimeWindow, Verifier, parse_timestamp, sign

WINDOW = TimeWindow(leeway_seconds=60, max_validity_seconds=3600)
SEED_003 = load_payload("seed_003_record_file_complete")


def hmac_verifier(*keys: str) -> Verifier:
    return Verifier(SignType.HMACSHA256, [Secret(key) for key in keys], WINDOW)


# Vectors computed outside Python with `openssl dgst` over the exact concatenations.
KNOWN_ANSWERS = [
    pytest.param(
        SignType.HMACSHA256,
        KEY_LIVE,
        SEED_003,
        "1583676745",
        "a02820b76b30d668e9fb5566568fbc83f52ea8617696cd485f97690dcfde00c6",
        id="hmac-seed-003-example",
    ),
    pytest.param(
        SignType.MD5,
        KEY_MD5,
        SEED_003,
        "1583676745",
        "b84d2869aaa3f35e6b122719158798fc",
        id="md5-key-then-timestamp",
    ),
    pytest.param(
        SignType.HMACSHA256,
        "WildcardKey0123456789abcdefghijklmnopqrstu",
        {
            "event_type": "RECORD_START",
            "publish_domain": "push.example.com",
            "app": "直播",
            "stream": "流名",
            "play_url": None,
        },
        "1800000300",
        "c91935b7a62fafba565a60c12b5302d5370311b6ce6040067cd809786d7544b5",
        id="hmac-utf8-absent-and-null-fields-empty",
    ),
]


@pytest.mark.parametrize(("sign_type", "key", "payload", "timestamp", "expected"), KNOWN_ANSWERS)
def test_sign_matches_the_known_answer(sign_type, key, payload, timestamp, expected):
    assert sign(sign_type, key, payload, timestamp) == expected


def test_hmac_signs_timestamp_then_the_six_fields_in_order():
    payload = {name: name.upper() for name in ("event_type", "publish_domain", "app", "stream")}
    payload |= {"download_url": "D", "play_url": "P", "file_size": 1, "obs_object": "ignored"}
    message = "123EVENT_TYPEPUBLISH_DOMAINAPPSTREAMDP"
    expected = hmac.new(KEY_LIVE.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert sign(SignType.HMACSHA256, KEY_LIVE, payload, "123") == expected


def test_md5_ignores_every_field_but_the_timestamp():
    expected = hashlib.md5((KEY_MD5 + "42").encode()).hexdigest()  # noqa: S324
    assert sign(SignType.MD5, KEY_MD5, {"stream": "anything"}, "42") == expected


def test_a_genuine_callback_verifies_and_names_its_expiry():
    verification = hmac_verifier(KEY_LIVE).verify(signed(SEED_003, key=KEY_LIVE), NOW)
    assert verification.expires_at == int(NOW + 300)
    assert verification.sign_type is SignType.HMACSHA256
    assert verification.key_fingerprint == Secret(KEY_LIVE).fingerprint()


def test_uppercase_hex_is_accepted():
    payload = signed(SEED_003, key=KEY_LIVE)
    payload["auth_sign"] = payload["auth_sign"].upper()
    verification = hmac_verifier(KEY_LIVE).verify(payload, NOW)
    assert verification.signature == payload["auth_sign"].lower()


def test_a_timestamp_sent_as_a_string_of_digits_is_accepted():
    payload = signed(SEED_003, key=KEY_LIVE, timestamp_as_text=True)
    assert isinstance(payload["auth_timestamp"], str)
    assert hmac_verifier(KEY_LIVE).verify(payload, NOW).expires_at == int(NOW + 300)


@pytest.mark.parametrize("key", [KEY_LIVE, KEY_LIVE_OLD], ids=["new-key", "old-key"])
def test_every_key_of_a_rotating_config_is_accepted(key):
    verification = hmac_verifier(KEY_LIVE, KEY_LIVE_OLD).verify(signed(SEED_003, key=key), NOW)
    assert verification.key_fingerprint == Secret(key).fingerprint()


def _tamper(name, value):
    def change(payload):
        payload[name] = value
        return payload

    return change


def _drop(name):
    def change(payload):
        payload.pop(name)
        return payload

    return change


BROKEN = [
    ("wrong-key", {"key": KEY_UNKNOWN}, None, "bad_signature"),
    ("event-type-changed", {}, _tamper("event_type", "RECORD_OVER"), "bad_signature"),
    ("domain-changed", {}, _tamper("publish_domain", "evil.example.com"), "bad_signature"),
    ("app-changed", {}, _tamper("app", "live2"), "bad_signature"),
    ("stream-changed", {}, _tamper("stream", "other"), "bad_signature"),
    ("download-url-changed", {}, _tamper("download_url", "https://evil/x"), "bad_signature"),
    ("play-url-added", {}, _tamper("play_url", "https://evil/p"), "bad_signature"),
    ("timestamp-changed", {}, _tamper("auth_timestamp", int(NOW + 301)), "bad_signature"),
    ("signature-missing", {}, _drop("auth_sign"), "missing_signature"),
    ("signature-empty", {}, _tamper("auth_sign", ""), "missing_signature"),
    ("signature-null", {}, _tamper("auth_sign", None), "missing_signature"),
    ("timestamp-missing", {}, _drop("auth_timestamp"), "missing_signature"),
    ("signature-too-short", {}, _tamper("auth_sign", "ab" * 16), "malformed_signature"),
    ("signature-not-hex", {}, _tamper("auth_sign", "zz" * 32), "malformed_signature"),
    ("signature-non-ascii", {}, _tamper("auth_sign", "é" * 64), "malformed_signature"),
    ("signature-a-number", {}, _tamper("auth_sign", 12345), "malformed_signature"),
    ("signature-a-list", {}, _tamper("auth_sign", ["a" * 64]), "malformed_signature"),
    ("expired-beyond-leeway", {"expires_at": NOW - 61}, None, "expired"),
    ("too-far-ahead", {"expires_at": NOW + 3601}, None, "too_far_ahead"),
]


@pytest.mark.parametrize(
    ("options", "change", "code"),
    [pytest.param(options, change, code, id=name) for name, options, change, code in BROKEN],
)
def test_a_callback_with_one_thing_broken_is_rejected(options, change, code):
    payload = signed(SEED_003, **{"key": KEY_LIVE, **options})
    if change is not None:
        payload = change(payload)
    with pytest.raises(SignatureRejected) as caught:
        hmac_verifier(KEY_LIVE).verify(payload, NOW)
    assert caught.value.code == code
    assert caught.value.status == 401


def test_expiry_within_the_leeway_is_accepted():
    payload = signed(SEED_003, key=KEY_LIVE, expires_at=NOW - 60)
    assert hmac_verifier(KEY_LIVE).verify(payload, NOW).expires_at == int(NOW - 60)


def test_expiry_exactly_at_the_validity_bound_is_accepted():
    payload = signed(SEED_003, key=KEY_LIVE, expires_at=NOW + 3600)
    assert hmac_verifier(KEY_LIVE).verify(payload, NOW).expires_at == int(NOW + 3600)


def test_a_signed_field_of_the_wrong_type_is_a_bad_request():
    payload = signed(SEED_003, key=KEY_LIVE)
    payload["stream"] = 12345
    with pytest.raises(BadRequest) as caught:
        hmac_verifier(KEY_LIVE).verify(payload, NOW)
    assert caught.value.field == "stream"


def test_md5_verification_accepts_the_md5_of_key_and_timestamp():
    verifier = Verifier(SignType.MD5, [Secret(KEY_MD5)], WINDOW)
    payload = signed(SEED_003, key=KEY_MD5, sign_type="MD5")
    assert len(payload["auth_sign"]) == 32
    assert verifier.verify(payload, NOW).signature == payload["auth_sign"]


def test_md5_verification_refuses_an_hmac_length_signature():
    verifier = Verifier(SignType.MD5, [Secret(KEY_MD5)], WINDOW)
    with pytest.raises(SignatureRejected) as caught:
        verifier.verify(signed(SEED_003, key=KEY_MD5), NOW)
    assert caught.value.code == "malformed_signature"


def test_an_unsigned_config_accepts_without_a_signature():
    verifier = Verifier(SignType.NONE, [], WINDOW)
    verification = verifier.verify({"event_type": "RECORD_OVER"}, NOW)
    assert verification.signature == ""
    assert verification.expires_at == int(NOW) + 3600


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1583676745, (1583676745, "1583676745")),
        ("1583676745", (1583676745, "1583676745")),
        ("000158367674", (158367674, "000158367674")),
        (0, (0, "0")),
    ],
)
def test_timestamps_of_digits_parse_to_seconds_and_signed_text(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "",
        " 1583676745",
        "1583676745 ",
        "+1583676745",
        "-1583676745",
        -1,
        "1.5e9",
        1583676745.0,
        True,
        None,
        [1583676745],
        {"t": 1},
        "١٥٨٣٦٧٦٧٤٥",  # Arabic-Indic digits: str.isdigit() would say yes
        "9" * 13,
        10**13,
    ],
)
def test_anything_but_plain_decimal_digits_is_a_malformed_timestamp(value):
    with pytest.raises(SignatureRejected) as caught:
        parse_timestamp(value)
    assert caught.value.code == "malformed_timestamp"


def test_a_verifier_never_shows_its_keys():
    verifier = hmac_verifier(KEY_LIVE, KEY_LIVE_OLD)
    assert KEY_LIVE not in repr(verifier)
    assert KEY_LIVE not in repr(Secret(KEY_LIVE))
    assert KEY_LIVE not in str(Secret(KEY_LIVE))
