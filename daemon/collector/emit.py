"""Feature windows into the spool: written in tmp/, renamed into new/, named by time."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from daemon.fsutil import fsync_dir
from daemon.paths import ensure_private_dir

__all__ = ["WindowFile", "spool_file_name", "write_windows"]


def _compact(ts: object) -> str:
    # "2026-03-02T08:00:00Z" -> "20260302T080000Z"
    return str(ts).replace("-", "").replace(":", "")


def spool_file_name(rows: Sequence[dict[str, object]]) -> str:
    """``<first minute>_<last minute>_aw.jsonl``: name order is time order, and the same
    minutes always get the same name (a re-emission after a crash replaces, not adds)."""
    return _name(rows[0]["bucket_start_ts"], rows[-1]["bucket_start_ts"])


def _name(first: object, last: object) -> str:
    return f"{_compact(first)}_{_compact(last)}_aw.jsonl"


class WindowFile:
    """One spool file written a few rows at a time: into ``tmp/`` as they come, then (on
    :meth:`commit`) fsynced and renamed into ``new/`` as ``<first>_<last>_aw.jsonl``.

    A day's rows in schema v3 are ~9 KB each: written as they are built, a back-fill never
    holds them all (nor their text) at once. Leaving the ``with`` block without a commit
    removes the partial file: nothing half-written reaches ``new/``.
    """

    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self._tmp = spool / "tmp" / f".aw-collector.{os.getpid()}.part"
        self._fh: BinaryIO | None = None
        self.first: object = None  # the bucket_start_ts of the first and last rows written
        self.last: object = None
        self.rows = 0

    def __enter__(self) -> WindowFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()

    def write(self, rows: Iterable[dict[str, object]]) -> None:
        for row in rows:
            if self._fh is None:
                for d in (self.spool, self.spool / "tmp", self.spool / "new"):
                    ensure_private_dir(d)
                fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                self._fh = os.fdopen(fd, "wb")
                self.first = row["bucket_start_ts"]
            line = json.dumps(row, separators=(",", ":"), allow_nan=False) + "\n"
            self._fh.write(line.encode("utf-8"))
            self.last = row["bucket_start_ts"]
            self.rows += 1

    def commit(self) -> str | None:
        """Make the file durable and move it into ``new/``; its name, or None (no rows)."""
        if self._fh is None:
            return None
        fh, self._fh = self._fh, None
        try:
            try:
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fh.close()
            name = _name(self.first, self.last)
            os.replace(self._tmp, self.spool / "new" / name)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.spool / "new")
        return name

    def discard(self) -> None:
        """Drop what was written and not committed (nothing, after a commit)."""
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.close()
            self._tmp.unlink(missing_ok=True)


def write_windows(spool: Path, rows: Sequence[dict[str, object]]) -> str:
    """Write ``rows`` (at least one) as one JSONL file into ``spool/new`` (durably); its name."""
    with WindowFile(spool) as out:
        out.write(rows)
        name = out.commit()
    if name is None:
        raise ValueError("write_windows: no rows")
    return name
