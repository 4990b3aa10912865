"""Tools for users of the receiver: send, explain, keygen."""

from __future__ import annotations

import json
import secrets
import string
import sys
import time
from pathlib import Path
from typing import Any

import click
import urllib3

from receiver.bootstrap import connect_redis
from receiver.callbacks import CallbackRegistry
from receiver.commands.common import EXIT_NOT_FOUND, EXIT_USAGE, Failure, config_option, load
from receiver.errors import ReceiverError
from receiver.explain import explain
from receiver.sending import EVENT_TYPES, build_callback, post, signed
from receiver.signature import SignType

KEY_ALPHABET = string.ascii_letters + string.digits
EXIT_REJECTED = 6


@click.command()
@click.option(
    "--length",
    default=48,
    show_default=True,
    type=click.IntRange(32, 512),
    help="Letters and digits in the key (Huawei requires at least 32).",
)
def keygen(length: int) -> None:
    """Print a new callback key: letters and digits from a CSPRNG, as Huawei accepts."""
    click.echo("".join(secrets.choice(KEY_ALPHABET) for _ in range(length)))


def _read_sample(path: Path) -> dict[str, Any]:
    try:
        sample = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Failure(f"{path} is not a JSON callback: {exc}", EXIT_USAGE) from None
    if not isinstance(sample, dict):
        raise Failure(f"{path} is not a JSON callback: it must be an object", EXIT_USAGE)
    return sample


def _parse_fields(pairs: tuple[str, ...]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        if not separator or not name:
            raise Failure(f"--set takes name=value, not {pair!r}", EXIT_USAGE)
        try:
            fields[name] = json.loads(text)  # numbers, null, objects...
        except json.JSONDecodeError:
            fields[name] = text  # ...and anything else as a string
    return fields


def _signing(
    config: str | None, key: str | None, sign_type: str | None, domain: str, app: str
) -> tuple[SignType, str | None]:
    if key is not None:
        return SignType(sign_type or "HMACSHA256"), key
    settings = load(config)
    try:
        source = CallbackRegistry(settings.callbacks, settings.window).resolve(domain, app)
    except ReceiverError:
        raise Failure(
            f"no callback config for {domain}/{app}; pass --key", EXIT_NOT_FOUND
        ) from None
    chosen = SignType(sign_type) if sign_type else source.config.sign_type
    keys = source.config.keys
    return chosen, keys[0].reveal() if keys else None


@click.command()
@click.option(
    "--url",
    default="http://127.0.0.1:8000/callbacks/huawei-live",
    show_default=True,
    help="Where to POST the callback.",
)
@click.option(
    "--event",
    "event_type",
    default="RECORD_FILE_COMPLETE",
    show_default=True,
    help=f"Event type: {', '.join(EVENT_TYPES)}, or any other.",
)
@click.option("--domain", default="push.example.com", show_default=True, help="publish_domain.")
@click.option("--app", default="live", show_default=True)
@click.option("--stream", default="mystream", show_default=True)
@click.option(
    "--sample",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A recorded callback (JSON) to start from instead of the type's template.",
)
@click.option(
    "--set",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a field (JSON value, or else a string); repeatable.",
)
@config_option
@click.option(
    "--key",
    envvar="RECEIVER_SEND_KEY",
    help="Sign with this key instead of the config's first key for domain/app.",
)
@click.option(
    "--sign-type",
    type=click.Choice([t.value for t in SignType]),
    help="Override the config's sign type.",
)
@click.option(
    "--expires-in",
    default=300,
    show_default=True,
    help="Seconds until auth_timestamp (negative: already expired).",
)
@click.option("--timestamp-as-string", is_flag=True, help="Send auth_timestamp as a string.")
@click.option("--dry-run", is_flag=True, help="Print the signed body; send nothing.")
def send(
    url: str,
    event_type: str,
    domain: str,
    app: str,
    stream: str,
    sample: Path | None,
    pairs: tuple[str, ...],
    config: str | None,
    key: str | None,
    sign_type: str | None,
    expires_in: int,
    timestamp_as_string: bool,
    dry_run: bool,
) -> None:
    """Build a callback as Huawei Cloud Live would, sign it, POST it and show the answer."""
    base = _read_sample(sample) if sample else None
    payload = build_callback(
        event_type, domain, app, stream, base=base, fields=_parse_fields(pairs)
    )
    chosen, secret = _signing(config, key, sign_type, domain, app)
    body = signed(
        payload,
        chosen,
        secret,
        int(time.time()) + expires_in,
        timestamp_as_text=timestamp_as_string,
    )
    if dry_run:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    try:
        answer = post(url, body)
    except urllib3.exceptions.HTTPError as exc:
        raise Failure(f"could not reach {url}: {type(exc).__name__}", EXIT_USAGE) from None
    click.echo(f"HTTP {answer.status}")
    click.echo(answer.body.strip())
    if answer.status != 200:
        sys.exit(EXIT_REJECTED)


@click.command(name="explain")
@click.argument("payload", type=click.File("rb"), default="-")
@config_option
@click.option("--at", "at", type=float, help="Judge as at this Unix time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
def explain_command(payload: Any, config: str | None, at: float | None, as_json: bool) -> None:
    """Explain what the receiver would answer to a callback (a file, or - for stdin)."""
    settings = load(config)
    client = None
    if settings.redis.url is not None:
        client = connect_redis(settings.redis)
    try:
        result = explain(
            payload.read(), settings, at if at is not None else time.time(), client=client
        )
    finally:
        if client is not None:
            client.close()
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        marks = {True: "ok  ", False: "FAIL", None: "    "}
        for step in result.steps:
            click.echo(f"{marks[step.passed]} {step.name}: {step.detail}")
        click.echo(f"=> HTTP {result.status} {result.code}")
    if result.status != 200:
        sys.exit(EXIT_REJECTED)
