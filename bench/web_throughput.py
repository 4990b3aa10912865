"""The receiver against bare Flask, side by side in one run, under identical gunicorn settings.

Run: .venv/bin/python bench/web_throughput.py [--duration 5] [--repeat 3] [--connections 16]
Needs wrk (apt-get install wrk). Prints requests/s, p50 and p99 latency and non-2xx count of:

- bare:     a Flask app that reads the body and answers a constant 200 (the baseline);
- receiver: unique, validly signed callbacks (every one verified, normalized and stored);
- forged:   the same callbacks with a wrong signature (verification fails, Redis untouched),
            with the number of Redis write commands the flood caused;

each twice: saturated (every connection sends as fast as answers come) and at a steady load
(each connection pauses --delay-ms between requests, about 900 req/s at the defaults);

then the median (min, max) of the repeats, the ratios to bare Flask, the RSS of each receiver
gunicorn worker, and whether each target of docs/performance.md is met. Both apps run with
receiver/gunicorn_config.py (gthread, same workers and threads); the order alternates per round.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

from receiver.embedded import RedisServer, free_port
from receiver.signature import SignType, sign

HERE = Path(__file__).parent
KEY = "BenchKey0123456789abcdefghijklmnopqrstuvwxyz"
FORGED_KEY = "ForgedKey0123456789abcdefghijklmnopqrstuvwx"
PATH = "/callbacks/huawei-live"
WRITE_COMMANDS = ("evalsha", "eval", "xadd", "set", "hset", "zadd", "del", "incr", "expire")
SAMPLE = json.loads((HERE.parent / "tests/fixtures/payloads/seed_003_record_file_complete.json")
                    .read_text())  # fmt: skip


def write_bodies(path: Path, count: int, key: str) -> None:
    """count unique callbacks signed with key, one JSON document per line."""
    expires = str(int(time.time()) + 3 * 3600)
    with path.open("w") as out:
        for number in range(count):
            payload = SAMPLE | {"stream": f"bench-{number}", "task_id": f"task-{number}",
                                "auth_timestamp": int(expires)}  # fmt: skip
            payload["auth_sign"] = sign(SignType.HMACSHA256, key, payload, expires)
            out.write(json.dumps(payload) + "\n")


def start_gunicorn(app: str, port: int, env: dict[str, str], args: argparse.Namespace,
                   log: Path) -> subprocess.Popen:  # fmt: skip
    command = [sys.executable, "-m", "gunicorn", "-c", "python:receiver.gunicorn_config",
               "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
               "--threads", str(args.threads), "--access-logfile", str(log.with_suffix(".access")),
               "--error-logfile", str(log), app]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=HERE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn for {app} did not start; see {log}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(30)


def wrk(
    port: int, bodies: Path, args: argparse.Namespace, duration: float, delay_ms: int = 0
) -> dict[str, float]:
    env = {**os.environ, "BODIES_FILE": str(bodies), "THREADS": "2", "DELAY_MS": str(delay_ms)}
    result = subprocess.run(
        ["wrk", "-t2", f"-c{args.connections}", f"-d{int(duration)}s", "--timeout", "5s",
         "-s", str(HERE / "post_bodies.lua"), f"http://127.0.0.1:{port}{PATH}"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    summary["rps"] = summary["requests"] / summary["seconds"]
    return summary


def worker_rss_mb(master: int) -> list[float]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    sizes = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def writes(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in WRITE_COMMANDS)


def measure(name: str, app: str, env: dict[str, str], bodies: Path, args: argparse.Namespace,
            folder: Path, client: redis.Redis) -> dict[str, float]:  # fmt: skip
    port = free_port()
    process = start_gunicorn(app, port, env, args, folder / f"{name}.log")
    try:
        wrk(port, bodies, args, 1)  # warm-up: imports, connection pools, caches
        client.flushall()
        before = writes(client)
        result = wrk(port, bodies, args, args.duration)
        result["redis_writes"] = writes(client) - before
        result["rss_mb"] = max(worker_rss_mb(process.pid))
        client.flushall()
        steady = wrk(port, bodies, args, args.duration, delay_ms=args.delay_ms)
        result |= {"steady_rps": steady["rps"], "steady_p50_ms": steady["p50_ms"],
                   "steady_p99_ms": steady["p99_ms"]}  # fmt: skip
    finally:
        stop(process)
    return result


def summarize(rounds: list[dict[str, dict[str, float]]], name: str, field: str) -> str:
    values = [round_[name][field] for round_ in rounds]
    return f"{statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--bodies", type=int, default=60_000)
    parser.add_argument("--delay-ms", type=int, default=16, help="pause per connection, steady run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    folder = Path(tempfile.mkdtemp(prefix="bench-http-"))
    valid, forged = folder / "valid.jsonl", folder / "forged.jsonl"
    write_bodies(valid, args.bodies, KEY)
    write_bodies(forged, args.bodies, FORGED_KEY)
    rounds: list[dict[str, dict[str, float]]] = []
    with RedisServer(folder / "redis", appendonly=True) as server:
        client = redis.Redis.from_url(server.url)
        config = folder / "receiver.toml"
        config.write_text(
            f'[redis]\nurl = "{server.url}"\n[[callbacks]]\npublish_domain = "push.example.com"\n'
            f'app = "*"\nkeys = ["{KEY}"]\n'
        )
        metrics = folder / "metrics"
        receiver_env = {"RECEIVER_CONFIG": str(config), "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        plan = [
            ("bare", "bare_app:create_app()", {}, valid),
            ("receiver", "receiver.web:create_app()", receiver_env, valid),
            ("forged", "receiver.web:create_app()", receiver_env, forged),
        ]
        for number in range(args.repeat):
            results = {}
            for name, app, env, bodies in plan if number % 2 == 0 else reversed(plan):
                shutil.rmtree(metrics, ignore_errors=True)
                metrics.mkdir()
                results[name] = measure(name, app, env, bodies, args, folder, client)
                result = results[name]
                print(f"round {number + 1} {name:9s} {result['rps']:8.0f} req/s  "
                      f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  "
                      f"non-2xx {result['non2xx']}", flush=True)  # fmt: skip
            rounds.append(results)
    report(rounds, args)


def report(rounds: list[dict[str, dict[str, float]]], args: argparse.Namespace) -> None:
    print(f"\n{args.repeat} rounds of {args.duration:g}s, {args.connections} connections, "
          f"gunicorn gthread {args.workers} workers x {args.threads} threads; "
          "median (min-max)")  # fmt: skip
    print(f"{'':9s} {'req/s':>22s} {'p50 ms':>18s} {'p99 ms':>18s} {'non-2xx':>8s}")
    for name in ("bare", "receiver", "forged"):
        non2xx = sum(round_[name]["non2xx"] for round_ in rounds)
        print(f"{name:9s} {summarize(rounds, name, 'rps'):>22s} "
              f"{summarize(rounds, name, 'p50_ms'):>18s} {summarize(rounds, name, 'p99_ms'):>18s} "
              f"{non2xx:8d}")  # fmt: skip
    print(f"\nsteady load ({args.connections} connections, {args.delay_ms} ms pause each): "
          "req/s, p50 ms, p99 ms")  # fmt: skip
    for name in ("bare", "receiver", "forged"):
        print(f"{name:9s} {summarize(rounds, name, 'steady_rps'):>22s} "
              f"{summarize(rounds, name, 'steady_p50_ms'):>18s} "
              f"{summarize(rounds, name, 'steady_p99_ms'):>18s}")  # fmt: skip
    ratio = {name: statistics.median(r[name]["rps"] / r["bare"]["rps"] for r in rounds)
             for name in ("receiver", "forged")}  # fmt: skip
    receiver_p99 = statistics.median(r["receiver"]["p99_ms"] for r in rounds)
    steady_p99 = statistics.median(r["receiver"]["steady_p99_ms"] for r in rounds)
    forged_writes = max(r["forged"]["redis_writes"] for r in rounds)
    valid_non2xx = sum(r["receiver"]["non2xx"] for r in rounds)
    rss = max(r["receiver"]["rss_mb"] for r in rounds)
    print(f"\nreceiver / bare req/s: {ratio['receiver']:.2f}   forged / bare: {ratio['forged']:.2f}"
          f"   Redis writes during forged floods: {forged_writes}   "
          f"largest receiver worker RSS: {rss:.1f} MB")  # fmt: skip
    targets = [
        ("receiver >= 0.60x bare Flask req/s", ratio["receiver"] >= 0.60),
        (f"p99 <= 10 ms at {args.connections} connections, saturated", receiver_p99 <= 10),
        (f"p99 <= 10 ms at {args.connections} connections, steady load", steady_p99 <= 10),
        ("0 non-2xx on unique valid callbacks", valid_non2xx == 0),
        ("forged flood >= 0.8x bare Flask", ratio["forged"] >= 0.8),
        ("0 Redis writes during forged floods", forged_writes == 0),
        ("RSS <= 80 MB per gunicorn worker", rss <= 80),
    ]
    for text, met in targets:
        print(f"  [{'met' if met else 'MISSED'}] {text}")


if __name__ == "__main__":
    main()
