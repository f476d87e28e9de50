"""`taskclf-daemon`: parse, dispatch to the command's module, exit (the only ``sys.exit``)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from daemon.commands import COMMANDS
from daemon.exits import FAILED, INTERRUPTED, OK, exit_code_for
from taskclf_core.errors import TaskclfError

__all__ = ["main"]

_MODULES = {c.name: c.module for c in COMMANDS}


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command is listed (``--help``, a misspelt command); only ``command``'s module is
    imported to add its arguments (a module's imports are its command's start-up cost)."""
    import daemon

    parser = argparse.ArgumentParser(
        prog="taskclf-daemon",
        description="Local, private, always-on task-type classification of feature windows.",
    )
    parser.add_argument(
        "--version", action="version", version=f"taskclf-daemon {daemon.package_version()}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for entry in COMMANDS:
        made = sub.add_parser(entry.name, help=entry.help, description=entry.help)
        if entry.name != command:
            continue
        from daemon.config.flags import add_config_flag, add_setting_flags
        from daemon.config.keys import FLAG_COMMANDS

        if entry.config:
            add_config_flag(made)
        importlib.import_module(entry.module).add_arguments(made)
        if entry.name in FLAG_COMMANDS:
            add_setting_flags(made, entry.name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments == ["--version"]:
        # a person types it: answer without building the parser
        import daemon

        print(f"taskclf-daemon {daemon.package_version()}")
        return OK
    # the command is the first word (global options are only --version and --help)
    command = arguments[0] if arguments and not arguments[0].startswith("-") else None
    args = _parser(command).parse_args(arguments)
    # before LightGBM's OpenMP runtime loads: idle worker threads must sleep, not spin
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        module = importlib.import_module(_MODULES[args.command])
        code: int = module.run(args)
        return code
    except TaskclfError as exc:
        # bad model, store, taxonomy, config or input data (2), or the environment (1)
        print(f"taskclf-daemon: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except OSError as exc:
        # the environment failed a command (a full disk, a read-only or missing directory, a
        # file where a directory should be): name the file and the cause, exit 1, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"taskclf-daemon: {where}{exc.strerror or exc}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        return INTERRUPTED
