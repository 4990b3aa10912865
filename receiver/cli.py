"""The `receiver` command: serve callbacks and check a configuration."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import redis

from receiver.bootstrap import connect_redis
from receiver.config import CONFIG_ENV, ConfigError, Settings, load_settings

EXIT_CONFIG = 2
EXIT_REDIS = 3


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
    logging.basicConfig(
        level=os.environ.get("RECEIVER_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
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


def _run_gunicorn(app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self) -> None:
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            return app_factory()

    _Server().run()


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
    help="Where the embedded Redis keeps its data when no Redis URL is configured.",
)
def serve(config: str | None, bind: str, workers: int, threads: int, data_dir: Path) -> None:
    """Serve callbacks under gunicorn; starts an embedded Redis when no URL is configured."""
    from receiver.embedded import RedisServer
    from receiver.web import create_app

    settings = _load(config)
    server = None
    if settings.redis.url is None:
        server = RedisServer(data_dir.resolve())
        url = server.start()
        click.echo(f"embedded redis-server at {url}, data in {data_dir}", err=True)
        settings = dataclasses.replace(settings, redis=dataclasses.replace(settings.redis, url=url))
    options = {
        "bind": bind,
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 20,
    }
    try:
        _run_gunicorn(lambda: create_app(settings), options)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
