"""Crash safety of real worker processes: SIGKILL loses nothing, SIGTERM duplicates nothing."""

from __future__ import annotations

import collections
import random
import signal
import time

import pytest
from processes import BIN, start, stop
from support import (
    KEY_WILDCARD,
    body_of,
    http_handler,
    load_payload,
    settings_for,
    signed,
    toml_text,
)

from receiver.bootstrap import build_services

pytestmark = pytest.mark.integration
EVENTS = 2000
CONCURRENCY = 8


@pytest.fixture
def chaos(redis_server, redis_client, sink, tmp_path):
    """A config file for worker processes, and the ids of EVENTS accepted callbacks."""
    config = tmp_path / "chaos.toml"
    config.write_text(
        toml_text(
            {
                "redis": {"url": redis_server.url, "namespace": "chaos"},
                "delivery": {"lease_seconds": 2, "claim_idle_seconds": 1,
                             "concurrency": CONCURRENCY, "max_attempts": 100,
                             "backoff_base_seconds": 0.05, "backoff_max_seconds": 0.5},
                "callbacks": [{"publish_domain": "push.example.com", "app": "*",
                               "keys": [KEY_WILDCARD]}],
                "handlers": [http_handler("sink", sink.url)],
            }
        )
    )  # fmt: skip
    settings = settings_for(redis_server.url, namespace="chaos")
    services = build_services(settings)
    expires = time.time() + 600
    expected = set()
    for number in range(EVENTS):
        payload = load_payload("record_over") | {
            "app": "vod",
            "stream": f"s{number}",
            "task_id": f"t{number}",
        }
        services.intake.receive(body_of(signed(payload, key=KEY_WILDCARD, expires_at=expires)))
    expected = {event_key for event_key in _stream_keys(redis_client)}
    assert len(expected) == EVENTS
    return config, expected, tmp_path


def _stream_keys(client):
    import json

    return [
        json.loads(fields[b"event"])["idempotency_key"]
        for _, fields in client.xrange("{chaos}:events")
    ]


def _worker(config, log):
    return start([str(BIN / "receiver"), "worker", "--config", str(config)], env={}, log=log)


def _finish(config, sink, expected, folder, timeout=120):
    """Run one worker until every event arrived, then stop it warmly."""
    process = _worker(config, folder / "final.log")
    deadline = time.monotonic() + timeout
    while not expected <= set(sink.ids()) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # let anything still in flight arrive, so duplicates are counted
    assert stop(process) == 0


def _report(name, sink, expected, kills):
    counts = collections.Counter(sink.ids())
    lost = len(expected - set(counts))
    duplicates = sum(count - 1 for count in counts.values())
    print(
        f"\n{name}: events={len(expected)} kills={kills} received={sum(counts.values())} "
        f"lost={lost} duplicates={duplicates}"
    )
    return lost, duplicates


def test_sigkill_during_delivery_loses_nothing(chaos, sink):
    config, expected, folder = chaos
    rng = random.Random(7)
    kills = 0
    while len(set(sink.ids())) < EVENTS * 0.8 and kills < 40:
        process = _worker(config, folder / f"killed-{kills}.log")
        time.sleep(rng.uniform(0.3, 0.8))
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    _finish(config, sink, expected, folder)
    lost, duplicates = _report("SIGKILL", sink, expected, kills)
    assert kills >= 3
    assert lost == 0
    # Only deliveries in flight at a kill may arrive twice: at most 2 x concurrency leases.
    assert duplicates <= kills * 2 * CONCURRENCY


def test_sigterm_finishes_what_it_holds_and_loses_and_duplicates_nothing(chaos, sink):
    config, expected, folder = chaos
    stops = 0
    while len(set(sink.ids())) < EVENTS * 0.8 and stops < 40:
        process = _worker(config, folder / f"stopped-{stops}.log")
        time.sleep(0.5)
        assert stop(process) == 0
        stops += 1
    _finish(config, sink, expected, folder)
    lost, duplicates = _report("SIGTERM", sink, expected, stops)
    assert stops >= 3
    assert (lost, duplicates) == (0, 0)
