"""The Maildir-style spool: claim by rename new/ → cur/, finish into done/ or rejected/."""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.paths import ensure_private_dir

__all__ = ["Claimed", "Spool", "is_ignored"]

SUBDIRS = ("tmp", "new", "cur", "done", "rejected")


def is_ignored(name: str) -> bool:
    """Producers' partial files: hidden, ``*.tmp`` and ``*.part`` names are never touched."""
    return name.startswith(".") or name.endswith((".tmp", ".part"))


@dataclass(frozen=True, slots=True)
class Claimed:
    """A file moved into cur/ by this process."""

    name: str
    path: Path
    size: int
    arrived_ns: int  # ctime before the claim: when the producer renamed it into new/
    kind: str  # "file", "dir", "symlink", "other"


class Spool:
    """File operations on one spool directory; every move is a same-filesystem rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp, self.new, self.cur, self.done, self.rejected = (root / d for d in SUBDIRS)

    def ensure(self) -> list[Path]:
        """Create the layout (0700); return the dirs whose loose permissions were tightened."""
        return [p for p in (self.root, *self.dirs()) if ensure_private_dir(p)]

    def dirs(self) -> tuple[Path, ...]:
        return (self.tmp, self.new, self.cur, self.done, self.rejected)

    def pending(self) -> list[str]:
        """Names waiting in new/, in name order (producers name files by time)."""
        with os.scandir(self.new) as it:
            return sorted(e.name for e in it if not is_ignored(e.name))

    def count(self, directory: Path, *, suffix_excluded: str | None = None) -> int:
        try:
            with os.scandir(directory) as it:
                return sum(
                    1
                    for e in it
                    if not is_ignored(e.name)
                    and not (suffix_excluded and e.name.endswith(suffix_excluded))
                )
        except OSError:
            return 0  # missing or unreadable: the loop reports a spool it cannot read

    def requeue(self) -> Iterator[str]:
        """Move files a previous run left in cur/ back to new/ (yields their names)."""
        with os.scandir(self.cur) as it:
            names = sorted(e.name for e in it)
        for name in names:
            target = self.new / name
            if os.path.lexists(target) and os.path.samestat(
                os.lstat(target), os.lstat(self.cur / name)
            ):
                # a crash between a claim's link and unlink: new/ still has the file
                os.unlink(self.cur / name)
                yield name
                continue
            if target.exists():
                # a producer reused the name meanwhile: keep ours aside rather than clobber it,
                # with the suffix last so it is still read as .json/.jsonl
                stem, dot, ext = name.rpartition(".")
                n = 0
                while os.path.lexists(target):
                    n += 1
                    target = self.new / (f"{stem}.requeued{n}.{ext}" if dot else f"{name}.{n}")
            os.rename(self.cur / name, target)
            yield name

    def claim(self, name: str) -> Claimed | None:
        """Move new/<name> to cur/; None if it vanished (another consumer, or deleted)."""
        src, dst = self.new / name, self.cur / name
        try:
            st = os.lstat(src)
            if stat.S_ISREG(st.st_mode) and self._link_claim(src, dst):
                pass
            else:
                os.rename(src, dst)
        except FileNotFoundError:
            return None
        mode = st.st_mode
        kind = (
            "symlink"
            if stat.S_ISLNK(mode)
            else "dir"
            if stat.S_ISDIR(mode)
            else "file"
            if stat.S_ISREG(mode)
            else "other"
        )
        return Claimed(name, self.cur / name, st.st_size, st.st_ctime_ns, kind)

    def _link_claim(self, src: Path, dst: Path) -> bool:
        """Claim by link + unlink: True if done, False to fall back to rename.

        A rename out of new/ is an inotify IN_MOVED_FROM that watchdog holds for up to
        0.5 s waiting for its pair, delaying every event queued behind it: the next file's
        arrival would wait that long. A link + unlink raises only IN_DELETE. One daemon
        per user holds the lock, so the two steps need not be atomic; a crash between them
        leaves the same inode in new/ and cur/, which :meth:`requeue` resolves.
        """
        try:
            os.link(src, dst, follow_symlinks=False)
        except FileNotFoundError:
            raise
        except OSError:
            return False  # no hard links here (FAT, some network filesystems), or dst exists
        try:
            os.unlink(src)
        except FileNotFoundError:
            pass  # removed meanwhile: the name in cur/ is ours all the same
        except OSError:
            # new/ is not writable (chmod, chattr +i): keep one name, or a retry's rename
            # onto our own link would do nothing and leave the file in new/ too
            with contextlib.suppress(OSError):
                os.unlink(dst)
            raise
        return True

    def finish(self, claimed: Claimed) -> None:
        """A processed file leaves cur/ for done/ (only after its records are fsynced)."""
        target = self.done / claimed.name
        if target.is_dir() and not target.is_symlink():
            target = self.done / self._free_name(self.done, claimed.name)
        os.replace(claimed.path, target)

    def reject(self, claimed: Claimed, error: str, detail: str, **extra: Any) -> Path:
        """Move a file that could not be processed to rejected/ with its error sidecar."""
        name = self._free_name(self.rejected, claimed.name)
        self.write_sidecar(name, error, detail, **extra)
        os.rename(claimed.path, self.rejected / name)
        return self.rejected / name

    def write_sidecar(self, name: str, error: str, detail: str, **extra: Any) -> Path:
        """``rejected/<name>.error.json``, written atomically (0600)."""
        sidecar = self.rejected / f"{name}.error.json"
        body = {"error": error, "detail": detail, "file": name, **extra}
        tmp = self.rejected / f".{name}.error.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(_strict_json(body), fh, indent=2, allow_nan=False, default=str)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, sidecar)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a half sidecar holds the very space we lack
            raise
        return sidecar

    def free_rejected_name(self, name: str) -> str:
        return self._free_name(self.rejected, name)

    @staticmethod
    def _free_name(directory: Path, name: str) -> str:
        candidate, n = name, 1
        while (directory / candidate).exists() or (directory / f"{candidate}.error.json").exists():
            candidate = f"{name}.{n}"
            n += 1
        return candidate

    def newest_done(self) -> float | None:
        """When the newest file came into done/ (its ctime), or None if done/ has none."""
        newest: float | None = None
        with os.scandir(self.done) as it:
            for entry in it:
                try:
                    ctime = entry.stat(follow_symlinks=False).st_ctime
                except FileNotFoundError:
                    continue
                if not entry.is_dir(follow_symlinks=False):
                    newest = ctime if newest is None else max(newest, ctime)
        return newest

    def prune_done(self, max_age_seconds: float, *, now: float | None = None) -> int:
        """Delete done/ files older than ``max_age_seconds`` (by when they were moved there)."""
        cutoff = (time.time() if now is None else now) - max_age_seconds
        removed = 0
        with os.scandir(self.done) as it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                    if st.st_ctime < cutoff:
                        if entry.is_dir(follow_symlinks=False):
                            continue
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed


def _strict_json(value: Any) -> Any:
    """Refused windows may hold NaN/Infinity; write them as strings so sidecars stay JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict_json(v) for v in value]
    return value
