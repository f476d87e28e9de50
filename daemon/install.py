"""Install a bundle (and its store) under the data dir and put them in force; first-run advice."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.paths import (
    default_policy_file,
    ensure_private_dir,
    models_dir,
    stores_dir,
    title_salt_file,
    user_id_file,
)
from taskclf_core.errors import ConfigError, PublishError

if TYPE_CHECKING:
    from daemon.config.settings import Settings

__all__ = [
    "Installed",
    "ensure_identity",
    "install_baseline",
    "install_model",
    "next_steps_without_model",
    "nothing_configured",
    "standalone_next_steps",
]


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


def ensure_identity(data_dir: Path) -> list[str]:
    """taskclf's title salt and user id files under ``data_dir``, made if missing (a random
    salt, a random UUID; 0600), never overwritten. Says what it found or made."""
    import secrets
    import uuid

    notes = []
    made: tuple[tuple[Path, str, Callable[[], str]], ...] = (
        (title_salt_file(data_dir), "title salt", lambda: secrets.token_hex(32)),
        (user_id_file(data_dir), "user id", lambda: str(uuid.uuid4())),
    )
    for path, what, make in made:
        # taskclf's data/processed: each level private, not only the last
        ensure_private_dir(path.parent.parent)
        ensure_private_dir(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            notes.append(f"{what}: kept the one at {path}")
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(make() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        notes.append(f"{what}: made a random one at {path}")
    return notes


def install_baseline(data_dir: Path) -> Installed:
    """Put taskclf's rule baseline in force until a model is trained (a standalone `init`).

    The baseline is a directory ``models/baseline`` whose ``metadata.json`` names the rules
    (docs/learning.md), deployed as any model is: the policy names it, `retrain` replaces
    it, `rollback` brings it back. A policy already in force (a model, or the baseline from
    an earlier `init`) is kept as it is.
    """
    from daemon.deploy import deploy, describe
    from daemon.publish import install_baseline as write_baseline
    from taskclf_core.baseline import BASELINE_ID, BaselineModel, baseline_metadata
    from taskclf_core.bundle import load_model

    policy_path = default_policy_file(data_dir)
    dest = models_dir(data_dir) / BASELINE_ID
    ensure_private_dir(dest.parent)
    if not os.path.lexists(dest):
        write_baseline(baseline_metadata(), dest)
        note = f"rule baseline installed at {dest}"
    elif isinstance(load_model(dest), BaselineModel):
        note = f"rule baseline already at {dest}"
    else:
        raise PublishError(
            f"{dest}: a model bundle named {BASELINE_ID!r} is installed there; the rule "
            "baseline needs that name (rename that bundle's directory and deploy it again)"
        )
    if policy_path.exists():
        from daemon.artifacts import load_deployment

        deployment = load_deployment(policy_path)
        return Installed(
            policy_path,
            f"{note}\n{describe(deployment, None, 'policy already in force, kept:')}",
        )
    deployment, replaced, _ = deploy(
        policy_path,
        model=dest,
        store=None,
        reject_threshold=None,
        user_thresholds=None,
        source="init",
    )
    return Installed(policy_path, f"{note}\n{describe(deployment, replaced, 'policy in force:')}")


def standalone_next_steps() -> str:
    """What a standalone install does next, from ActivityWatch to a first model."""
    return "\n".join(
        [
            "no model yet: taskclf's rule baseline labels your windows (BreakIdle, "
            'ReadResearch, Build or Mixed/Unknown; records say model_bundle_id "baseline") '
            "until `retrain` trains a model of your own. Next:",
            "  taskclf-daemon service install              run the daemon at login",
            "  taskclf-daemon service install --collector  turn ActivityWatch into windows",
            "  taskclf-daemon label add --from 09:00 --to 10:30 Build",
            "                                              label some of your time over a few "
            "days, breaks too (BreakIdle)",
            "  taskclf-daemon status                       what a first model still needs",
            "  taskclf-daemon retrain                      train it, gate it, deploy it live",
            "  (a taskclf bundle of your own instead? taskclf-daemon init --force --model DIR "
            "[--store DIR])",
        ]
    )


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
