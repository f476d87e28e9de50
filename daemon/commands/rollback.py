"""`taskclf-daemon rollback`: restore the policy in force before the last deploy, live."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Nothing of its own: ``--config`` (and its setting flags) come from daemon/cli.py."""


def run(args: argparse.Namespace) -> int:
    from daemon.config.settings import load_settings
    from daemon.deploy import rollback_and_report

    rollback_and_report(load_settings(args.config, {}), config=args.config)
    return 0
