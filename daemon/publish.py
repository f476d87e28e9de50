"""Publish a bundle or store so readers (the daemon) see the old one or the new, never half."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from daemon.fsutil import free_name, fsync_dir
from taskclf_core.bundle import load_bundle, save_bundle
from taskclf_core.calibration import CalibratorStore, save_calibrator_store
from taskclf_core.errors import PublishError
from taskclf_core.training import TrainedBundle

__all__ = ["install_bundle", "write_store"]


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
