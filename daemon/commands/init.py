"""`taskclf-daemon init`: a commented config file, the spool, and optionally a bundle + store."""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import daemon
from daemon.config.flags import add_model_flag
from daemon.config.keys import parse_path
from daemon.config.layers import config_file_path, read_layers, warn
from daemon.config.render import render_config
from daemon.fsutil import atomic_write_text
from daemon.install import (
    ensure_identity,
    kept_model_next_steps,
    next_steps_with_model,
    standalone_next_steps,
)
from daemon.paths import (
    default_data_dir,
    default_policy_file,
    ensure_private_dir,
    labels_dir,
    spool_dir,
)
from taskclf_core.errors import AlreadyExists, ConfigError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Writes the config file (--config, default <user config dir>/taskclf/daemon.toml) "
        "listing every key with its default and meaning, and creates the spool. With --model, "
        "installs the bundle (and --store) under the data dir keeping their ids and makes them "
        "the inference policy in force. Without it, a standalone install: taskclf's title "
        "salt and user id (made if missing, never overwritten) and taskclf's rule baseline in "
        "force until `retrain` trains a model from your labels."
    )
    add_model_flag(parser, "a model bundle to install and use")
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="DIR",
        help="the calibrator store fitted for that bundle",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="where the spool, label log, models and stores live (default: the user data dir)",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing config file")


def _data_dir(args: argparse.Namespace) -> Path:
    """``--data-dir``, else ``TASKCLF_DATA_DIR``, else the default (made absolute): the one
    read, without the file (which init is about to write)."""
    layers = read_layers(args.config, {"data_dir": args.data_dir}, read_file=False)
    warn(layers.problems)
    value = layers.values.get("data_dir")
    if value is None:
        return default_data_dir()
    try:
        return parse_path(value.raw).absolute()
    except ValueError as exc:
        raise ConfigError(f"{value.origin.at('data_dir')}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from daemon.runtime.spool import Spool

    config = config_file_path(args.config)
    if os.path.lexists(config) and not args.force:
        raise AlreadyExists(
            f"{config} exists; init never overwrites it. Edit it, check it with "
            "`taskclf-daemon doctor`, or replace it with `taskclf-daemon init --force ...` "
            "(the old file is kept as a .bak beside it)"
        )
    if args.store is not None and args.model is None:
        raise ConfigError(
            "--store needs --model: a calibrator store is fitted for one model bundle; "
            "give that bundle too"
        )
    data_dir = _data_dir(args)
    ensure_private_dir(data_dir)
    values: dict[str, str] = {"data_dir": str(data_dir)}
    identity: list[str] = []
    next_steps = next_steps_with_model()
    policy_path = default_policy_file(data_dir)
    if args.model is not None:
        from daemon.deploy import describe, install_and_deploy

        notes, deployment, replaced, changed = install_and_deploy(
            policy_path,
            model=args.model,
            store=args.store,
            reject_threshold=None,
            user_thresholds=None,
            source="init",
        )
        verb = "policy in force:" if changed else "policy unchanged, already in force:"
        installed = "\n".join([*notes, describe(deployment, replaced, verb)])
    else:
        # standalone: taskclf's salt and user id if missing, the rule baseline until a model
        from daemon.deploy import deploy_baseline
        from taskclf_core.baseline import BaselineModel

        identity = ensure_identity(data_dir)
        installed, in_force = deploy_baseline(data_dir)
        # "no model yet" only when the baseline labels: a policy already in force is kept
        next_steps = (
            standalone_next_steps()
            if isinstance(in_force.bundle, BaselineModel)
            else kept_model_next_steps(in_force.bundle.bundle_id, data_dir)
        )
    values["policy_file"] = str(policy_path)
    spool = Spool(spool_dir(data_dir, None))
    spool.ensure()
    ensure_private_dir(labels_dir(data_dir))

    text = render_config(values, written_by=f"taskclf-daemon init {daemon.package_version()}")
    ensure_private_dir(config.parent)
    if os.path.lexists(config):
        backup = config.with_name(config.name + ".bak")
        shutil.copyfile(config, backup)
        os.chmod(backup, 0o600)
        print(f"kept the old config as {backup}")
        dropped = _not_carried(backup, values)
        if dropped:
            print(
                f"not carried over from it: {', '.join(dropped)}; copy the lines you still "
                f"want from {backup} (then check with `taskclf-daemon doctor`)"
            )
    atomic_write_text(config, text)
    print(f"wrote {config}")
    for line in identity:
        print(line)
    print(installed)
    print(f"spool (collectors write feature windows here): {spool.root}")
    print(f"label log: {labels_dir(data_dir)}")
    print(next_steps)
    return 0


def _not_carried(old: Path, written: Mapping[str, str]) -> list[str]:
    """The settings of the replaced file the new one does not keep: those init does not write
    (an ``aw_url`` for another port, say, which `collect` and `retrain` then lose), and those
    it writes another value of (a ``data_dir`` elsewhere: the labels and models there stay,
    but this config no longer reads them). An old file that does not parse names none (doctor
    said what was wrong with it)."""
    import tomllib

    try:
        keys = tomllib.loads(old.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    return [
        key if key not in written else f"{key} (was {value!r})"
        for key, value in sorted(keys.items())
        if key not in written or not _same_path(value, written[key])
    ]


def _same_path(old: object, new: str) -> bool:
    """Whether the old file's path value names ``new`` (init writes only paths)."""
    try:
        return isinstance(old, str) and parse_path(old).absolute() == Path(new)
    except ValueError:
        return False
