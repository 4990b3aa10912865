"""The shipped deployment for real: nginx -> gunicorn (deploy/) -> Redis -> worker -> sink."""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from processes import BIN, start, stop, wait_until_up
from prometheus_client.parser import text_string_to_metric_families
from stack import NGINX, start_stack
from support import KEY_WILDCARD, body_of, load_payload

from receiver.embedded import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        NGINX is None, reason="nginx is not installed (.ci/run installs Debian's nginx-light)"
    ),
]
CALLBACK_PATH = "/callbacks/huawei-live"


def callback(number: int, prefix: str = "s") -> bytes:
    from support import signed

    name = f"{prefix}{number}"
    payload = load_payload("record_over") | {"app": "vod", "stream": name, "task_id": name}
    return body_of(signed(payload, key=KEY_WILDCARD, expires_at=time.time() + 600))


@pytest.fixture
def stack(redis_server, redis_client, sink, request):
    deployment = start_stack(redis_server.url, request.node.name[:40], sink.url)
    yield deployment
    deployment.stop()


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def metric_samples(text: str, name: str) -> dict[tuple, float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                samples[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_callbacks_through_nginx_reach_the_sink_exactly_once_and_metrics_add_up(stack, sink):
    sent = 300
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(
            lambda n: requests.post(stack.url + CALLBACK_PATH, data=callback(n), timeout=30),
            range(sent),
        ))  # fmt: skip
    statuses = collections.Counter(response.status_code for response in responses)
    event_keys = {response.json()["event_id"] for response in responses}
    assert statuses == {200: sent}
    assert wait_for(lambda: len(sink.received) >= sent)
    time.sleep(0.5)
    counts = collections.Counter(sink.ids())
    print(
        f"\nend to end: sent={sent} ok={statuses[200]} delivered={len(counts)} "
        f"duplicates={sum(counts.values()) - len(counts)}"
    )
    assert len(counts) == sent
    assert set(counts.values()) == {1}
    assert len(event_keys) == sent
    text = requests.get(stack.url + "/metrics", timeout=10).text
    accepted = metric_samples(text, "receiver_callbacks_total")
    assert accepted[(("outcome", "accepted"), ("reason", ""))] == sent
    delivered = metric_samples(text, "receiver_deliveries_total")
    assert delivered[(("handler", "sink"), ("outcome", "delivered"))] == sent
    latency = metric_samples(text, "receiver_request_duration_seconds_count")
    assert latency[(("endpoint", CALLBACK_PATH),)] == sent


def test_nginx_refuses_an_oversized_body_with_json_413_before_gunicorn(stack):
    before = stack.log("gunicorn").count('"status": 413')
    response = requests.post(
        stack.url + CALLBACK_PATH, data=b"{" + b" " * 100_000 + b"}", timeout=10
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    time.sleep(0.3)
    assert stack.log("gunicorn").count('"status": 413') == before
    assert CALLBACK_PATH in stack.log("nginx-access")


def test_a_spoofed_x_forwarded_for_is_not_trusted(stack):
    response = requests.post(
        stack.url + CALLBACK_PATH,
        data=b"[]",
        headers={"X-Forwarded-For": "6.6.6.6", "X-Request-Id": "spoof-check-1"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.headers["X-Request-Id"] == "spoof-check-1"
    assert response.json()["request_id"] == "spoof-check-1"
    assert wait_for(lambda: "spoof-check-1" in stack.log("gunicorn"), 5)
    [line] = [
        json.loads(line)
        for line in stack.log("gunicorn").splitlines()
        if "spoof-check-1" in line and '"logger": "receiver.web"' in line
    ]
    assert line["client"] == "127.0.0.1"
    assert "6.6.6.6" not in stack.log("gunicorn")


def test_a_request_id_is_made_when_none_is_sent(stack):
    response = requests.get(stack.url + "/healthz", timeout=10)
    assert len(response.headers["X-Request-Id"]) >= 16


def test_logs_never_contain_a_key_or_secret(stack):
    from support import FORWARD_SECRET

    requests.post(stack.url + CALLBACK_PATH, data=callback(1), timeout=10)
    requests.post(stack.url + CALLBACK_PATH, data=b'{"x": 1}', timeout=10)
    time.sleep(0.5)
    for name in ("gunicorn", "worker", "nginx-access", "nginx-error"):
        text = stack.log(name)
        assert KEY_WILDCARD not in text
        assert FORWARD_SECRET.removeprefix("whsec_") not in text


def test_killed_gunicorn_workers_lose_no_callback_that_got_200(stack, sink):
    """Senders retry anything but 200, like Huawei would; workers are SIGKILLed meanwhile."""
    wanted_kills, ok, retried, kills = 6, set(), [], []
    numbers = itertools.count()
    killing_done = threading.Event()

    def killer():
        rng = random.Random(3)
        while len(kills) < wanted_kills and not killing_done.wait(rng.uniform(0.15, 0.4)):
            workers = stack.gunicorn_workers()
            if workers:
                victim = rng.choice(workers)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)
                    kills.append(victim)
        killing_done.set()

    def sender():
        while not killing_done.is_set():
            number = next(numbers)
            body = callback(number, "k")
            for attempt in range(1, 100):
                try:
                    response = requests.post(stack.url + CALLBACK_PATH, data=body, timeout=15)
                    if response.status_code == 200:
                        ok.add(response.json()["event_id"])
                        break
                except requests.RequestException:
                    pass
                if attempt == 1:
                    retried.append(number)
                time.sleep(0.05)

    threads = [threading.Thread(target=killer)] + [
        threading.Thread(target=sender) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = next(numbers)
    assert wait_for(lambda: len(set(sink.ids())) >= len(ok), 60)
    print(
        f"\nworker kills: sent={sent} kills={len(kills)} retried={len(retried)} "
        f"200s={len(ok)} delivered={len(set(sink.ids()))}"
    )
    assert len(kills) == wanted_kills
    assert len(ok) == sent
    assert len(set(sink.ids())) == sent


def test_a_sighup_reload_under_load_fails_no_request(stack):
    failures, successes = [], []
    done = threading.Event()

    def load(worker_number):
        number = 0
        while not done.is_set():
            number += 1
            try:
                response = requests.post(
                    stack.url + CALLBACK_PATH,
                    data=callback(number, f"h{worker_number}-"),
                    timeout=15,
                )
                (successes if response.status_code == 200 else failures).append(
                    response.status_code
                )
            except requests.RequestException as exc:
                failures.append(type(exc).__name__)

    threads = [threading.Thread(target=load, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    old_workers = set(stack.gunicorn_workers())
    stack.signal_gunicorn(signal.SIGHUP)
    time.sleep(2)
    stack.signal_gunicorn(signal.SIGHUP)
    time.sleep(2)
    done.set()
    for thread in threads:
        thread.join()
    print(f"\nSIGHUP reloads: requests={len(successes) + len(failures)} failed={len(failures)}")
    assert not old_workers & set(stack.gunicorn_workers())
    assert len(successes) > 100
    assert failures == []


def test_nginx_rate_limit_answers_json_429(redis_server, redis_client, sink):
    deployment = start_stack(
        redis_server.url, "ratelimit", sink.url, rate="1r/s", with_worker=False
    )
    try:
        statuses = collections.Counter()
        for number in range(500):
            response = requests.post(
                deployment.url + CALLBACK_PATH, data=callback(number, "r"), timeout=10
            )
            statuses[response.status_code] += 1
            if response.status_code == 429:
                assert response.json()["error"] == "rate_limited"
                assert response.headers["Retry-After"] == "1"
                break
        assert statuses[429] == 1
    finally:
        deployment.stop()


def test_gunicorn_down_behind_nginx_is_a_json_503(redis_server, redis_client, sink):
    deployment = start_stack(redis_server.url, "down", sink.url, with_worker=False)
    try:
        stop(deployment.processes.pop("gunicorn"))
        response = requests.post(deployment.url + CALLBACK_PATH, data=callback(1), timeout=10)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json()["error"] == "unavailable"
    finally:
        deployment.stop()


def test_honcho_runs_the_procfile_as_it_is(redis_server, redis_client, sink, tmp_path):
    from pathlib import Path

    config = tmp_path / "receiver.toml"
    config.write_text(
        f'[redis]\nurl = "{redis_server.url}"\nnamespace = "honcho"\n'
        f'[[callbacks]]\npublish_domain = "push.example.com"\napp = "*"\n'
        f'keys = ["{KEY_WILDCARD}"]\n'
        f'[[handlers]]\nname = "copy"\nkind = "stream"\nstream = "honcho-copies"\n'
    )
    port = free_port()
    process = start(
        [str(BIN / "honcho"), "start", "-f", str(Path(__file__).parents[1] / "Procfile")],
        env={"RECEIVER_CONFIG": str(config), "PORT": str(port), "PATH": f"{BIN}:/usr/bin:/bin"},
        log=tmp_path / "honcho.log",
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        response = requests.post(
            f"http://127.0.0.1:{port}{CALLBACK_PATH}", data=callback(1), timeout=10
        )
        assert response.status_code == 200
        assert wait_for(lambda: redis_client.xlen("honcho-copies") == 1, 20)
    finally:
        stop(process)


def test_the_systemd_units_name_real_commands():
    from pathlib import Path

    deploy = Path(__file__).parents[1] / "deploy" / "systemd"
    web = (deploy / "receiver-web.service").read_text()
    worker = (deploy / "receiver-worker@.service").read_text()
    assert "gunicorn -c /etc/receiver/gunicorn.conf.py 'receiver.web:create_app()'" in web
    assert "ExecReload=/bin/kill -HUP $MAINPID" in web
    assert "bin/receiver worker" in worker
    result = subprocess.run(
        [str(BIN / "receiver"), "worker", "--help"], capture_output=True, check=True, text=True
    )
    assert "Deliver accepted events" in result.stdout
