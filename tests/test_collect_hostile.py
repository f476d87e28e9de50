"""Nothing lost, no crash, no hang when ActivityWatch's data or server misbehaves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aw_fixtures import HOSTNAME, load_case, still_watching
from collector_kit import (
    FakeClock,
    aw_args,
    export_args,
    live_collector,
    make_home,
    run,
    seed_cursor,
    spool_rows,
    spool_rows_in,
    write_identity,
)
from daemon_harness import isolated_env, running_daemons, wait_for
from fake_aw import fake_aw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.collector.client import AWClient
from daemon.collector.source import Frontier
from daemon.collector.transport import Stopped
from daemon.runtime.intake import ParsedFile, parse_spool_file
from taskclf_core.activity import (
    SKIP_REASONS,
    InputEvent,
    JsonArray,
    Parsed,
    RowSpec,
    Skipped,
    WindowEvent,
    build_day,
    day_start_us,
    in_range,
    latest_end,
    load_json,
    load_json_lazily,
    parse_input_events,
    parse_timestamp_us,
    parse_window_events,
    title_hash,
)
from taskclf_core.bundle import build_schema
from taskclf_core.errors import ActivityError, UnreachableError
from taskclf_core.schema import registry

SALT = "s3cret"
WINDOW_BUCKET = f"aw-watcher-window_{HOSTNAME}"
INPUT_BUCKET = f"aw-watcher-input_{HOSTNAME}"
GOOD = '{"timestamp": "2026-03-02T08:00:%02dZ", "duration": 1.5, "data": {"app": "Code"}}'


def bucket_text(*events: str) -> str:
    """A bucket's events as JSON text: what a server or an export sends, byte for byte."""
    return "[" + ", ".join(events) + "]"


# --- malformed events: each skipped with its reason, the rest read --------------------------

BAD_WINDOW_EVENTS = [
    ('{"timestamp": "2026-03-02T08:01:00Z", "duration": 1' + "0" * 399 + "}", "bad_duration"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "duration": 1' + "0" * 5000 + "}", "bad_duration"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "duration": -1}', "bad_duration"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "duration": NaN}', "bad_duration"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "duration": Infinity}', "bad_duration"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "duration": 1e400}', "bad_duration"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "duration": "5"}', "bad_duration"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "duration": true}', "bad_duration"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "duration": 1e300}', "bad_duration"),
    ('{"duration": 1}', "bad_timestamp"),
    ('{"timestamp": 1772438400, "duration": 1}', "bad_timestamp"),
    ('{"timestamp": "yesterday", "duration": 1}', "bad_timestamp"),
    ('{"timestamp": "9999-12-31T23:59:59Z", "duration": 1}', "bad_timestamp"),
    ('{"timestamp": "0001-01-01T00:00:00+01:00", "duration": 1}', "bad_timestamp"),
    ('{"timestamp": "1969-12-31T23:59:59Z", "duration": 1}', "bad_timestamp"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "data": []}', "bad_data"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "data": null}', "bad_data"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "data": {"app": null}}', "bad_app"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "data": {"app": ["x"]}}', "bad_app"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "data": {"app": "' + "a" * 600 + '"}}', "bad_app"),
    ('{"timestamp": "2026-03-02T08:01:00Z", "data": {"title": 3}}', "bad_title"),
    (
        '{"timestamp": "2026-03-02T08:01:00Z", "data": {"title": ' + "[" * 5000 + "]" * 5000 + "}}",
        "bad_title",
    ),
    ("7", "not_an_object"),
    ("null", "not_an_object"),
    ('"an event"', "not_an_object"),
    ("[" * 3000 + "]" * 3000, "not_an_object"),
]


def test_every_kind_of_bad_event_is_skipped_with_its_reason_and_the_rest_is_read() -> None:
    good = [GOOD % s for s in range(len(BAD_WINDOW_EVENTS))]
    text = bucket_text(
        *[e for pair in zip(good, (b for b, _ in BAD_WINDOW_EVENTS), strict=True) for e in pair]
    )
    parsed = parse_window_events(
        load_json(text.encode(), "test"), bucket_id=WINDOW_BUCKET, salt=SALT, sketches=True
    )
    assert len(parsed.events) == len(good)
    assert [s.reason for s in parsed.skipped] == [r for _, r in BAD_WINDOW_EVENTS]
    assert [s.index for s in parsed.skipped] == list(range(1, 2 * len(good), 2))
    assert all(s.reason in SKIP_REASONS for s in parsed.skipped)
    # a title of ten million characters is a title: hashed, never refused
    huge = '{"timestamp": "2026-03-02T08:02:00Z", "data": {"title": "' + "x" * 10**7 + '"}}'
    assert (
        len(
            parse_window_events(
                load_json(f"[{huge}]", "t"), bucket_id="w", salt=SALT, sketches=True
            ).events
        )
        == 1
    )


def test_bad_input_samples_are_skipped_with_their_reason() -> None:
    ok = '{"timestamp": "2026-03-02T08:00:00Z", "duration": 5, "data": {"presses": 3}}'
    bad = [
        '{"timestamp": "2026-03-02T08:00:05Z", "duration": 5, "data": {"presses": -1}}',
        '{"timestamp": "2026-03-02T08:00:05Z", "duration": 5, "data": {"deltaX": 1e300}}',
        '{"timestamp": "2026-03-02T08:00:05Z", "duration": 5, "data": {"clicks": 1'
        + "0" * 400
        + "}}",
        '{"timestamp": "2026-03-02T08:00:05Z", "duration": 5, "data": {"scrollY": NaN}}',
        '{"timestamp": "2026-03-02T08:00:05Z", "duration": 5, "data": {"presses": false}}',
    ]
    parsed = parse_input_events(load_json(bucket_text(ok, *bad, ok), "t"), bucket_id="in")
    assert len(parsed.events) == 2
    assert {s.reason for s in parsed.skipped} == {"bad_count"}


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(blacklist_categories=()), max_size=12),
    _nested,
    max_leaves=8,
)
_DAY = datetime(2026, 3, 2, tzinfo=UTC)
_STAMP = st.datetimes(min_value=datetime(1999, 12, 31), max_value=datetime(2100, 1, 2)).map(
    lambda d: d.isoformat() + "Z"
) | st.integers(0, 86_399_999).map(lambda ms: (_DAY + timedelta(milliseconds=ms)).isoformat())
_NUMBER = st.floats() | st.integers(min_value=-(10**30), max_value=10**30) | _JSON
_EVENT = st.fixed_dictionaries(
    {
        "timestamp": _STAMP | _JSON,
        "duration": _NUMBER,
        "data": st.fixed_dictionaries(
            {
                "app": st.text(st.characters(blacklist_categories=()), max_size=20) | _JSON,
                "title": st.text(st.characters(blacklist_categories=()), max_size=40) | _JSON,
                "presses": _NUMBER,
                "deltaX": _NUMBER,
            }
        )
        | _JSON,
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.lists(_EVENT | _JSON, max_size=12))
def test_fuzzed_events_never_break_the_collector(raw: list[Any]) -> None:
    """Anything a bucket can hold: every event is read or skipped with a reason, and the rows
    of whatever was read are built and written as strict JSON."""
    windows = parse_window_events(raw, bucket_id="w", salt=SALT, sketches=True)
    inputs = parse_input_events(raw, bucket_id="i")
    for skipped, read in ((windows.skipped, windows.events), (inputs.skipped, inputs.events)):
        assert len(read) + len(skipped) == len(raw)
        assert all(s.reason in SKIP_REASONS for s in skipped)
    starts = [e.start_us for e in windows.events] + [e.start_us for e in inputs.events]
    days = {day_start_us(start) for start in starts}
    for day in days:
        rows = build_day(day, windows.events, inputs.events, spec=RowSpec("u1", "v3"))
        json.dumps(rows, allow_nan=False).encode("utf-8")  # what write_windows does
    ceiling = max((e.start_us for e in windows.events), default=0)
    latest_end([*windows.events, *inputs.events], ceiling)


@dataclass
class RawBucket:
    """A live source serving raw events through the real parsers, as the REST source does."""

    raw: list[Any]
    description: str = "raw"
    complete: bool = False
    input_bucket: str | None = "i"

    def _windows(self) -> Parsed[WindowEvent]:
        return parse_window_events(self.raw, bucket_id="w", salt=SALT, sketches=True)

    def _inputs(self) -> Parsed[InputEvent]:
        return parse_input_events(self.raw, bucket_id="i")

    def window_events(self, start_us: int, end_us: int) -> list[WindowEvent]:
        return in_range(self._windows().events, start_us, end_us)

    def input_events(self, start_us: int, end_us: int) -> list[InputEvent]:
        return in_range(self._inputs().events, start_us, end_us)

    def afk_intervals(self, start_us: int, end_us: int) -> list[tuple[int, int]]:
        return []

    def frontier(self, ceiling_us: int) -> Frontier:
        windows, inputs = self._windows().events, self._inputs().events
        newest = windows[-1].start_us if windows else None
        return Frontier(latest_end([*windows[-1:], *inputs[-1:]], ceiling_us), newest)

    def drain_skipped(self) -> list[Skipped]:
        return [*self._windows().skipped, *self._inputs().skipped]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.lists(_EVENT | _JSON, max_size=10),
    polls=st.lists(st.integers(0, 36 * 3600), min_size=1, max_size=4),
    offset=st.sampled_from([-7200, 0, 7200]),
)
def test_fuzzed_events_never_stop_the_collector(
    raw: list[Any], polls: list[int], offset: int
) -> None:
    """The collector's polls over anything a bucket holds, on any clock: no exception, and
    every window it writes is strict JSON the daemon reads."""
    day = parse_timestamp_us("2026-03-02T00:00:00Z", "day")
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda fd: None)
        clock = FakeClock(offset_us=offset * 1_000_000)
        source = RawBucket(raw)
        collector = live_collector(
            Path(tmp),
            source,
            RowSpec("u1", "v3"),
            position=day,
            settle_us=60_000_000,
            clock=clock,
        )
        for at in sorted(polls):
            clock.true_us = day + at * 1_000_000
            collector.step()
        for row in spool_rows_in(Path(tmp) / "spool"):
            json.dumps(row, allow_nan=False)
        status = json.loads((Path(tmp) / "c" / "status.json").read_text())
        assert sum(status["events_skipped"].values()) >= 0


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60) | st.binary(max_size=60) | _JSON.map(json.dumps))
def test_any_answer_is_read_or_refused_in_one_line(text: str | bytes) -> None:
    refused: list[str] = []
    try:
        load_json(text, "http://127.0.0.1:5600/api/0/buckets/")
    except ActivityError as exc:
        refused.append(str(exc))
    assert not [message for message in refused if "\n" in message]


def _read_lazily(text: str | bytes) -> Any:
    """load_json_lazily's value, an array iterated to the end (a list)."""
    value = load_json_lazily(text, "http://127.0.0.1:5600/api/0/buckets/x/events")
    return list(value) if isinstance(value, JsonArray) else value


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(max_size=60)
    | st.binary(max_size=60)
    | _JSON.map(json.dumps)
    | st.lists(_JSON, max_size=5).map(lambda v: json.dumps(v, indent=1))
    | st.lists(_JSON, max_size=5).map(lambda v: json.dumps(v) + " x")
)
def test_an_array_read_an_element_at_a_time_is_what_load_json_reads(text: str | bytes) -> None:
    """A list of events is parsed as it is iterated (the collector's memory): the same values
    as load_json, or the same refusal, in one line."""
    try:
        whole = load_json(text, "http://127.0.0.1:5600/api/0/buckets/x/events")
    except ActivityError:
        with pytest.raises(ActivityError) as refused:
            _read_lazily(text)
        assert "\n" not in str(refused.value)
        assert "not valid JSON" in str(refused.value)
        return
    assert json.dumps(_read_lazily(text)) == json.dumps(whole)  # (NaN as NaN)


def test_an_array_read_lazily_reads_what_python_cannot_as_load_json_does() -> None:
    """A 5,000-digit count or a title nested deeper than Python recurses, mid-array: the
    events before and after are read, that one is skipped, as with load_json."""
    good = [GOOD % s for s in range(len(BAD_WINDOW_EVENTS))]
    text = bucket_text(
        *[e for pair in zip(good, (b for b, _ in BAD_WINDOW_EVENTS), strict=True) for e in pair]
    )
    eager = parse_window_events(load_json(text, "t"), bucket_id="w", salt=SALT, sketches=True)
    lazy = parse_window_events(
        load_json_lazily(text.encode(), "t"), bucket_id="w", salt=SALT, sketches=True
    )
    assert lazy == eager
    assert len(lazy.events) == len(good)
    count = '{"timestamp": "2026-03-02T08:00:05Z", "duration": 5, "data": {"clicks": 1%s}}'
    inputs = bucket_text(
        '{"timestamp": "2026-03-02T08:00:00Z", "duration": 5, "data": {"presses": 3}}',
        count % ("0" * 5000),
        '{"timestamp": "2026-03-02T08:00:10Z", "duration": 5, "data": {"presses": 1}}',
    )
    parsed = parse_input_events(load_json_lazily(inputs, "t"), bucket_id="in")
    assert parsed == parse_input_events(load_json(inputs, "t"), bucket_id="in")
    assert [s.reason for s in parsed.skipped] == ["bad_count"]


# --- lone surrogates: one rule on both sides ------------------------------------------------


def test_a_lone_surrogate_becomes_u_fffd_before_hashing() -> None:
    """A title or an app name with "\\ud800" (a valid JSON escape) crashed the title hash."""
    text = bucket_text(
        '{"timestamp": "2026-03-02T08:00:00Z", "duration": 2, '
        '"data": {"app": "Tool\\ud800", "title": "a\\udc00b \\ud83d\\ude00"}}'
    )
    [event] = parse_window_events(
        load_json(text, "t"), bucket_id="w", salt=SALT, sketches=True
    ).events
    assert event.title_hash == title_hash("a\ufffdb \U0001f600", SALT)
    assert event.app.app_id == "unknown.tool\ufffd"
    json.dumps(event.app.app_id).encode("utf-8")


def surrogate_export(case_name: str = "no-input") -> dict[str, Any]:
    """The fixture's export with lone surrogates in some app names and titles."""
    export: dict[str, Any] = json.loads(json.dumps(load_case(case_name).export()))
    events = export["buckets"][WINDOW_BUCKET]["events"]
    for i, event in enumerate(events[::7]):
        event["data"]["title"] = f"Report\ud800 {i}"
        event["data"]["app"] = "Explorer\udfff.exe"
    return export


def v1_schema() -> Any:
    reg = registry("v1")
    assert reg is not None
    meta = {"schema_version": "v1", "schema_hash": reg.schema_hash, "label_set": []}
    return build_schema(meta, {})


def test_collect_export_with_lone_surrogates_writes_windows_the_daemon_accepts(
    tmp_path: Path,
) -> None:
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(surrogate_export()))  # ensure_ascii: "\ud800" escapes
    assert "\\ud800" in path.read_text()
    code, _, err = run(
        "collect", "--export", str(path), "--data-dir", str(data), "--aw-hostname", HOSTNAME
    )
    assert code == 0, err
    files = sorted((data / "spool" / "new").iterdir())
    rows = spool_rows(data)
    assert len(rows) == len(case.expected("v1"))
    assert any("\ufffd" in r["app_id"] for r in rows)
    for f in files:
        result = parse_spool_file(f.name, f.read_bytes(), v1_schema())
        assert isinstance(result, ParsedFile), result
        assert result.refused == ()
        assert len(result.windows) == len(f.read_text().splitlines())


def test_collect_once_survives_lone_surrogates_from_activitywatch(tmp_path: Path) -> None:
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    with fake_aw(surrogate_export()["buckets"]) as aw:
        code, _, err = run(*aw_args(data, aw.url, "--once", "--from", f"{case.date}T00:00Z"))
    assert code == 0, err
    assert len(spool_rows(data)) == len(case.expected("v1"))


# --- hostile export files: one line, no traceback --------------------------------------------

HOSTILE_EXPORTS = [
    ("not JSON", b"{'buckets': }"),
    ("binary", bytes(range(256)) * 4),
    ("empty", b""),
    ("a number", b"42"),
    ("nested too deep", b"[" * 100_000 + b"]" * 100_000),
    ("buckets not an object", b'{"buckets": 5}'),
    ("a bucket not an object", b'{"buckets": {"b": []}}'),
    (
        "events not a list",
        json.dumps(
            {
                "buckets": {
                    WINDOW_BUCKET: {
                        "type": "currentwindow",
                        "hostname": HOSTNAME,
                        "events": {"a": 1},
                    }
                }
            }
        ).encode(),
    ),
    ("no bucket for the host", b'{"buckets": {}}'),
    ("utf-16", json.dumps({"buckets": 5}).encode("utf-16")),
    ("a huge integer", b'{"buckets": ' + b"9" * 10_000 + b"}"),
]


@pytest.mark.parametrize(("name", "content"), HOSTILE_EXPORTS, ids=[n for n, _ in HOSTILE_EXPORTS])
def test_a_hostile_export_is_refused_in_one_line(tmp_path: Path, name: str, content: bytes) -> None:
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    path = tmp_path / "export.json"
    path.write_bytes(content)
    code, _, err = run(
        "collect", "--export", str(path), "--data-dir", str(data), "--aw-hostname", HOSTNAME
    )
    assert code == 2, (name, err)
    assert err.count("\n") == 1, err
    assert err.startswith("taskclf-daemon: "), err
    assert str(path) in err


def hostile_events_export() -> dict[str, Any]:
    """The fixture's export with bad events among the good ones."""
    export: dict[str, Any] = json.loads(json.dumps(load_case("no-input").export()))
    events = export["buckets"][WINDOW_BUCKET]["events"]
    events.insert(3, {"timestamp": "2026-03-03T09:30:00Z", "duration": "long"})
    events.insert(5, {"timestamp": "2026-03-03T09:31:00Z", "duration": -5})
    events.insert(9, ["not", "an", "event"])
    events.insert(11, {"timestamp": "2026-03-03T09:40:00Z", "data": {"title": 12}})
    return export


def test_bad_events_are_counted_in_collect_status_and_the_daemons_status(
    tmp_path: Path,
) -> None:
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(hostile_events_export()))
    code, _, err = run(*export_args(case, data)[:2], str(path), *export_args(case, data)[3:])
    assert code == 0, err
    assert len(spool_rows(data)) == len(case.expected("v1"))
    status = json.loads((data / "collector" / "status.json").read_text())
    assert status["events_skipped"] == {"bad_duration": 2, "bad_title": 1, "not_an_object": 1}
    _, out, _ = run("collect", "--status", "--data-dir", str(data))
    assert "events skipped:  4 unreadable (bad_duration 2, bad_title 1, not_an_object 1)" in out
    _, out, _ = run("status", "--data-dir", str(data))
    assert "events skipped:  4 unreadable" in out
    _, out, _ = run("status", "--json", "--data-dir", str(data))
    assert json.loads(out)["collector"]["events_skipped"]["bad_duration"] == 2


# --- slow and hostile servers: deadlines, a size cap, SIGTERM ---------------------------------


def test_a_request_ends_by_its_deadline_however_slowly_the_server_answers() -> None:
    with fake_aw({}) as aw:
        aw.hostile, aw.dribble_s = "dribble", 0.2  # a byte every 0.2 s: no read ever idles out
        client = AWClient(aw.url, timeout=1.0, events_timeout=1.5)
        started = time.monotonic()
        with pytest.raises(UnreachableError, match=r"did not answer within 1\.5 s"):
            client.events(WINDOW_BUCKET, 0, 1)
        assert 1.4 < time.monotonic() - started < 3.0
        with pytest.raises(UnreachableError, match=r"did not answer within 1 s"):
            client.info()


@pytest.mark.parametrize("mode", ["huge", "huge-unsized"])
def test_an_answer_over_the_cap_is_refused(mode: str) -> None:
    with fake_aw({}) as aw:
        aw.hostile = mode
        with pytest.raises(ActivityError, match="more than 64 MiB"):
            AWClient(aw.url).events(WINDOW_BUCKET, 0, 1)


def test_a_stop_ends_a_request_at_once() -> None:
    with fake_aw({}) as aw:
        aw.hostile = "dribble"
        stop = threading.Event()
        client = AWClient(aw.url, stop=stop)
        timer = threading.Timer(0.3, stop.set)
        timer.start()
        started = time.monotonic()
        with pytest.raises(Stopped):
            client.info()
        timer.join()
        assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("mode", "code", "message"),
    [
        ("huge", 2, "MiB; the collector reads at most that much"),
        ("not-http", 1, "did not answer HTTP"),
    ],
)
def test_collect_once_against_a_hostile_server_says_so_in_one_line(
    tmp_path: Path, mode: str, code: int, message: str
) -> None:
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    with fake_aw(case.export()["buckets"]) as aw:
        aw.hostile = mode
        got, _, err = run(*aw_args(data, aw.url, "--once"))
    assert got == code, err
    assert message in err
    # one line (the log's JSON lines aside): no traceback, no second message
    assert len([line for line in err.splitlines() if not line.startswith("{")]) == 1, err


def collect_process(data: Path, url: str, *more: str) -> subprocess.Popen[bytes]:
    """`taskclf-daemon collect` against ``url`` as a process; its output goes to collect.log."""
    with open(data.parent / "collect.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "daemon", *aw_args(data, url, "--log-format", "json", *more)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=isolated_env(data.parent / "home"),
        )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_collect_once_against_a_server_that_dribbles_ends(tmp_path: Path) -> None:
    """One byte every 2 s stalled `collect --once` forever."""
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    with fake_aw(case.export()["buckets"]) as aw:
        aw.hostile = "dribble"
        proc = collect_process(data, aw.url, "--once")
        try:
            code = proc.wait(timeout=30)
        finally:
            stop_process(proc)
    err = (tmp_path / "collect.log").read_text()
    assert code == 1, err
    assert "did not answer within 10 s" in err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if not line.startswith("{")] == [
        line for line in err.splitlines() if "did not answer" in line
    ]


def test_sigterm_ends_a_live_collector_within_2_s_while_it_waits_on_the_server(
    tmp_path: Path,
) -> None:
    """A live collector blocked in a read from a slow server ignored SIGTERM."""
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    with fake_aw(case.export()["buckets"]) as aw:
        aw.hostile = "dribble"
        proc = collect_process(data, aw.url)
        try:
            # into the dribble: the collector's read is blocked on the socket
            wait_for(lambda: aw.dribbled >= 2, 30, "the collector reading a slow answer")
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            code = proc.wait(timeout=10)
            took = time.monotonic() - started
        finally:
            stop_process(proc)
    assert code == 0, (tmp_path / "collect.log").read_text()
    assert took < 2.0
    status = json.loads((data / "collector" / "status.json").read_text())
    assert status["state"] == "stopped"


def test_a_live_collector_outlives_bad_data_and_counts_it(tmp_path: Path) -> None:
    """Lone surrogates and malformed events, live: windows are written, nothing dies."""
    case = load_case("no-input")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    export = surrogate_export()
    export["buckets"][WINDOW_BUCKET]["events"] += hostile_events_export()["buckets"][WINDOW_BUCKET][
        "events"
    ][3:12]
    seed_cursor(data, f"{case.date}T00:00:00Z", case.user_id)  # the live run starts there
    with fake_aw(still_watching(export["buckets"])) as aw:
        proc = collect_process(data, aw.url, "--collect-interval-seconds", "0.2")
        try:

            def done() -> bool:
                try:
                    doc = json.loads((data / "collector" / "status.json").read_text())
                except (OSError, ValueError):
                    return False
                return bool(doc.get("last_poll_at")) and doc.get("pid") == proc.pid

            wait_for(done, 60, "a completed poll")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            stop_process(proc)
    assert len(spool_rows(data)) == len(case.expected("v1"))
    status = json.loads((data / "collector" / "status.json").read_text())
    assert status["events_skipped"]["bad_duration"] >= 2


# --- the pair: what the collector writes, the daemon labels ------------------------------------


@pytest.mark.slow
def test_lone_surrogates_end_to_end_labelled_not_rejected(tmp_path: Path, bundle_dir: Path) -> None:
    """Collector output with "\\ud800" in app names → the real daemon → labelled, nothing in
    rejected/; a producer's window with a lone surrogate escape is accepted the same way."""
    case = load_case("no-input")
    env = isolated_env(tmp_path / "home")
    path = tmp_path / "export.json"
    path.write_text(json.dumps(surrogate_export()))
    with running_daemons(tmp_path / "d", bundle_dir, env) as daemons:
        daemon = daemons.new()
        write_identity(daemon.data_dir, salt=case.salt, user_id=case.user_id)
        daemon.start()
        proc = daemon.cli("collect", "--export", str(path), "--aw-hostname", HOSTNAME)
        assert proc.returncode == 0, proc.stderr
        expected = len(case.expected("v1"))
        records = daemon.wait_records(expected, timeout=60)
        assert len(records) == expected
        # another producer: the escape as written by hand, in a window like the collector's
        done = wait_for(
            lambda: sorted((daemon.spool / "done").iterdir()), 30, "the collector's file done"
        )[0]
        raw = json.dumps(
            {
                **json.loads(done.read_text().splitlines()[0]),
                "user_id": "u-other",
                "app_id": "Tool\ud800",
            }
        )
        assert "\\ud800" in raw
        daemon.drop("other.jsonl", raw + "\n")
        records = daemon.wait_records(expected + 1, timeout=60)
        assert any(r["user_id"] == "u-other" for r in records)
        assert daemon.files("rejected") == []
        assert daemon.status()["windows"]["refused"] == 0  # type: ignore[index]
        assert daemon.stop() == 0
