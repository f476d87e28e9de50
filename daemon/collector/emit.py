"""Feature windows into the spool: written in tmp/, renamed into new/, named by time."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from daemon.fsutil import fsync_dir
from daemon.paths import ensure_private_dir

__all__ = ["spool_file_name", "write_windows"]


def _compact(ts: object) -> str:
    # "2026-03-02T08:00:00Z" -> "20260302T080000Z"
    return str(ts).replace("-", "").replace(":", "")


def spool_file_name(rows: Sequence[dict[str, object]]) -> str:
    """``<first minute>_<last minute>_aw.jsonl``: name order is time order, and the same
    minutes always get the same name (a re-emission after a crash replaces, not adds)."""
    return (
        f"{_compact(rows[0]['bucket_start_ts'])}_{_compact(rows[-1]['bucket_start_ts'])}_aw.jsonl"
    )


def write_windows(spool: Path, rows: Sequence[dict[str, object]]) -> str:
    """Write ``rows`` as one JSONL file into ``spool/new`` (durably); returns its name."""
    tmp_dir, new_dir = spool / "tmp", spool / "new"
    for d in (spool, tmp_dir, new_dir):
        ensure_private_dir(d)
    name = spool_file_name(rows)
    body = "".join(json.dumps(r, separators=(",", ":"), allow_nan=False) + "\n" for r in rows)
    tmp = tmp_dir / f".{name}.{os.getpid()}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, new_dir / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(new_dir)
    return name
