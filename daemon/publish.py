"""Publish a bundle, store or policy so readers see the old one or the new, never half."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from daemon.fsutil import atomic_write_bytes, free_name, fsync_dir
from taskclf_core.bundle import load_bundle, save_bundle
from taskclf_core.calibration import CalibratorStore, save_calibrator_store
from taskclf_core.errors import PolicyError, PublishError
from taskclf_core.jsonl import split_lines
from taskclf_core.policy import (
    InferencePolicy,
    parse_policy,
    policy_to_dict,
    policy_to_json,
    resolve_policy_path,
)
from taskclf_core.training import TrainedBundle

__all__ = [
    "Pruned",
    "RolledBack",
    "deploy_policy",
    "install_baseline",
    "install_bundle",
    "install_copy",
    "policy_history_path",
    "prune_retrained",
    "rollback_policy",
    "write_store",
]


def _temp_dir_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # a dot name: the daemon's watcher and `ls` skip it; mkdtemp makes it 0700
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))


def _fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` so a rename never publishes empty files."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def _replace_dir(new: Path, out: Path) -> None:
    """Put directory ``new`` at ``out``; an existing ``out`` is moved aside, then deleted.

    Between the two renames ``out`` is briefly absent; a reader in that gap fails and
    retries (the daemon's reload is debounced and refuses a missing store, keeping the
    old one in force). A failure before the second rename puts the old directory back.
    """
    if not os.path.lexists(out):
        os.rename(new, out)
        fsync_dir(out.parent)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.rename(out, aside / out.name)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(aside / out.name, out)
        shutil.rmtree(aside, ignore_errors=True)
        raise
    fsync_dir(out.parent)
    shutil.rmtree(aside, ignore_errors=True)


def install_bundle(trained: TrainedBundle, out: Path) -> Path:
    """Write ``trained`` at ``out`` atomically; only an absent, empty or bundle dir is replaced."""
    if out.is_symlink():
        raise PublishError(
            f"{out}: is a symlink; the bundle id is the directory name, so train into a "
            "new directory and point the link at it yourself"
        )
    if out.exists():
        if not out.is_dir():
            raise PublishError(f"{out}: exists and is not a directory")
        is_bundle = (out / "metadata.json").is_file() and (out / "model.txt").is_file()
        if any(out.iterdir()) and not is_bundle:
            raise PublishError(
                f"{out}: a non-empty directory that is not a model bundle; refusing to replace it"
            )
    tmp = _temp_dir_beside(out)
    try:
        save_bundle(
            tmp,
            model_text=trained.model_text,
            metadata=trained.metadata,
            encoders=trained.encoders,
            metrics=trained.metrics,
        )
        _fsync_tree(tmp)
        load_bundle(tmp)  # what the daemon will do at start: never publish one it refuses
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _install_new(
    out: Path, fill: Callable[[Path], object], check: Callable[[Path], object]
) -> Path:
    """Make an absent directory ``out`` atomically: ``fill`` a temp dir beside it, fsync it,
    ``check`` it (the loader that must accept it), rename it into place; a failure leaves no
    trace."""
    if os.path.lexists(out):
        raise PublishError(f"{out}: exists; refusing to replace it")
    tmp = _temp_dir_beside(out)
    try:
        fill(tmp)
        _fsync_tree(tmp)
        check(tmp)
        os.rename(tmp, out)
        fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def install_baseline(metadata: Mapping[str, Any], out: Path) -> Path:
    """Write the rule baseline's directory (its ``metadata.json``) at an absent ``out``,
    atomically (0700 / 0600), checked by the loader the daemon uses."""
    from taskclf_core.bundle import load_model

    def fill(tmp: Path) -> None:
        fd = os.open(tmp / "metadata.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(dict(metadata), indent=2) + "\n")

    return _install_new(out, fill, load_model)


def install_copy(source: Path, out: Path, *, check: Callable[[Path], object]) -> Path:
    """Copy directory ``source`` to an absent ``out`` atomically (dirs 0700, files 0600).

    The copy is made in a temp dir beside ``out``, fsynced and passed to ``check`` (the
    loader that must accept it) before it is renamed into place; any failure leaves no
    trace. Used by ``init`` to install a bundle or a store under the data directory.
    """

    def fill(tmp: Path) -> None:
        shutil.copytree(source, tmp, dirs_exist_ok=True, copy_function=shutil.copyfile)
        os.chmod(tmp, 0o700)  # copytree gave it the source's mode
        for dirpath, dirs, files in os.walk(tmp):
            for name in dirs:
                os.chmod(os.path.join(dirpath, name), 0o700)
            for name in files:
                os.chmod(os.path.join(dirpath, name), 0o600)

    return _install_new(out, fill, check)


def _save_store(store: CalibratorStore, path: Path) -> None:
    save_calibrator_store(store, path)
    _fsync_tree(path)


def write_store(
    store: CalibratorStore, out: Path, *, check: Callable[[Path], object] | None = None
) -> Path:
    """Install ``store`` at ``out`` so readers see the old store or the new one, never half.

    The files go to a temp dir beside the destination, are fsynced and passed to ``check``
    (the daemon's own validation), then: ``out`` absent → renamed into place; ``out`` a
    symlink → the new dir goes beside the link's target, named by store id, and the link is
    swapped atomically (the old target is kept for rollback); ``out`` a store directory →
    :func:`_replace_dir`. Any failure leaves the old store as it was and no temp dir behind.
    Returns the directory the store now lives in.
    """
    if out.is_symlink():
        return _swap_link(store, out, check)
    if out.exists():
        if not out.is_dir():
            raise PublishError(f"{out}: exists and is not a directory")
        if any(out.iterdir()) and not (out / "store.json").is_file():
            raise PublishError(
                f"{out}: a non-empty directory that is not a CalibratorStore; "
                "refusing to replace it"
            )
    tmp = _temp_dir_beside(out)
    try:
        _save_store(store, tmp)
        if check is not None:
            check(tmp)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _swap_link(store: CalibratorStore, link: Path, check: Callable[[Path], object] | None) -> Path:
    old_value = os.readlink(link)
    parent = Path(os.path.realpath(link)).parent
    final = parent / free_name(parent, store.store_id)
    tmp = _temp_dir_beside(final)
    tmp_link = link.parent / f".{link.name}.{os.getpid()}.link.tmp"
    try:
        _save_store(store, tmp)
        if check is not None:
            check(tmp)
        os.rename(tmp, final)
        # the new directory's entry first: a link that reaches the disk before it would dangle
        fsync_dir(parent)
        # keep the link's style: relative links survive moving the whole tree
        value = (
            str(final)
            if os.path.isabs(old_value)
            else os.path.relpath(final, os.path.realpath(link.parent))
        )
        if os.path.lexists(tmp_link):
            os.unlink(tmp_link)
        os.symlink(value, tmp_link)
        os.replace(tmp_link, link)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.lexists(tmp_link):
            os.unlink(tmp_link)
        if os.readlink(link) == old_value:
            shutil.rmtree(final, ignore_errors=True)
        raise
    fsync_dir(link.parent)
    return final


# --- the inference policy ------------------------------------------------------------------


def policy_history_path(policy_path: Path) -> Path:
    """``models/inference_policy.history.jsonl`` beside ``models/inference_policy.json``."""
    return policy_path.with_name(f"{policy_path.stem}.history.jsonl")


@contextmanager
def _policy_lock(policy_path: Path) -> Iterator[None]:
    """Serialise deploy/rollback/personalize: two writers must not interleave history."""
    policy_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(policy_path.with_name(f".{policy_path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read_history(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries: list[dict[str, Any]] = []
    # a torn last line is left out: that append never finished, nothing was replaced
    for number, line in split_lines(text).lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise PolicyError(f"{path}:{number}: not valid JSON") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("policy"), dict):
            raise PolicyError(f"{path}:{number}: expected {{'replaced_at', 'policy'}}")
        entries.append(entry)
    return entries


def deploy_policy(
    policy_path: Path,
    policy: InferencePolicy,
    *,
    replaced_at: str,
    expected: InferencePolicy | None = None,
    still: Callable[[], object] | None = None,
) -> tuple[bool, InferencePolicy | None]:
    """Make ``policy`` the one in force; return (changed, the policy it replaced or None).

    ``expected``: the policy the caller started from; if another is in force now (a
    `deploy` landed while `personalize` computed), nothing is written (PolicyError).
    ``still``: checked under the lock, before anything is written (that what the policy
    names was not removed meanwhile: a retrain's prune holds the same lock); it raises.

    The old policy is appended (fsynced) to the history before the new file replaces it
    atomically, so a crash at any point leaves the old policy or the new one in force and
    never loses the old one; a crash between the two steps leaves a history entry equal to
    the policy in force, which :func:`rollback_policy` skips.
    """
    content = policy_to_json(policy)
    with _policy_lock(policy_path):
        if still is not None:
            still()
        try:
            old_content: bytes | None = policy_path.read_bytes()
        except FileNotFoundError:
            old_content = None
        if old_content == content:
            return False, None
        old: InferencePolicy | None = None
        if old_content is not None:
            try:
                old = parse_policy(old_content, source=str(policy_path))
            except PolicyError:
                old = None  # a broken file in force: nothing to roll back to, just replace it
        if expected is not None and (
            old is None or policy_to_json(old) != policy_to_json(expected)
        ):
            raise PolicyError(
                f"{policy_path}: the policy in force changed while this ran (another deploy, "
                "rollback or personalize); nothing was written: run it again"
            )
        if old is not None:
            entry = {"replaced_at": replaced_at, "policy": policy_to_dict(old)}
            _append_line(policy_history_path(policy_path), json.dumps(entry) + "\n")
        atomic_write_bytes(policy_path, content)
    return True, old


class RolledBack(NamedTuple):
    """What :func:`rollback_policy` did: the policy restored, the one it replaced (None if
    that file was broken; it is not written to the history), and how many history entries
    left differ from the one restored (0: a next rollback has nothing to go back to)."""

    restored: InferencePolicy
    replaced: InferencePolicy | None
    left: int


def rollback_policy(
    policy_path: Path, *, check: Callable[[InferencePolicy], object] | None = None
) -> RolledBack:
    """Restore the newest history entry that differs from the policy in force.

    ``check`` validates the entry first (its model and store must still load); the
    restored entry and the ones after it leave the history, and the policy replaced is not
    added to it (a rollback is not a step a next rollback undoes).
    """
    history = policy_history_path(policy_path)
    with _policy_lock(policy_path):
        try:
            current: bytes | None = policy_path.read_bytes()
        except FileNotFoundError:
            current = None
        entries = _read_history(history)
        for index in range(len(entries) - 1, -1, -1):
            candidate = parse_policy(
                json.dumps(entries[index]["policy"]).encode(),
                source=f"{history} (entry {index + 1})",
            )
            if policy_to_json(candidate) != current:
                break
        else:
            raise PolicyError(
                f"{history}: nothing to roll back to (no earlier policy than the one in force)"
            )
        if check is not None:
            check(candidate)
        try:
            replaced = parse_policy(current, source=str(policy_path)) if current else None
        except PolicyError:
            replaced = None  # a broken file in force is just what a rollback is for
        # the policy first: a crash before the history is cut leaves an entry equal to the
        # policy in force, which the next rollback skips
        atomic_write_bytes(policy_path, policy_to_json(candidate))
        kept = "".join(json.dumps(e) + "\n" for e in entries[:index])
        atomic_write_bytes(history, kept.encode())
    # counted as the next rollback would look: by the policy each entry parses to
    restored = policy_to_json(candidate)
    left = sum(_entry_json(e) != restored for e in entries[:index])
    return RolledBack(candidate, replaced, left)


def _entry_json(entry: Mapping[str, Any]) -> bytes | None:
    """A history entry's policy as the policy file would hold it; None if it does not parse."""
    try:
        return policy_to_json(parse_policy(json.dumps(entry["policy"]).encode(), source="history"))
    except PolicyError:
        return None


# the directories `retrain` installs its models in: retrain-<UTC time>[.n] (free_name)
_RETRAINED = re.compile(r"retrain-\d{8}-\d{6}(\.\d+)?")


def _is_retrained(directory: Path) -> bool:
    """A model `retrain` trained and installed: its name, and the lineage its metadata.json
    carries (a bundle installed from elsewhere under such a name has none)."""
    if not _RETRAINED.fullmatch(directory.name) or directory.is_symlink():
        return False
    try:
        metadata = json.loads((directory / "metadata.json").read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(metadata, dict) and isinstance(metadata.get("retrain"), dict)


def _retrained_name(policy_path: Path, models: Path, policy: object) -> str | None:
    """The ``models/retrain-*`` directory a policy names (by its real path), or None."""
    value = policy.get("model_dir") if isinstance(policy, dict) else None
    if not isinstance(value, str):
        return None
    # the real path: a policy naming a symlink to a retrained model protects that model
    path = Path(os.path.realpath(resolve_policy_path(policy_path, value)))
    if str(path.parent) != os.path.realpath(models):
        return None
    return path.name if _RETRAINED.fullmatch(path.name) else None


class Pruned(NamedTuple):
    """What :func:`prune_retrained` deleted (names, oldest first) and what it could not."""

    models: list[str]
    stores: list[str]
    failed: list[str]  # "<name>: <why>"


def prune_retrained(
    policy_path: Path, models: Path, *, keep: int, stores: Path | None = None
) -> Pruned:
    """Delete the models `retrain` installed in ``models`` (``retrain-<UTC time>``, with its
    lineage) but the newest ``keep`` and the one in force, and the calibrator stores in
    ``stores`` fitted for the models deleted; returns what went and a line per one that
    could not (oldest first).

    So weekly retrains do not fill the disk (a model is ~2 MB). Every retrained model counts,
    whether a policy names it or not: one rolled back from, or installed by a `retrain` that
    has not deployed it yet, stays while it is among the newest. The history is cut before
    the newest entry that names a model deleted, so `rollback` never reaches a missing one.
    Other directories (the baseline, bundles `init --model` or `deploy` installed) are never
    touched. The history is rewritten (atomically) before any model goes.

    A store goes when its ``store.json`` names a retrained model that is no longer installed
    and older than the oldest kept (no bundle can load it: a store is checked against its
    model's id) and neither the policy nor its history names it. Stores installed for other
    models (`init --store`, `deploy --store`) and anything unreadable stay.
    """
    if keep < 1:
        raise ValueError(f"keep: expected at least 1, got {keep}")
    history = policy_history_path(policy_path)
    with _policy_lock(policy_path):
        try:
            in_force: Any = json.loads(policy_path.read_bytes())
        except FileNotFoundError:
            return Pruned([], [], [])  # no policy: nothing says which models are in use
        except (OSError, ValueError) as exc:
            raise PolicyError(f"{policy_path}: cannot read the policy in force ({exc})") from None
        retrained = sorted(
            (entry.name for entry in os.scandir(models) if _is_retrained(Path(entry.path))),
            reverse=True,
        )
        kept = set(retrained[:keep]) | {_retrained_name(policy_path, models, in_force)}
        stale = sorted(set(retrained) - kept)
        entries = _read_history(history)
        # an entry naming a model going now, or one already gone (deleted by hand, an older
        # version's prune): `rollback` must never reach it
        named = [_retrained_name(policy_path, models, e["policy"]) for e in entries]
        cut = max(
            (
                i + 1
                for i, name in enumerate(named)
                if name is not None and (name in stale or not os.path.lexists(models / name))
            ),
            default=0,
        )
        if cut:
            atomic_write_bytes(
                history, "".join(json.dumps(e) + "\n" for e in entries[cut:]).encode()
            )
        gone: list[str] = []
        failed: list[str] = []
        for name in stale:
            try:
                shutil.rmtree(models / name)
            except OSError as exc:
                failed.append(f"{name}: {exc}")
            else:
                gone.append(name)
        if gone:
            fsync_dir(models)
        policies = [in_force, *(e["policy"] for e in entries[cut:])]
        oldest = min((name for name in kept if name is not None), default="")
        stores_gone = (
            []
            if stores is None
            else _prune_stores(policy_path, policies, stores, models, oldest, failed)
        )
    return Pruned(gone, stores_gone, failed)


def _prune_stores(
    policy_path: Path,
    policies: list[Any],
    stores: Path,
    models: Path,
    oldest: str,
    failed: list[str],
) -> list[str]:
    """Delete the stores in ``stores`` that :func:`prune_retrained` says go (its docstring);
    returns their names, and appends a line per one that could not be to ``failed``."""
    named = {
        os.path.realpath(resolve_policy_path(policy_path, value))
        for policy in policies
        if isinstance(policy, dict) and isinstance(value := policy.get("calibrator_store_dir"), str)
    }
    try:
        entries = sorted(os.scandir(stores), key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
    gone: list[str] = []
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False) or os.path.realpath(entry.path) in named:
            continue
        try:
            fitted_for = json.loads(Path(entry.path, "store.json").read_bytes()).get(
                "model_bundle_id"
            )
        except (OSError, ValueError, AttributeError):
            continue
        if (
            not isinstance(fitted_for, str)
            or not _RETRAINED.fullmatch(fitted_for)
            or fitted_for >= oldest
            or os.path.lexists(models / fitted_for)
        ):
            continue
        try:
            shutil.rmtree(entry.path)
        except OSError as exc:
            failed.append(f"{entry.name}: {exc}")
        else:
            gone.append(entry.name)
    if gone:
        fsync_dir(stores)
    return gone


def _append_line(path: Path, line: str) -> None:
    """Append ``line`` whole and fsynced, or leave the file as it was.

    A full disk makes ``write`` short or fail part-way: the file is cut back to its old
    length, or the torn line would be glued to the next entry and break every rollback.
    A torn tail an earlier crash left (the reader skips it) is cut before appending; a whole
    last entry that only lacks its newline (the reader keeps it) gets one.
    """
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        length = os.fstat(fd).st_size
        data = line.encode("utf-8")
        if length and os.pread(fd, 1, length - 1) != b"\n":
            tail = os.pread(fd, min(length, 1 << 20), max(0, length - (1 << 20)))
            torn = split_lines(tail[tail.rfind(b"\n") + 1 :]).torn
            if torn:
                length -= len(torn)
                os.ftruncate(fd, length)
            else:
                data = b"\n" + data
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, length)
                os.fsync(fd)
            if isinstance(exc, OSError) and exc.filename is None:
                raise OSError(exc.errno, exc.strerror, str(path)) from exc
            raise
    finally:
        os.close(fd)
    fsync_dir(path.parent)
