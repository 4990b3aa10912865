"""`python -m receiver` runs the command line."""

from receiver.cli import main

main()
