"""The `receiver` command: serve callbacks and check a configuration."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import redis

from receiver.bootstrap import build_worker, connect_redis
from receiver.config import CONFIG_ENV, ConfigError, Settings, load_settings
from receiver.keys import Keys
from receiver.logs import configure_logging
from receiver.queue import DeadLetter, DeliveryQueue

EXIT_USAGE = 1
EXIT_CONFIG = 2
EXIT_REDIS = 3
EXIT_NOT_FOUND = 4


class Failure(click.ClickException):
    """A CLI failure that carries its exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _load(config: str | None) -> Settings:
    try:
        return load_settings(config, os.environ)
    except ConfigError as exc:
        raise Failure(f"configuration error: {exc}", EXIT_CONFIG) from None


config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    envvar=CONFIG_ENV,
    help=f"TOML configuration file (default: ${CONFIG_ENV}).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Receive, verify and store Huawei Cloud Live recording callbacks."""
    configure_logging(
        os.environ.get("RECEIVER_LOG_LEVEL", "INFO"),
        json=os.environ.get("RECEIVER_LOG_FORMAT", "json") != "text",
    )


@main.command("check-config")
@config_option
def check_config(config: str | None) -> None:
    """Validate the configuration and reach the Redis it names."""
    settings = _load(config)
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


@main.command()
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

    settings = _load(config)
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


@main.command()
@config_option
@click.option(
    "--burst", is_flag=True, help="Exit once no delivery is left (for tests and scripts)."
)
def worker(config: str | None, burst: bool) -> None:
    """Deliver accepted events to the configured handlers (several may run at once)."""
    settings = _load(config)
    if settings.redis.url is None:
        raise Failure("configuration error: the worker needs [redis] url", EXIT_CONFIG)
    if not settings.handlers:
        click.echo(
            "no [[handlers]] configured: events are acknowledged and kept in the stream", err=True
        )
    delivery_worker = build_worker(settings)
    delivery_worker.install_signal_handlers()
    delivery_worker.run(burst=burst)


@main.group("dead-letters")
def dead_letters() -> None:
    """Inspect, replay and purge deliveries that failed for good."""


def _queue(config: str | None) -> DeliveryQueue:
    settings = _load(config)
    if settings.redis.url is None:
        raise Failure("configuration error: this command needs [redis] url", EXIT_CONFIG)
    client = connect_redis(settings.redis)
    return DeliveryQueue(client, Keys(settings.redis.namespace), settings.delivery.group)


def _select(
    queue: DeliveryQueue, ids: tuple[str, ...], every: bool, handler: str | None, kind: str | None
) -> list[DeadLetter]:
    if not ids and not every:
        raise Failure("name dead letters by id, or pass --all (optionally filtered)", EXIT_USAGE)
    if ids:
        letters = [queue.dead_letter(dead_id) for dead_id in ids]
        missing = [dead_id for dead_id, letter in zip(ids, letters, strict=True) if letter is None]
        if missing:
            raise Failure(f"no dead letter {', '.join(missing)}", EXIT_NOT_FOUND)
        found = [letter for letter in letters if letter is not None]
    else:
        found = _all_dead(queue)
    return [
        letter
        for letter in found
        if (handler is None or letter.handler == handler)
        and (kind is None or letter.event.get("type") == kind)
    ]


def _all_dead(queue: DeliveryQueue) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    start = "-"
    while True:
        page = queue.dead_letters(500, start)
        letters += page
        if len(page) < 500:
            return letters
        start = "(" + page[-1].dead_id


def _filters(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option("--type", "kind", help="Only dead letters of this event type.")(
        function
    )
    function = click.option("--handler", help="Only dead letters of this handler.")(function)
    function = click.option("--all", "every", is_flag=True, help="Every dead letter.")(function)
    return click.argument("ids", nargs=-1)(function)


@dead_letters.command("list")
@config_option
@click.option("--handler", help="Only dead letters of this handler.")
@click.option("--type", "kind", help="Only dead letters of this event type.")
def list_dead(config: str | None, handler: str | None, kind: str | None) -> None:
    """List dead letters, oldest first."""
    queue = _queue(config)
    letters = _select(queue, (), True, handler, kind)
    for letter in letters:
        click.echo(
            f"{letter.dead_id}  {letter.handler}  {letter.event.get('type')}  "
            f"attempts={letter.attempts}  {letter.last_error[:100]}"
        )
    click.echo(f"{len(letters)} dead letter(s)", err=True)


@dead_letters.command("show")
@config_option
@click.argument("dead_id")
def show_dead(config: str | None, dead_id: str) -> None:
    """Show one dead letter with its event."""
    letter = _queue(config).dead_letter(dead_id)
    if letter is None:
        raise Failure(f"no dead letter {dead_id}", EXIT_NOT_FOUND)
    click.echo(json.dumps(dataclasses.asdict(letter), ensure_ascii=False, indent=2))


@dead_letters.command("replay")
@config_option
@_filters
def replay_dead(
    config: str | None, ids: tuple[str, ...], every: bool, handler: str | None, kind: str | None
) -> None:
    """Deliver dead letters again (by id, or --all with optional filters)."""
    queue = _queue(config)
    now_ms = int(time.time() * 1000)
    letters = _select(queue, ids, every, handler, kind)
    for letter in letters:
        queue.replay(letter, now_ms)
    click.echo(f"replaying {len(letters)} dead letter(s)")


@dead_letters.command("purge")
@config_option
@_filters
def purge_dead(
    config: str | None, ids: tuple[str, ...], every: bool, handler: str | None, kind: str | None
) -> None:
    """Delete dead letters for good (by id, or --all with optional filters)."""
    queue = _queue(config)
    letters = _select(queue, ids, every, handler, kind)
    click.echo(f"purged {queue.purge([letter.dead_id for letter in letters])} dead letter(s)")


if __name__ == "__main__":
    sys.exit(main())
