"""The durable label log: one JSONL file per UTC day, appended, fsynced, deduplicated."""

from __future__ import annotations

import math
import os
import re
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pydantic_core
import structlog

from daemon.fsutil import fsync_dir
from daemon.paths import ensure_private_dir
from taskclf_core.errors import LabelLogError
from taskclf_core.jsonl import split_lines
from taskclf_core.record import LabelRecord, LoggedWindow, parse_logged_window
from taskclf_core.timerange import RANGE, day_in_range

__all__ = ["AppendFailed", "DayIndex", "LabelLog"]

log = structlog.get_logger()
_DAY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.jsonl")


class AppendFailed(LabelLogError):
    """An append did not become durable. ``clean``: every file is back to its old length.

    The worker catches it and waits the fault out or stops; it only reaches the CLI (exit 1)
    if something else lets it through.
    """

    def __init__(self, cause: OSError, path: Path, *, clean: bool) -> None:
        super().__init__(f"cannot append to the label log {path}: {cause.strerror or cause}")
        self.cause = cause
        self.path = path
        self.clean = clean


@dataclass(slots=True)
class DayIndex:
    """What is already logged for one day: window ids, and the windows for smoothing."""

    keys: set[tuple[str, str]] = field(default_factory=set)
    windows: list[LoggedWindow] = field(default_factory=list)


class LabelLog:
    """``<labels>/YYYY-MM-DD.jsonl`` files (0600), keyed by the UTC day of ``bucket_start_ts``.

    Dedupe is exact and bounded: a window can only live in its own day's file, so the ids
    of a day are read from that file the first time a window for it arrives, and at most
    ``max_days`` days are kept in memory (an evicted day is simply read again).
    """

    def __init__(self, directory: Path, *, max_days: int = 8) -> None:
        self.directory = directory
        self.max_days = max_days
        self._days: OrderedDict[str, DayIndex] = OrderedDict()
        self._fds: dict[str, int] = {}
        self._dir_unsynced = False
        self._warmed: set[str] = set()

    # --- reading -------------------------------------------------------------------

    def all_day_files(self) -> list[str]:
        """Every day file's day, oldest first, those outside the supported times included."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(m.group(1) for n in names if (m := _DAY_FILE.fullmatch(n)))

    def day_files(self) -> list[str]:
        """Days present in the log, oldest first: the supported ones (an older daemon may have
        logged a window for 9999-12-31; every reader leaves such a file alone)."""
        return [day for day in self.all_day_files() if _supported(day)]

    def path_for(self, day: str) -> Path:
        return self.directory / f"{day}.jsonl"

    def open(self, *, recent_days: int = 2) -> list[LoggedWindow]:
        """Create the directory, load the newest days; return their windows for smoothing."""
        ensure_private_dir(self.directory)
        for day in self.all_day_files():
            # a log restored from a backup or copied in keeps its mode: checked at start
            path = self.path_for(day)
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
                log.warning("permissions_tightened", path=str(path), mode="0600")
            if not _supported(day):
                log.warning(
                    "label_log_day_ignored",
                    file=str(path),
                    reason=f"outside the supported times {RANGE}; no reader uses it",
                )
        loaded: list[LoggedWindow] = []
        for day in self.day_files()[-recent_days:]:
            loaded.extend(self.load(day).windows)
        return loaded

    def load(self, day: str) -> DayIndex:
        """The index of ``day``, reading (and repairing) its file on first use."""
        index = self._days.get(day)
        if index is not None:
            self._days.move_to_end(day)
            return index
        index = self._read_day(day)
        self._days[day] = index
        while len(self._days) > self.max_days:
            evicted, _ = self._days.popitem(last=False)
            fd = self._fds.pop(evicted, None)
            if fd is not None:
                os.close(fd)
        return index

    def is_loaded(self, day: str) -> bool:
        return day in self._days

    def contains(self, key: tuple[str, str]) -> bool:
        return key in self.load(key[1][:10]).keys

    def _read_day(self, day: str) -> DayIndex:
        path = self.path_for(day)
        index = DayIndex()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return index
        read = split_lines(data)
        if read.torn:
            # a crash mid-append: the torn record was never fsynced, so its spool file is
            # still in cur/ and will be labelled again; cut it so nothing is glued to it
            os.truncate(path, len(data) - len(read.torn))
            log.warning("label_log_repaired", file=str(path), bytes_dropped=len(read.torn))
        elif data and not data.endswith(b"\n"):
            # a whole record without its newline (an editor, a copy): kept, and ended so
            # the next append starts a line of its own
            _end_line(path)
            log.warning("label_log_repaired", file=str(path), newline_added=True)
        bad = 0
        for _, line in read.lines:
            try:
                logged = parse_logged_window(line)
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            index.keys.add(logged.key)
            index.windows.append(logged)
        if bad:
            log.warning("label_log_unreadable_lines", file=str(path), lines=bad)
        return index

    # --- writing -------------------------------------------------------------------

    def append(self, records: Sequence[LabelRecord]) -> None:
        """Append, flush and fsync ``records``; on return they survive a crash.

        All or nothing: if any write or fsync fails, every file this call touched is cut
        back to its length before the call and :class:`AppendFailed` is raised, so no
        partial record is left and no key is indexed; the caller keeps the spool files in
        cur/ and may retry with the same records.
        """
        by_day: dict[str, list[LabelRecord]] = defaultdict(list)
        for record in records:
            by_day[record.day].append(record)
        touched: list[tuple[str, int, int]] = []  # day, fd, length before this call
        path = self.directory
        indexes: list[tuple[DayIndex, list[LabelRecord]]] = []
        try:
            for day, day_records in by_day.items():
                path = self.path_for(day)
                indexes.append((self.load(day), day_records))
            for day, day_records in by_day.items():
                path = self.path_for(day)
                fd, created = self._fd(day)
                # a new file is durable once its directory entry is; a failed attempt leaves
                # the file behind (empty) and the retry finds it existing, so the flag is set
                # now and outlives the attempt until the directory fsync succeeds
                self._dir_unsynced = self._dir_unsynced or created
                touched.append((day, fd, os.fstat(fd).st_size))
                view = memoryview(b"".join(r.to_json_line() for r in day_records))
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            if self._dir_unsynced:
                path = self.directory
                fsync_dir(self.directory)
                self._dir_unsynced = False
        except OSError as exc:
            clean = self._roll_back(touched)
            raise AppendFailed(exc, path, clean=clean) from exc
        for index, day_records in indexes:
            index.keys.update(r.key for r in day_records)

    def _roll_back(self, touched: list[tuple[str, int, int]]) -> bool:
        """Cut each file back to its old length; True if all were. Their fds are closed."""
        clean = True
        for day, fd, length in touched:
            try:
                os.ftruncate(fd, length)
                os.fsync(fd)
            except OSError as exc:
                # the file may end in a partial record: forget what we know of the day, so
                # the next use re-reads it from disk (and cuts a torn tail) before appending
                clean = False
                self._days.pop(day, None)
                log.error(
                    "label_log_rollback_failed",
                    file=str(self.path_for(day)),
                    error=str(exc),
                    length=length,
                )
            # a fresh descriptor for the retry: no error state carried over, and a file
            # replaced meanwhile (a remount, a restore) is opened anew
            self._fds.pop(day, None)
            os.close(fd)
        return clean

    def _fd(self, day: str) -> tuple[int, bool]:
        fd = self._fds.get(day)
        if fd is not None:
            return fd, False
        path = self.path_for(day)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            created = False
        except FileNotFoundError:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            created = True
        self._fds[day] = fd
        return fd, created

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    # --- retention -----------------------------------------------------------------

    def newest_day(self) -> str | None:
        """The newest supported day whose file holds something (None: no such day)."""
        for day in reversed(self.day_files()):
            try:
                if self.path_for(day).stat().st_size:
                    return day
            except FileNotFoundError:
                continue
        return None

    def prune(self, keep_days: float, today: date) -> list[str]:
        """Delete day files older than ``keep_days`` before ``today``; return the days removed.

        The newest day that holds records is never deleted, whatever ``today`` says.
        """
        try:
            cutoff = (today - timedelta(days=keep_days)).isoformat()
        except OverflowError:
            return []  # a retention longer than the calendar: nothing is that old
        newest = self.newest_day()
        removed = []
        for day in self.day_files():
            if day < cutoff and day != newest:
                self._days.pop(day, None)
                fd = self._fds.pop(day, None)
                if fd is not None:
                    os.close(fd)
                self.path_for(day).unlink(missing_ok=True)
                removed.append(day)
        return removed

    def iter_records(self, days: Iterable[str] | None = None) -> Iterator[bytes]:
        """Raw lines of the given days (all by default), for the commands that read the log;
        a torn last line (an append in progress) is not one."""
        for day in self.day_files() if days is None else days:
            try:
                data = self.path_for(day).read_bytes()
            except FileNotFoundError:
                continue
            yield from (line for _, line in split_lines(data).lines)

    def recent_records(self, days: int) -> Iterator[dict[str, Any]]:
        """Every readable record of the newest ``days`` day files (damaged lines skipped)."""
        for line in self.iter_records(self.day_files()[-days:]):
            try:
                record = pydantic_core.from_json(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record

    # --- smoothing warm-up ---------------------------------------------------------

    def warm(self, day: str, lookback_seconds: float) -> list[LoggedWindow]:
        """Load ``day`` and the days smoothing may look back into from it (once per day).

        Returns the windows of the days read now, for the caller's smoothing state (merging
        is idempotent, so a day read again after eviction does no harm).
        """
        if day in self._warmed:
            return []
        last = date.fromisoformat(day)
        windows: list[LoggedWindow] = []
        for back in range(math.ceil(lookback_seconds / 86400), -1, -1):
            if back > (last - date.min).days:
                continue  # no days before 0001-01-01 to look back into
            key = (last - timedelta(days=back)).isoformat()
            if not self.is_loaded(key):
                windows.extend(self.load(key).windows)
        self._warmed.add(day)  # only once every day it needs is in
        return windows

    def unwarm(self, days: Iterable[str]) -> None:
        """Read ``days`` again at their next :meth:`warm` (their file changed under us)."""
        self._warmed.difference_update(days)
        for day in days:
            self._days.pop(day, None)


def _supported(day: str) -> bool:
    try:
        return day_in_range(date.fromisoformat(day))
    except ValueError:  # 2026-02-30.jsonl: not a day
        return False


def _end_line(path: Path) -> None:
    """Append the newline a complete last record lacks (fsynced: appends rely on it)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
