"""The ``--key-name`` flags: each command takes those of the keys it reads (from the key table)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from daemon.config.keys import FLAG_COMMANDS, KEYS, flags

__all__ = ["add_config_flag", "add_model_flag", "add_setting_flags", "setting_overrides"]

_DEST = "set_"


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``: the TOML file read instead of the default one."""
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="TOML settings file (default: <user config dir>/taskclf/daemon.toml)",
    )


def add_model_flag(parser: argparse.ArgumentParser, help: str, *, required: bool = False) -> None:
    """``--model DIR`` (alias ``--model-dir``): a bundle, spelt as ``run``'s model_dir flag."""
    parser.add_argument(
        "--model", "--model-dir", type=Path, required=required, metavar="DIR", help=help
    )


def add_setting_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """A ``--key-name`` flag (it overrides the file and ``TASKCLF_*``) for every key that
    ``command`` reads; every key for `doctor`, which checks them all."""
    if command not in FLAG_COMMANDS:
        raise ValueError(f"{command} takes no setting flags (daemon.config.keys.FLAG_COMMANDS)")
    group = parser.add_argument_group("settings (override the config file and TASKCLF_* vars)")
    for name, key in KEYS.items():
        if command != "doctor" and command not in key.readers:
            continue
        group.add_argument(
            *flags(name),
            dest=_DEST + name,
            metavar=None if key.choices else name.upper(),
            choices=key.choices or None,
            default=None,
            help=key.description,
        )


def setting_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``{key: value}`` of the setting flags given on the command line."""
    return {
        name[len(_DEST) :]: value
        for name, value in vars(args).items()
        if name.startswith(_DEST) and value is not None
    }
