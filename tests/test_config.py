"""Configuration: what starts, what stops startup with a message, and what is never shown."""

from __future__ import annotations

import copy

import pytest
from support import CONFIG, KEY_LIVE, KEY_WILDCARD

from receiver.config import ConfigError, load_settings, parse_settings
from receiver.secret import Secret
from receiver.signature import SignType

GOOD_KEY = "A" * 16 + "b" * 8 + "0123456789"[:8]


def with_callback(**fields):
    raw = {"callbacks": [{"publish_domain": "push.example.com", "app": "*", "keys": [GOOD_KEY]}]}
    raw["callbacks"][0].update(fields)
    return raw


def test_the_test_configuration_loads_with_defaults():
    settings = parse_settings(copy.deepcopy(CONFIG), {})
    assert len(settings.callbacks) == 6
    assert settings.callbacks[0].sign_type is SignType.HMACSHA256
    assert settings.redis.url is None
    assert settings.redis.socket_timeout_seconds == 1.0


def test_a_toml_file_loads(tmp_path):
    path = tmp_path / "receiver.toml"
    path.write_text(
        f"""
[http]
paths = ["/hook"]
max_body_bytes = 8192

[signature]
leeway_seconds = 30
max_validity_seconds = 600

[redis]
url = "redis://127.0.0.1:6379/2"

[[callbacks]]
publish_domain = "push.example.com"
app = "live"
sign_type = "MD5"
keys = ["{GOOD_KEY}"]
events = ["RECORD_FILE_COMPLETE"]
"""
    )
    settings = load_settings(path, {})
    assert settings.http.paths == ("/hook",)
    assert settings.http.max_body_bytes == 8192
    assert (settings.window.leeway_seconds, settings.window.max_validity_seconds) == (30, 600)
    [callback] = settings.callbacks
    assert callback.sign_type is SignType.MD5
    assert callback.events == frozenset({"RECORD_FILE_COMPLETE"})
    assert callback.keys == (Secret(GOOD_KEY),)


def test_the_file_can_be_named_by_the_environment(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'[[callbacks]]\npublish_domain = "d"\napp = "*"\nkeys = ["{GOOD_KEY}"]\n')
    assert load_settings(None, {"RECEIVER_CONFIG": str(path)}).callbacks[0].publish_domain == "d"


def test_keys_come_from_environment_variables_and_files(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(KEY_LIVE + "\n")
    raw = with_callback(keys=["env:HWLIVE_KEY", f"file:{key_file}"])
    settings = parse_settings(raw, {"HWLIVE_KEY": KEY_WILDCARD})
    assert settings.callbacks[0].keys == (Secret(KEY_WILDCARD), Secret(KEY_LIVE))


def test_environment_variables_override_the_file():
    environ = {
        "RECEIVER_REDIS_URL": "redis://cache:6379/1",
        "RECEIVER_LEEWAY_SECONDS": "10",
        "RECEIVER_MAX_BODY_BYTES": "4096",
        "RECEIVER_REDIS_NAMESPACE": "prod",
    }
    settings = parse_settings(with_callback(), environ)
    assert settings.redis.url == "redis://cache:6379/1"
    assert settings.redis.namespace == "prod"
    assert settings.window.leeway_seconds == 10
    assert settings.http.max_body_bytes == 4096


INVALID = [
    (
        "short-key",
        with_callback(keys=["abc123"]),
        {},
        "key 1 must be at least 32 letters or digits",
    ),
    ("key-with-symbols", with_callback(keys=[GOOD_KEY + "!"]), {}, "key 1 must be at least 32"),
    ("no-keys", with_callback(keys=[]), {}, "at least one key is required"),
    ("keys-absent", with_callback(keys=None), {}, "keys"),
    ("unsigned-with-keys", with_callback(sign_type="NONE"), {}, "sign_type NONE takes no keys"),
    ("unknown-sign-type", with_callback(sign_type="SHA1"), {}, "sign_type"),
    ("missing-env", with_callback(keys=["env:NOPE"]), {}, "environment variable NOPE is not set"),
    ("missing-file", with_callback(keys=["file:/nonexistent/key"]), {}, "cannot be read"),
    ("bad-env-key", with_callback(keys=["env:K"]), {"K": "short"}, "key 1 must be at least 32"),
    ("no-domain", with_callback(publish_domain=""), {}, "publish_domain"),
    ("no-callbacks", {}, {}, "callbacks"),
    (
        "duplicate-config",
        {"callbacks": with_callback()["callbacks"] * 2},
        {},
        "push.example.com/* is configured twice",
    ),
    ("unknown-option", with_callback() | {"redis": {"uri": "x"}}, {}, "redis.uri: Unknown field"),
    ("bad-redis-url", with_callback() | {"redis": {"url": "http://x"}}, {}, "redis.url"),
    ("bad-path", with_callback() | {"http": {"paths": ["hook"]}}, {}, "must start with /"),
    ("bad-env-number", with_callback(), {"RECEIVER_LEEWAY_SECONDS": "soon"}, "must be int"),
    ("leeway-too-big", with_callback() | {"signature": {"leeway_seconds": 99999}}, {}, "leeway"),
]


@pytest.mark.parametrize(
    ("raw", "environ", "message"),
    [pytest.param(raw, environ, message, id=name) for name, raw, environ, message in INVALID],
)
def test_an_invalid_configuration_stops_startup_naming_the_problem(raw, environ, message):
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, environ)
    assert message in str(caught.value)


def test_an_invalid_key_is_never_shown_in_the_message():
    secret = "ThisKeyIsAlmostLongEnoughButHas!"
    with pytest.raises(ConfigError) as caught:
        parse_settings(with_callback(keys=[secret, "env:K"]), {"K": "leaked-value"})
    assert secret not in str(caught.value)
    assert "leaked-value" not in str(caught.value)


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.toml", {})
    broken = tmp_path / "broken.toml"
    broken.write_text("[[callbacks]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, {})
    with pytest.raises(ConfigError, match="RECEIVER_CONFIG"):
        load_settings(None, {})


def test_settings_never_show_keys_in_their_repr():
    settings = parse_settings(copy.deepcopy(CONFIG), {})
    assert KEY_LIVE not in repr(settings)
    assert KEY_WILDCARD not in repr(settings)
