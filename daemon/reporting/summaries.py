"""Day summaries from the label log, cached beside it and rebuilt when a day file changes.

A local day's figures depend on the UTC day files of the local days whose windows' time can
fall on it (the day and the one before it: a span lasts at most a day; two or three files).
The summary of every user for that day is cached in
``<data_dir>/cache/report/<zone>/<YYYY-MM-DD>.json`` (0600, dirs 0700) together with the
size and mtime of each of those files; any change to one of them (an append, a rewrite,
retention deleting it) makes the entry stale and it is rebuilt from the log. The log is
the only source of truth: deleting the cache costs one slower run, nothing else.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final

from daemon.fsutil import atomic_write_bytes
from daemon.localtz import zone_key
from daemon.paths import ensure_private_dir
from taskclf_core.daily import (
    DEFAULT_IDLE_GAP_SECONDS,
    DayReport,
    LoggedLabel,
    build_day_reports,
    label_from_record,
    reach_days,
    utc_days_overlapping,
)
from taskclf_core.jsonl import split_lines

__all__ = ["CACHE_VERSION", "DaySummaries", "ReportData", "read_day_file"]

# 2: the time each window stands for (span, away, split at midnight), taskclf's centred vote
CACHE_VERSION: Final = 2
_DAY_FILE: Final = re.compile(r"(\d{4}-\d{2}-\d{2})\.jsonl")
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.+-]")

Signature = tuple[int, int] | None  # (size, mtime_ns) of a day file; None: no such file


@dataclass(frozen=True, slots=True)
class DayFile:
    """The records of one UTC day file, and its damaged lines."""

    records: list[dict[str, Any]]
    skipped: int


def read_day_file(path: Path) -> DayFile:
    """Every record of ``path``; a damaged line is skipped and counted.

    A torn last line (no newline, not JSON) is a record still being appended: it is left
    for the next run, not counted as damaged; a whole record that lacks only its newline is
    read (:mod:`taskclf_core.jsonl`).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return DayFile([], 0)
    records: list[dict[str, Any]] = []
    skipped = 0
    for _, line in split_lines(data).lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            skipped += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            skipped += 1
    return DayFile(records, skipped)


def _labels(day_file: DayFile) -> tuple[list[LoggedLabel], int]:
    labels: list[LoggedLabel] = []
    skipped = day_file.skipped
    for record in day_file.records:
        try:
            labels.append(label_from_record(record))
        except ValueError:
            skipped += 1
    return labels, skipped


# the top-level "user_id" key of a record; inside a JSON string a quote is escaped, so a
# value that merely contains this text cannot match
_USER_ID: Final = re.compile(rb'"user_id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _user_ids(path: Path) -> list[str]:
    """The users of one day file, without parsing whole records (10x faster on a year)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    names = set()
    for raw in set(_USER_ID.findall(data)):
        try:
            name = json.loads(b'"' + raw + b'"')
        except ValueError:
            continue
        if isinstance(name, str) and name:
            names.add(name)
    return sorted(names)


@dataclass(frozen=True, slots=True)
class ReportData:
    """The summaries of some local days, and what it took to get them."""

    reports: list[DayReport]  # sorted by user, then day; only (user, day)s with windows
    skipped: int  # damaged lines in the day files those days overlap
    files: list[Path]  # the day files read (those days', and the day before's: its spans)
    cached_days: int  # days answered from the cache
    built_days: int  # days rebuilt from the log


class DaySummaries:
    """Reads ``labels_dir`` for local days in ``tz``; caches in ``cache_dir`` (None: never)."""

    def __init__(
        self,
        labels_dir: Path,
        tz: tzinfo,
        *,
        cache_dir: Path | None = None,
        idle_gap: float = DEFAULT_IDLE_GAP_SECONDS,
    ) -> None:
        self.labels_dir = labels_dir
        self.tz = tz
        self.idle_gap = idle_gap
        key = zone_key(tz)
        # a zone without a stable name cannot be told apart from another: no cache then
        self.cache_dir = (
            None if cache_dir is None or key is None else cache_dir / _UNSAFE.sub("_", key)
        )
        self._zone_key = key
        self._cache_root = cache_dir

    def _private_dirs(self, leaf: Path) -> None:
        # mkdir(parents=True) gives the parents default modes: make each level 0700
        root = self._cache_root if self._cache_root is not None else leaf
        for path in (root.parent, root, leaf):
            ensure_private_dir(path)

    # --- the log -------------------------------------------------------------------

    def path_for(self, day: date) -> Path:
        return self.labels_dir / f"{day.isoformat()}.jsonl"

    def day_files(self) -> list[date]:
        """UTC days present in the log, oldest first."""
        try:
            names = os.listdir(self.labels_dir)
        except (FileNotFoundError, NotADirectoryError):
            return []
        days = []
        for name in names:
            match = _DAY_FILE.fullmatch(name)
            if match:
                try:
                    days.append(date.fromisoformat(match.group(1)))
                except ValueError:
                    continue
        return sorted(days)

    def _signature(self, day: date) -> Signature:
        try:
            st = os.stat(self.path_for(day))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return (st.st_size, st.st_mtime_ns)

    # --- the cache -----------------------------------------------------------------

    def _cache_path(self, day: date) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"{day.isoformat()}.json"

    def _sources(self, day: date, signatures: dict[date, Signature]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for utc_day in utc_days_overlapping(reach_days([day], self.tz), self.tz):
            sig = signatures.get(utc_day)
            out[utc_day.isoformat()] = None if sig is None else list(sig)
        return out

    def _load_cached(
        self, day: date, sources: dict[str, Any]
    ) -> tuple[list[DayReport], dict[str, int]] | None:
        path = self._cache_path(day)
        if path is None:
            return None
        try:
            doc = json.loads(path.read_bytes())
            if (
                doc.get("version") != CACHE_VERSION
                or doc.get("zone") != self._zone_key
                or doc.get("idle_gap") != self.idle_gap
                or doc.get("sources") != sources
            ):
                return None
            reports = [DayReport.from_dict(r) for r in doc["reports"]]
            skipped = {str(k): int(v) for k, v in doc["skipped"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing, stale format or damaged: rebuild
        return reports, skipped

    def _store(
        self,
        day: date,
        sources: dict[str, Any],
        reports: Sequence[DayReport],
        skipped: dict[str, int],
    ) -> None:
        path = self._cache_path(day)
        if path is None:
            return
        doc = {
            "version": CACHE_VERSION,
            "zone": self._zone_key,
            "idle_gap": self.idle_gap,
            "sources": sources,
            "skipped": skipped,
            "reports": [r.to_dict() for r in reports],
        }
        try:
            self._private_dirs(path.parent)
            # not fsynced: a cache entry lost in a crash is rebuilt, never wrong
            atomic_write_bytes(path, json.dumps(doc).encode(), durable=False)
        except OSError:
            pass  # a read-only data dir still gets its report, just not faster next time

    # --- days ----------------------------------------------------------------------

    def load(self, days: Iterable[date], *, users: Iterable[str] | None = None) -> ReportData:
        """Summaries of the local ``days`` (every user, or only ``users``)."""
        wanted = sorted(set(days))
        utc_days = utc_days_overlapping(reach_days(wanted, self.tz), self.tz)
        signatures = {d: self._signature(d) for d in utc_days}
        reports: list[DayReport] = []
        skipped_by_file: dict[str, int] = {}
        missing: list[date] = []
        cached = 0
        for day in wanted:
            sources = self._sources(day, signatures)
            if all(sig is None for sig in sources.values()):
                continue  # nothing logged: nothing to read or to cache
            hit = self._load_cached(day, sources)
            if hit is None:
                missing.append(day)
                continue
            cached += 1
            reports.extend(hit[0])
            skipped_by_file.update(hit[1])
        if missing:
            built, skipped = self._build(missing, signatures)
            reports.extend(built)
            skipped_by_file.update(skipped)
        if users is not None:
            keep = set(users)
            reports = [r for r in reports if r.user_id in keep]
        reports.sort(key=lambda r: (r.user_id, r.date))
        return ReportData(
            reports=reports,
            skipped=sum(skipped_by_file.values()),
            files=[self.path_for(d) for d in utc_days if signatures[d] is not None],
            cached_days=cached,
            built_days=len(missing),
        )

    def _build(
        self, days: list[date], signatures: dict[date, Signature]
    ) -> tuple[list[DayReport], dict[str, int]]:
        labels: list[LoggedLabel] = []
        skipped: dict[str, int] = {}
        for utc_day in utc_days_overlapping(reach_days(days, self.tz), self.tz):
            if signatures.get(utc_day) is None:
                continue
            file_labels, bad = _labels(read_day_file(self.path_for(utc_day)))
            labels.extend(file_labels)
            skipped[utc_day.isoformat()] = bad
        reports = build_day_reports(labels, self.tz, idle_gap=self.idle_gap, days=days)
        by_day: dict[date, list[DayReport]] = {d: [] for d in days}
        for report in reports:
            by_day[report.date].append(report)
        counted: dict[str, int] = {}
        for day, day_reports in by_day.items():
            sources = self._sources(day, signatures)
            # damaged lines are counted for the days whose files hold them, not the day after
            own = {
                d.isoformat(): skipped.get(d.isoformat(), 0)
                for d in utc_days_overlapping([day], self.tz)
                if signatures.get(d) is not None
            }
            counted.update(own)
            self._store(day, sources, day_reports, own)
        return reports, counted

    def day_sources(self, days: Iterable[date]) -> dict[date, dict[str, Any]]:
        """Per local day, the day files its summary is built from, with their size and mtime
        (None: absent): what its cache entry is keyed by. A day whose sources did not
        change has the same summary."""
        wanted = sorted(set(days))
        utc_days = utc_days_overlapping(reach_days(wanted, self.tz), self.tz)
        signatures = {d: self._signature(d) for d in utc_days}
        return {day: self._sources(day, signatures) for day in wanted}

    # --- users and recent records -------------------------------------------------

    def users(self) -> list[str]:
        """Every user with a window anywhere in the log (a per-file index is cached)."""
        index_path = None if self._cache_root is None else self._cache_root / "users.json"
        index: dict[str, Any] = {}
        if index_path is not None:
            try:
                doc = json.loads(index_path.read_bytes())
                if doc.get("version") == CACHE_VERSION and isinstance(doc.get("files"), dict):
                    index = doc["files"]
            except (OSError, ValueError, AttributeError):
                index = {}
        fresh: dict[str, Any] = {}
        users: set[str] = set()
        for day in self.day_files():
            key = day.isoformat()
            sig = self._signature(day)
            if sig is None:
                continue
            entry = index.get(key)
            if isinstance(entry, list) and len(entry) == 3 and entry[:2] == list(sig):
                names = [str(u) for u in entry[2]]
            else:
                names = _user_ids(self.path_for(day))
            fresh[key] = [*sig, names]
            users.update(names)
        if index_path is not None and fresh != index:
            try:
                self._private_dirs(index_path.parent)
                data = json.dumps({"version": CACHE_VERSION, "files": fresh}).encode()
                atomic_write_bytes(index_path, data, durable=False)
            except OSError:
                pass
        return sorted(users)

    def recent_records(self, now: datetime, *, days: int = 8) -> Iterator[dict[str, Any]]:
        """Records of the UTC day files of the last ``days`` days up to ``now`` (for drift)."""
        last = now.astimezone(UTC).date()
        for offset in range(days, -1, -1):
            yield from read_day_file(self.path_for(last - timedelta(days=offset))).records
