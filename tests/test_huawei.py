"""`receiver huawei ...` through the real SDK against a local fake of the management API."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from fake_huawei import AK, PROJECT, SK, FakeHuaweiServer
from support import KEY_LIVE, KEY_MD5, KEY_WILDCARD, body_of, load_payload, signed

from receiver.cli import main
from receiver.commands.common import EXIT_NOT_FOUND, EXIT_REMOTE, EXIT_USAGE

CONFIG = """
[redis]
url = "{redis}"
namespace = "mgmt"

[[callbacks]]
publish_domain = "push.example.com"
app = "live"
keys = ["{key_live}"]
events = ["RECORD_FILE_COMPLETE", "RECORD_OVER"]

[[callbacks]]
publish_domain = "md5.example.com"
app = "*"
sign_type = "MD5"
keys = ["{key_md5}"]
"""


@pytest.fixture
def fake():
    server = FakeHuaweiServer()
    yield server
    server.stop()


@pytest.fixture
def config(tmp_path, redis_server, redis_client):
    path = tmp_path / "receiver.toml"
    path.write_text(CONFIG.format(redis=redis_server.url, key_live=KEY_LIVE, key_md5=KEY_MD5))
    return str(path)


@pytest.fixture
def cli(fake, config):
    env = {
        "HUAWEICLOUD_SDK_AK": AK,
        "HUAWEICLOUD_SDK_SK": SK,
        "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT,
        "HUAWEICLOUD_LIVE_ENDPOINT": fake.url,
        "RECEIVER_CONFIG": config,
        "RECEIVER_LOG_LEVEL": "WARNING",
    }

    def run(*args, extra_env=None):
        result = CliRunner().invoke(main, ["huawei", *args], env={**env, **(extra_env or {})},
                                    catch_exceptions=False)  # fmt: skip
        for secret in (SK, KEY_LIVE, KEY_MD5, KEY_WILDCARD):
            assert secret not in result.output
        return result

    return run


REGISTER = ("register", "--domain", "push.example.com", "--app", "live",
            "--url", "https://callbacks.example.com/callbacks/huawei-live")  # fmt: skip


def test_register_creates_the_callback_config_with_the_local_key_and_events(cli, fake):
    result = cli(*REGISTER)
    assert result.exit_code == 0, result.output
    assert "created recording callback" in result.output
    listing, creation = fake.live.seen
    assert (listing.method, listing.path) == ("GET", f"/v1/{PROJECT}/record/callbacks")
    assert listing.query == {"publish_domain": "push.example.com", "app": "live"}
    assert (creation.method, creation.path) == ("POST", f"/v1/{PROJECT}/record/callbacks")
    assert creation.body == {
        "publish_domain": "push.example.com",
        "app": "live",
        "notify_callback_url": "https://callbacks.example.com/callbacks/huawei-live",
        "notify_event_subscription": ["RECORD_FILE_COMPLETE", "RECORD_OVER"],
        "sign_type": "HMACSHA256",
        "key": KEY_LIVE,
    }
    assert creation.headers["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK}")


def test_register_again_updates_the_same_config(cli, fake):
    cli(*REGISTER)
    [config_id] = fake.live.configs
    result = cli(*REGISTER[:-1], "https://new.example.com/hook")
    assert result.exit_code == 0, result.output
    assert f"updated recording callback {config_id}" in result.output
    update = fake.live.seen[-1]
    assert (update.method, update.path) == ("PUT", f"/v1/{PROJECT}/record/callbacks/{config_id}")
    assert fake.live.configs[config_id]["notify_callback_url"] == "https://new.example.com/hook"


def test_register_subscribes_every_type_and_md5_for_an_unfiltered_md5_config(cli, fake):
    result = cli("register", "--domain", "md5.example.com", "--app", "*",
                 "--url", "https://callbacks.example.com/hook")  # fmt: skip
    assert result.exit_code == 0, result.output
    body = fake.live.seen[-1].body
    assert body["sign_type"] == "MD5"
    assert body["key"] == KEY_MD5
    assert len(body["notify_event_subscription"]) == 5


def test_register_refuses_a_domain_the_local_config_does_not_cover(cli, fake):
    result = cli("register", "--domain", "other.example.com", "--app", "live",
                 "--url", "https://x.example.com/hook")  # fmt: skip
    assert result.exit_code == EXIT_NOT_FOUND
    assert "no [[callbacks]] for other.example.com/live" in result.output
    assert fake.live.seen == []


def test_a_400_from_huawei_becomes_a_clear_message_and_exit_5(cli, fake):
    result = cli("register", "--domain", "push.example.com", "--app", "live", "--url", "")
    assert result.exit_code == EXIT_REMOTE
    assert "Huawei answered HTTP 400 LIVE.100011001: Request Illegal" in result.output


def test_missing_credentials_are_named(cli, fake):
    result = cli(*REGISTER, extra_env={"HUAWEICLOUD_SDK_SK": "", "CLOUD_SDK_SK": ""})
    assert result.exit_code == EXIT_USAGE
    assert "set HUAWEICLOUD_SDK_SK or CLOUD_SDK_SK" in result.output
    assert fake.live.seen == []


def test_wrong_credentials_are_refused_by_the_api(cli, fake):
    result = cli(*REGISTER, extra_env={"HUAWEICLOUD_SDK_AK": "AKWRONG"})
    assert result.exit_code == EXIT_REMOTE
    assert "HTTP 401" in result.output


def test_an_unreachable_endpoint_is_a_clear_error(cli):
    result = cli(*REGISTER, extra_env={"HUAWEICLOUD_LIVE_ENDPOINT": "http://127.0.0.1:1"})
    assert result.exit_code == EXIT_REMOTE
    assert "Huawei could not be reached" in result.output


STREAM = ("--domain", "push.example.com", "--app", "live", "--stream", "mystream")


def test_record_start_and_stop_send_the_command(cli, fake):
    fake.live.streams.add(("push.example.com", "live", "mystream"))
    assert cli("record", "start", *STREAM).exit_code == 0
    control = fake.live.seen[-1]
    assert (control.method, control.path, control.query) == (
        "POST", f"/v1/{PROJECT}/record/control", {"action": "START"})  # fmt: skip
    assert control.body == {"publish_domain": "push.example.com", "app": "live",
                            "stream": "mystream"}  # fmt: skip
    assert cli("record", "stop", *STREAM).exit_code == 0
    assert [c[0] for c in fake.live.controls] == ["START", "STOP"]


def test_record_of_an_unknown_stream_reports_huaweis_404(cli, fake):
    result = cli("record", "start", *STREAM)
    assert result.exit_code == EXIT_REMOTE
    assert "HTTP 404 LIVE.100011001: The resource to access is not exists" in result.output


def test_a_start_within_ten_seconds_of_a_stop_waits_or_fails(cli, fake):
    fake.live.streams.add(("push.example.com", "live", "mystream"))
    assert cli("record", "stop", *STREAM).exit_code == 0
    refused = cli("record", "start", *STREAM, "--no-wait")
    assert refused.exit_code == EXIT_USAGE
    assert "Huawei accepts a start in" in refused.output
    assert [c[0] for c in fake.live.controls] == ["STOP"]


def recorded_file(number, **changes):
    return {
        "publish_domain": "push.example.com", "app": "live", "stream": "mystream",
        "file_name": f"asset-{number}", "record_format": "HLS", "record_type": "CONTINUOUS_RECORD",
        "obs_addr": {"bucket": "recordings", "location": "cn-north-4",
                     "object": f"live/mystream/{number}.m3u8"},
        "download_url": f"https://obs.example.com/live/mystream/{number}.m3u8",
        "start_time": f"2026-11-20T{10 + number // 60:02d}:{number % 60:02d}:00Z",
        "end_time": f"2026-11-20T{10 + number // 60:02d}:{number % 60:02d}:30Z",
        "duration": 30,
    } | changes  # fmt: skip


RECONCILE = ("reconcile", "--domain", "push.example.com", "--app", "live",
             "--since", "2026-11-20T00:00:00Z", "--until", "2026-11-21T00:00:00Z")  # fmt: skip


def stream_events(redis_client):
    return [json.loads(fields[b"event"]) for _, fields in redis_client.xrange("{mgmt}:events")]


def test_reconcile_enqueues_missed_files_once_even_when_run_twice(cli, fake, redis_client):
    fake.live.files = [recorded_file(n) for n in range(150)]  # two pages of 100
    first = cli(*RECONCILE)
    assert first.exit_code == 0, first.output
    assert (
        "150 recorded file(s), 150 enqueued as missed callbacks, 0 already received, 0 skipped"
        in first.output
    )
    pages = [s for s in fake.live.seen if s.path.endswith("/record/contents")]
    assert [p.query["offset"] for p in pages] == ["0", "100"]
    assert pages[0].query["start_time"] == "2026-11-20T00:00:00Z"
    second = cli(*RECONCILE)
    assert (
        "150 recorded file(s), 0 enqueued as missed callbacks, 150 already received"
        in second.output
    )
    events = stream_events(redis_client)
    assert len(events) == 150
    assert all(event["reconciled"] for event in events)
    assert events[0]["start_time"] == "2026-11-20T10:00:00Z"
    assert events[0]["obs_object"] == "live/mystream/0.m3u8"


def test_reconcile_after_the_real_callback_adds_nothing(cli, fake, redis_client, config):
    from receiver.bootstrap import build_services
    from receiver.config import load_settings

    services = build_services(load_settings(config, {}))
    real = load_payload("seed_003_record_file_complete") | {
        "obs_bucket": "recordings", "obs_object": "live/mystream/7.m3u8"}  # fmt: skip
    services.intake.receive(body_of(signed(real, key=KEY_LIVE, expires_at=time.time() + 300)))
    fake.live.files = [recorded_file(7), recorded_file(8)]
    result = cli(*RECONCILE)
    assert (
        "2 recorded file(s), 1 enqueued as missed callbacks, 1 already received, 0 skipped"
        in result.output
    )
    events = stream_events(redis_client)
    assert [event["reconciled"] for event in events] == [False, True]
    assert events[1]["obs_object"] == "live/mystream/8.m3u8"


def test_a_malformed_recorded_file_is_counted_and_skipped(cli, fake, redis_client):
    fake.live.files = [recorded_file(1), recorded_file(2, download_url=12345, obs_addr=None)]
    result = cli(*RECONCILE)
    assert result.exit_code == 0, result.output
    assert "1 enqueued as missed callbacks, 0 already received, 1 skipped" in result.output
    assert "download_url must be a string" in result.output
    assert len(stream_events(redis_client)) == 1


def test_an_answer_the_sdk_cannot_read_is_a_clear_error(cli, fake):
    fake.live.files = [recorded_file(1, duration="long")]
    result = cli(*RECONCILE)
    assert result.exit_code == EXIT_REMOTE
    assert "Huawei's answer could not be read" in result.output


def test_reconcile_reports_progress_per_page(cli, fake):
    fake.live.files = [recorded_file(n) for n in range(120)]
    result = cli(*RECONCILE)
    assert "100 file(s) listed" in result.output
    assert "120 file(s) listed" in result.output


@pytest.mark.parametrize(
    ("since", "message"),
    [("yesterday", "use an ISO 8601 time or an age"),
     ("2026-11-22T00:00:00Z", "--since must be before --until")],
)  # fmt: skip
def test_reconcile_refuses_a_bad_period(cli, since, message):
    result = cli("reconcile", "--domain", "push.example.com", "--app", "live", "--since", since,
                 "--until", "2026-11-21T00:00:00Z")  # fmt: skip
    assert result.exit_code != 0
    assert message in result.output


def test_reconcile_accepts_an_age_for_since(cli, fake):
    result = cli("reconcile", "--domain", "push.example.com", "--app", "live", "--since", "24h")
    assert result.exit_code == 0, result.output
    [page] = [s for s in fake.live.seen if s.path.endswith("/record/contents")]
    assert page.query["start_time"] < page.query["end_time"]
