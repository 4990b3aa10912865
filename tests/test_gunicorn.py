"""Under real gunicorn workers: concurrent duplicates, chunked bodies, the app factory."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from processes import BIN, start, stop, wait_until_up
from support import KEY_LIVE, KEY_MD5, body_of, load_payload, signed, toml_text

from receiver.embedded import free_port

pytestmark = pytest.mark.integration
SEED_003 = load_payload("seed_003_record_file_complete")
CONCURRENCY = 50


@pytest.fixture(scope="module")
def receiver_url(redis_server, tmp_path_factory):
    """gunicorn with 3 gthread workers serving receiver.web:create_app() from a TOML file."""
    folder = tmp_path_factory.mktemp("gunicorn")
    config = folder / "receiver.toml"
    config.write_text(
        toml_text(
            {
                "redis": {"url": redis_server.url, "namespace": "gunicorn"},
                "callbacks": [
                    {"publish_domain": "push.example.com", "app": "live", "keys": [KEY_LIVE]},
                    {"publish_domain": "md5.example.com", "app": "*", "sign_type": "MD5",
                     "keys": [KEY_MD5]},
                ],
            }
        )
    )  # fmt: skip
    port = free_port()
    process = start(
        [
            str(BIN / "gunicorn"),
            "--bind", f"127.0.0.1:{port}",
            "--workers", "3",
            "--worker-class", "gthread",
            "--threads", "8",
            "receiver.web:create_app()",
        ],
        env={"RECEIVER_CONFIG": str(config)},
        log=folder / "gunicorn.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/healthz", process)
    yield url
    assert stop(process) == 0


@pytest.fixture
def stream_entries(redis_client):
    def read():
        return [
            json.loads(fields[b"event"]) for _, fields in redis_client.xrange("{gunicorn}:events")
        ]

    return read


def post_concurrently(url, bodies):
    """POST every body at once (a barrier releases them together); returns the responses."""
    barrier = threading.Barrier(len(bodies))

    def send(body):
        barrier.wait()
        return requests.post(url + "/callbacks/huawei-live", data=body, timeout=30)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_fifty_concurrent_identical_deliveries_store_exactly_one_event(
    receiver_url, stream_entries
):
    payload = signed(SEED_003, key=KEY_LIVE, expires_at=time.time() + 300)
    responses = post_concurrently(receiver_url, [body_of(payload)] * CONCURRENCY)
    assert [response.status_code for response in responses] == [200] * CONCURRENCY
    outcomes = [response.json()["outcome"] for response in responses]
    assert outcomes.count("accepted") == 1
    assert outcomes.count("duplicate") == CONCURRENCY - 1
    assert len({response.json()["stream_id"] for response in responses}) == 1
    assert len(stream_entries()) == 1


def test_fifty_concurrent_different_deliveries_are_all_stored(receiver_url, stream_entries):
    expires = time.time() + 300
    bodies = [
        body_of(signed(SEED_003 | {"stream": f"s{n}"}, key=KEY_LIVE, expires_at=expires))
        for n in range(CONCURRENCY)
    ]
    responses = post_concurrently(receiver_url, bodies)
    assert {response.json()["outcome"] for response in responses} == {"accepted"}
    assert sorted(event["stream"] for event in stream_entries()) == sorted(
        f"s{n}" for n in range(CONCURRENCY)
    )


def test_concurrent_md5_events_sharing_one_signature_are_all_stored(receiver_url, stream_entries):
    expires = time.time() + 300
    bodies = [
        body_of(
            signed(
                load_payload(name) | {"publish_domain": "md5.example.com"},
                key=KEY_MD5,
                sign_type="MD5",
                expires_at=expires,
            )
        )
        for name in ("record_start", "record_new_file_start", "record_over", "record_failed")
    ]
    assert len({json.loads(body)["auth_sign"] for body in bodies}) == 1
    responses = post_concurrently(receiver_url, bodies * 5)
    assert sum(response.json()["outcome"] == "accepted" for response in responses) == 4
    assert len(stream_entries()) == 4


def test_a_chunked_body_over_the_limit_is_refused_with_413(receiver_url, stream_entries):
    def chunks():
        yield b'{"stream": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}'

    response = requests.post(receiver_url + "/callbacks/huawei-live", data=chunks(), timeout=30)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert stream_entries() == []


def test_a_chunked_valid_callback_is_accepted(receiver_url, stream_entries):
    body = body_of(signed(SEED_003, key=KEY_LIVE, expires_at=time.time() + 300))
    response = requests.post(
        receiver_url + "/callbacks/huawei-live", data=iter([body[:10], body[10:]]), timeout=30
    )
    assert response.status_code == 200
    assert len(stream_entries()) == 1
