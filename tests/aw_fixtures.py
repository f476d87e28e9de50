"""The taskclf-made ActivityWatch cases in tests/fixtures/aw-sample, and a row comparison."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

AW_SAMPLE = Path(__file__).resolve().parent / "fixtures" / "aw-sample"
CASES = ("workday", "no-input")
HOSTNAME = "fixturehost"


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    date: str
    user_id: str
    salt: str
    versions: tuple[str, ...]

    @property
    def export_path(self) -> Path:
        return self.path / "aw-export.json"

    def export(self) -> dict[str, Any]:
        return _export(self.export_path)

    def expected(self, version: str) -> list[dict[str, Any]]:
        return _expected(self.path / f"expected_{version}.jsonl")


@cache
def _export(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@cache
def _expected(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_case(name: str) -> Case:
    path = AW_SAMPLE / name
    meta = json.loads((path / "case.json").read_text())
    return Case(
        name=name,
        path=path,
        date=meta["date"],
        user_id=meta["user_id"],
        salt=meta["title_salt"],
        versions=tuple(meta["schema_versions"]),
    )


def still_watching(buckets: dict[str, Any]) -> dict[str, Any]:
    """``buckets`` (an export's) with the window watcher still running: an event now.

    A live collector's clock is ActivityWatch's data plus the time it measured since: on a
    server whose data stops with the fixture's day it writes the day's last minute only
    ``collect_settle_seconds`` after its first poll. A live test that wants the whole day at
    its first poll models a running desktop with this. ``collect --once`` needs no such event.
    """
    out = dict(buckets)
    for bucket_id, bucket in buckets.items():
        if bucket.get("type") == "currentwindow":
            now = datetime.now(UTC).isoformat()
            event = {"timestamp": now, "duration": 1.0, "data": {"app": "later"}}
            out[bucket_id] = {**bucket, "events": [*bucket["events"], event]}
    return out


def parity_cases() -> list[tuple[str, str]]:
    return [(name, v) for name in CASES for v in load_case(name).versions]


def row_differences(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> list[str]:
    """Every field that differs (numbers within 1e-9; types of bool/int/str/null must match)."""
    problems: list[str] = []
    if len(expected) != len(got):
        problems.append(f"{len(got)} rows, expected {len(expected)}")
    for want, have in zip(expected, got, strict=False):
        where = want.get("bucket_start_ts")
        if list(want) != [k for k in have if k in want] or set(want) - set(have):
            problems.append(f"{where}: columns differ: {sorted(set(want) ^ set(have))}")
        for key, value in want.items():
            other = have.get(key)
            if isinstance(value, float) or isinstance(other, float):
                same = (
                    isinstance(value, int | float)
                    and isinstance(other, int | float)
                    and not isinstance(value, bool)
                    and not isinstance(other, bool)
                    and math.isclose(value, other, rel_tol=0.0, abs_tol=1e-9)
                )
            else:
                same = value == other and type(value) is type(other)
            if not same:
                problems.append(f"{where}: {key}: expected {value!r}, got {other!r}")
    return problems
