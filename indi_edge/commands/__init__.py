"""Subcommands of the `indi-edge` CLI (see indi_edge/cli.py)."""
