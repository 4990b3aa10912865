"""Fail closed: without Redis nothing is answered 200, and recovery needs no restart."""

from __future__ import annotations

import socket
import threading

import pytest
import redis
from support import KEY_LIVE, body_of, load_payload, settings_for, signed

from receiver.bootstrap import build_services
from receiver.embedded import RedisServer, free_port
from receiver.web import create_app

SEED_003 = load_payload("seed_003_record_file_complete")
PATH = "/callbacks/huawei-live"


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client_for(clock):
    def build(url, **redis_options):
        settings = settings_for(url, redis=redis_options)
        return create_app(services=build_services(settings, clock=clock)).test_client()

    return build


def callback(stream):
    return body_of(signed(SEED_003 | {"stream": stream}, key=KEY_LIVE))


def assert_unavailable(response):
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    answer = response.get_json()
    assert answer["status"] == 1
    assert answer["error"] == "storage_unavailable"


def test_redis_stopped_means_503_with_retry_after_and_redis_back_means_200(own_redis, client_for):
    client = client_for(own_redis.url)
    assert client.post(PATH, data=callback("before")).status_code == 200
    own_redis.stop()
    assert_unavailable(client.post(PATH, data=callback("during")))
    assert client.get("/readyz").status_code == 503
    own_redis.start()
    assert client.post(PATH, data=callback("after")).status_code == 200
    assert client.get("/readyz").status_code == 200


def test_a_delivery_refused_during_an_outage_is_stored_when_resent(own_redis, client_for):
    client = client_for(own_redis.url)
    body = callback("resent")
    own_redis.stop()
    assert_unavailable(client.post(PATH, data=body))
    own_redis.start()
    assert client.post(PATH, data=body).get_json()["outcome"] == "accepted"


def test_a_restarted_redis_keeps_accepted_events_and_their_claims(own_redis, client_for):
    client = client_for(own_redis.url)
    body = callback("kept")
    first = client.post(PATH, data=body).get_json()
    own_redis.stop()
    own_redis.start()
    again = client.post(PATH, data=body).get_json()
    assert again["outcome"] == "duplicate"
    assert again["stream_id"] == first["stream_id"]


def test_a_flushed_script_cache_costs_nothing_visible(own_redis, client_for):
    client = client_for(own_redis.url)
    assert client.post(PATH, data=callback("one")).status_code == 200
    redis.Redis.from_url(own_redis.url).script_flush()
    assert client.post(PATH, data=callback("two")).get_json()["outcome"] == "accepted"


def test_nothing_listening_means_503(client_for):
    client = client_for(f"redis://127.0.0.1:{free_port()}/0")
    assert_unavailable(client.post(PATH, data=callback("nobody")))


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers: a hung Redis."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_hung_redis_means_503_once_the_short_timeout_passes(silent_server, client_for):
    client = client_for(f"redis://127.0.0.1:{silent_server}/0", socket_timeout_seconds=0.2)
    assert_unavailable(client.post(PATH, data=callback("hung")))
