"""`receiver huawei ...`: Huawei Cloud Live's management API through the official SDK."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from receiver.bootstrap import build_services, connect_redis
from receiver.callbacks import CallbackRegistry
from receiver.commands.common import (
    EXIT_NOT_FOUND,
    EXIT_REMOTE,
    EXIT_USAGE,
    Failure,
    config_option,
    load,
    redis_for,
)
from receiver.config import Settings
from receiver.errors import ReceiverError
from receiver.huawei import (
    HuaweiApiError,
    HuaweiCredentials,
    LiveManagement,
    build_client,
    endpoint_from_env,
)
from receiver.keys import Keys
from receiver.reconcile import ReconcileReport, reconcile
from receiver.sending import EVENT_TYPES

STOP_TO_START_SECONDS = 10  # seed: a START must come more than 10 s after the STOP
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _management(region: str | None, endpoint: str | None) -> LiveManagement:
    try:
        credentials = HuaweiCredentials.from_env(os.environ)
        return LiveManagement(build_client(credentials, region=region, endpoint=endpoint))
    except HuaweiApiError as exc:
        raise Failure(str(exc), EXIT_USAGE) from None


def _remote(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except HuaweiApiError as exc:
        raise Failure(str(exc), EXIT_REMOTE) from None


@click.group()
@click.option("--region", envvar="HUAWEICLOUD_REGION", help="e.g. cn-north-4.")
@click.option(
    "--endpoint", default=endpoint_from_env, help="API endpoint URL (wins over --region)."
)
@click.pass_context
def huawei(context: click.Context, region: str | None, endpoint: str | None) -> None:
    """Huawei Live management API (AK/SK and project id from HUAWEICLOUD_SDK_* variables)."""
    context.obj = {"region": region, "endpoint": endpoint}


@huawei.command()
@config_option
@click.option("--domain", required=True, help="The ingest (publish) domain.")
@click.option("--app", required=True, help='The app, or "*" for every app.')
@click.option("--url", required=True, help="The receiver's public callback URL.")
@click.pass_context
def register(context: click.Context, config: str | None, domain: str, app: str, url: str) -> None:
    """Make Huawei call this receiver for (domain, app), with the local config's key."""
    settings = load(config)
    local = next(
        (c for c in settings.callbacks if c.publish_domain == domain.lower() and c.app == app), None
    )
    if local is None:
        raise Failure(
            f"no [[callbacks]] for {domain}/{app} in the configuration: add one "
            "(with a key from `receiver keygen`), then register",
            EXIT_NOT_FOUND,
        )
    events = sorted(local.events) if local.events else list(EVENT_TYPES)
    management = _management(**context.obj)
    registration = _remote(
        lambda: management.register(
            domain,
            app,
            url,
            sign_type=local.sign_type.value,
            key=local.keys[0] if local.keys else None,
            events=events,
        )
    )
    click.echo(
        f"{registration.action} recording callback {registration.config_id}: "
        f"{domain}/{app} -> {url}, {local.sign_type.value}, events {', '.join(events)}"
    )
    click.echo("the receiver's config and Huawei's now use the same key and sign type")


def _stop_key(settings: Settings, domain: str, app: str, stream: str) -> str:
    return f"{Keys(settings.redis.namespace).tag}:record-stop:{domain}/{app}/{stream}"


@huawei.command()
@click.argument("action", type=click.Choice(["start", "stop"]))
@config_option
@click.option("--domain", required=True)
@click.option("--app", required=True)
@click.option("--stream", required=True)
@click.option("--no-wait", is_flag=True, help="Fail instead of waiting out the 10-second rule.")
@click.pass_context
def record(
    context: click.Context,
    action: str,
    config: str | None,
    domain: str,
    app: str,
    stream: str,
    no_wait: bool,
) -> None:
    """Start or stop a command recording of one stream (COMMAND_RECORD rules only)."""
    settings = load(config) if config else None
    client = connect_redis(settings.redis) if settings and settings.redis.url else None
    key = _stop_key(settings, domain, app, stream) if settings and client else None
    if action == "start" and client is not None and key is not None:
        remaining_ms = max(0, int(client.pttl(key)))
        if remaining_ms:
            if no_wait:
                raise Failure(
                    f"this stream was stopped less than {STOP_TO_START_SECONDS}s ago; Huawei "
                    f"accepts a start in {remaining_ms / 1000:.1f}s",
                    EXIT_USAGE,
                )
            click.echo(
                f"waiting {remaining_ms / 1000:.1f}s: Huawei needs "
                f"{STOP_TO_START_SECONDS}s between a stop and the next start",
                err=True,
            )
            time.sleep(remaining_ms / 1000)
    management = _management(**context.obj)
    _remote(lambda: management.record(action.upper(), domain, app, stream))
    if action == "stop" and client is not None and key is not None:
        client.set(key, "1", px=STOP_TO_START_SECONDS * 1000 + 500)
    click.echo(f"recording {action} sent for {domain}/{app}/{stream}")


def parse_moment(text: str, now: datetime) -> datetime:
    """An ISO 8601 time (UTC when no zone is given) or an age like 90m, 24h, 7d."""
    text = text.strip()
    if text[:-1].isdigit() and text[-1:] in _UNITS:
        return now - timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("use an ISO 8601 time or an age like 90m, 24h, 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@huawei.command(name="reconcile")
@config_option
@click.option("--domain", required=True)
@click.option("--app", required=True)
@click.option("--stream", help="Only this stream.")
@click.option("--since", required=True, help="ISO 8601 time, or an age like 24h.")
@click.option("--until", "until_", help="ISO 8601 time, or an age (default: now).")
@click.pass_context
def reconcile_command(
    context: click.Context,
    config: str | None,
    domain: str,
    app: str,
    stream: str | None,
    since: str,
    until_: str | None,
) -> None:
    """Enqueue, marked reconciled, every recorded file whose callback never arrived."""
    settings = load(config)
    redis_for(settings, "reconcile").close()
    try:
        CallbackRegistry(settings.callbacks, settings.window).resolve(domain, app)
    except ReceiverError:
        raise Failure(f"no callback config covers {domain}/{app}", EXIT_NOT_FOUND) from None
    now = datetime.now(UTC)
    start, end = parse_moment(since, now), parse_moment(until_, now) if until_ else now
    if start >= end:
        raise Failure("--since must be before --until", EXIT_USAGE)
    management = _management(**context.obj)
    store = build_services(settings).store

    def progress(report: ReconcileReport) -> None:
        click.echo(
            f"  {report.found} file(s) listed, {report.appended} enqueued, "
            f"{report.known} already known",
            err=True,
        )

    click.echo(
        f"listing recorded files of {domain}/{app} from {start:%Y-%m-%dT%H:%M:%SZ} "
        f"to {end:%Y-%m-%dT%H:%M:%SZ}",
        err=True,
    )
    pages = management.recorded_files(domain, app, start, end, stream=stream)
    report = _remote(lambda: reconcile(pages, store, time.time, progress))
    for reason in report.skipped:
        click.echo(f"  skipped {reason}", err=True)
    click.echo(
        f"reconciled: {report.found} recorded file(s), {report.appended} enqueued as missed "
        f"callbacks, {report.known} already received, {len(report.skipped)} skipped"
    )
