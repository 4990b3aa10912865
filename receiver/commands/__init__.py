"""The `receiver` command line."""

from __future__ import annotations

import os

import click

from receiver.commands.dead_letters import dead_letters
from receiver.commands.huawei import huawei
from receiver.commands.run import check_config, serve, worker
from receiver.commands.tools import explain_command, keygen, send
from receiver.logs import configure_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Receive, verify and store Huawei Cloud Live recording callbacks."""
    configure_logging(
        os.environ.get("RECEIVER_LOG_LEVEL", "INFO"),
        json=os.environ.get("RECEIVER_LOG_FORMAT", "json") != "text",
    )


for command in (serve, worker, check_config, dead_letters, send, explain_command, keygen, huawei):
    main.add_command(command)
