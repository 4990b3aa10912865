"""Delivery's small parts: handler configuration checks, backoff, Retry-After, the CLI."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from click.testing import CliRunner
from support import FORWARD_SECRET, KEY_LIVE, KEY_WILDCARD, body_of, load_payload, signed

from receiver.backoff import Backoff
from receiver.bootstrap import build_services, build_worker
from receiver.cli import main
from receiver.commands.common import EXIT_NOT_FOUND, EXIT_USAGE
from receiver.config import ConfigError, parse_settings
from receiver.forwarding import retry_after_seconds

BASE = {"callbacks": [{"publish_domain": "d.example.com", "app": "*", "keys": [KEY_WILDCARD]}]}


def with_handler(**handler):
    return BASE | {
        "handlers": [
            {"name": "h", "kind": "http", "url": "http://127.0.0.1:9/x", "secret": FORWARD_SECRET}
            | handler
        ]
    }


BAD_HANDLERS = [
    (
        "metadata-address",
        {"url": "http://169.254.169.254/latest/meta-data"},
        "link-local or metadata",
    ),
    ("link-local-v6", {"url": "http://[fe80::1]/hook"}, "link-local or metadata"),
    ("alibaba-metadata", {"url": "http://100.100.100.200/"}, "link-local or metadata"),
    ("not-http", {"url": "ftp://example.com/x"}, "must be an http:// or https:// URL"),
    ("no-host", {"url": "http:///x"}, "must be an http:// or https:// URL"),
    ("credentials", {"url": "https://user:pw@example.com/x"}, "must not carry credentials"),
    ("no-url", {"url": None}, "needs url"),
    ("no-secret", {"secret": None}, "needs secret"),
    ("secret-not-base64", {"secret": "whsec_!!!"}, "must be base64"),
    ("secret-too-short", {"secret": "whsec_c2hvcnQ="}, "24..64 bytes"),
    ("unknown-kind", {"kind": "smtp"}, "kind"),
    ("python-without-target", {"kind": "python", "url": None}, "needs target"),
    ("python-bad-target", {"kind": "python", "target": "no colon"}, "module:function"),
    ("stream-without-name", {"kind": "stream"}, "needs stream"),
    ("missing-secret-env", {"secret": "env:NO_SUCH_SECRET"}, "NO_SUCH_SECRET is not set"),
]


@pytest.mark.parametrize(
    ("handler", "message"),
    [pytest.param(handler, message, id=name) for name, handler, message in BAD_HANDLERS],
)
def test_a_bad_handler_stops_startup_naming_the_problem(handler, message):
    with pytest.raises(ConfigError) as caught:
        parse_settings(with_handler(**handler), {})
    assert message in str(caught.value)
    assert FORWARD_SECRET not in str(caught.value)


def test_link_local_is_allowed_when_said_so():
    settings = parse_settings(
        with_handler(url="http://169.254.169.254/", allow_link_local=True), {}
    )
    assert settings.handlers[0].allow_link_local


def test_two_handlers_may_not_share_a_name():
    raw = with_handler()
    raw["handlers"] = raw["handlers"] * 2
    with pytest.raises(ConfigError, match="two handlers share a name"):
        parse_settings(raw, {})


def test_handler_secrets_never_show_in_reprs():
    settings = parse_settings(with_handler(), {})
    assert FORWARD_SECRET not in repr(settings)
    assert FORWARD_SECRET.removeprefix("whsec_") not in repr(settings)


@pytest.mark.parametrize(
    ("attempt", "nominal"), [(1, 1.0), (2, 2.0), (3, 4.0), (8, 60.0), (99, 60.0)]
)
@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half(attempt, nominal, draw):
    backoff = Backoff(1.0, 60.0, random=lambda: draw)
    assert backoff.nominal(attempt) == nominal
    assert nominal / 2 <= backoff.delay(attempt) <= nominal


def test_backoff_honours_retry_after_up_to_the_cap():
    backoff = Backoff(1.0, 60.0, random=lambda: 0.0)
    assert backoff.delay(1, retry_after=30) == 30
    assert backoff.delay(1, retry_after=3600) == 60
    assert backoff.delay(3, retry_after=0.1) == 2.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), ("0", 0.0), (None, None), ("", None), ("soon", None), ("-5", None)],
)
def test_retry_after_seconds_are_read(header, expected):
    assert retry_after_seconds(header, 1_800_000_000) == expected


def test_retry_after_dates_are_read_relative_to_now():
    now = 1_800_000_000
    header = format_datetime(datetime.fromtimestamp(now + 90, UTC), usegmt=True)
    assert retry_after_seconds(header, now) == 90


@pytest.fixture
def dead_config(tmp_path, redis_server, redis_client):
    """A config file and two dead letters (one per handler) in Redis."""
    raw = {
        "redis": {"url": redis_server.url, "namespace": "cli"},
        "delivery": {"max_attempts": 1},
        "callbacks": [{"publish_domain": "push.example.com", "app": "live", "keys": [KEY_LIVE]}],
        "handlers": [
            {"name": "boom", "kind": "python", "target": "test_delivery:explode"},
            {
                "name": "boom2",
                "kind": "python",
                "target": "test_delivery:explode",
                "events": ["RECORD_OVER"],
            },
        ],
    }
    settings = parse_settings(raw, {})
    services = build_services(settings)
    services.intake.receive(
        body_of(
            signed(
                load_payload("seed_003_record_file_complete"),
                key=KEY_LIVE,
                expires_at=time.time() + 300,
            )
        )
    )
    services.intake.receive(
        body_of(signed(load_payload("record_over"), key=KEY_LIVE, expires_at=time.time() + 300))
    )
    build_worker(settings, consumer="cli").run(burst=True)
    path = tmp_path / "cli.toml"
    path.write_text(
        f'[redis]\nurl = "{redis_server.url}"\nnamespace = "cli"\n'
        f'[[callbacks]]\npublish_domain = "push.example.com"\napp = "live"\nkeys = ["{KEY_LIVE}"]\n'
    )
    return str(path)


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_dead_letters_are_listed_and_filtered(dead_config):
    listed = cli("dead-letters", "list", "--config", dead_config)
    assert listed.exit_code == 0
    assert listed.output.count("RuntimeError: handler blew up") == 3
    only = cli("dead-letters", "list", "--config", dead_config, "--handler", "boom2")
    assert only.output.count("boom2") == 1
    by_type = cli("dead-letters", "list", "--config", dead_config, "--type", "RECORD_OVER")
    assert by_type.output.count("RECORD_OVER") == 2


def test_a_dead_letter_is_shown_with_its_event(dead_config):
    first_id = cli("dead-letters", "list", "--config", dead_config).output.split()[0]
    shown = cli("dead-letters", "show", "--config", dead_config, first_id)
    letter = json.loads(shown.output)
    assert letter["dead_id"] == first_id
    assert letter["event"]["schema_version"] == 1
    assert cli("dead-letters", "show", "--config", dead_config, "1-1").exit_code == EXIT_NOT_FOUND


def test_replay_and_purge_take_ids_or_all_with_filters(dead_config, redis_client):
    assert cli("dead-letters", "replay", "--config", dead_config).exit_code == EXIT_USAGE
    assert cli("dead-letters", "purge", "--config", dead_config, "1-1").exit_code == EXIT_NOT_FOUND
    replayed = cli("dead-letters", "replay", "--config", dead_config, "--all", "--handler", "boom2")
    assert "replaying 1 dead letter(s)" in replayed.output
    assert redis_client.zcard("{cli}:deliveries") == 1
    purged = cli("dead-letters", "purge", "--config", dead_config, "--all")
    assert "purged 2 dead letter(s)" in purged.output
    assert redis_client.xlen("{cli}:dead") == 0
