"""Install copies of a bundle (and its store) under the data dir; first-run advice."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.paths import (
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
    "install_artifacts",
    "install_baseline",
    "kept_model_next_steps",
    "next_steps_with_model",
    "next_steps_without_model",
    "nothing_configured",
    "standalone_next_steps",
]


@dataclass(frozen=True, slots=True)
class Installed:
    """Where the copies are (the bundle's, the store's or None), and what was done, a line
    each: copied, or already there."""

    model: Path
    store: Path | None
    notes: tuple[str, ...]


def _same_tree(a: Path, b: Path) -> bool:
    """Whether two directories hold the same files with the same bytes."""

    def files(root: Path) -> dict[str, Path]:
        return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}

    fa, fb = files(a), files(b)
    return fa.keys() == fb.keys() and all(fa[k].read_bytes() == fb[k].read_bytes() for k in fa)


def _inside(path: Path, home: Path) -> bool:
    return path.is_relative_to(Path(os.path.realpath(home)))


def _place(source: Path, dest: Path, what: str, ident: str, check: Callable[[Path], object]) -> str:
    """Copy ``source`` to ``dest`` unless the same content is already there; say what happened."""
    from daemon.publish import install_copy

    if dest.exists() and os.path.samefile(source, dest):
        return f"{what} {ident} already at {dest}"
    if dest.exists():
        if _same_tree(source, dest):
            return f"{what} {ident} already installed at {dest} (same files)"
        raise PublishError(
            f"{dest}: a different {what} with the id {ident} is already installed there. "
            f"A {what}'s id is its directory name, so two different ones cannot share it: "
            f"rename {source} (and refit its stores) or remove {dest} if nothing uses it"
        )
    install_copy(source, dest, check=check)
    return f"{what} {ident} installed at {dest}"


def install_artifacts(home: Path, model: Path, store: Path | None) -> Installed:
    """Copy ``model`` (and ``store``) under ``home`` keeping their ids (`init`, `deploy`).

    ``home`` is the policy's home: the data dir, unless ``policy_file`` names a policy
    elsewhere (taskclf's own). A bundle goes to ``models/<its directory name>`` (its id, which
    stores record), a store to ``stores/<store id>``; both are checked exactly as the daemon
    checks them, together, before anything is copied. The rule baseline's directory goes the
    same way (``models/baseline``), and a store with it is refused: its answers are rules, not
    probabilities (:func:`~daemon.artifacts.refuse_store_for`). Nothing is copied twice: a bundle or
    store already inside ``home`` is used where it is, and a copy with the same files is
    used as it is. A different bundle with the same name is refused (stores name their bundle
    by it; a second name would be a second id). So deleting the folder a bundle was
    downloaded to never breaks the daemon.
    """
    from daemon.artifacts import load_store, refuse_store_for
    from taskclf_core.bundle import load_model

    for flag, path in (("--model", model), ("--store", store)):
        if path is not None and not path.is_dir():
            raise ConfigError(f"{flag}: {path} does not exist or is not a directory")
    bundle = load_model(model)  # a bundle or the rule baseline; their errors name their files
    if store is not None:
        refuse_store_for(bundle, f"--store {store}")
    loaded = load_store(store, bundle)[0] if store is not None else None  # says why it won't fit
    notes: list[str] = []
    model_dest = models_dir(home) / bundle.bundle_id
    if _inside(model.resolve(), home):
        model_dest = model
    else:
        ensure_private_dir(model_dest.parent)
        notes.append(_place(model.resolve(), model_dest, "model", bundle.bundle_id, load_model))
    store_dest: Path | None = None
    if store is not None and loaded is not None:
        store_dest = stores_dir(home) / loaded.store_id
        if _inside(store.resolve(), home):
            store_dest = store
        else:
            ensure_private_dir(store_dest.parent)
            installed = load_model(model_dest)
            notes.append(
                _place(
                    store.resolve(),
                    store_dest,
                    "store",
                    loaded.store_id,
                    lambda p: load_store(p, installed),
                )
            )
    return Installed(model_dest, store_dest, tuple(notes))


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


def _baseline_dir(data_dir: Path) -> Path:
    from taskclf_core.baseline import BASELINE_ID

    return models_dir(data_dir) / BASELINE_ID


def install_baseline(data_dir: Path) -> tuple[Path, str]:
    """taskclf's rule baseline as ``models/baseline`` under ``data_dir`` (a standalone
    `init`): a directory whose ``metadata.json`` names the rules (docs/learning.md), made if
    missing; where it is and what was done, for people. Deploying it is daemon/deploy.py's
    :func:`~daemon.deploy.deploy_baseline`."""
    from daemon.publish import install_baseline as write_baseline
    from taskclf_core.baseline import BASELINE_ID, BaselineModel, baseline_metadata
    from taskclf_core.bundle import load_model

    dest = _baseline_dir(data_dir)
    ensure_private_dir(dest.parent)
    if not os.path.lexists(dest):
        write_baseline(baseline_metadata(), dest)
        return dest, f"rule baseline installed at {dest}"
    if isinstance(load_model(dest), BaselineModel):
        return dest, f"rule baseline already at {dest}"
    raise PublishError(
        f"{dest}: a model bundle named {BASELINE_ID!r} is installed there; the rule "
        "baseline needs that name (rename that bundle's directory and deploy it again)"
    )


def standalone_next_steps() -> str:
    """What a standalone install does next, from ActivityWatch to a first model."""
    return "\n".join(
        [
            "no model yet: taskclf's rule baseline labels your windows (BreakIdle, "
            'ReadResearch, Build or Mixed/Unknown; records say model_bundle_id "baseline") '
            "until `retrain` trains a model of your own. Next:",
            "  taskclf-daemon service install              run the daemon at login",
            "  taskclf-daemon service install --collector  turn ActivityWatch into windows",
            "                                              (with aw-watcher-input running: not in "
            "ActivityWatch's default install; without it every minute reads as BreakIdle and "
            "first models pass far less often; `doctor` checks)",
            "  taskclf-daemon label add --from 09:00 --to 10:30 Build",
            "                                              label some of your time over a few "
            "days, breaks too (BreakIdle)",
            "  taskclf-daemon status                       what a first model still needs",
            "  taskclf-daemon retrain                      train it, gate it, deploy it live",
            "  (a taskclf bundle of your own instead? taskclf-daemon init --force --model DIR "
            "[--store DIR])",
        ]
    )


def next_steps_with_model() -> str:
    """What to do next once a model of one's own is in force (`init`)."""
    return "\n".join(
        [
            "next:",
            "  taskclf-daemon doctor              check the setup, one line per check",
            "  taskclf-daemon service install     run the daemon at login (or: taskclf-daemon run)",
        ]
    )


def kept_model_next_steps(bundle_id: str, data_dir: Path) -> str:
    """What a standalone `init` says instead of :func:`standalone_next_steps` when the policy
    it kept names a model: that model labels, not the rule baseline (where that is, and how
    to put it in force)."""
    baseline = _baseline_dir(data_dir)
    return (
        f"model {bundle_id} labels your windows: the policy in force names it, and init kept "
        f"it (the rule baseline is installed at {baseline}; `taskclf-daemon deploy --model "
        f"{baseline}` puts it in force instead)\n" + next_steps_with_model()
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
