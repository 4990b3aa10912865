"""`receiver send`, `explain` and `keygen`, as a user runs them."""

from __future__ import annotations

import json
import logging
import threading

import pytest
from click.testing import CliRunner
from support import (
    CONFIG,
    KEY_LIVE,
    KEY_UNKNOWN,
    KEY_WILDCARD,
    NOW,
    PAYLOADS,
    body_of,
    load_payload,
    signed,
    toml_text,
)
from werkzeug.serving import make_server

from receiver.bootstrap import build_services
from receiver.cli import main
from receiver.commands.tools import EXIT_REJECTED
from receiver.config import parse_settings
from receiver.web import create_app


@pytest.fixture
def config_file(tmp_path, redis_server, redis_client):
    """The test configuration as a TOML file, against the session's Redis."""
    raw = {
        "redis": {"url": redis_server.url, "namespace": "test"},
        "signature": CONFIG["signature"],
        "callbacks": CONFIG["callbacks"],
    }
    path = tmp_path / "receiver.toml"
    path.write_text(toml_text(raw))
    return str(path)


@pytest.fixture
def live_receiver(config_file):
    """The receiver served over real HTTP on loopback (werkzeug's server, in a thread)."""
    from receiver.config import load_settings

    app = create_app(services=build_services(load_settings(config_file, {})))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its access lines are not output
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}/callbacks/huawei-live"
    server.shutdown()


def run(*args):
    environment = {"RECEIVER_LOG_LEVEL": "WARNING"}
    return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)


def test_keygen_prints_a_key_huawei_and_the_config_accept():
    first, second = run("keygen").output.strip(), run("keygen").output.strip()
    assert len(first) == 48
    assert first.isalnum()
    assert first.isascii()
    assert first != second
    raw = {"callbacks": [{"publish_domain": "d", "app": "*", "keys": [first]}]}
    assert parse_settings(raw, {}).callbacks[0].keys[0].reveal() == first


def test_keygen_refuses_a_length_huawei_would_refuse():
    assert run("keygen", "--length", "31").exit_code != 0
    assert len(run("keygen", "--length", "64").output.strip()) == 64


def test_send_signs_with_the_config_key_and_the_receiver_accepts_it(live_receiver, config_file):
    result = run("send", "--url", live_receiver, "--config", config_file, "--stream", "sent-1")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("HTTP 200")
    assert json.loads(result.output.split("\n", 1)[1])["outcome"] == "accepted"


@pytest.mark.parametrize("event_type", ["RECORD_START", "RECORD_NEW_FILE_START", "RECORD_OVER",
                                        "RECORD_FAILED", "RECORD_SOMETHING_NEW"])  # fmt: skip
def test_send_builds_every_event_type(live_receiver, config_file, event_type):
    result = run("send", "--url", live_receiver, "--config", config_file, "--event", event_type)
    assert result.exit_code == 0, result.output


def test_send_from_a_recorded_sample_with_fields_set(config_file):
    sample = PAYLOADS / "seed_002_vodcallback.json"
    result = run("send", "--config", config_file, "--sample", str(sample), "--domain",
                 "pushsit.xxxx.com", "--set", "file_size=1", "--set", "heigh=480", "--set",
                 "note=plain text", "--timestamp-as-string", "--dry-run")  # fmt: skip
    body = json.loads(result.output)
    assert body["download_url"] == load_payload("seed_002_vodcallback")["download_url"]
    assert (body["file_size"], body["heigh"], body["note"]) == (1, 480, "plain text")
    assert isinstance(body["auth_timestamp"], str)
    assert KEY_WILDCARD not in result.output


@pytest.mark.parametrize(
    ("options", "code"),
    [
        (["--key", KEY_UNKNOWN], "bad_signature"),
        (["--expires-in", "-1000"], "expired"),
        (["--expires-in", "99999"], "too_far_ahead"),
        (["--domain", "nobody.example.com", "--key", KEY_UNKNOWN], "unknown_source"),
    ],
)
def test_send_shows_a_rejection_and_exits_6(live_receiver, config_file, options, code):
    result = run("send", "--url", live_receiver, "--config", config_file, *options)
    assert result.exit_code == EXIT_REJECTED
    assert json.loads(result.output.split("\n", 1)[1])["error"] == code


@pytest.mark.parametrize(("content", "reason"), [("{", "Expecting"), ("[1]", "must be an object")])
def test_send_refuses_a_sample_that_is_not_a_json_callback(config_file, tmp_path, content, reason):
    sample = tmp_path / "sample.json"
    sample.write_text(content)
    result = run("send", "--config", config_file, "--sample", str(sample), "--dry-run")
    assert result.exit_code == 1
    assert "is not a JSON callback" in result.output
    assert reason in result.output
    assert "Traceback" not in result.output


def test_send_names_an_unreachable_receiver(config_file):
    result = run("send", "--url", "http://127.0.0.1:1/hook", "--config", config_file)
    assert result.exit_code == 1
    assert "could not reach http://127.0.0.1:1/hook" in result.output


def test_send_without_a_config_for_the_domain_asks_for_a_key(config_file):
    result = run("send", "--config", config_file, "--domain", "nobody.example.com", "--dry-run")
    assert result.exit_code == 4
    assert "pass --key" in result.output


SEED = load_payload("seed_003_record_file_complete")


def explain_body(config_file, body, *extra):
    result = CliRunner().invoke(main, ["explain", "--config", config_file, "--at", str(NOW),
                                       *extra, "-"], input=body,
                                env={"RECEIVER_LOG_LEVEL": "WARNING"})  # fmt: skip
    for secret in (KEY_LIVE, KEY_WILDCARD):
        assert secret not in result.output
    return result


EXPLAINED = [
    ("accepted", body_of(signed(SEED, key=KEY_LIVE)), 200, "accepted", "replay"),
    ("malformed-json", b"{", 400, "malformed_json", "body"),
    ("not-an-object", b"[]", 400, "not_an_object", "body"),
    ("missing-field", body_of({"event_type": "RECORD_OVER"}), 400, "missing_field", "body"),
    ("unknown-domain", body_of(signed(SEED | {"publish_domain": "x.example.com"})), 403,
     "unknown_source", "config"),
    ("no-signature", body_of({k: v for k, v in SEED.items() if k != "auth_sign"}), 401,
     "missing_signature", "verdict"),
    ("malformed-timestamp", body_of(signed(SEED, key=KEY_LIVE) | {"auth_timestamp": "soon"}), 401,
     "malformed_timestamp", "verdict"),
    ("expired", body_of(signed(SEED, key=KEY_LIVE, expires_at=NOW - 61)), 401, "expired",
     "verdict"),
    ("too-far-ahead", body_of(signed(SEED, key=KEY_LIVE, expires_at=NOW + 3601)), 401,
     "too_far_ahead", "verdict"),
    ("wrong-key", body_of(signed(SEED, key=KEY_WILDCARD)), 401, "bad_signature", "verdict"),
    ("tampered", body_of(signed(SEED, key=KEY_LIVE) | {"stream": "x"}), 401, "bad_signature",
     "verdict"),
    ("wrong-type", body_of(signed(SEED | {"width": "wide"}, key=KEY_LIVE)), 400, "invalid_field",
     "fields"),
    ("not-subscribed", body_of(signed(load_payload("record_start")
                                      | {"publish_domain": "filtered.example.com"})), 200,
     "ignored", "subscription"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "code", "step"),
    [
        pytest.param(body, status, code, step, id=name)
        for name, body, status, code, step in EXPLAINED
    ],
)
def test_explain_names_the_step_and_the_answer_for_each_reason(config_file, body, status, code,
                                                               step):  # fmt: skip
    result = explain_body(config_file, body)
    assert result.output.strip().splitlines()[-1] == f"=> HTTP {status} {code}"
    assert result.exit_code == (0 if status == 200 else EXIT_REJECTED)
    assert f" {step}:" in result.output


def test_explain_shows_the_signed_string_and_which_key_matched(config_file):
    output = explain_body(config_file, body_of(signed(SEED, key=KEY_LIVE))).output
    assert "auth_timestamp='1800000300' + event_type='RECORD_FILE_COMPLETE'" in output
    assert "exact app match" in output
    assert "ok   key 1 of 2" in output


def test_explain_says_when_a_wildcard_config_was_chosen(config_file):
    output = explain_body(config_file, body_of(signed(SEED | {"app": "vod"}))).output
    assert "no config for app 'vod'; wildcard" in output


def test_explain_tells_a_duplicate_from_a_new_delivery(config_file):
    from receiver.config import load_settings

    body = body_of(signed(SEED, key=KEY_LIVE, expires_at=NOW + 300))
    assert explain_body(config_file, body).output.strip().endswith("=> HTTP 200 accepted")
    services = build_services(load_settings(config_file, {}), clock=lambda: NOW)
    services.intake.receive(body)
    output = explain_body(config_file, body).output
    assert "seen already: a duplicate of stream entry" in output
    assert output.strip().endswith("=> HTTP 200 duplicate")


def test_explain_as_json(config_file):
    result = explain_body(config_file, b"[]", "--json")
    data = json.loads(result.output)
    assert (data["status"], data["code"]) == (400, "not_an_object")
    assert data["steps"][0]["passed"] is False


def test_the_receiver_logs_each_rejection_with_its_reason_and_sender(client, caplog):
    with caplog.at_level(logging.INFO, logger="receiver.web"):
        client.post("/callbacks/huawei-live", data=body_of(signed(SEED, key=KEY_UNKNOWN)))
    [record] = [r for r in caplog.records if r.getMessage() == "callback rejected"]
    assert (record.code, record.reason) == ("bad_signature", "auth_sign does not match")
    assert (record.publish_domain, record.app) == ("push.example.com", "live")
    assert KEY_UNKNOWN not in caplog.text
