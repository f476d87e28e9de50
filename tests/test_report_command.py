"""`taskclf-daemon report`: only the overlapped day files, the cache, three forms, errors."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from daemon_harness import run_cli

from daemon.cli import main
from daemon.reporting.summaries import CACHE_VERSION, DaySummaries
from taskclf_core.labels import CORE_LABELS
from taskclf_core.synthetic import generate_label_log

BERLIN = ZoneInfo("Europe/Berlin")
MINUTE = timedelta(minutes=1)


def write_log(labels: Path, records: Iterable[dict[str, Any]], *, mode: str = "w") -> list[Path]:
    """Records into ``labels/<UTC day>.jsonl`` as the daemon lays them out (0600)."""
    labels.mkdir(parents=True, exist_ok=True, mode=0o700)
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_day[record["bucket_start_ts"][:10]].append(record)
    paths = []
    for day, day_records in sorted(by_day.items()):
        path = labels / f"{day}.jsonl"
        with open(path, mode, encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in day_records)
        path.chmod(0o600)
        paths.append(path)
    return paths


def _z(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rec(start: datetime, label: str, user: str = "alice", **extra: Any) -> dict[str, Any]:
    rejected = label == "Mixed/Unknown"
    out = {
        "user_id": user,
        "bucket_start_ts": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bucket_end_ts": (start + MINUTE).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "core_label": "Build",
        "core_probs": {"Build": 0.7, "Debug": 0.3},
        "confidence": 0.4 if rejected else 0.7,
        "is_rejected": rejected,
        "label": label,
        "smoothed_label": label,
        "mapped_label": label,
        "calibrator": "global",
        "reject_threshold": 0.55,
        "model_bundle_id": "model-a",
        "model_schema_hash": "h",
        "store_id": None,
        "source": "x.json",
        "processed_at": "2026-03-29T00:00:00Z",
    }
    out.update(extra)
    return out


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    monkeypatch.delenv("NO_COLOR", raising=False)
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path


def dst_day_log() -> list[dict[str, Any]]:
    """Berlin's 23-hour 2026-03-29: its windows are in the 03-28 and 03-29 UTC files."""
    early = datetime(2026, 3, 29, 0, 30, tzinfo=BERLIN)  # 23:30Z on the 28th
    late = datetime(2026, 3, 29, 23, 0, tzinfo=BERLIN)  # 21:00Z on the 29th
    records = [rec(early + i * MINUTE, "Write") for i in range(45)]
    records += [rec(late + i * MINUTE, "Debug") for i in range(30)]
    records += [rec(late + (30 + i) * MINUTE, "Mixed/Unknown") for i in range(5)]
    records += [
        rec(late + i * MINUTE, "Meet", user="bob", model_bundle_id="model-b") for i in range(10)
    ]
    return records


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- JSON --------------------------------------------------------------------------------


def test_json_for_a_dst_day_across_two_utc_files(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(data_dir / "labels", dst_day_log())
    code, out, _ = report(capsys, "--data-dir", str(data_dir), "--date", "2026-03-29", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["timezone"] == "Europe/Berlin"
    assert (doc["from"], doc["to"]) == ("2026-03-29", "2026-03-29")
    alice, bob = doc["reports"]
    assert alice["user_id"] == "alice"
    assert alice["date"] == "2026-03-29"
    assert alice["total_minutes"] == 80.0
    assert alice["core_breakdown"] == {"Debug": 30.0, "Mixed/Unknown": 5.0, "Write": 45.0}
    assert alice["mapped_breakdown"] is None
    assert alice["segments"] == [
        ["2026-03-29T00:30:00+01:00", "2026-03-29T01:15:00+01:00", "Write", 45],
        ["2026-03-29T23:00:00+02:00", "2026-03-29T23:30:00+02:00", "Debug", 30],
        ["2026-03-29T23:30:00+02:00", "2026-03-29T23:35:00+02:00", "Mixed/Unknown", 5],
    ]
    assert alice["segments_count"] == 3
    assert alice["reject_rate"] == round(5 / 80, 4)
    assert alice["flap_rate_raw"] == round(2 / 80, 4)
    assert alice["models"] == ["model-a"]
    assert bob["models"] == ["model-b"]
    assert bob["total_minutes"] == 10.0
    assert doc["drift"] == {}  # the day is in the past: no "now" figures
    # every other field, worked out by hand from dst_day_log()
    assert alice["flap_rate_smoothed"] == 0.025  # Write → Debug → Mixed/Unknown: 2 of 80
    assert alice["windows"] == 80
    assert alice["mean_confidence"] == round((75 * 0.7 + 5 * 0.4) / 80, 4)
    assert alice["stores"] == [None]
    assert alice["focus_blocks"] == alice["segments"][:2]  # the rejected 5 minutes are not
    assert bob == {
        "user_id": "bob",
        "date": "2026-03-29",
        "total_minutes": 10.0,
        "core_breakdown": {"Meet": 10.0},
        "mapped_breakdown": None,
        "segments_count": 1,
        "flap_rate_raw": 0.0,
        "flap_rate_smoothed": 0.0,
        "reject_rate": 0.0,
        "segments": [["2026-03-29T23:00:00+02:00", "2026-03-29T23:10:00+02:00", "Meet", 10]],
        "models": ["model-b"],
        "windows": 10,
        "mean_confidence": 0.7,
        "stores": [None],
        "focus_blocks": [],
        "away_minutes": 0.0,
    }
    assert sorted(alice) == sorted(bob)


def test_a_range_and_one_user(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_log(data_dir / "labels", dst_day_log())
    code, out, _ = report(
        capsys,
        "--data-dir",
        str(data_dir),
        "--from",
        "2026-03-27",
        "--to",
        "2026-03-30",
        "--user",
        "bob",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    assert [(r["user_id"], r["date"]) for r in doc["reports"]] == [("bob", "2026-03-29")]


def test_only_the_overlapped_day_files_are_read(data_dir: Path) -> None:
    """The day's files, and the day before's (a span of its last window may run past
    midnight); damaged lines are counted for the day whose files hold them."""
    labels = data_dir / "labels"
    write_log(labels, dst_day_log())
    with (labels / "2026-03-28.jsonl").open("a") as fh:
        fh.write('{"broken\n')
    (labels / "2026-03-27.jsonl").write_text("not json at all\n" * 3)
    (labels / "2026-03-26.jsonl").write_text("not json either\n")
    (labels / "2026-03-30.jsonl").write_text("not json either\n")
    summaries = DaySummaries(labels, BERLIN)
    data = summaries.load([date(2026, 3, 29)])
    # Berlin's 28th (the day before) is 23:00Z on the 27th to 23:00Z on the 28th
    assert data.files == [labels / f"2026-03-{d}.jsonl" for d in (27, 28, 29)]
    assert data.skipped == 1  # only the damaged line of a file the day overlaps
    assert sum(r.windows for r in data.reports) == 90


# --- the cache ---------------------------------------------------------------------------


def test_the_cache_answers_a_repeat_and_notices_an_append(data_dir: Path) -> None:
    labels = data_dir / "labels"
    cache = data_dir / "cache" / "report"
    write_log(labels, dst_day_log())
    days = [date(2026, 3, 28), date(2026, 3, 29)]
    first = DaySummaries(labels, BERLIN, cache_dir=cache).load(days)
    assert (first.cached_days, first.built_days) == (0, 2)
    again = DaySummaries(labels, BERLIN, cache_dir=cache).load(days)
    assert (again.cached_days, again.built_days) == (2, 0)
    assert again.reports == first.reports
    for path in [cache.parent, cache, *cache.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    # the daemon appends a window to the 29th's file: only the day that reads it is rebuilt
    later = datetime(2026, 3, 29, 23, 40, tzinfo=BERLIN)
    with open(labels / "2026-03-29.jsonl", "a") as fh:
        fh.write(json.dumps(rec(later, "Review")) + "\n")
    after = DaySummaries(labels, BERLIN, cache_dir=cache).load(days)
    assert (after.cached_days, after.built_days) == (1, 1)
    alice = next(r for r in after.reports if r.user_id == "alice" and r.date == days[1])
    assert alice.core_breakdown["Review"] == 1.0


def test_a_damaged_or_foreign_cache_entry_is_rebuilt(data_dir: Path) -> None:
    labels = data_dir / "labels"
    cache = data_dir / "cache" / "report"
    write_log(labels, dst_day_log())
    day = [date(2026, 3, 29)]
    built = DaySummaries(labels, BERLIN, cache_dir=cache).load(day)
    (entry,) = (cache / "Europe_Berlin").glob("*.json")
    entry.write_text('{"version": 1, "reports": [')
    assert DaySummaries(labels, BERLIN, cache_dir=cache).load(day).reports == built.reports
    # another idle gap or another zone never reuses it
    other = DaySummaries(labels, BERLIN, cache_dir=cache, idle_gap=30.0).load(day)
    assert other.built_days == 1
    utc = DaySummaries(labels, UTC, cache_dir=cache).load(day)
    assert utc.built_days == 1
    assert (cache / "UTC").is_dir()


def test_a_read_only_cache_dir_still_reports(data_dir: Path) -> None:
    labels = data_dir / "labels"
    write_log(labels, dst_day_log())
    blocked = data_dir / "cache"
    blocked.write_text("a file where the cache dir would be")
    data = DaySummaries(labels, BERLIN, cache_dir=blocked / "report").load([date(2026, 3, 29)])
    assert len(data.reports) == 2


def test_a_line_being_appended_is_not_damage(data_dir: Path) -> None:
    labels = data_dir / "labels"
    write_log(labels, dst_day_log())
    with open(labels / "2026-03-29.jsonl", "a") as fh:
        fh.write('{"user_id": "alice", "bucket_st')  # no newline yet
    data = DaySummaries(labels, BERLIN).load([date(2026, 3, 29)])
    assert data.skipped == 0


def test_users_index(data_dir: Path) -> None:
    labels = data_dir / "labels"
    write_log(labels, dst_day_log())
    write_log(labels, [rec(datetime(2026, 1, 2, 9, tzinfo=UTC), "Build", user="carol")])
    cache = data_dir / "cache" / "report"
    assert DaySummaries(labels, BERLIN, cache_dir=cache).users() == ["alice", "bob", "carol"]
    assert (cache / "users.json").exists()
    (labels / "2026-01-02.jsonl").unlink()
    assert DaySummaries(labels, BERLIN, cache_dir=cache).users() == ["alice", "bob"]
    # only the top-level key counts, escapes are decoded, compact JSON (the daemon's) too
    odd = rec(datetime(2026, 1, 3, 9, tzinfo=UTC), "Build", user='d"q', source='"user_id": "x"')
    (labels / "2026-01-03.jsonl").write_text(json.dumps(odd, separators=(",", ":")) + "\n")
    assert DaySummaries(labels, BERLIN, cache_dir=cache).users() == ["alice", "bob", 'd"q']


# --- text -----------------------------------------------------------------------------


class FakeTty(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def test_text_has_the_figures_and_no_colour_off_a_tty(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = generate_label_log(
        user_id="alice",
        start=date(2026, 3, 23),
        days=5,
        tz=BERLIN,
        seed=3,
        buckets={"Build": "Deep work", "Debug": "Deep work", "Meet": "Talk"},
        model_bundle_ids=("m1", "m2"),
    )
    write_log(data_dir / "labels", records)
    code, out, _ = report(capsys, "--data-dir", str(data_dir), "--date", "2026-03-24")
    assert code == 0
    assert "\x1b[" not in out
    assert out.startswith("alice · Tuesday 24 March 2026 · Europe/Berlin")
    for word in ("Build", "buckets", "Deep work", "rejected", "segments", "flap rate"):
        assert word in out
    assert "longest focus" in out
    assert "models         m1" in out
    doc = json.loads(_json(capsys, data_dir, "--date", "2026-03-24"))
    (day,) = doc["reports"]
    minutes = day["core_breakdown"]["Build"]
    build_line = next(line for line in out.splitlines() if line.strip().startswith("Build"))
    hours, rest = divmod(round(minutes), 60)
    assert (f"{hours} h {rest:02d} min" if hours else f"{rest} min") in build_line
    assert f"{day['segments_count']} · flap rate" in out

    code, week, _ = report(
        capsys, "--data-dir", str(data_dir), "--from", "2026-03-23", "--to", "2026-03-29"
    )
    assert "Sat 28 Mar" in week
    assert "no windows" in week
    assert "m1, m2" in week


def _json(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> str:
    assert main(["report", "--data-dir", str(data_dir), *args, "--json"]) == 0
    return capsys.readouterr().out


def test_colour_only_on_a_tty_and_never_with_no_color(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from daemon.commands import report as command
    from daemon.config.settings import load_settings

    write_log(data_dir / "labels", dst_day_log())
    parser_args = _args("--date", "2026-03-29")
    settings = load_settings(None, {"data_dir": str(data_dir)})
    tty = FakeTty()
    assert command.show(parser_args, settings, out=tty) == 0
    assert "\x1b[38;2;" in tty.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    plain = FakeTty()
    command.show(parser_args, settings, out=plain)
    assert "\x1b[" not in plain.getvalue()


def _args(*argv: str) -> Any:
    from daemon.cli import _parser

    return _parser("report").parse_args(["report", *argv])


def test_no_windows_today(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "--data-dir", str(data_dir))
    assert code == 0
    assert out.startswith("no windows labelled ")


@pytest.mark.parametrize("via_policy", [False, True])
def test_default_is_today_with_drift(
    data_dir: Path, capsys: pytest.CaptureFixture[str], via_policy: bool
) -> None:
    """Ten minutes into the local day (the clock is the command's, handed in): today has ten
    windows, and the half hour before midnight is yesterday's."""
    from daemon.commands import report as command
    from daemon.config.settings import load_settings

    now = datetime(2026, 6, 17, 0, 10, tzinfo=BERLIN)
    start = now - timedelta(minutes=30)
    records = [rec(start + i * MINUTE, "Build") for i in range(30)]
    write_log(data_dir / "labels", records)
    # the bundle in force (its directory name is the bundle id the records carry)
    home = data_dir / "taskclf"
    model = home / "models" / "model-a"
    model.mkdir(parents=True)
    made = (now - timedelta(days=10)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (model / "metadata.json").write_text(json.dumps({"created_at": made}))
    flags: dict[str, str] = {"data_dir": str(data_dir)}
    if via_policy:
        policy = {
            "policy_version": "v1",
            "model_dir": "models/model-a",
            "model_schema_hash": "h",
            "model_label_set": sorted(CORE_LABELS),
            "calibrator_store_dir": None,
            "calibration_method": None,
            "reject_threshold": 0.55,
            "per_user_reject_thresholds": None,
            "created_at": made,
            "source": "manual",
            "git_commit": "",
        }
        policy_file = home / "models" / "inference_policy.json"
        policy_file.write_text(json.dumps(policy))
        flags["policy_file"] = str(policy_file)
    else:
        flags["model_dir"] = str(model)
    settings = load_settings(None, flags)
    out = io.StringIO()
    assert command.show(_args("--json"), settings, out=out, now=now) == 0
    doc = json.loads(out.getvalue())
    assert doc["drift"]["alice"]["model"]["age_days"] == pytest.approx(10, abs=0.01)
    assert doc["drift"]["alice"]["model"]["retrain_due"] is True
    assert (doc["from"], doc["to"]) == ("2026-06-17", "2026-06-17")
    assert doc["reports"][0]["windows"] == 10
    drift = doc["drift"]["alice"]
    assert drift["current"]["windows"] == 30  # the last 24 hours, across midnight
    assert not drift["enough_data"]
    text = io.StringIO()
    assert command.show(_args(), settings, out=text, now=now) == 0
    assert "model health now" in text.getvalue()
    assert "drift alice" in text.getvalue()


# --- bad arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--date", "2026-02-30"], "--date: cannot read '2026-02-30' as a day; expected"),
        (["--date", "monday"], "--date: cannot read 'monday' as a day; expected"),
        (
            ["--from", "2026-03-29", "--to", "2026-03-01"],
            "--from/--to: expected --from on or before --to",
        ),
        (["--date", "2026-03-29", "--from", "2026-03-01"], "--date and --from/--to"),
        (["--to", "2026-03-01"], "--to: expected --from as well"),
        (["--from", "2024-01-01", "--to", "2026-01-01"], "at most 366 days"),
        (["--user", "nobody", "--date", "2026-03-29"], "--user: expected a user in the label log"),
        (["--json", "--html", "x.html"], "not allowed with argument"),
        (["--html", "/no/such/dir/x.html"], "--html: expected a file in an existing directory"),
        (["--csv", "-", "--json"], "not allowed with argument"),
        (["--csv", "x.csv", "--html", "x.html"], "not allowed with argument"),
        (["--csv", "/no/such/dir/x.csv"], "--csv: expected a file in an existing directory"),
    ],
)
def test_bad_arguments_exit_2(
    data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    write_log(data_dir / "labels", dst_day_log())
    try:
        code = main(["report", "--data-dir", str(data_dir), *argv])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    if "--user" in argv:
        assert "alice, bob" in err


def test_a_known_user_without_windows_in_range(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(data_dir / "labels", dst_day_log())
    code, out, _ = report(
        capsys, "--data-dir", str(data_dir), "--date", "2026-03-01", "--user", "bob"
    )
    assert code == 0
    assert "bob · Sunday 01 March 2026" in out
    assert "no windows labelled" in out


# --- the page ----------------------------------------------------------------------------


def test_html_is_self_contained_private_and_atomic(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(data_dir / "labels", dst_day_log())
    page = tmp_path / "out" / "report.html"
    page.parent.mkdir()
    page.write_text("old")
    code, out, _ = report(
        capsys,
        "--data-dir",
        str(data_dir),
        "--from",
        "2026-03-28",
        "--to",
        "2026-03-30",
        "--html",
        str(page),
    )
    assert code == 0
    assert out == f"wrote {page} (2 users, 3 days)\n"
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert os.listdir(page.parent) == ["report.html"]
    html = page.read_text(encoding="utf-8")
    lowered = html.lower()
    for banned in ("http://", "https://", "src=", "@import", "url(http", "<link"):
        assert banned not in lowered, banned
    assert html.count('class="seg"') == 4  # alice's three segments and bob's one
    assert "Sun 29 Mar · 23 h" in html
    assert 'data-label="Mixed/Unknown"' in html
    assert "confidence 0.40" in html  # the rejected segment's mean confidence


def test_html_escapes_what_it_shows(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t = datetime(2026, 3, 10, 9, tzinfo=BERLIN)
    write_log(data_dir / "labels", [rec(t, "Build", model_bundle_id="<script>alert(1)</script>")])
    page = tmp_path / "p.html"
    assert (
        main(["report", "--data-dir", str(data_dir), "--date", "2026-03-10", "--html", str(page)])
        == 0
    )
    html = page.read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_real_command_line(data_dir: Path) -> None:
    write_log(data_dir / "labels", dst_day_log())
    env = dict(os.environ, TZ="Europe/Berlin")
    done = run_cli("report", "--data-dir", str(data_dir), "--date", "2026-03-29", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["reports"]) == 2
    bad = run_cli("report", "--data-dir", str(data_dir), "--date", "29/03/2026", env=env)
    assert bad.returncode == 2
    assert "--date" in bad.stderr


def test_the_repeated_hour_of_a_dst_day_is_told_apart(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Berlin 2026-10-25: 02:00-03:00 happens twice (CEST, then CET)
    t = datetime(2026, 10, 25, 0, 40, tzinfo=UTC)  # 02:40 CEST
    records = [rec(t + i * MINUTE, "Build") for i in range(50)]
    records += [rec(t + (50 + i) * MINUTE, "Debug") for i in range(40)]
    write_log(data_dir / "labels", records)
    code, out, _ = report(capsys, "--data-dir", str(data_dir), "--date", "2026-10-25")
    assert code == 0
    assert "02:40 CEST–02:30 CET Build (50 min)" in out
    page = tmp_path / "dst.html"
    assert (
        main(["report", "--data-dir", str(data_dir), "--date", "2026-10-25", "--html", str(page)])
        == 0
    )
    html = page.read_text()
    # the axis spans 02:40 CEST to 03:10 CET in quarter hours: 02:45 twice, told apart
    assert ">02:45 CEST<" in html
    assert ">02:45 CET<" in html


def axis_of(html: str) -> tuple[list[str], float]:
    """The page's tick labels and the hours its axis spans (from two ticks' positions)."""
    ticks = re.findall(r'class="tick[^"]*" style="left:([0-9.]+)%">([^<]+)<', html)
    (p1, t1), (p2, t2) = ticks[0], ticks[1]
    step = (datetime.strptime(t2, "%H:%M") - datetime.strptime(t1, "%H:%M")).seconds / 3600
    return [t for _, t in ticks], step * 100 / (float(p2) - float(p1))


def page_of(data_dir: Path, tmp_path: Path, *span: str) -> str:
    page = tmp_path / "page.html"
    assert main(["report", "--data-dir", str(data_dir), *span, "--html", str(page)]) == 0
    return page.read_text()


def test_the_axis_spans_the_activity(data_dir: Path, tmp_path: Path) -> None:
    """A two-hour morning fills the axis (not six hours of it, nor a whole day), a long call
    included; two days of short activity at different hours share an axis that spans both,
    not 00:00-12:00."""
    t = datetime(2026, 3, 10, 8, 20, tzinfo=BERLIN)
    call = {"span_start_ts": _z(t + 60 * MINUTE), "span_end_ts": _z(t + 120 * MINUTE)}
    records = [rec(t + i * MINUTE, "Build") for i in range(60)]
    records.append(rec(t + 60 * MINUTE, "Meet", **call))
    write_log(data_dir / "labels", records)
    ticks, hours = axis_of(page_of(data_dir, tmp_path, "--date", "2026-03-10"))
    assert ticks == ["08:30", "09:00", "09:30", "10:00"]
    assert 2 <= hours <= 2.25

    monday = datetime(2026, 3, 16, 9, tzinfo=BERLIN)
    tuesday = datetime(2026, 3, 17, 10, 20, tzinfo=BERLIN)
    records = [rec(monday + i * MINUTE, "Debug") for i in range(40)]
    records += [rec(tuesday + i * MINUTE, "Write") for i in range(30)]
    write_log(data_dir / "labels", records)
    ticks, hours = axis_of(
        page_of(data_dir, tmp_path, "--from", "2026-03-16", "--to", "2026-03-17")
    )
    assert (ticks[0], ticks[-1]) == ("09:00", "10:45")
    assert 1.8 <= hours <= 2.0  # 08:55 to 10:55


# --- the timesheet (--csv) -----------------------------------------------------------------


def test_csv_is_a_timesheet_row_per_segment(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(data_dir / "labels", dst_day_log())
    code, out, _ = report(capsys, "--data-dir", str(data_dir), "--date", "2026-03-29", "--csv")
    assert code == 0
    assert out.endswith("\r\n")
    assert "\n" not in out.replace("\r\n", "")  # RFC 4180: CRLF between records
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[0] == ["user", "start", "end", "minutes", "label", "bucket"]  # two users
    assert rows[1:] == [
        ["alice", "2026-03-29 00:30:00", "2026-03-29 01:15:00", "45.00", "Write", "Write"],
        ["alice", "2026-03-29 23:00:00", "2026-03-29 23:30:00", "30.00", "Debug", "Debug"],
        [
            "alice",
            "2026-03-29 23:30:00",
            "2026-03-29 23:35:00",
            "5.00",
            "Mixed/Unknown",
            "Mixed/Unknown",
        ],
        ["bob", "2026-03-29 23:00:00", "2026-03-29 23:10:00", "10.00", "Meet", "Meet"],
    ]
    code, one, _ = report(
        capsys, "--data-dir", str(data_dir), "--date", "2026-03-29", "--user", "bob", "--csv", "-"
    )
    assert list(csv.reader(io.StringIO(one, newline=""))) == [
        ["start", "end", "minutes", "label", "bucket"],
        ["2026-03-29 23:00:00", "2026-03-29 23:10:00", "10.00", "Meet", "Meet"],
    ]


def test_csv_minutes_are_the_counted_time_and_text_cannot_be_a_formula(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The minutes of a segment are the time it counts (its away time is not); a user id or a
    taxonomy bucket that a spreadsheet would run as a formula is neutralised as `label
    export` does it (a leading single quote), and a comma or a quote is quoted."""
    t = datetime(2026, 3, 10, 9, tzinfo=BERLIN)
    span = {
        "span_start_ts": _z(t),
        "span_end_ts": _z(t + 20 * MINUTE),
        "span_away": [[_z(t + 5 * MINUTE), _z(t + 9 * MINUTE)]],
    }
    bucket = '=HYPERLINK("http://x","a, b")'
    records = [
        rec(t, "Build", user="=1+1", mapped_label=bucket, mapped_probs={bucket: 1.0}, **span),
        rec(t, "Debug", user="+plain"),
    ]
    write_log(data_dir / "labels", records)
    sheet = tmp_path / "sheet.csv"
    code, out, _ = report(
        capsys, "--data-dir", str(data_dir), "--date", "2026-03-10", "--csv", str(sheet)
    )
    assert code == 0
    assert out == f"wrote {sheet} (2 users, 1 day)\n"
    assert stat.S_IMODE(sheet.stat().st_mode) == 0o600
    rows = list(csv.reader(io.StringIO(sheet.read_text(), newline="")))
    assert rows[1:] == [
        ["'+plain", "2026-03-10 09:00:00", "2026-03-10 09:01:00", "1.00", "Debug", "Debug"],
        ["'=1+1", "2026-03-10 09:00:00", "2026-03-10 09:20:00", "16.00", "Build", "'" + bucket],
    ]
    assert '"\'=HYPERLINK(""http://x"",""a, b"")"' in sheet.read_text()


def test_every_form_counts_the_time_a_window_stands_for(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 17.7-minute call is one row: the text, the JSON, the page and the timesheet all count
    it as 17.7 minutes of Meet (a minute per row would say 1), and the day as 25.7 minutes."""
    t = datetime(2026, 3, 10, 9, tzinfo=BERLIN)
    call = t + 5 * MINUTE + timedelta(seconds=12)
    end = call + timedelta(minutes=17.7)
    records = [rec(t + i * MINUTE, "Build") for i in range(5)]
    records.append(rec(t + 5 * MINUTE, "Meet", span_start_ts=_z(call), span_end_ts=_z(end)))
    after = end.replace(second=0) + MINUTE
    records += [rec(after + i * MINUTE, "Build") for i in range(3)]
    write_log(data_dir / "labels", records)
    day = ("--data-dir", str(data_dir), "--date", "2026-03-10")
    code, text, _ = report(capsys, *day)
    assert code == 0
    assert "26 min labelled (9 windows" in text
    assert re.search(r"^  Meet .* 18 min +69%$", text, re.MULTILINE), text
    (doc,) = json.loads(_json(capsys, data_dir, "--date", "2026-03-10"))["reports"]
    assert (doc["total_minutes"], doc["core_breakdown"]["Meet"]) == (25.7, 17.7)
    assert doc["segments"][1][:3] == [call.isoformat(), end.isoformat(), "Meet"]
    code, sheet, _ = report(capsys, *day, "--csv")
    assert ["2026-03-10 09:05:12", "2026-03-10 09:22:54", "17.70", "Meet", "Meet"] in list(
        csv.reader(io.StringIO(sheet, newline=""))
    )
    page = page_of(data_dir, tmp_path, "--date", "2026-03-10")
    assert 'data-label="Meet" data-span="09:05–09:22" data-dur="18 min" data-sec="1062.000"' in page


def test_a_cache_entry_of_the_old_format_is_not_used(data_dir: Path) -> None:
    """Format 1 counted a minute per window: an entry it wrote, with the same day files, is
    rebuilt, not read (the cache is versioned)."""
    labels = data_dir / "labels"
    cache = data_dir / "cache" / "report"
    write_log(labels, dst_day_log())
    day = [date(2026, 3, 29)]
    built = DaySummaries(labels, BERLIN, cache_dir=cache).load(day)
    (entry,) = (cache / "Europe_Berlin").glob("*.json")
    doc = json.loads(entry.read_text())
    assert doc["version"] == CACHE_VERSION == 2
    doc["version"] = 1
    doc["reports"][0]["total_minutes"] = 1.0
    entry.write_text(json.dumps(doc))
    again = DaySummaries(labels, BERLIN, cache_dir=cache).load(day)
    assert (again.cached_days, again.built_days) == (0, 1)
    assert again.reports == built.reports


def test_a_first_model_is_not_alerted_against_the_baselines_week(data_dir: Path) -> None:
    """The rule baseline labelled the week (most windows Mixed/Unknown), the first retrained
    model the last 24 h: `report` shows no ALERT (the shares moved 100 %: the labeller, not the
    data), and says the model changed and when."""
    from daemon.commands import report as command
    from daemon.config.settings import load_settings

    now = datetime(2026, 6, 17, 12, 10, tzinfo=UTC)
    baseline = [
        rec(
            now - timedelta(days=8) + i * 10 * MINUTE,
            "Mixed/Unknown",
            core_label="Debug",
            model_bundle_id="baseline",
        )
        for i in range(7 * 24 * 6)
    ]
    first = [
        rec(
            now - timedelta(hours=23) + i * 10 * MINUTE,
            "Build",
            model_bundle_id="retrained_1",
            store_id="0a1b2c3d4e5f",
            reject_threshold=0.89,
        )
        for i in range(23 * 6)
    ]
    write_log(data_dir / "labels", baseline + first)
    settings = load_settings(None, {"data_dir": str(data_dir)})
    out = io.StringIO()
    assert command.show(_args("--json"), settings, out=out, now=now) == 0
    drift = json.loads(out.getvalue())["drift"]["alice"]
    assert drift["alerts"] == []
    assert drift["reference"]["windows"] == 0
    assert drift["labeller"]["since"] == "2026-06-16T13:10:00Z"
    assert drift["labeller"]["previous"]["model_bundle_id"] == "baseline"
    assert drift["model"]["bundle_id"] == "retrained_1"
    text = io.StringIO()
    assert command.show(_args(), settings, out=text, now=now) == 0
    assert "ALERT" not in text.getvalue()
    assert (
        "model changed to retrained_1 2026-06-16 13:10 UTC: drift compares its own windows "
        "from then on; reference builds up over 7 days (not enough for an alert yet: 138 "
        "windows in 24 h"
    ) in text.getvalue()
