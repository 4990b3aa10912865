"""Delivery rate of `receiver worker` processes to a local HTTP sink, in events/s.

Run: .venv/bin/python bench/delivery_rate.py [--events 5000] [--concurrency 8] [--processes 1]

Starts a redis-server and a threaded HTTP sink that answers 204 at once, and fills the events
stream through the real intake. Then it starts the worker processes (they share one queue) and
times the deliveries from the first arrival at the sink to the last. The baseline, measured in
the same run, is the sink's own capacity: as many POSTs from a plain urllib3 pool with the same
concurrency, unsigned and with no Redis, timed the same way.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import urllib3

from receiver.bootstrap import build_services
from receiver.config import parse_settings
from receiver.embedded import RedisServer
from receiver.signature import SignType, sign

KEY = "BenchKey0123456789abcdefghijklmnopqrstuvwxyz"
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.target = 0
        self.first = 0.0
        self.last = 0.0


def start_sink(counter: Counter) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            with counter.lock:
                counter.count += 1
                counter.last = time.perf_counter()
                if counter.count == 1:
                    counter.first = counter.last
                if counter.count >= counter.target:
                    counter.done.set()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def baseline(url: str, events: int, concurrency: int, counter: Counter) -> float:
    counter.count, counter.target = 0, events
    counter.done.clear()
    pool = urllib3.PoolManager(maxsize=concurrency)
    body = json.dumps({"padding": "x" * 900}).encode()
    with ThreadPoolExecutor(concurrency) as executor:
        list(executor.map(lambda _: pool.request("POST", url, body=body), range(events)))
    return (counter.count - 1) / (counter.last - counter.first)


def fill(settings_raw: dict, events: int) -> None:
    services = build_services(parse_settings(settings_raw, {}))
    expires = str(int(time.time()) + 3600)
    for number in range(events):
        payload = {
            "event_type": "RECORD_OVER",
            "publish_domain": "bench.example.com",
            "app": "live",
            "stream": f"s{number}",
            "task_id": f"t{number}",
            "auth_timestamp": int(expires),
        }
        payload["auth_sign"] = sign(SignType.HMACSHA256, KEY, payload, expires)
        services.intake.receive(json.dumps(payload).encode())


def run_workers(config: Path, events: int, counter: Counter, processes: int) -> float:
    counter.count, counter.target = 0, events
    counter.done.clear()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "receiver", "worker", "--config", str(config)],
            env={**os.environ, "RECEIVER_LOG_LEVEL": "WARNING"},
        )
        for _ in range(processes)
    ]
    counter.done.wait(600)
    for process in workers:
        process.terminate()
        process.wait(30)
    # Timed from the first delivery to the last: the processes' start-up is not delivery.
    return (counter.count - 1) / (counter.last - counter.first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1, help="worker processes")
    args = parser.parse_args()
    counter = Counter()
    sink = start_sink(counter)
    url = f"http://127.0.0.1:{sink.server_address[1]}/hook"
    folder = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    worker_rates, base_rates = [], []
    with RedisServer(folder / "redis", appendonly=True) as redis_server:
        raw = {
            "redis": {"url": redis_server.url, "namespace": "bench"},
            "delivery": {"concurrency": args.concurrency},
            "callbacks": [{"publish_domain": "bench.example.com", "app": "*", "keys": [KEY]}],
            "handlers": [{"name": "sink", "kind": "http", "url": url, "secret": SECRET}],
        }
        config = folder / "bench.toml"
        config.write_text(_toml(raw))
        for round_number in range(args.repeat):
            base_rates.append(baseline(url, args.events, args.concurrency, counter))
            fill({**raw, "redis": {**raw["redis"], "namespace": "bench"}}, args.events)
            worker_rates.append(run_workers(config, args.events, counter, args.processes))
            print(
                f"round {round_number + 1}: worker {worker_rates[-1]:.0f} events/s, "
                f"bare POSTs {base_rates[-1]:.0f} req/s",
                flush=True,
            )
            import redis

            redis.Redis.from_url(redis_server.url).flushall()
    sink.shutdown()
    worker_rates.sort()
    base_rates.sort()
    median = worker_rates[len(worker_rates) // 2]
    base = base_rates[len(base_rates) // 2]
    print(
        f"worker delivery: median {median:.0f} events/s (min {worker_rates[0]:.0f}, "
        f"max {worker_rates[-1]:.0f}); bare POST baseline {base:.0f} req/s; "
        f"ratio {median / base:.2f}"
    )


def _toml(raw: dict) -> str:
    lines = []
    for section in ("redis", "delivery"):
        lines.append(f"[{section}]")
        lines += [f"{name} = {json.dumps(value)}" for name, value in raw[section].items()]
    for table in ("callbacks", "handlers"):
        for item in raw[table]:
            lines.append(f"[[{table}]]")
            lines += [f"{name} = {json.dumps(value)}" for name, value in item.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
