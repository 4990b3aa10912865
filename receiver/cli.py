"""Entry point of the `receiver` console script."""

from receiver.commands import main

__all__ = ["main"]
