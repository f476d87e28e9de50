"""aw_write_labels: the label log's segments as a bucket in ActivityWatch (docs/collector.md).

In process against an ActivityWatch held in memory (aw-server's semantics: an event posted
with an ``id`` replaces it, a query cuts events at its edges) and the fake server; the real
aw-server, with and without an API key, is in test_collect_labels_aw.py.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aw_fixtures import HOSTNAME, load_case, row_differences
from collector_kit import (
    LABEL_USER,
    GrowingDay,
    TickingClock,
    export_args,
    label_record,
    labels_once_args,
    live_collector,
    make_home,
    run,
    spool_rows_in,
    write_label_log,
)
from daemon_harness import wait_for
from fake_aw import FakeAW, fake_aw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.collector.awlabels import (
    BUCKET_CLIENT,
    BUCKET_TYPE,
    LabelWriter,
    label_bucket_id,
    segment_event,
)
from daemon.collector.segments import ReportSegments
from taskclf_core.activity import RowSpec, build_day, parse_timestamp_us
from taskclf_core.daily import build_day_reports, label_from_record
from taskclf_core.errors import UnreachableError
from taskclf_core.timespan import TimeSpan

BERLIN = ZoneInfo("Europe/Berlin")
USER = LABEL_USER
MINUTE = timedelta(minutes=1)
LABELS = ("Build", "Debug", "Meet", "Mixed/Unknown")


# --- an ActivityWatch in memory -------------------------------------------------------------


class Buckets:
    """The writer's side of aw-server with its default (peewee) storage, in memory: ids are
    the server's, a posted event with an ``id`` replaces that event, and a query returns the
    events that overlap it cut at its edges. ``writes`` counts requests that change anything."""

    url = "http://127.0.0.1:5600"

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self._ids = 0
        self._buckets_made = 0
        self.fail: int = 0  # the next this many requests do not answer

    def _maybe_fail(self) -> None:
        if self.fail:
            self.fail -= 1
            raise UnreachableError("ActivityWatch is not reachable (test)")

    def buckets(self) -> dict[str, Any]:
        self._maybe_fail()
        return {k: {f: v for f, v in b.items() if f != "events"} for k, b in self.store.items()}

    def create_bucket(self, bucket_id: str, *, client: str, kind: str, hostname: str) -> None:
        self._maybe_fail()
        if bucket_id not in self.store:
            self._buckets_made += 1
            self.store[bucket_id] = {
                "id": bucket_id,
                "client": client,
                "type": kind,
                "hostname": hostname,
                "created": f"made-{self._buckets_made}",
                "events": [],
            }
            self.writes += 1

    def events(self, bucket_id: str, start_us: int, end_us: int) -> Any:
        self._maybe_fail()
        out = []
        for event in self.store[bucket_id]["events"]:
            start = parse_timestamp_us(event["timestamp"], "t")
            end = start + round(event["duration"] * 1e6)
            if end < start_us or start > end_us:
                continue
            cut_start, cut_end = max(start, start_us), min(end, end_us)
            out.append(
                {
                    **event,
                    "timestamp": datetime.fromtimestamp(cut_start / 1e6, UTC).isoformat(),
                    "duration": (cut_end - cut_start) / 1e6,
                }
            )
        return sorted(out, key=lambda e: e["timestamp"], reverse=True)

    def post_events(self, bucket_id: str, events: list[dict[str, Any]]) -> None:
        self._maybe_fail()
        stored = self.store[bucket_id]["events"]
        for event in events:
            if "id" in event:
                stored[:] = [dict(event) if e["id"] == event["id"] else e for e in stored]
            else:
                stored.append({**event, "id": self._ids})
                self._ids += 1
        self.writes += 1

    def delete_event(self, bucket_id: str, event_id: int) -> None:
        self._maybe_fail()
        self.store[bucket_id]["events"] = [
            e for e in self.store[bucket_id]["events"] if e["id"] != event_id
        ]
        self.writes += 1


def writer(data: Path, client: Any) -> LabelWriter:
    segments = ReportSegments(data / "labels", BERLIN, cache_dir=data / "cache", idle_gap=300.0)
    return LabelWriter(client, HOSTNAME, USER, segments, data / "collector" / "aw-labels.json")


def wanted(w: LabelWriter) -> list[tuple[int, float, dict[str, Any]]]:
    """What the bucket must hold: the report's segments of every day, as events."""
    out = []
    for day in w.segments.days():
        for segment in w.segments.segments(day, USER):
            event = segment_event(segment)
            out.append((segment.start_us, event["duration"], event["data"]))
    return sorted(out, key=lambda e: e[0])


def held(client: Buckets) -> list[tuple[int, float, dict[str, Any]]]:
    events = client.store.get(label_bucket_id(HOSTNAME), {"events": []})["events"]
    return sorted(
        ((parse_timestamp_us(e["timestamp"], "t"), e["duration"], e["data"]) for e in events),
        key=lambda e: e[0],
    )


# --- the invariant --------------------------------------------------------------------------

steps = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=40),  # minutes appended
        st.sampled_from(LABELS),
        st.sampled_from([0, 0, 0, 2, 7, 90]),  # a gap before them (minutes; > 5 splits)
        st.integers(min_value=0, max_value=3),  # the last n records relabelled (the report
        # may change the tail of a day: a centred smoothing, a late record)
        st.sampled_from(["model-a", "model-a", "model-b"]),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps, late_evening=st.booleans())
def test_the_bucket_is_the_report_after_every_sync_and_a_sync_again_writes_nothing(
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[int, str, int, int, str]],
    late_evening: bool,
) -> None:
    """One event per segment of every local day, updated as the day grows or changes; a
    second sync, a restart and a lost state file write nothing; a deleted bucket comes back."""
    data = tmp_path_factory.mktemp("labels")
    client = Buckets()
    first = datetime(2026, 3, 28, 23 if late_evening else 9, 40, tzinfo=BERLIN)  # DST night
    records: list[dict[str, Any]] = []
    at = first
    for minutes, label, gap, relabel, model in steps:
        at += gap * MINUTE
        records += [label_record(at + i * MINUTE, label, model=model) for i in range(minutes)]
        at += minutes * MINUTE
        for r in records[-relabel:] if relabel else []:
            r["label"] = r["smoothed_label"] = r["mapped_label"] = "Write"
        write_label_log(data / "labels", records)
        w = writer(data, client)
        w.sync()
        assert held(client) == wanted(w)
        before = client.writes
        assert w.sync().days == 0
        assert client.writes == before
    bucket = client.store[label_bucket_id(HOSTNAME)]
    assert (bucket["client"], bucket["type"], bucket["hostname"]) == (
        BUCKET_CLIENT,
        BUCKET_TYPE,
        HOSTNAME,
    )
    assert all(e["data"]["title"] == e["data"]["label"] for e in bucket["events"])
    # a restart without its state: every day compared with the bucket, nothing written
    (data / "collector" / "aw-labels.json").unlink()
    before = client.writes
    assert writer(data, client).sync().days > 0
    assert client.writes == before
    # the user deleted the bucket: it is made again, whole
    del client.store[label_bucket_id(HOSTNAME)]
    w = writer(data, client)
    w.sync()
    assert held(client) == wanted(w)


def test_a_segment_that_grows_keeps_its_event_and_a_new_label_adds_one(tmp_path: Path) -> None:
    client = Buckets()
    start = datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN)
    records = [label_record(start + i * MINUTE, "Build") for i in range(10)]
    write_label_log(tmp_path / "labels", records)
    w = writer(tmp_path, client)
    assert w.sync().added == 1
    (event,) = client.store[label_bucket_id(HOSTNAME)]["events"]
    records += [label_record(start + (10 + i) * MINUTE, "Build") for i in range(5)]
    write_label_log(tmp_path / "labels", records)
    done = w.sync()
    assert (done.added, done.updated, done.removed) == (0, 1, 0)
    (grown,) = client.store[label_bucket_id(HOSTNAME)]["events"]
    assert grown["id"] == event["id"]
    assert (event["duration"], grown["duration"]) == (600.0, 900.0)
    records += [label_record(start + (15 + i) * MINUTE, "Meet") for i in range(3)]
    write_label_log(tmp_path / "labels", records)
    done = w.sync()
    assert (done.added, done.updated, done.removed) == (1, 0, 0)
    titles = [e["data"]["title"] for e in client.store[label_bucket_id(HOSTNAME)]["events"]]
    assert titles == ["Build", "Meet"]


def test_the_event_names_its_model_and_confidence(tmp_path: Path) -> None:
    """``data``: ``title`` (what aw-webui's timeline draws), ``label``, the segment's mean
    confidence, and the bundle that labelled most of its windows (a deploy mid-segment)."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN)
    records = [
        label_record(start + i * MINUTE, "Debug", model="old", confidence=0.6) for i in range(2)
    ]
    records += [
        label_record(start + (2 + i) * MINUTE, "Debug", model="new", confidence=0.9)
        for i in range(3)
    ]
    write_label_log(tmp_path / "labels", records)
    client = Buckets()
    writer(tmp_path, client).sync()
    (event,) = client.store[label_bucket_id(HOSTNAME)]["events"]
    assert event["data"] == {"title": "Debug", "label": "Debug", "confidence": 0.78, "model": "new"}
    assert event["timestamp"] == "2026-03-02T08:00:00+00:00"
    assert event["duration"] == 300.0


def test_a_day_the_report_no_longer_has_is_emptied_in_the_bucket(tmp_path: Path) -> None:
    """The log's records of a day replaced by another user's (a fixed user id): our events
    of that day go, nobody else's bucket is touched."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN)
    write_label_log(
        tmp_path / "labels", [label_record(start + i * MINUTE, "Build") for i in range(5)]
    )
    client = Buckets()
    client.store["aw-watcher-window_x"] = {"id": "aw-watcher-window_x", "events": [{"id": 99}]}
    writer(tmp_path, client).sync()
    other = [{**label_record(start + i * MINUTE, "Build"), "user_id": "u-bob"} for i in range(5)]
    write_label_log(tmp_path / "labels", other)
    done = writer(tmp_path, client).sync()
    assert done.removed == 1
    assert client.store[label_bucket_id(HOSTNAME)]["events"] == []
    assert client.store["aw-watcher-window_x"]["events"] == [{"id": 99}]


def _spanned(
    start: datetime, label: str, span_start: datetime, span_end: datetime, model: str
) -> Any:
    """A record whose window stands for ``[span_start, span_end)`` (the collector's span)."""
    span = TimeSpan(
        parse_timestamp_us(span_start.isoformat(), "s"),
        parse_timestamp_us(span_end.isoformat(), "e"),
    )
    return {**label_record(start, label, model=model), **span.to_fields()}


def test_the_bucket_counts_the_time_each_window_stands_for_past_midnight(tmp_path: Path) -> None:
    """A call that starts 20 s into 23:50 and runs to 00:30 is one row: the bucket holds the
    report's segments over the time it stands for (CONTRACT 15), the half hour on the next
    day too (which has no day file), each naming the model that labelled its windows; a
    change to that row's day file rewrites the next day's event as well."""
    day = datetime(2026, 3, 2, tzinfo=UTC)
    night = day + timedelta(hours=23)
    records = [label_record(night + i * MINUTE, "Build", model="a") for i in range(50)]
    call = night + 50 * MINUTE
    records.append(
        _spanned(call, "Meet", call + timedelta(seconds=20), day + timedelta(hours=24.5), "b")
    )
    write_label_log(tmp_path / "labels", records)
    segments = ReportSegments(
        tmp_path / "labels", UTC, cache_dir=tmp_path / "cache", idle_gap=300.0
    )
    w = LabelWriter(Buckets(), HOSTNAME, USER, segments, tmp_path / "collector" / "aw-labels.json")
    client = w.client
    assert isinstance(client, Buckets)
    after = (day + timedelta(hours=24, minutes=31)).timestamp()  # the call was over then
    assert segments.days(after) == [day.date(), day.date() + timedelta(days=1)]
    assert segments.days(after - 3600) == [day.date()]  # before midnight: no later day yet

    def report() -> list[tuple[int, float, str]]:
        labels = [label_from_record(r) for r in records]
        return [
            (round(s.start * 1e6), s.end - s.start, s.label)
            for r in build_day_reports(labels, UTC, idle_gap=300.0)
            for s in r.segments
        ]

    w.sync(now=after)
    events = held(client)
    assert [(start, duration, data["title"]) for start, duration, data in events] == report()
    assert [(e[2]["title"], e[2]["model"]) for e in events] == [
        ("Build", "a"),
        ("Meet", "b"),
        ("Meet", "b"),
    ]
    assert events[1][0] == parse_timestamp_us("2026-03-02T23:50:20Z", "t")
    assert events[2][:2] == (parse_timestamp_us("2026-03-03T00:00:00Z", "t"), 1800.0)
    # the call relabelled in its own day's file: the next day's event follows
    records[-1] = {
        **records[-1],
        "label": "Debug",
        "smoothed_label": "Debug",
        "mapped_label": "Debug",
    }
    write_label_log(tmp_path / "labels", records)
    w.sync(now=after)
    events = held(client)
    assert [(start, duration, data["title"]) for start, duration, data in events] == report()
    assert [e[2]["title"] for e in events] == ["Build", "Debug", "Debug"]


def test_a_back_fill_beside_a_running_collector_writes_no_labels(tmp_path: Path) -> None:
    """The label bucket is the collector's that holds the lock (its cursor, its status): a
    `collect --once` beside it writes its windows and no label, whatever aw_write_labels."""
    from daemon.collector.collector import collector_lock

    case = load_case("workday")
    data = _home(tmp_path)
    with fake_aw(_served()) as server, collector_lock(data / "collector", "live") as holder:
        assert holder is None  # held here, as by a live collector
        code, _out, err = _once(data, server)
        assert code == 0, err
        assert server.writes == []
        assert "collector_beside" in err
    assert row_differences(case.expected("v1"), spool_rows_in(data / "spool")) == []
    assert not (data / "collector" / "aw-labels.json").exists()
    with pytest.raises(ValueError, match="only the owner writes them"):
        live_collector(
            tmp_path,
            GrowingDay([]),
            RowSpec("u1", "v1"),
            position=0,
            settle_us=0,
            owner=False,
            labels=writer(data, Buckets()),
        )


# --- in the collector: a failed write never stops the windows ----------------------------


def test_a_failing_label_write_never_stops_the_windows_and_is_retried(tmp_path: Path) -> None:
    case = load_case("workday")
    day = parse_timestamp_us(f"{case.date}T00:00:00Z", "d")
    from aw_fixtures import _export  # noqa: F401 - the export's events below

    events = _window_events(case)
    source = GrowingDay(events, now_us=events[-1].end_us + 3_600_000_000)
    start = datetime.fromisoformat(f"{case.date}T09:00:00+00:00")
    write_label_log(
        tmp_path / "labels", [label_record(start + i * MINUTE, "Build") for i in range(30)]
    )
    client = Buckets()
    client.fail = 10**9  # ActivityWatch takes no writes (nor reads of the label bucket)
    labels = writer(tmp_path, client)
    # the last event ended an hour ago: ActivityWatch's clock moves on with real time
    clock = TickingClock(source.now_us)
    collector = live_collector(
        tmp_path, source, RowSpec("u1", "v1"), position=day, settle_us=0, clock=clock, labels=labels
    )
    stop = threading.Event()
    worker = threading.Thread(target=collector.run, args=(stop, 0.01))
    worker.start()
    try:
        wait_for(
            lambda: (
                spool_rows_in(tmp_path / "spool")
                == build_day(day, events, [], spec=RowSpec("u1", "v1"))
            ),
            10,
            "every minute's window written while the labels fail",
        )
        status = wait_for(
            lambda: (
                (doc := json.loads((tmp_path / "c/status.json").read_text()))["aw_labels"][
                    "failures"
                ]
                >= 3
                and doc
            ),
            10,
            "three failed label writes, one a poll",
        )
        assert "not reachable (test)" in status["aw_labels"]["last_error"]
        assert status["last_error"] is None  # the windows' side is fine
        client.fail = 0
        wait_for(lambda: held(client) == wanted(labels), 10, "the labels written once it answers")
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    status = json.loads((tmp_path / "c/status.json").read_text())
    assert status["aw_labels"]["last_error"] is None
    assert status["aw_labels"]["added"] == 1


def _window_events(case: Any) -> list[Any]:
    from taskclf_core.activity import parse_window_events

    bucket = next(b for b in case.export()["buckets"].values() if b["type"] == "currentwindow")
    return parse_window_events(
        bucket["events"], bucket_id="w", salt=case.salt, sketches=False
    ).events


# --- the command against the fake server: the key on every request, the refusals ---------


def _served(case_name: str = "workday") -> dict[str, Any]:
    buckets: dict[str, Any] = load_case(case_name).export()["buckets"]
    return {k: dict(v) for k, v in buckets.items()}


def _once(data: Path, server: FakeAW, *more: str) -> tuple[int, str, str]:
    return run(*labels_once_args(data, server.url, load_case("workday").date, *more))


def _home(tmp_path: Path) -> Path:
    case = load_case("workday")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    start = datetime.fromisoformat(f"{case.date}T09:00:00+00:00")
    records = [label_record(start + i * MINUTE, "Build", user=case.user_id) for i in range(30)]
    write_label_log(data / "labels", records)
    return data


def test_every_request_carries_the_api_key_reads_too(tmp_path: Path) -> None:
    key = "k3y-for-the-test"
    data = _home(tmp_path)
    with fake_aw(_served()) as server:
        server.api_key = key
        code, _out, err = _once(data, server, "--aw-api-key", key)
        assert code == 0, err
        assert server.writes  # the label bucket was written...
        assert any("/events?" in r for r in server.requests)  # ...and the events read
        assert server.authorization
        assert set(server.authorization) == {f"Bearer {key}"}
        bucket = server.buckets[label_bucket_id(HOSTNAME)]
        assert [e["data"]["title"] for e in bucket["events"]] == ["Build"]
    case = load_case("workday")
    assert row_differences(case.expected("v1"), spool_rows_in(data / "spool")) == []
    written = err + "".join(p.read_text() for p in (data / "collector").iterdir())
    assert key not in written


@pytest.mark.parametrize(
    ("given_key", "message"),
    [
        (None, "asks for an API key; set aw_api_key to the api_key under [auth]"),
        ("not-the-key", "refused aw_api_key (401"),
    ],
)
def test_a_missing_or_wrong_key_is_one_clear_line(
    tmp_path: Path, given_key: str | None, message: str
) -> None:
    data = _home(tmp_path)
    with fake_aw(_served()) as server:
        server.api_key = "the-right-key"
        more = () if given_key is None else ("--aw-api-key", given_key)
        code, _out, err = _once(data, server, *more)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("taskclf-daemon:")]
    assert len(lines) == 1, err
    assert message in lines[0]
    assert "Traceback" not in err
    assert "the-right-key" not in err


def test_a_key_that_cannot_be_a_header_is_refused_without_showing_it(tmp_path: Path) -> None:
    data = _home(tmp_path)
    code, _out, err = run(
        "collect", "--once", "--data-dir", str(data), "--aw-api-key", "se cret\nX-Evil: 1"
    )
    assert code == 2
    assert "aw_api_key: expected printable ASCII characters without spaces" in err
    assert "se cret" not in err


def test_once_writes_the_windows_and_says_the_labels_failed(tmp_path: Path) -> None:
    """ActivityWatch refuses the label writes: `collect --once` writes every window, says so
    in one line and exits 1; the status shows it; the next run writes them."""
    data = _home(tmp_path)
    case = load_case("workday")
    with fake_aw(_served()) as server:
        server.refuse_writes = True
        code, _out, err = _once(data, server)
        assert code == 1
        assert "the windows were written, the labels not: ActivityWatch at" in err
        assert "503" in err
        assert row_differences(case.expected("v1"), spool_rows_in(data / "spool")) == []
        code, out, _err = run("collect", "--status", "--data-dir", str(data))
        assert "labels failed:" in out
        assert "1 failed since start" in out
        server.refuse_writes = False
        code, _out, err = _once(data, server)
        assert code == 0, err
        assert [
            e["data"]["label"] for e in server.buckets[label_bucket_id(HOSTNAME)]["events"]
        ] == ["Build"]
        code, out, _err = run("collect", "--status", "--data-dir", str(data))
        assert f"labels into AW:  {label_bucket_id(HOSTNAME)} (1 added" in out


def test_an_export_back_fill_writes_into_no_server(tmp_path: Path) -> None:
    case = load_case("workday")
    data = _home(tmp_path)
    with fake_aw({}) as server:
        more = ("--aw-url", server.url, "--aw-write-labels", "true")
        code, _out, err = run(*export_args(case, data), *more)
        assert server.requests == []
    assert code == 0, err


def test_doctor_asks_activitywatch_with_the_key(tmp_path: Path) -> None:
    from daemon.collector.health import check_aw_reachable
    from daemon.config.settings import load_settings

    with fake_aw(_served()) as server:
        server.api_key = "doctor-key"
        base = {"data_dir": str(tmp_path), "aw_url": server.url, "aw_hostname": HOSTNAME}
        ok, message, _ = check_aw_reachable(load_settings(None, base))
        assert not ok
        assert "it asks for an API key; set aw_api_key" in message
        ok, message, _ = check_aw_reachable(
            load_settings(None, {**base, "aw_api_key": "doctor-key"})
        )
        assert ok, message
        assert "doctor-key" not in message


def test_retrain_rebuilds_past_days_with_the_key(tmp_path: Path) -> None:
    """`retrain`'s rebuild of a past day reads ActivityWatch as the collector does: with the
    key (a server that asks for one would refuse it every day otherwise)."""
    from daemon.collector.rebuild import activitywatch_rebuilder
    from daemon.config.settings import load_settings

    case = load_case("workday")
    data = make_home(tmp_path, salt=case.salt, user_id=case.user_id)
    with fake_aw(_served()) as server:
        server.api_key = "rebuild-key"
        keys = {"data_dir": str(data), "aw_url": server.url, "aw_hostname": HOSTNAME}
        settings = load_settings(None, {**keys, "aw_api_key": "rebuild-key"})
        rebuilt = activitywatch_rebuilder(settings)([date.fromisoformat(case.date)], "v1")
        assert set(server.authorization) == {"Bearer rebuild-key"}
    assert row_differences(case.expected("v1"), list(rebuilt.windows)) == []
