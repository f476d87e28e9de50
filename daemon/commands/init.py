"""`taskclf-daemon init`: a commented config file, the spool, and optionally a bundle + store."""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import daemon
from daemon.config.render import render_config
from daemon.config.settings import config_file_path, env_name, expand_path
from daemon.fsutil import atomic_write_text
from daemon.paths import default_data_dir, ensure_private_dir
from taskclf_core.errors import AlreadyExists, ConfigError, PublishError

__all__ = ["Installed", "install_model", "next_steps_without_model", "run_init"]

POLICY_NAME = "inference_policy.json"


@dataclass(frozen=True, slots=True)
class Installed:
    """What ``init --model`` put in force."""

    policy_path: Path
    description: str


def _same_tree(a: Path, b: Path) -> bool:
    """Whether two directories hold the same files with the same bytes."""

    def files(root: Path) -> dict[str, Path]:
        return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}

    fa, fb = files(a), files(b)
    return fa.keys() == fb.keys() and all(fa[k].read_bytes() == fb[k].read_bytes() for k in fa)


def _place(source: Path, dest: Path, what: str, check: Callable[[Path], object]) -> str:
    """Copy ``source`` to ``dest`` unless the same content is already there; say what happened."""
    from daemon.publish import install_copy

    if dest.exists() and os.path.samefile(source, dest):
        return f"{what} already at {dest}"
    if dest.exists():
        if _same_tree(source, dest):
            return f"{what} already installed at {dest} (same files)"
        raise PublishError(
            f"{dest}: a different {what} with the same name is already installed there. "
            f"A {what}'s id is its directory name, so two different ones cannot share it: "
            f"rename {source} (and refit its stores) or remove {dest} if nothing uses it"
        )
    install_copy(source, dest, check=check)
    return f"{what} installed at {dest}"


def install_model(data_dir: Path, model: Path, store: Path | None) -> Installed:
    """Install ``model`` (and ``store``) under ``data_dir`` keeping their ids; deploy them.

    The bundle goes to ``models/<its directory name>`` (its id, which stores record), the
    store to ``stores/<store id>``; both are checked exactly as the daemon checks them,
    together, before anything is copied. Then they become the inference policy in force
    (``models/inference_policy.json``), as ``deploy`` would make them.
    """
    from daemon.artifacts import load_store
    from daemon.deploy import deploy, describe
    from taskclf_core.bundle import load_bundle

    for flag, path in (("--model", model), ("--store", store)):
        if path is not None and not path.is_dir():
            raise ConfigError(f"{flag}: {path} does not exist or is not a directory")
    bundle = load_bundle(model)  # the bundle's own errors name its files
    loaded = load_store(store, bundle)[0] if store is not None else None  # says why it won't fit
    model_dest = data_dir / "models" / bundle.bundle_id
    ensure_private_dir(model_dest.parent)
    notes = [_place(model.resolve(), model_dest, "model bundle", load_bundle)]
    store_dest: Path | None = None
    if store is not None and loaded is not None:
        store_dest = data_dir / "stores" / loaded.store_id
        ensure_private_dir(store_dest.parent)
        installed = load_bundle(model_dest)
        notes.append(
            _place(
                store.resolve(), store_dest, "calibrator store", lambda p: load_store(p, installed)
            )
        )
    policy_path = data_dir / "models" / POLICY_NAME
    deployment, replaced, changed = deploy(
        policy_path,
        model=model_dest,
        store=store_dest,
        reject_threshold=None,
        user_thresholds=None,
        source="init",
    )
    verb = "policy in force:" if changed else "policy unchanged, already in force:"
    return Installed(policy_path, "\n".join([*notes, describe(deployment, replaced, verb)]))


def next_steps_without_model(config: Path) -> str:
    """What to do when no model is configured (shared by `init`, `run` and `doctor`)."""
    return "\n".join(
        [
            "  to use a model bundle (and the calibrator store fitted for it) you have:",
            "      taskclf-daemon init --force --model DIR [--store DIR]"
            if config.exists()
            else "      taskclf-daemon init --model DIR [--store DIR]",
            "  to run once with a bundle, without configuring anything:",
            "      taskclf-daemon run --model DIR [--store DIR]",
            "  to see the whole thing work on generated data first:",
            "      taskclf-daemon demo",
            "  (no bundle yet? `taskclf-daemon train` makes one from labelled windows)",
        ]
    )


def _data_dir(args: argparse.Namespace) -> Path:
    raw = args.data_dir if args.data_dir is not None else os.environ.get(env_name("data_dir"))
    if not raw:
        return default_data_dir()
    try:
        return Path(expand_path(raw)).absolute()
    except ValueError as exc:
        raise ConfigError(f"--data-dir: {exc}") from None


def run_init(args: argparse.Namespace) -> int:
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
    installed = None
    if args.model is not None:
        installed = install_model(data_dir, args.model, args.store)
        values["policy_file"] = str(installed.policy_path)
    spool = Spool(data_dir / "spool")
    spool.ensure()
    ensure_private_dir(data_dir / "labels")

    text = render_config(values, written_by=f"taskclf-daemon init {daemon.package_version()}")
    ensure_private_dir(config.parent)
    if os.path.lexists(config):
        backup = config.with_name(config.name + ".bak")
        shutil.copyfile(config, backup)
        os.chmod(backup, 0o600)
        print(f"kept the old config as {backup}")
    atomic_write_text(config, text)
    print(f"wrote {config}")
    if installed is not None:
        print(installed.description)
    print(f"spool (collectors write feature windows here): {spool.root}")
    print(f"label log: {data_dir / 'labels'}")
    if installed is not None:
        print(
            "next:\n"
            "  taskclf-daemon doctor              check the setup, one line per check\n"
            "  taskclf-daemon service install     run the daemon at login (or: taskclf-daemon run)"
        )
    else:
        print(
            "no model yet: every key in the file is commented out (the defaults). Next:\n"
            + next_steps_without_model(config)
        )
    return 0
