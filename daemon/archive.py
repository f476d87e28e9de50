"""The feature archive: the windows the daemon labelled, kept as features for `retrain`.

Each window is kept as its producer wrote it into the spool (a line of a ``.jsonl`` file as it
stands; an object of a ``.json`` file as JSON): the features, titles hashed, no label; what a
window may not carry (``raw_`` fields) was refused before it was labelled.

One file per UTC day of ``bucket_start_ts`` under ``<data_dir>/archive/`` (0700, files 0600):
``YYYY-MM-DD.jsonl`` while windows arrive for it, rewritten as ``YYYY-MM-DD.jsonl.gz`` (one
line per window identity) once the day is over. A window is archived before its record is
appended to the label log, so a crash between the two archives it again when its spool file
is labelled again; readers keep the first line of each identity ``(user_id,
bucket_start_ts)``, so the archive holds every labelled window exactly once for `retrain`.

Appends are written, not fsynced: the kernel keeps what a crashed daemon wrote, and a
second fsync per batch would double the label log's latency. :meth:`FeatureArchive.sync`
(every heartbeat, and at stop) makes them durable; a power cut can lose the windows archived
since the last one.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pydantic_core

from daemon.fsutil import fsync_dir
from daemon.paths import ensure_private_dir
from taskclf_core.errors import WindowError
from taskclf_core.jsonl import split_lines
from taskclf_core.schema import format_ts, parse_ts
from taskclf_core.timerange import day_in_range

__all__ = ["ArchiveRead", "FeatureArchive"]

_OPEN_DAYS = 8  # day files kept open for appending (the label log keeps 8 days too)
_DAY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.jsonl(\.gz)?")


def _identity(window: Mapping[str, Any]) -> tuple[str, str]:
    """``(user_id, bucket_start_ts)`` as the label log writes it (UTC, ``Z``)."""
    start = window.get("bucket_start_ts")
    with contextlib.suppress(WindowError):  # else no window retrain can use: kept by its text
        start = format_ts(parse_ts(start, "bucket_start_ts"))
    return str(window.get("user_id")), str(start)


@dataclass(frozen=True, slots=True)
class ArchiveRead:
    """Windows read back, one per identity (the first archived), and what was skipped."""

    windows: tuple[dict[str, Any], ...]
    duplicates: int
    unreadable: int


class FeatureArchive:
    """``<data_dir>/archive``: append (the daemon), compact, prune, read (`retrain`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fds: dict[str, int] = {}
        self._ensured = False
        self._unsynced: set[str] = set()  # days written since their last fdatasync
        self._dir_unsynced = False

    # --- paths -------------------------------------------------------------------------

    def plain(self, day: str) -> Path:
        return self.directory / f"{day}.jsonl"

    def packed(self, day: str) -> Path:
        return self.directory / f"{day}.jsonl.gz"

    def days(self) -> list[str]:
        """Supported days with a file (plain or packed), oldest first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        found = {m.group(1) for n in names if (m := _DAY_FILE.fullmatch(n))}
        return sorted(d for d in found if _supported(d))

    def size_bytes(self) -> int:
        total = 0
        for day in self.days():
            for path in (self.plain(day), self.packed(day)):
                with contextlib.suppress(FileNotFoundError):
                    total += path.stat().st_size
        return total

    # --- writing -----------------------------------------------------------------------

    def append(self, lines: Sequence[tuple[str, bytes]]) -> None:
        """Append windows, each ``(UTC day of its bucket_start_ts, its JSON text)``.

        All or nothing per file: a write that fails cuts the file back to its old length (a
        half line would be dropped by readers anyway) and the OSError goes to the caller.
        Durable at the next :meth:`sync`.
        """
        if not lines:
            return
        if not self._ensured:
            ensure_private_dir(self.directory)
            self._ensured = True
        by_day: dict[str, list[bytes]] = {}
        for day, text in lines:
            by_day.setdefault(day, []).extend((text, b"\n"))
        for day, parts in by_day.items():
            fd, created = self._fd(day)
            length = os.fstat(fd).st_size
            self._dir_unsynced = self._dir_unsynced or created
            try:
                view = memoryview(b"".join(parts))
                while view:
                    view = view[os.write(fd, view) :]
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, length)
                self._close(day)
                raise
            self._unsynced.add(day)

    def sync(self) -> None:
        """Make every append so far durable (fdatasync each day written, then the directory
        if a file was created); an OSError is the caller's to report, and is tried again."""
        for day in sorted(self._unsynced):
            fd = self._fds.get(day)
            if fd is not None:
                os.fdatasync(fd)
            else:  # closed since it was written (evicted): its data is the file's
                with contextlib.suppress(FileNotFoundError):  # packed and removed meanwhile
                    closed = os.open(self.plain(day), os.O_RDONLY)
                    try:
                        os.fdatasync(closed)
                    finally:
                        os.close(closed)
            self._unsynced.discard(day)
        if self._dir_unsynced:
            fsync_dir(self.directory)
            self._dir_unsynced = False

    def _fd(self, day: str) -> tuple[int, bool]:
        fd = self._fds.get(day)
        if fd is not None:
            return fd, False
        path = self.plain(day)
        created = not os.path.lexists(path)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        # a day is written for a while, then another: keep the newest few open; one closed
        # unsynced is synced by the next sync() (a backlog spanning weeks must not fdatasync
        # at every eviction)
        if len(self._fds) >= _OPEN_DAYS:
            self._close(min(self._fds), sync=False)
        self._fds[day] = fd
        return fd, created

    def _close(self, day: str, *, sync: bool = True) -> None:
        fd = self._fds.pop(day, None)
        if fd is None:
            return
        try:
            if sync and day in self._unsynced:
                os.fdatasync(fd)
                self._unsynced.discard(day)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Sync and close every file (at stop)."""
        if self.directory.is_dir():
            self.sync()
        for day in list(self._fds):
            self._close(day)

    # --- reading -----------------------------------------------------------------------

    def _lines(self, day: str) -> Iterator[bytes]:
        for path in (self.packed(day), self.plain(day)):
            try:
                if path.suffix == ".gz":
                    with gzip.open(path, "rb") as fh:
                        data = fh.read()
                else:
                    data = path.read_bytes()
            except FileNotFoundError:
                continue
            except (OSError, EOFError, zlib.error) as exc:  # a damaged .gz: say which
                raise OSError(f"{path}: cannot read ({exc})") from exc
            yield from (line for _, line in split_lines(data).lines)

    def _windows(self, day: str) -> Iterator[tuple[bytes, dict[str, Any] | None]]:
        """Each line of ``day`` and its window (None: not a JSON object)."""
        for line in self._lines(day):
            try:
                window = pydantic_core.from_json(line)
            except ValueError:
                yield line, None
                continue
            yield line, window if isinstance(window, dict) else None

    def read(
        self, days: Iterable[str] | None = None, columns: Collection[str] | None = None
    ) -> ArchiveRead:
        """The windows of ``days`` (all by default), one per identity, oldest day first; of
        each, only ``columns`` when given (a window is parsed whole, then let go: a v3 window
        is ~9.6 KB of JSON, most of it title sketches)."""
        seen: set[tuple[str, str]] = set()
        out: list[dict[str, Any]] = []
        duplicates = unreadable = 0
        for day in self.days() if days is None else days:
            for _, window in self._windows(day):
                if window is None:
                    unreadable += 1
                    continue
                key = _identity(window)
                if key in seen:
                    duplicates += 1
                    continue
                seen.add(key)
                out.append(
                    window if columns is None else {k: window[k] for k in columns if k in window}
                )
        return ArchiveRead(tuple(out), duplicates, unreadable)

    def since(self, first_day: date) -> ArchiveRead:
        """The windows of ``first_day`` and after."""
        start = first_day.isoformat()
        return self.read(d for d in self.days() if d >= start)

    # --- housekeeping ------------------------------------------------------------------

    def compact(self, today: date) -> list[str]:
        """Rewrite each plain day file before ``today`` into the day's ``.jsonl.gz``, one line
        per identity (merged with what was packed before); returns the days compacted."""
        done = []
        cutoff = today.isoformat()
        for day in self.days():
            if day >= cutoff or not self.plain(day).exists():
                continue
            self._close(day)
            seen: set[tuple[str, str]] = set()
            kept: list[bytes] = []
            for line, window in self._windows(day):
                if window is None or (key := _identity(window)) in seen:
                    continue  # a damaged line or a window archived twice: one copy stays
                seen.add(key)
                kept.extend((line, b"\n"))
            body = b"".join(kept)
            target = self.packed(day)
            tmp = self.directory / f".{target.name}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with (
                    os.fdopen(fd, "wb") as raw,
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
                ):
                    gz.write(body)
                    gz.flush()
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
                fsync_dir(self.directory)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            # a crash before this leaves both files: readers keep one line per identity
            self.plain(day).unlink(missing_ok=True)
            done.append(day)
        return done

    def newest_day(self) -> str | None:
        days = self.days()
        return days[-1] if days else None

    def prune(self, keep_days: float, today: date) -> list[str]:
        """Delete days older than ``keep_days`` before ``today``; never the newest day."""
        try:
            cutoff = (today - timedelta(days=keep_days)).isoformat()
        except OverflowError:
            return []
        days = self.days()
        return self._remove([d for d in days[:-1] if d < cutoff])

    def cap(self, max_bytes: int) -> list[str]:
        """Delete the oldest days until the archive holds at most ``max_bytes`` (the newest
        day is kept whatever its size)."""
        days = self.days()
        sizes = {}
        for day in days:
            sizes[day] = sum(
                p.stat().st_size for p in (self.plain(day), self.packed(day)) if p.exists()
            )
        total = sum(sizes.values())
        doomed = []
        for day in days[:-1]:
            if total <= max_bytes:
                break
            doomed.append(day)
            total -= sizes[day]
        return self._remove(doomed)

    def _remove(self, days: list[str]) -> list[str]:
        for day in days:
            self._close(day)
            self.plain(day).unlink(missing_ok=True)
            self.packed(day).unlink(missing_ok=True)
        return days


def _supported(day: str) -> bool:
    try:
        return day_in_range(date.fromisoformat(day))
    except ValueError:
        return False
