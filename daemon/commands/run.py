"""`taskclf-daemon run`: the daemon in the foreground (what systemd and launchd start)."""

from __future__ import annotations

import argparse

from daemon.config.flags import setting_overrides
from taskclf_core.errors import ConfigError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="drain the spool backlog and exit")


def run(args: argparse.Namespace) -> int:
    from daemon.config.layers import config_file_path
    from daemon.config.settings import load_settings
    from daemon.install import nothing_configured

    settings = load_settings(args.config, setting_overrides(args))
    unconfigured = nothing_configured(settings, config_file_path(args.config))
    if unconfigured is not None:
        raise ConfigError(unconfigured)
    from daemon.logs import configure_logging
    from daemon.runtime.runtime import Daemon

    configure_logging(settings.log_level, fmt=settings.log_format)
    # another daemon on this spool or label log: AlreadyRunning, exit 1 by daemon/exits.py
    return Daemon(settings, once=args.once).run()
