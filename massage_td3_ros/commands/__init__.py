"""Implementations of the `massage-td3` subcommands (arguments are in cli.py)."""
