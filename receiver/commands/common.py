"""What every command shares: exit statuses, failures, loading the configuration."""

from __future__ import annotations

import os

import click
import redis

from receiver.bootstrap import connect_redis
from receiver.config import CONFIG_ENV, ConfigError, Settings, load_settings

EXIT_USAGE = 1
EXIT_CONFIG = 2
EXIT_REDIS = 3
EXIT_NOT_FOUND = 4
EXIT_REMOTE = 5


class Failure(click.ClickException):
    """A CLI failure that carries its exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def load(config: str | None) -> Settings:
    """The settings, or a Failure naming every configuration problem."""
    try:
        return load_settings(config, os.environ)
    except ConfigError as exc:
        raise Failure(f"configuration error: {exc}", EXIT_CONFIG) from None


def redis_for(settings: Settings, purpose: str) -> redis.Redis:
    """A client for the configured Redis, which this command cannot do without."""
    if settings.redis.url is None:
        raise Failure(f"configuration error: {purpose} needs [redis] url", EXIT_CONFIG)
    return connect_redis(settings.redis)


config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    envvar=CONFIG_ENV,
    help=f"TOML configuration file (default: ${CONFIG_ENV}).",
)
