"""`taskclf-daemon service`: install, remove and show the login services (daemon/units/)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from daemon.exits import BAD_INPUT
from daemon.paths import default_config_file
from daemon.units.service import (
    DAEMON_UNIT,
    UNITS,
    Unit,
    service_install,
    service_show,
    service_uninstall,
)
from taskclf_core.errors import ServiceError

__all__ = ["add_arguments", "run", "selected_units", "service_config"]

_HELP = {
    "daemon": "the daemon's service (taskclf-daemon run)",
    "collector": "the ActivityWatch collector's service (taskclf-daemon collect)",
    "personalize-daily": "a daily run of `personalize` at 03:30 (systemd timer / launchd "
    "calendar agent)",
    "retrain-weekly": "`retrain` checked each day at 04:30, so that the model is retrained "
    "when retrain_cadence_days (7) old (systemd timer / launchd calendar agent)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``action`` {install, uninstall, show}, the units by flag, ``--no-start``, ``--config``."""
    parser.description = (
        "Each flag names one unit: install and show act on the units named (none: the "
        "daemon's); uninstall removes the units named, or with no flag every one installed "
        "(daemon, collector, timers). Your configuration, models, labels and logs are kept."
    )
    parser.add_argument(
        "action",
        choices=("install", "uninstall", "show"),
        help="install: write the units, enable and start them; uninstall: stop, disable and "
        "remove them; show: print the files install would write",
    )
    for unit in UNITS:
        parser.add_argument(f"--{unit.flag}", action="store_true", help=_HELP[unit.flag])
    parser.add_argument(
        "--no-start",
        action="store_true",
        help="only write (install) or remove (uninstall) the files; run no systemctl/launchctl",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="install/show: the config file the units run with (default: the default "
        "config file, <user config dir>/taskclf/daemon.toml, when it exists)",
    )


def selected_units(args: argparse.Namespace) -> list[Unit] | None:
    """The units the flags name, in install order; none named: None."""
    named = [u for u in UNITS if getattr(args, u.flag.replace("-", "_"), False)]
    return named or None


def service_config(given: Path | None) -> Path | None:
    """The config file the service is started with: ``given``, else the default if it exists.

    Named explicitly in the unit so the service reads the file you checked, whatever
    environment (XDG_CONFIG_HOME) the service manager starts it in.
    """
    if given is None:
        default = default_config_file()
        return Path(os.path.abspath(default)) if default.is_file() else None
    path = Path(os.path.abspath(os.path.expandvars(os.path.expanduser(given))))
    if not path.is_file():
        raise ServiceError(
            f"--config: {path} does not exist; write one with `taskclf-daemon init --config "
            f"{shlex.quote(str(path))}`"
        )
    return path


def run(args: argparse.Namespace) -> int:
    """Carry out a parsed ``service`` command; returns the process exit status."""
    units = selected_units(args)
    if args.action == "uninstall":
        return service_uninstall(stop=not args.no_start, units=units)
    try:
        config = service_config(args.config)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    chosen = units if units is not None else [DAEMON_UNIT]
    if args.action == "install":
        return service_install(start=not args.no_start, config=config, units=chosen)
    return service_show(config=config, units=chosen)
