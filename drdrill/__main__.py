"""`python -m drdrill` runs the CLI."""

from drdrill.cli.app import main

main()
