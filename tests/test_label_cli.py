"""`taskclf-daemon label`: spans you type or import, kept in <data_dir>/label_spans.jsonl."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import run_cli

from daemon.cli import main
from daemon.localtz import local_timezone
from taskclf_core.spans import read_spans_jsonl
from taskclf_core.wallclock import format_local

BERLIN_EXPORT = """\
start_ts,end_ts,label,provenance,user_id,confidence,extend_forward
2026-01-05 09:00:00+00:00,2026-01-05 09:30:00+00:00,Build,manual,u1,0.9,False
2026-01-05 09:30:00+00:00,2026-01-05 10:00:00+00:00,Debug,manual,u1,,False
2026-01-05 10:00:00+00:00,2026-01-05 10:00:00+00:00,Write,manual,u1,,True
2026-01-06 11:00:00,2026-01-06 12:00:00,Meet,weak:app_rule,,,False
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def config(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    path = tmp_path / "daemon.toml"
    path.write_text(f'data_dir = "{data_dir}"\nidle_gap_seconds = 300\n')
    return path


class Cli:
    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(["label", *args[:1], "--config", str(self.config), *args[1:]])
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def label(config: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(config, capsys)


def stored(data_dir: Path) -> list[Any]:
    path = data_dir / "label_spans.jsonl"
    return list(read_spans_jsonl(path.read_text(), source=str(path)).spans)


def test_add_list_remove(label: Cli, data_dir: Path) -> None:
    code, out, _ = label("add", "--from", "2026-11-30 09:00", "--to", "2026-11-30 10:30",
                         "Build", "--user", "u1")  # fmt: skip
    assert code == 0
    (span,) = stored(data_dir)
    assert span.start_ts == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Berlin is UTC+1
    assert span.end_ts == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    assert (span.user_id, span.provenance) == ("u1", "manual")
    assert f"added {span.id}: Build for u1 (--user), 2026-11-30 09:00 – 2026-11-30 10:30" in out
    assert "u1 now has 1 span, 90 minutes labelled" in out
    path = data_dir / "label_spans.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700

    label("add", "--from", "2026-11-30 10:30", "--to", "2026-11-30 11:00", "Debug", "--user", "u1")
    label("add", "--from", "2026-11-30 10:30", "--to", "2026-11-30 11:00", "Meet", "--user", "u2")
    code, out, _ = label("list", "--user", "u1")
    assert code == 0
    assert "from (Europe/Berlin)" in out
    assert out.count("\n") == 1 + 2 + 1  # header, two spans, total
    assert "u1: 2 spans, 120 minutes" in out
    assert "u2: 1 span, 30 minutes" in label("list", "--user", "u2")[1]

    # remove by a unique id prefix, and by the exact span
    code, out, _ = label("remove", span.id[:6])
    assert code == 0
    assert out.startswith(f"removed {span.id}")
    code, _, _ = label("remove", "--from", "2026-11-30 10:30", "--to", "2026-11-30 11:00",
                       "--user", "u2")  # fmt: skip
    assert code == 0
    assert [(s.label, s.user_id) for s in stored(data_dir)] == [("Debug", "u1")]


def test_refusals_name_the_field(label: Cli, data_dir: Path) -> None:
    base = ("--from", "2026-11-30 09:00", "--to", "2026-11-30 10:00")
    assert label("add", *base, "Build", "--user", "u1")[0] == 0
    cases = [
        (("add", *base, "Coding", "--user", "u1"), "LABEL: 'Coding' is not a core label"),
        (("add", "--from", "10:00", "--to", "09:00", "Build", "--user", "u1"),
         "--to: '09:00' (20"),
        (("add", "--from", "half past nine", "--to", "10:00", "Build", "--user", "u1"),
         "--from: cannot read 'half past nine' as a time"),
        (("add", "--from", "2026-11-30 09:30", "--to", "2026-11-30 11:00", "Debug", "--user",
          "u1"), "spans overlap for u1 with different labels"),
        (("add", *base, "Build", "--user", "u1", "--confidence", "2"),
         "confidence: expected a number in [0, 1]"),
        (("remove", "ffff"), "ID: 'ffff' names no single span"),
        (("remove", "--from", "2026-11-30 09:00", "--to", "2026-11-30 09:59"),
         "--from/--to: no span is exactly"),
        (("suggest", "--days", "0"), "--days: expected a number of days > 0"),
    ]  # fmt: skip
    before = (data_dir / "label_spans.jsonl").read_bytes()
    for args, message in cases:
        code, _, err = label(*args)
        assert code == 2, args
        assert message in err, (args, err)
    assert (data_dir / "label_spans.jsonl").read_bytes() == before


def test_default_user(label: Cli, data_dir: Path) -> None:
    args = ("add", "--from", "2026-11-30 09:00", "--to", "2026-11-30 10:00", "Write")
    code, _, err = label(*args)
    assert code == 2
    assert "--user: required: no collect_user_id is configured" in err
    assert "the label log is empty" in err

    labels = data_dir / "labels"
    labels.mkdir(parents=True)
    day = labels / "2026-11-30.jsonl"
    day.write_text('{"user_id":"u-log","bucket_start_ts":"2026-11-30T08:00:00Z"}\n')
    code, out, _ = label(*args)
    assert code == 0
    assert f"for u-log (the only user in {labels})" in out

    day.write_text(day.read_text() + '{"user_id":"u-two","bucket_start_ts":"x"}\n')
    code, _, err = label(*args)
    assert "the label log has users u-log, u-two" in err

    # taskclf's identity file wins over the log: it names who this machine's windows are
    marker = data_dir / "data" / "processed" / ".user_id"
    marker.parent.mkdir(parents=True)
    marker.write_text("u-me\n")
    code, out, _ = label("add", "--from", "2026-11-30 11:00", "--to", "2026-11-30 12:00", "Write")
    assert code == 0
    assert f"for u-me ({marker})" in out


def test_dst_night_is_labelled_in_real_minutes(label: Cli, data_dir: Path) -> None:
    code, out, _ = label("add", "--from", "2026-03-29 01:00", "--to", "2026-03-29 04:00",
                         "Build", "--user", "u1")  # fmt: skip
    assert code == 0
    assert "(120 minutes)" in out
    code, _, err = label("add", "--from", "2026-10-25 02:30", "--to", "2026-10-25 04:00",
                         "Build", "--user", "u1")  # fmt: skip
    assert code == 2
    assert "happens twice in Europe/Berlin" in err
    code, out, _ = label("add", "--from", "2026-10-25 02:30+02:00", "--to", "2026-10-25 04:00",
                         "Build", "--user", "u1")  # fmt: skip
    assert "(150 minutes)" in out


def test_export_neutralises_formulas_and_import_undoes_exactly_that(
    label: Cli, tmp_path: Path, data_dir: Path
) -> None:
    """OWASP's CSV injection: a free-text cell starting = + - @ (or a quote, so that import
    can tell) gets a leading single quote on export, and loses exactly that on import."""
    hostile = {
        '=HYPERLINK("http://evil","x")': "+u1",
        "-2+3": "@u2",
        "'quoted": "u3",
        "plain": "'u4",
    }
    for hour, (provenance, user) in enumerate(hostile.items(), start=9):
        code, _, err = label("add", "--from", f"2026-11-30 {hour:02d}:00", "--to",
                             f"2026-11-30 {hour:02d}:30", "Build", f"--user={user}",
                             f"--provenance={provenance}")  # fmt: skip
        assert code == 0, err
    exported = tmp_path / "out.csv"
    assert label("export", str(exported))[0] == 0
    rows = list(csv.DictReader(io.StringIO(exported.read_text(), newline="")))
    assert [(r["provenance"], r["user_id"]) for r in rows] == [
        ('\'=HYPERLINK("http://evil","x")', "'+u1"),
        ("'-2+3", "'@u2"),
        ("''quoted", "u3"),
        ("plain", "''u4"),
    ]
    other = tmp_path / "other.toml"
    other.write_text(f'data_dir = "{tmp_path / "data2"}"\n')
    assert main(["label", "import", "--config", str(other), str(exported)]) == 0
    assert stored(tmp_path / "data2") == stored(data_dir)
    assert [(s.provenance, s.user_id) for s in stored(data_dir)] == list(hostile.items())


def test_import_export_round_trip(label: Cli, tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "taskclf_labels.csv"
    src.write_text(BERLIN_EXPORT)
    code, out, _ = label("import", str(src))
    assert code == 0
    assert "imported 3 spans" in out
    assert "skipped 1 open 'label from now' span (extend_forward" in out
    assert "1 span has no user_id: it applies to every user (give --user to assign it)" in out
    first = stored(data_dir)

    exported = tmp_path / "out.csv"
    assert label("export", str(exported))[0] == 0
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    code, stdout_csv, _ = label("export")
    assert stdout_csv == exported.read_text()

    # into a fresh data dir: the same spans, the same ids, the same CSV
    other = tmp_path / "other.toml"
    other.write_text(f'data_dir = "{tmp_path / "data2"}"\n')
    assert main(["label", "import", "--config", str(other), str(exported)]) == 0
    assert stored(tmp_path / "data2") == first
    main(["label", "export", "--config", str(other), str(tmp_path / "again.csv")])
    assert (tmp_path / "again.csv").read_text() == exported.read_text()

    # re-importing the same file replaces, never duplicates
    code, out, _ = label("import", str(src))
    assert "0 new, 3 replaced" in out
    assert stored(data_dir) == first

    # JSONL: the span file itself is importable; --user claims spans without a user (here
    # a u1 Meet span beside the wildcard one: same label, so the overlap is allowed)
    code, out, _ = label("import", str(data_dir / "label_spans.jsonl"), "--user", "u1")
    assert code == 0
    assert "1 new, 2 replaced" in out
    assert sorted((s.label, s.user_id or "") for s in stored(data_dir)) == [
        ("Build", "u1"), ("Debug", "u1"), ("Meet", ""), ("Meet", "u1"),
    ]  # fmt: skip


def test_add_counts_the_spans_without_a_user_as_the_users_too(label: Cli, tmp_path: Path) -> None:
    """An import without --user leaves spans that apply to every user: they are u1's too."""
    src = tmp_path / "taskclf_labels.csv"
    src.write_text(BERLIN_EXPORT)
    assert label("import", str(src))[0] == 0
    code, out, _ = label("add", "--from", "2026-01-07 09:00", "--to", "2026-01-07 09:10",
                         "Write", "--user", "u1")  # fmt: skip
    assert code == 0
    assert "u1 now has 4 spans, 130 minutes labelled" in out  # 2 of u1's, 1 of anyone's, this


def test_import_is_all_or_nothing(label: Cli, tmp_path: Path, data_dir: Path) -> None:
    label("add", "--from", "2026-11-30 09:00", "--to", "2026-11-30 10:00", "Build", "--user", "u1")
    before = (data_dir / "label_spans.jsonl").read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "start_ts,end_ts,label,provenance,user_id\n"
        "2026-01-05T09:00Z,2026-01-05T10:00Z,Build,manual,u1\n"
        "2026-01-05T10:00Z,2026-01-05T11:00Z,Reading,manual,u1\n"
    )
    code, _, err = label("import", str(bad))
    assert code == 2
    assert f"{bad}:3: label: 'Reading' is not a core label" in err
    clash = tmp_path / "clash.jsonl"
    clash.write_text(
        json.dumps({"start_ts": "2026-01-05T09:00Z", "end_ts": "2026-01-05T10:00Z",
                    "label": "Build", "provenance": "m", "user_id": "u1"}) + "\n"
        + json.dumps({"start_ts": "2026-11-30T08:30Z", "end_ts": "2026-11-30T08:45Z",
                      "label": "Meet", "provenance": "m", "user_id": "u1"}) + "\n"
    )  # fmt: skip
    code, _, err = label("import", str(clash))
    assert code == 2
    assert f"{clash}: nothing imported: spans overlap for u1 with different labels" in err
    code, _, err = label("import", str(tmp_path / "missing.csv"))
    assert (code, "missing.csv: no such file" in err) == (2, True)
    assert (data_dir / "label_spans.jsonl").read_bytes() == before


def record(user: str, start: datetime, confidence: float, *, rejected: bool = False,
           core: str = "Build", threshold: float | None = None) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {
        "user_id": user,
        "bucket_start_ts": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bucket_end_ts": (start + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "core_label": core,
        "confidence": confidence,
        "is_rejected": rejected,
    }
    if threshold is not None:
        out["reject_threshold"] = threshold
    return out


def write_records(data_dir: Path, rows: list[dict[str, Any]]) -> None:
    labels = data_dir / "labels"
    labels.mkdir(parents=True)
    for r in rows:
        with open(labels / f"{r['bucket_start_ts'][:10]}.jsonl", "a") as fh:
            fh.write(json.dumps(r) + "\n")


def test_suggest_lists_the_longest_uncertain_runs(label: Cli, data_dir: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t0 = now - timedelta(hours=5)
    rows = []
    # u1: 3 confident, 12 rejected, 1 confident, 5 low-confidence; u2: 8 rejected
    for i in range(21):
        conf, rej = (0.9, False) if i < 3 or i == 15 else ((0.4, True) if i < 15 else (0.5, False))
        rows.append(record("u1", t0 + timedelta(minutes=i), conf, rejected=rej, core="Debug"))
    rows += [record("u2", t0 + timedelta(minutes=i), 0.3, rejected=True) for i in range(8)]
    rows.append(record("u2", now - timedelta(days=9), 0.1, rejected=True))  # too old
    write_records(data_dir, rows)

    code, out, _ = label("suggest", "--days", "2")
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("  u")]
    assert [line.split()[0] for line in lines] == ["u1", "u2", "u1"]
    assert "12 windows, 12 rejected, mean confidence 0.40, model guessed Debug" in lines[0]
    assert "8 windows" in lines[1]
    assert "5 windows, 0 rejected" in lines[2]
    assert "taskclf-daemon label add --from '" in out

    # labelled time is not asked about again
    start = t0 + timedelta(minutes=3)
    end = t0 + timedelta(minutes=15)
    label("add", "--from", start.isoformat(), "--to", end.isoformat(), "Debug", "--user", "u1")
    code, out, _ = label("suggest", "--days", "2", "--user", "u1")
    lines = [line for line in out.splitlines() if line.startswith("  u")]
    assert len(lines) == 1
    assert "5 windows" in lines[0]


def test_suggest_json_lists_the_same_runs_with_the_command_as_arguments(
    label: Cli, data_dir: Path
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t0 = now - timedelta(hours=3)
    rows = [record("u1", t0 + timedelta(minutes=i), 0.4, rejected=True, core="Write",
                   threshold=0.6) for i in range(4)]  # fmt: skip
    rows += [record("u2", t0 + timedelta(minutes=i), 0.3, rejected=True) for i in range(2)]
    write_records(data_dir, rows)
    code, out, _ = label("suggest", "--days", "1", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["below"] == 0.55
    assert doc["since"].endswith("Z")
    first, second = doc["runs"]
    assert {k: first[k] for k in ("user_id", "windows", "rejected", "guess")} == {
        "user_id": "u1",
        "windows": 4,
        "rejected": 4,
        "guess": "Write",
    }
    assert first["start"] == t0.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first["end"] == (t0 + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (first["seconds"], first["mean_confidence"], first["reject_thresholds"]) == (
        240.0,
        0.4,
        [0.6],
    )
    assert second["user_id"] == "u2"
    # the command labels the run as the text's does, and works as given
    cmd = first["command"]
    assert cmd[:4] == ["taskclf-daemon", "label", "add", "--from"]
    assert cmd[-3:] == ["--user", "u1", "LABEL"]
    assert label(*cmd[2:-1], "Write")[0] == 0
    code, out, _ = label("suggest", "--days", "1", "--json")
    assert [r["user_id"] for r in json.loads(out)["runs"]] == ["u2"]
    # nothing to ask about is an empty list, not a sentence
    label("add", *second["command"][3:-1], "Debug")
    code, out, _ = label("suggest", "--days", "1", "--json")
    assert (code, json.loads(out)["runs"]) == (0, [])


def test_suggest_offers_no_guess_where_the_rule_baseline_fired_no_rule(
    label: Cli, data_dir: Path
) -> None:
    """1/8 everywhere: BreakIdle is the tie rule's argmax, not the model's guess, and the
    baseline's 1.0 in the records is not a reject threshold."""
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    rows = [
        record("u1", t0 + timedelta(minutes=i), 0.125, rejected=True, core="BreakIdle",
               threshold=1.0) | {"model_bundle_id": "baseline"}
        for i in range(6)
    ]  # fmt: skip
    write_records(data_dir, rows)
    code, out, _ = label("suggest", "--days", "1")
    assert code == 0
    (line,) = [x for x in out.splitlines() if x.startswith("  u1")]
    assert line.endswith("6 rejected, mean confidence 0.12, the rule baseline: no rule fired")
    assert "< 1" not in out


def test_suggest_reads_the_data_dir_given_as_report_does(tmp_path: Path) -> None:
    """`label suggest --data-dir DIR` (report takes it): refused before, with the top-level
    usage. The actions take the flags of the keys label reads, after the action."""
    data = tmp_path / "elsewhere"
    labels = data / "labels"
    labels.mkdir(parents=True)
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    for i in range(6):
        r = record("u-far", t0 + timedelta(minutes=i), 0.3, rejected=True)
        with open(labels / f"{r['bucket_start_ts'][:10]}.jsonl", "a") as fh:
            fh.write(json.dumps(r) + "\n")
    done = run_cli("label", "suggest", "--data-dir", str(data), "--days", "1")
    assert done.returncode == 0, done.stderr
    assert "  u-far  " in done.stdout
    assert "6 windows, 6 rejected" in done.stdout
    done = run_cli("label", "list", "--data-dir", str(data))
    spans = data / "label_spans.jsonl"
    assert (done.returncode, done.stdout) == (0, f"no label spans in {spans}\n")


def test_a_span_an_older_version_took_out_of_range_is_skipped_with_a_warning(
    label: Cli, data_dir: Path
) -> None:
    """`label add --from 9999-12-31` used to be taken (and `label list` then crashed east of
    UTC): such a span labels no window, so the span file skips it, says so, and the next
    change writes the file without it."""

    def line(start: str, end: str, label: str) -> str:
        span = {"start_ts": start, "end_ts": end, "label": label, "provenance": "manual"}
        return json.dumps({**span, "user_id": "u1"}) + "\n"

    data_dir.mkdir()
    (data_dir / "label_spans.jsonl").write_text(
        line("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z", "Build")
        + line("9999-12-31T10:00:00Z", "9999-12-31T11:00:00Z", "Debug")
    )
    code, out, err = label("list")
    assert code == 0
    assert "2026-01-05 10:00" in out  # Berlin
    assert "9999" not in out
    assert "label_spans.jsonl:2: start_ts: '9999-12-31T10:00:00Z' is outside the supported" in err
    code, _, err = label("add", "--from", "9999-12-31 10:00", "--to", "9999-12-31 11:00",
                         "Debug", "--user", "u1")  # fmt: skip
    assert code == 2
    assert "--from: '9999-12-31 10:00' is outside the supported times" in err
    assert label("add", "--from", "2026-01-06 09:00", "--to", "2026-01-06 10:00", "Build",
                 "--user", "u1")[0] == 0  # fmt: skip
    assert [s.start_ts.year for s in stored(data_dir)] == [2026, 2026]
    assert label("list")[2] == ""  # rewritten without it: nothing more to say


# --- a span that has not ended ---------------------------------------------------------------

AT_00_55 = datetime(2026, 3, 2, 23, 55, tzinfo=UTC)  # 00:55 on 3 March in Berlin (UTC+1)


def test_a_span_that_ends_in_the_future_is_refused_with_what_it_resolved_to() -> None:
    """`--from 23:00 --to 23:30` typed at 00:55 was taken as tonight, 22 hours ahead,
    without a word: refused, with the dates it resolved to and how to say yesterday."""
    from zoneinfo import ZoneInfo

    from daemon.commands.label import check_ended
    from daemon.localtz import LocalClock
    from taskclf_core.errors import SpanError

    clock = LocalClock(now=AT_00_55, tz=ZoneInfo("Europe/Berlin"))
    tonight = clock.when("23:00", "--from"), clock.when("23:30", "--to")
    with pytest.raises(SpanError) as info:
        check_ended(*tonight, ("23:00", "23:30"), clock)
    assert str(info.value) == (
        "--from '23:00' --to '23:30' is 2026-03-03 23:00 – 2026-03-03 23:30 Europe/Berlin, "
        "which ends 22 h 35 min from now (2026-03-03 00:55): only time that is over can be "
        "labelled; for yesterday's: --from 'yesterday 23:00' --to 'yesterday 23:30'"
    )
    last_night = clock.when("yesterday 23:00", "--from"), clock.when("yesterday 23:30", "--to")
    check_ended(*last_night, ("yesterday 23:00", "yesterday 23:30"), clock)  # over: taken
    # a span that began but has not ended: yesterday would not help
    with pytest.raises(SpanError, match=r"ends 5 min from now .*; give times up to now"):
        check_ended(clock.when("00:30", "--from"), clock.when("01:00", "--to"),
                    ("00:30", "01:00"), clock)  # fmt: skip
    check_ended(clock.when("00:30", "--from"), clock.now, ("00:30", "now"), clock)


@pytest.mark.slow
def test_label_add_at_00_55_from_outside(tmp_path: Path) -> None:
    """The same, typed by a person: the installed command on a clock set to 00:55."""
    from helpers import faketime_env

    env = {**os.environ, "TZ": "Europe/Berlin", **faketime_env("@2026-03-03 00:55:00")}
    data = tmp_path / "data"
    args = ("--user", "u1", "--data-dir", str(data))
    done = run_cli("label", "add", "--from", "23:00", "--to", "23:30", "Debug", *args, env=env)
    assert done.returncode == 2, done
    assert "is 2026-03-03 23:00 – 2026-03-03 23:30 Europe/Berlin, which ends 22 h" in done.stderr
    assert "--from 'yesterday 23:00' --to 'yesterday 23:30'" in done.stderr
    assert not (data / "label_spans.jsonl").exists()
    done = run_cli("label", "add", "--from", "yesterday 23:00", "--to", "yesterday 23:30",
                   "Debug", *args, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (span,) = stored(data)
    assert (span.start_ts, span.end_ts) == (
        datetime(2026, 3, 2, 22, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 22, 30, tzinfo=UTC),
    )


def test_suggest_ranks_runs_by_the_time_they_stand_for(label: Cli, data_dir: Path) -> None:
    """An uncertain 20-minute call is one window but the longest question; its span to label
    covers the call to its end (strict containment then gives the window its label)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t0 = now - timedelta(hours=5)
    call = record("u1", t0, 0.3, rejected=True, core="Meet")
    call["span_start_ts"] = call["bucket_start_ts"]
    end = t0 + timedelta(minutes=20)
    call["span_end_ts"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = [call, record("u1", end + timedelta(minutes=1), 0.9)]
    rows += [record("u2", t0 + timedelta(minutes=i), 0.3, rejected=True) for i in range(8)]
    write_records(data_dir, rows)
    code, out, _ = label("suggest", "--days", "2")
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("  u")]
    assert [line.split()[0] for line in lines] == ["u1", "u2"]
    assert "20 min in 1 window, 1 rejected" in lines[0]
    assert "8 min in 8 windows" in lines[1]
    assert f"– {format_local(end, local_timezone())}  20 min" in lines[0]


def test_suggest_names_the_reject_threshold_the_windows_were_decided_with(
    label: Cli, data_dir: Path
) -> None:
    """A retrained model's policy threshold is 0.89: windows at 0.65 and 0.73 are rejected.
    The header said "(< 0.55)" (the --below default); it names the records' threshold."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t0 = now - timedelta(hours=5)
    rows = [
        record("u1", t0 + timedelta(minutes=i), c, rejected=True, threshold=0.89)
        for i, c in enumerate([0.65, 0.73, 0.7])
    ]
    write_records(data_dir, rows)
    code, out, _ = label("suggest", "--days", "2")
    assert code == 0
    header = out.splitlines()[0]
    assert header == (
        "the longest runs of windows without a label that were rejected (confidence < 0.89, "
        "the reject threshold they were labelled with), last 2 days; label one with the "
        "command under it:"
    )
    assert "0.55" not in out
    assert "3 min in 3 windows, 3 rejected, mean confidence 0.69" in out

    # two thresholds among the runs listed (a user's own, a deploy in between): both said
    rows = [
        record("u2", t0 + timedelta(minutes=30 + i), 0.4, rejected=True, threshold=0.55)
        for i in range(2)
    ]
    with open(data_dir / "labels" / f"{rows[0]['bucket_start_ts'][:10]}.jsonl", "a") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    code, out, _ = label("suggest", "--days", "2")
    assert code == 0
    assert (
        "that were rejected (confidence below the reject threshold each was labelled with: "
        "0.55 to 0.89, shown per run), last 2 days;" in out
    )
    lines = [line for line in out.splitlines() if line.startswith("  u")]
    assert "3 rejected (< 0.89)" in lines[0]
    assert "2 rejected (< 0.55)" in lines[1]

    # a threshold below --below: low-confidence windows that were not rejected are listed too
    code, out, _ = label("suggest", "--days", "2", "--below", "0.6", "--user", "u2")
    assert code == 0
    assert (
        "that were rejected (confidence < 0.55, the reject threshold they were labelled with) "
        "or have low confidence (< 0.6), last 2 days;" in out
    )


def test_suggest_never_shows_a_run_as_0_min(label: Cli, data_dir: Path) -> None:
    """A window stands for its events' time: a 12-second one was "0 min in 1 window"."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t0 = now - timedelta(hours=5)
    blip = record("u1", t0, 0.3, rejected=True, threshold=0.55)
    blip["span_start_ts"] = (t0 + timedelta(seconds=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    blip["span_end_ts"] = (t0 + timedelta(seconds=52)).strftime("%Y-%m-%dT%H:%M:%SZ")
    gone = record("u2", t0, 0.3, rejected=True, threshold=0.55)
    gone["span_start_ts"] = gone["bucket_start_ts"]
    gone["span_end_ts"] = (t0 + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    gone["span_away"] = [[gone["span_start_ts"], gone["span_end_ts"]]]
    write_records(data_dir, [blip, gone])
    code, out, _ = label("suggest", "--days", "2")
    assert code == 0
    assert "0 min" not in out
    lines = [line for line in out.splitlines() if line.startswith("  u")]
    assert "under a minute (12 s) in 1 window, 1 rejected" in lines[0]
    assert "no active time (away throughout) in 1 window" in lines[1]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.0, "no active time (away throughout)"),
        (0.2, "under a second"),
        (12.4, "under a minute (12 s)"),
        (30.0, "under a minute (30 s)"),  # round(0.5) is 0: "0 min" before
        (31.0, "1 min"),
        (3900.0, "1 h 05 min"),
    ],
)
def test_suggest_run_time_words(seconds: float, shown: str) -> None:
    from daemon.commands.label import _run_time

    assert _run_time(seconds) == shown
