"""Dead letters: list, show, replay, purge."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import click

from receiver.commands.common import (
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Failure,
    config_option,
    load,
    redis_for,
)
from receiver.keys import Keys
from receiver.queue import DeadLetter, DeliveryQueue


@click.group("dead-letters")
def dead_letters() -> None:
    """Inspect, replay and purge deliveries that failed for good."""


def _queue(config: str | None) -> DeliveryQueue:
    settings = load(config)
    client = redis_for(settings, "this command")
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
