"""Operating the receiver: Redis durability checks, request ids, metrics in one process."""

from __future__ import annotations

import logging

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from support import KEY_LIVE, KEY_UNKNOWN, body_of, load_payload, settings_for, signed

from receiver.bootstrap import build_services
from receiver.redis_checks import RedisNotDurable, durability_problems
from receiver.web import create_app

SEED_003 = load_payload("seed_003_record_file_complete")


@pytest.fixture
def restore_config(redis_client):
    saved = {
        name: redis_client.config_get(name)[name] for name in ("appendonly", "maxmemory-policy")
    }
    yield redis_client
    for name, value in saved.items():
        redis_client.config_set(name, value)


@pytest.mark.parametrize(
    ("appendonly", "policy", "problems"),
    [
        ("yes", "noeviction", []),
        ("no", "noeviction", ["appendonly is off"]),
        ("yes", "volatile-lru", ["maxmemory-policy is volatile-lru"]),
        ("no", "allkeys-lru", ["appendonly is off", "maxmemory-policy is allkeys-lru"]),
    ],
)
def test_redis_durability_problems_are_named(restore_config, appendonly, policy, problems):
    restore_config.config_set("appendonly", appendonly)
    restore_config.config_set("maxmemory-policy", policy)
    found = durability_problems(restore_config)
    assert len(found) == len(problems)
    for text, expected in zip(found, problems, strict=True):
        assert expected in text


def test_a_non_durable_redis_is_warned_about(redis_server, restore_config, caplog):
    restore_config.config_set("appendonly", "no")
    with caplog.at_level(logging.WARNING, logger="receiver.redis_checks"):
        build_services(settings_for(redis_server.url))
    assert "appendonly is off" in caplog.text


def test_a_non_durable_redis_is_refused_when_durability_is_required(redis_server, restore_config):
    restore_config.config_set("appendonly", "no")
    with pytest.raises(RedisNotDurable, match="appendonly is off"):
        build_services(settings_for(redis_server.url, redis={"require_durable": True}))


def test_an_unreachable_redis_does_not_stop_startup():
    services = build_services(
        settings_for("redis://127.0.0.1:1/0", redis={"require_durable": True})
    )
    assert services.settings.redis.require_durable


def test_a_sent_request_id_is_echoed_and_a_bad_one_replaced(client):
    assert client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == (
        "abc-123"
    )
    replaced = client.get("/healthz", headers={"X-Request-Id": "bad id\\n<script>"})
    assert replaced.headers["X-Request-Id"] != "bad id\\n<script>"
    assert len(replaced.headers["X-Request-Id"]) == 32


def test_metrics_count_callbacks_by_outcome_and_reason(client):
    client.post("/callbacks/huawei-live", data=body_of(signed(SEED_003, key=KEY_LIVE)))
    client.post("/callbacks/huawei-live", data=body_of(signed(SEED_003, key=KEY_LIVE)))
    client.post("/callbacks/huawei-live", data=body_of(signed(SEED_003, key=KEY_UNKNOWN)))
    client.post("/callbacks/huawei-live", data=b"[]")
    client.get("/healthz")
    samples = {}
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    count = lambda outcome, reason="": samples[  # noqa: E731
        ("receiver_callbacks_total", (("outcome", outcome), ("reason", reason)))
    ]
    assert count("accepted") == 1
    assert count("duplicate") == 1
    assert count("rejected", "bad_signature") == 1
    assert count("rejected", "not_an_object") == 1
    assert samples[("receiver_stream_length", ())] == 1
    assert samples[("receiver_redis_up", ())] == 1
    assert ("receiver_callbacks_total", (("outcome", "rejected"), ("reason", ""))) not in samples


def test_metrics_report_redis_down_without_failing(clock):
    settings = settings_for("redis://127.0.0.1:1/0")
    app = create_app(services=build_services(settings, client=redis.Redis(port=1), clock=clock))
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert "receiver_redis_up 0.0" in response.get_data(as_text=True)
