"""The `receiver` command as a user runs it: check-config, and serve with an embedded Redis."""

from __future__ import annotations

import time

import pytest
import redis
import requests
from click.testing import CliRunner
from processes import BIN, start, stop, wait_until_up
from support import KEY_LIVE, body_of, load_payload, signed

from receiver.cli import main
from receiver.commands.common import EXIT_CONFIG, EXIT_REDIS
from receiver.embedded import free_port

GOOD = f"""
[[callbacks]]
publish_domain = "push.example.com"
app = "live"
keys = ["{KEY_LIVE}"]
"""


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_check_config_accepts_a_valid_file(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(GOOD)
    result = run("check-config", "--config", str(path))
    assert result.exit_code == 0
    assert "push.example.com/live: HMACSHA256, 1 key(s)" in result.output
    assert KEY_LIVE not in result.output


def test_check_config_reaches_the_configured_redis(tmp_path, redis_server):
    path = tmp_path / "ok.toml"
    path.write_text(GOOD + f'\n[redis]\nurl = "{redis_server.url}"\n')
    result = run("check-config", "--config", str(path))
    assert result.exit_code == 0
    assert "redis: reachable" in result.output


def test_check_config_exits_3_when_redis_is_unreachable(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(GOOD + f'\n[redis]\nurl = "redis://127.0.0.1:{free_port()}/0"\n')
    result = run("check-config", "--config", str(path))
    assert result.exit_code == EXIT_REDIS
    assert "redis unreachable" in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace(KEY_LIVE, "tooShort"), "key 1 must be at least 32 letters or digits"),
        (GOOD.replace('"live"', '"live"\nsign_type = "SHA1"'), "sign_type"),
        (GOOD.replace(KEY_LIVE, "env:HWLIVE_UNSET_KEY"), "HWLIVE_UNSET_KEY is not set"),
        ("[[callbacks]\n", "not valid TOML"),
    ],
)
def test_check_config_exits_2_naming_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = run("check-config", "--config", str(path))
    assert result.exit_code == EXIT_CONFIG
    assert message in result.output
    assert "Traceback" not in result.output


def test_the_config_file_may_come_from_the_environment(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(GOOD)
    assert run("check-config", env={"RECEIVER_CONFIG": str(path)}).exit_code == 0


@pytest.mark.integration
def test_serve_starts_an_embedded_redis_a_worker_and_delivers_a_callback(tmp_path):
    config = tmp_path / "dev.toml"
    config.write_text(GOOD + '\n[[handlers]]\nname = "copy"\nkind = "stream"\nstream = "copies"\n')
    port = free_port()
    process = start(
        [
            str(BIN / "receiver"),
            "serve",
            "--config",
            str(config),
            "--bind",
            f"127.0.0.1:{port}",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env={},
        log=tmp_path / "serve.log",
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        payload = signed(
            load_payload("seed_003_record_file_complete"),
            key=KEY_LIVE,
            expires_at=time.time() + 300,
        )
        response = requests.post(
            f"http://127.0.0.1:{port}/callbacks/huawei-live", data=body_of(payload), timeout=10
        )
        assert response.status_code == 200
        assert response.json()["outcome"] == "accepted"
        log = (tmp_path / "serve.log").read_text()
        redis_url = log.split("embedded redis-server at ")[1].split(",")[0]
        client = redis.Redis.from_url(redis_url)
        assert client.xlen("{hwlive}:events") == 1
        deadline = time.monotonic() + 20
        while client.xlen("copies") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.xlen("copies") == 1
    finally:
        assert stop(process) == 0
    assert (tmp_path / "data" / "redis" / "appendonly.aof").exists()
