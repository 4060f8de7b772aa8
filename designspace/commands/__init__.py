"""Subcommands of the `designspace` CLI, one module each (see designspace/cli.py)."""
