"""Delivery to handlers: retries with backoff, dead letters, fan-out, crash safety, routing."""

from __future__ import annotations

import itertools
import json
import threading
import time

import pytest
import redis
from sinks import Answer, Sink
from standardwebhooks import Webhook
from support import (
    FORWARD_SECRET,
    KEY_LIVE,
    body_of,
    http_handler,
    key_for,
    load_payload,
    settings_for,
    signed,
)

from receiver.backoff import Backoff
from receiver.bootstrap import build_services, build_worker
from receiver.embedded import free_port

COLLECTED: list[dict] = []


def collect(event):
    """A python handler for the tests."""
    COLLECTED.append(dict(event))


def explode(event):
    """A python handler that always fails."""
    raise RuntimeError("handler blew up")


@pytest.fixture
def sinks():
    started = []

    def make(script=None):
        sink = Sink(script).start()
        started.append(sink)
        return sink

    yield make
    for sink in started:
        sink.stop()


FAST = {
    "backoff_base_seconds": 0.05,
    "backoff_max_seconds": 1.0,
    "max_attempts": 4,
    "claim_idle_seconds": 1,
    "lease_seconds": 5,
}


@pytest.fixture
def system(redis_server, redis_client, clock):
    """Builds intake + worker for a list of handler configs; returns (send, worker)."""

    def build(handlers, delivery=None, random=None):
        settings = settings_for(
            redis_server.url, delivery={**FAST, **(delivery or {})}, handlers=handlers
        )
        services = build_services(settings, clock=clock)
        backoff = Backoff(
            settings.delivery.backoff_base_seconds,
            settings.delivery.backoff_max_seconds,
            random=random or (lambda: 0.5),
        )
        worker = build_worker(settings, backoff=backoff, consumer="test-worker")

        def send(payload_name="seed_003_record_file_complete", **changes):
            payload = load_payload(payload_name) | changes
            return services.intake.receive(body_of(signed(payload, key=key_for(payload))))

        return send, worker

    return build


def test_a_sink_failing_k_times_gets_the_event_on_attempt_k_plus_1_within_backoff(system, sinks):
    failures = 3
    sink = sinks(lambda n, _: Answer(503) if n <= failures else Answer(200))
    send, worker = system(
        [http_handler("sink", sink.url)], {"max_attempts": 10}, random=lambda: 1.0
    )
    send()
    stats = worker.run(burst=True)
    assert len(sink.received) == failures + 1
    assert (stats.delivered, stats.retried, stats.dead) == (1, failures, 0)
    times = [request.at for request in sink.received]
    for attempt, (before, after) in enumerate(itertools.pairwise(times), start=1):
        nominal = worker.backoff.nominal(attempt)
        assert nominal / 2 <= after - before <= nominal + 1.0


def test_forwarded_requests_verify_with_the_standard_webhooks_library(system, sinks):
    sink = sinks()
    send, worker = system([http_handler("sink", sink.url)])
    receipt = send()
    worker.run(burst=True)
    [request] = sink.received
    event = Webhook(FORWARD_SECRET).verify(request.body, request.headers)
    assert event["id"] == receipt.event_id
    assert request.headers["webhook-id"] == event["idempotency_key"]
    assert request.headers["content-type"] == "application/json"
    tampered = request.body.replace(b"mystream", b"evilstream")
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(FORWARD_SECRET).verify(tampered, request.headers)


def test_a_permanent_4xx_is_dead_lettered_after_one_attempt(system, sinks):
    sink = sinks(lambda n, _: Answer(422, body=b"unprocessable"))
    send, worker = system([http_handler("sink", sink.url)])
    send()
    stats = worker.run(burst=True)
    assert len(sink.received) == 1
    [letter] = worker.queue.dead_letters()
    assert (stats.dead, letter.attempts, letter.handler) == (1, 1, "sink")
    assert "HTTP 422" in letter.last_error


def test_always_5xx_is_dead_lettered_after_max_attempts_with_the_last_error(system, sinks):
    sink = sinks(lambda n, _: Answer(500, body=f"failure {n}".encode()))
    send, worker = system([http_handler("sink", sink.url)])
    send()
    worker.run(burst=True)
    assert len(sink.received) == FAST["max_attempts"]
    [letter] = worker.queue.dead_letters()
    assert letter.attempts == FAST["max_attempts"]
    assert letter.last_error == f"RetryableFailure: HTTP 500: failure {FAST['max_attempts']}"


def test_a_replayed_dead_letter_is_delivered(system, sinks):
    healthy = threading.Event()
    sink = sinks(lambda n, _: Answer(200) if healthy.is_set() else Answer(500))
    send, worker = system([http_handler("sink", sink.url)])
    send()
    worker.run(burst=True)
    [letter] = worker.queue.dead_letters()
    healthy.set()
    worker.queue.replay(letter, int(time.time() * 1000))
    assert worker.queue.dead_letters() == []
    stats = worker.run(burst=True)
    assert stats.delivered == 1
    assert sink.received[-1].headers["webhook-id"] == letter.event["idempotency_key"]


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
def test_retryable_statuses_are_retried(system, sinks, status):
    sink = sinks(lambda n, _: Answer(status) if n == 1 else Answer(204))
    send, worker = system([http_handler("sink", sink.url)])
    send()
    assert worker.run(burst=True).delivered == 1
    assert len(sink.received) == 2


def test_retry_after_is_honoured(system, sinks):
    sink = sinks(lambda n, _: Answer(429, headers={"Retry-After": "1"}) if n == 1 else Answer())
    send, worker = system([http_handler("sink", sink.url)])
    send()
    worker.run(burst=True)
    first, second = sink.received
    assert second.at - first.at >= 0.95


def test_one_failing_handler_does_not_hold_back_the_other(system, sinks):
    good, bad = sinks(), sinks(lambda n, _: Answer(500))
    send, worker = system([http_handler("good", good.url), http_handler("bad", bad.url)])
    send()
    worker.run(burst=True)
    assert len(good.received) == 1
    assert len(bad.received) == FAST["max_attempts"]
    assert [letter.handler for letter in worker.queue.dead_letters()] == ["bad"]


def test_a_retry_never_reruns_a_handler_that_already_succeeded(system, sinks):
    steady = sinks()
    flaky = sinks(lambda n, _: Answer(503) if n <= 2 else Answer())
    send, worker = system([http_handler("steady", steady.url), http_handler("flaky", flaky.url)])
    send()
    worker.run(burst=True)
    assert (len(steady.received), len(flaky.received)) == (1, 3)


def test_a_redirect_is_not_followed_and_the_canary_is_never_hit(system, sinks):
    canary = sinks()
    redirector = sinks(lambda n, _: Answer(307, headers={"Location": canary.url}))
    send, worker = system([http_handler("sink", redirector.url)])
    send()
    worker.run(burst=True)
    assert canary.received == []
    [letter] = worker.queue.dead_letters()
    assert "redirects are not followed" in letter.last_error


def test_a_sink_that_never_answers_ends_the_attempt_within_the_timeout(system, sinks):
    sink = sinks(lambda n, _: Answer(delay=30) if n == 1 else Answer())
    send, worker = system([http_handler("sink", sink.url, timeout_seconds=0.5)])
    send()
    started = time.monotonic()
    stats = worker.run(burst=True)
    assert stats.retried == 1
    assert stats.delivered == 1
    assert time.monotonic() - started < 10


def test_nothing_listening_is_retried_then_dead_lettered(system):
    url = f"http://127.0.0.1:{free_port()}/hook"
    send, worker = system([http_handler("sink", url)])
    send()
    stats = worker.run(burst=True)
    assert stats.dead == 1
    assert "NewConnectionError" in worker.queue.dead_letters()[0].last_error


def test_an_oversized_response_is_read_no_further_than_the_limit(system, sinks):
    sink = sinks(lambda n, _: Answer(200, body=b"x" * 1_000_000))
    send, worker = system([http_handler("sink", sink.url, max_response_bytes=1024)])
    send()
    assert worker.run(burst=True).delivered == 1


def test_python_and_stream_handlers_receive_the_event(system, redis_client):
    COLLECTED.clear()
    handlers = [
        {"name": "py", "kind": "python", "target": "test_delivery:collect"},
        {"name": "copy", "kind": "stream", "stream": "recordings"},
    ]
    send, worker = system(handlers)
    receipt = send()
    worker.run(burst=True)
    assert [event["id"] for event in COLLECTED] == [receipt.event_id]
    [(_, fields)] = redis_client.xrange("recordings")
    assert json.loads(fields[b"event"])["id"] == receipt.event_id


def test_a_python_handler_that_raises_is_retried_then_dead_lettered(system):
    send, worker = system([{"name": "py", "kind": "python", "target": "test_delivery:explode"}])
    send()
    worker.run(burst=True)
    [letter] = worker.queue.dead_letters()
    assert letter.last_error == "RuntimeError: handler blew up"
    assert letter.attempts == FAST["max_attempts"]


def test_handlers_receive_only_the_events_routed_to_them(system, sinks):
    complete, over, live = sinks(), sinks(), sinks()
    handlers = [
        http_handler("complete", complete.url, events=["RECORD_FILE_COMPLETE"]),
        http_handler("over", over.url, events=["RECORD_OVER"]),
        http_handler("live", live.url, app="live"),
    ]
    send, worker = system(handlers)
    send()
    send("record_over", app="live")
    send("record_start", app="vod")
    worker.run(burst=True)
    types = lambda sink: [json.loads(r.body)["type"] for r in sink.received]  # noqa: E731
    assert types(complete) == ["RECORD_FILE_COMPLETE"]
    assert types(over) == ["RECORD_OVER"]
    assert sorted(types(live)) == ["RECORD_FILE_COMPLETE", "RECORD_OVER"]


def test_a_vanished_consumer_group_is_recreated_without_redelivering(system, sinks, redis_client):
    sink = sinks()
    send, worker = system([http_handler("sink", sink.url)])
    send()
    worker.run(burst=True)
    redis_client.xgroup_destroy(worker.queue.keys.events, worker.queue.group)
    send(stream="after")
    worker.run(burst=True)
    streams = [json.loads(request.body)["stream"] for request in sink.received]
    assert streams == ["mystream", "after"]


def test_entries_of_a_dead_consumer_are_reclaimed_and_deleted_ones_counted(
    system, sinks, redis_client
):
    sink = sinks()
    send, worker = system([http_handler("sink", sink.url)])
    worker.queue.ensure_group()
    send(stream="one")
    send(stream="two")
    read = redis_client.xreadgroup(worker.queue.group, "crashed", {worker.queue.keys.events: ">"})
    [(_, entries)] = read
    redis_client.xdel(worker.queue.keys.events, entries[1][0])
    time.sleep(1.1)  # claim_idle_seconds = 1
    stats = worker.run(burst=True)
    assert (stats.reclaimed, stats.deleted_while_pending) == (1, 1)
    assert [json.loads(request.body)["stream"] for request in sink.received] == ["one"]
    assert redis_client.xpending(worker.queue.keys.events, worker.queue.group)["pending"] == 0


def test_a_slow_but_alive_delivery_is_not_handed_to_a_second_worker(system, sinks, redis_server):
    sink = sinks(lambda n, _: Answer(delay=2.5))
    send, first = system([http_handler("sink", sink.url)], {"lease_seconds": 1})
    _, second = system([http_handler("sink", sink.url)], {"lease_seconds": 1})
    second.consumer = "second-worker"
    send()
    runner = threading.Thread(target=first.run, kwargs={"burst": True})
    runner.start()
    time.sleep(0.3)
    second_stats = second.run(burst=True)  # runs while the first still delivers
    runner.join()
    assert len(sink.received) == 1
    assert first.stats.delivered + second_stats.delivered == 1


def test_idle_consumers_holding_nothing_are_pruned_and_others_kept(system, redis_client):
    send, worker = system([])
    worker.queue.ensure_group()
    send(stream="held")
    events = worker.queue.keys.events
    redis_client.xreadgroup(worker.queue.group, "holding", {events: ">"})
    redis_client.xgroup_createconsumer(events, worker.queue.group, "empty")
    time.sleep(0.05)
    assert worker.queue.prune_consumers(10) == 1
    names = {c["name"] for c in redis_client.xinfo_consumers(events, worker.queue.group)}
    assert names == {b"holding"}


def test_processed_entries_are_trimmed_and_unprocessed_ones_never(system, redis_client):
    send, worker = system([], {"retention_seconds": 3600})
    worker.queue.ensure_group()
    send(stream="processed")
    worker.run(burst=True)
    send(stream="pending")
    redis_client.xreadgroup(worker.queue.group, "crashed", {worker.queue.keys.events: ">"})
    send(stream="unread")
    trimmed = worker.queue.trim(int(time.time() * 1000) + 60_000)  # as if retention had passed
    remaining = [
        json.loads(fields[b"event"])["stream"]
        for _, fields in redis_client.xrange(worker.queue.keys.events)
    ]
    assert trimmed == 1
    assert remaining == ["pending", "unread"]


def test_a_redis_outage_during_work_is_survived(system, sinks, tmp_path):
    from receiver.embedded import RedisServer

    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        sink = sinks()
        settings = settings_for(server.url, delivery=FAST, handlers=[http_handler("s", sink.url)])
        services = build_services(settings)
        worker = build_worker(settings, consumer="w")
        services.intake.receive(
            body_of(
                signed(
                    load_payload("record_start") | {"app": "live"},
                    key=KEY_LIVE,
                    expires_at=time.time() + 300,
                )
            )
        )
        runner = threading.Thread(target=worker.run)
        runner.start()
        server.stop()
        time.sleep(1.5)
        server.start()
        deadline = time.monotonic() + 20
        while not sink.received and time.monotonic() < deadline:
            time.sleep(0.1)
        worker.stop()
        runner.join()
        assert len(sink.received) == 1
    finally:
        server.stop()
        redis.Redis.from_url(server.url)  # nothing left to close; keeps the import used
