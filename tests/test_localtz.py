"""One local time zone: `label add 09:00` and `report` read "local" alike, whatever $TZ says."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from daemon_harness import run_cli

MINUTE = timedelta(minutes=1)


def _record(start: datetime) -> dict[str, object]:
    """A label-log record of user u1 for the minute from ``start``, the fields report reads."""
    return {
        "user_id": "u1",
        "bucket_start_ts": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bucket_end_ts": (start + MINUTE).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "core_label": "Debug",
        "core_probs": {"Debug": 0.9, "Build": 0.1},
        "confidence": 0.9,
        "is_rejected": False,
        "label": "Debug",
        "smoothed_label": "Debug",
        "model_bundle_id": "m",
        "processed_at": "2026-06-17T12:00:00Z",
    }


@pytest.mark.parametrize(
    ("tz", "offset"),
    [
        ("Europe/Berlin", "+02:00"),  # a zone (summer time on that day)
        (":Europe/Berlin", "+02:00"),  # the C library's spelling of the same
        ("XYZ-3", "+03:00"),  # a POSIX rule, no zone of that name: as the C library reads it
        ("America/Nowhere", "+00:00"),  # no such zone: the C library takes it for UTC
        (None, None),  # unset: /etc/localtime, whatever this machine's is
    ],
)
def test_label_add_and_report_agree_on_local_nine_oclock(
    tz: str | None, offset: str | None, tmp_path: Path, isolated_home: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TZ"}
    if tz is not None:
        env["TZ"] = tz
    data = tmp_path / "data"
    env["TASKCLF_DATA_DIR"] = str(data)
    add = run_cli(
        *("label", "add", "--from", "2026-06-17 09:00", "--to", "2026-06-17 10:00"),
        *("Debug", "--user", "u1"),
        env=env,
    )
    assert add.returncode == 0, add.stderr
    (span,) = [json.loads(line) for line in (data / "label_spans.jsonl").read_text().splitlines()]
    start = datetime.fromisoformat(span["start_ts"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(span["end_ts"].replace("Z", "+00:00"))
    assert end - start == timedelta(hours=1)
    # the daemon labelled each minute of that hour; report draws it on its local day
    (data / "labels").mkdir(parents=True)
    minute = start
    while minute < end:
        path = data / "labels" / f"{minute:%Y-%m-%d}.jsonl"
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(_record(minute.astimezone(UTC))) + "\n")
        minute += MINUTE
    shown = run_cli("report", "--date", "2026-06-17", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    (report,) = json.loads(shown.stdout)["reports"]
    ((seg_start, seg_end, label, windows),) = report["segments"]
    assert (label, windows) == ("Debug", 60)
    assert seg_start.startswith("2026-06-17T09:00:00")
    assert seg_end.startswith("2026-06-17T10:00:00")
    assert datetime.fromisoformat(seg_start) == start, "label and report read 09:00 differently"
    if offset is not None:
        assert seg_start == f"2026-06-17T09:00:00{offset}"
