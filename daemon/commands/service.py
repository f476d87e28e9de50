"""`taskclf-daemon service`: install, remove and show the login service (daemon/units/)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from daemon.exits import BAD_INPUT
from daemon.paths import default_config_file
from daemon.units.service import (
    COLLECTOR_UNIT,
    personalize_daily,
    service_install,
    service_show,
    service_uninstall,
)
from taskclf_core.errors import ServiceError

__all__ = ["add_arguments", "run", "service_config"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``action`` {install, uninstall, show}, ``--no-start``, ``--collector``, ..."""
    parser.add_argument(
        "action",
        choices=("install", "uninstall", "show"),
        help="install: write the systemd user unit / launchd agent, enable and start it; "
        "uninstall: stop, disable and remove it; show: print the file install would write",
    )
    parser.add_argument(
        "--no-start",
        action="store_true",
        help="only write (install) or remove (uninstall) the file; run no systemctl/launchctl",
    )
    parser.add_argument(
        "--collector",
        action="store_true",
        help="act on the ActivityWatch collector's service (taskclf-daemon collect) instead "
        "of the daemon's; install both for labels from ActivityWatch",
    )
    parser.add_argument(
        "--personalize-daily",
        action="store_true",
        help="install (show): also a daily run of `personalize` (systemd timer / launchd "
        "calendar agent); uninstall always removes it",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="install/show: the config file the service runs with (default: the default "
        "config file, <user config dir>/taskclf/daemon.toml, when it exists)",
    )


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
    action: str = args.action
    daily = bool(getattr(args, "personalize_daily", False))
    given: Path | None = getattr(args, "config", None)
    if action in ("install", "show"):
        try:
            config = service_config(given)
        except ServiceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return BAD_INPUT
        if getattr(args, "collector", False):
            # the collector's own unit only; the daemon's (and its daily timer) stay as they are
            if action == "install":
                return service_install(start=not args.no_start, config=config, unit=COLLECTOR_UNIT)
            return service_show(config=config, unit=COLLECTOR_UNIT)
        if action == "install":
            rc = service_install(start=not args.no_start, config=config)
            if rc != 0 or not daily:
                return rc
            return personalize_daily("install", not args.no_start, config=config)
        rc = service_show(config=config)
        return personalize_daily("show", False, config=config) if rc == 0 and daily else rc
    if action == "uninstall" and getattr(args, "collector", False):
        return service_uninstall(stop=not args.no_start, unit=COLLECTOR_UNIT)
    if action == "uninstall":
        rc = personalize_daily("uninstall", not args.no_start)
        return service_uninstall(stop=not args.no_start) if rc == 0 else rc
    raise ValueError(f"unknown service action {action!r}")
