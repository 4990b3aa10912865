"""Running the receiver: serve, worker, check-config."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click
import redis

from receiver.bootstrap import build_worker, connect_redis
from receiver.commands.common import EXIT_REDIS, Failure, config_option, load, redis_for
from receiver.config import CONFIG_ENV


@click.command("check-config")
@config_option
def check_config(config: str | None) -> None:
    """Validate the configuration and reach the Redis it names."""
    settings = load(config)
    click.echo(f"configuration valid: {len(settings.callbacks)} callback config(s)")
    for callback in settings.callbacks:
        count = len(callback.keys)
        click.echo(f"  {callback.label}: {callback.sign_type.value}, {count} key(s)")
    if settings.redis.url is None:
        click.echo("redis: none configured (`receiver serve` starts an embedded one)")
        return
    client = connect_redis(settings.redis)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Failure(f"redis unreachable: {type(exc).__name__}", EXIT_REDIS) from None
    finally:
        client.close()
    click.echo("redis: reachable")


@click.command()
@config_option
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="Address to listen on.")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, help="Threads per worker.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".receiver-data"),
    show_default=True,
    help="Embedded Redis data and shared metrics files.",
)
def serve(config: str | None, bind: str, workers: int, threads: int, data_dir: Path) -> None:
    """Run gunicorn and a delivery worker, with an embedded Redis when none is configured."""
    from receiver.embedded import RedisServer

    settings = load(config)
    data_dir = data_dir.resolve()
    metrics_dir = data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    if config:
        env[CONFIG_ENV] = str(Path(config).resolve())
    server = None
    if settings.redis.url is None:
        server = RedisServer(data_dir / "redis")
        env["RECEIVER_REDIS_URL"] = server.start()
        click.echo(
            f"embedded redis-server at {env['RECEIVER_REDIS_URL']}, data in {data_dir}", err=True
        )
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "python:receiver.gunicorn_config",
                "--bind", bind, "--workers", str(workers), "--threads", str(threads),
                "receiver.web:create_app()"]  # fmt: skip
    children = [
        subprocess.Popen(gunicorn, env=env),
        subprocess.Popen([sys.executable, "-m", "receiver", "worker"], env=env),
    ]
    try:
        _supervise(children)
    finally:
        for child in children:
            _stop_process(child)
        if server is not None:
            server.stop()


def _supervise(children: list[subprocess.Popen[bytes]]) -> None:
    """Wait until a signal arrives or a child exits; the caller stops the rest."""
    stopping = threading.Event()

    def on_signal(_number: int, _frame: object) -> None:
        stopping.set()

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, on_signal)
    while not stopping.wait(0.5):
        for child in children:
            if child.poll() is not None:
                raise Failure(f"{' '.join(child.args[1:4])} exited ({child.returncode})", 1)


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@click.command()
@config_option
@click.option(
    "--burst", is_flag=True, help="Exit once no delivery is left (for tests and scripts)."
)
def worker(config: str | None, burst: bool) -> None:
    """Deliver accepted events to the configured handlers (several may run at once)."""
    settings = load(config)
    redis_for(settings, "the worker").close()
    if not settings.handlers:
        click.echo(
            "no [[handlers]] configured: events are acknowledged and kept in the stream", err=True
        )
    delivery_worker = build_worker(settings)
    delivery_worker.install_signal_handlers()
    delivery_worker.run(burst=burst)
