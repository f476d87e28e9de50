"""Install a bundle (and its store) under the data dir and put them in force; first-run advice."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.paths import default_policy_file, ensure_private_dir, models_dir, stores_dir
from taskclf_core.errors import ConfigError, PublishError

if TYPE_CHECKING:
    from daemon.config.settings import Settings

__all__ = ["Installed", "install_model", "next_steps_without_model", "nothing_configured"]


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
    model_dest = models_dir(data_dir) / bundle.bundle_id
    ensure_private_dir(model_dest.parent)
    notes = [_place(model.resolve(), model_dest, "model bundle", load_bundle)]
    store_dest: Path | None = None
    if store is not None and loaded is not None:
        store_dest = stores_dir(data_dir) / loaded.store_id
        ensure_private_dir(store_dest.parent)
        installed = load_bundle(model_dest)
        notes.append(
            _place(
                store.resolve(), store_dest, "calibrator store", lambda p: load_store(p, installed)
            )
        )
    policy_path = default_policy_file(data_dir)
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
    """What to do when no model is configured (said by `init`, `run` and `doctor`)."""
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


def nothing_configured(settings: Settings, config: Path) -> str | None:
    """The first-run message when there is no model to run at all, else None."""
    if settings.policy_file is not None or settings.model_dir is not None:
        return None
    if settings.model_path.exists():
        return None
    found = "sets neither policy_file nor model_dir" if config.exists() else "does not exist"
    return (
        f"no model to run: the config file {config} {found}, and there is no model bundle "
        f"at {settings.model_path} (where model_dir points by default).\n"
        + next_steps_without_model(config)
    )
