"""`taskclf-daemon rollback`: restore the policy in force before the last deploy, live."""

from __future__ import annotations

import argparse

from daemon.config.flags import add_config_flag

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_flag(parser)


def run(args: argparse.Namespace) -> int:
    from daemon.config.settings import load_settings
    from daemon.deploy import rollback_and_report

    rollback_and_report(load_settings(args.config, {}))
    return 0
