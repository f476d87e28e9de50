"""`taskclf-daemon reload`: ask the daemon of this configuration to read its files again now."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from daemon.config.flags import setting_overrides
from daemon.config.layers import warn
from daemon.config.subsets import locate
from daemon.exits import NOT_RUNNING, OK
from daemon.lock import lock_holder

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Nothing of its own: ``--config`` (and its setting flags) come from daemon/cli.py."""


def run(args: argparse.Namespace) -> int:
    where, problems = locate(args.config, setting_overrides(args))
    warn(problems)
    pid = lock_holder(where.lock_path)
    if pid is None or pid <= 0:
        print("taskclf-daemon: not running", file=sys.stderr)
        return NOT_RUNNING
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        print("taskclf-daemon: not running", file=sys.stderr)
        return NOT_RUNNING
    print(f"reload requested (pid {pid}); see `taskclf-daemon status` for the result")
    return OK
