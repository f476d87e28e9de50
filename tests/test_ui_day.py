"""The page's day is the report's day: the same segments, minutes and figures (in process)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from test_ui_browser import write_log

from daemon.cli import main
from daemon.config.settings import load_settings
from daemon.ui.api import ApiError, Page
from daemon.ui.learn import Learning
from taskclf_core.synthetic import generate_label_log

DAY = date(2026, 3, 23)


@pytest.fixture
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Page:
    from zoneinfo import ZoneInfo

    monkeypatch.setenv("TZ", "America/New_York")
    zone = ZoneInfo("America/New_York")
    records = generate_label_log(user_id="u-ada", start=DAY, days=2, tz=zone, seed=4)
    records += generate_label_log(user_id="u-ben", start=DAY, days=1, tz=zone, seed=5)
    write_log(tmp_path / "data", records)
    config = tmp_path / "daemon.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    settings = load_settings(config, {})
    now = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
    return Page(settings, Learning(config=config, overrides={}), clock=lambda: now)


def test_the_day_is_the_reports_day(page: Page, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(page.settings.data_dir.parent / "daemon.toml")
    assert main(["report", "--config", config, "--date", DAY.isoformat(), "--json"]) == 0
    reports = {r["user_id"]: r for r in json.loads(capsys.readouterr().out)["reports"]}
    for user in ("u-ada", "u-ben"):
        shown = page.day({"date": DAY.isoformat(), "user": user})
        report = reports[user]
        assert shown["user"] == user
        assert shown["total_minutes"] == pytest.approx(report["total_minutes"], abs=0.01)
        assert shown["breakdown"] == pytest.approx(report["core_breakdown"], abs=0.01)
        assert shown["reject_rate"] == pytest.approx(report["reject_rate"], abs=1e-4)
        assert [
            (
                datetime.fromtimestamp(s["start"], UTC),
                datetime.fromtimestamp(s["end"], UTC),
                s["label"],
                s["windows"],
            )
            for s in shown["segments"]
        ] == [
            (datetime.fromisoformat(a), datetime.fromisoformat(b), label, n)
            for a, b, label, n in report["segments"]
        ]
        assert all(s["away"] == [] and 0 < s["confidence"] <= 1 for s in shown["segments"])
        assert shown["users"] == ["u-ada", "u-ben"]
        # the local day's bounds: New York's midnights, 24 h apart in March after the DST change
        assert shown["day_end"] - shown["day_start"] == 24 * 3600
        assert datetime.fromtimestamp(shown["day_start"], UTC).hour == 4


def test_whose_day_and_which(page: Page) -> None:
    # no collect_user_id and two users in the log: the first one with windows that day
    shown = page.day({"date": DAY.isoformat()})
    assert (shown["user"], shown["user_source"]) == (
        "u-ada",
        "the first user with windows that day",
    )
    assert page.day({})["date"] == "2026-03-25"  # today, in New York
    empty = page.day({"date": "2026-03-25", "user": "u-ben"})
    assert (empty["segments"], empty["total_minutes"]) == ([], 0.0)
    for query, message in (
        ({"date": "23/03/2026"}, "date: expected YYYY-MM-DD"),
        ({"date": "2150-01-01"}, "outside the supported times"),
        ({"user": "../../x"}, "not a user id"),
    ):
        with pytest.raises(ApiError, match=message) as caught:
            page.day(query)
        assert caught.value.status == 400


def test_spans_show_on_their_day_and_undo_restores_what_was_replaced(page: Page) -> None:
    body = {"start": "2026-03-23T14:00:00Z", "end": "2026-03-23T15:00:00Z", "label": "Build"}
    first = page.add_span({**body, "user": "u-ada"})
    assert first["replaced"] is None
    again = page.add_span({**body, "user": "u-ada", "label": "Review"})
    assert again["replaced"]["label"] == "Build"
    shown = page.day({"date": DAY.isoformat(), "user": "u-ada"})
    assert [(s["label"], s["provenance"]) for s in shown["spans"]] == [("Review", "manual")]
    assert shown["labelled_minutes"] == 60.0
    assert page.day({"date": DAY.isoformat(), "user": "u-ben"})["spans"] == []
    page.undo({"span": again["span"], "replaced": again["replaced"]})
    assert [s["label"] for s in page.day({"date": "2026-03-23", "user": "u-ada"})["spans"]] == [
        "Build"
    ]


def test_an_answered_ask_counts_and_its_undo_gives_it_back(page: Page) -> None:
    query = {"date": DAY.isoformat(), "user": "u-ada"}
    before = page.asks(query)
    assert before["asks"], "the synthetic day has uncertain windows"
    first = before["asks"][0]
    done = page.answer({**query, "ask_id": first["id"], "label": "Debug"})
    assert done["ask_id"] == first["id"]
    assert (done["span"]["start_ts"], done["span"]["end_ts"]) == (first["start"], first["end"])
    after = page.asks(query)
    assert first["id"] not in {a["id"] for a in after["asks"]}
    assert after["served_today"] == 1
    with pytest.raises(ApiError, match="is not asked now") as caught:
        page.answer({**query, "ask_id": first["id"], "label": "Debug"})
    assert caught.value.status == 404
    page.undo({"span": done["span"], "replaced": None, "ask_id": first["id"]})
    again = page.asks(query)
    assert again["served_today"] == 0
    assert again["asks"][0]["id"] == first["id"]
    skipped = page.skip({**query, "ask_id": first["id"]})
    assert skipped == {"ask_id": first["id"], "skipped": True}
    assert page.asks(query)["served_today"] == 1


def test_a_drift_alert_of_the_running_daemon_adds_drift_asks(page: Page) -> None:
    from daemon.lock import InstanceLock
    from daemon.runtime.status import write_status

    query = {"date": "2026-03-24", "user": "u-ada"}  # the last 24 h before the page's clock
    before = page.asks(query)
    assert {a["reason"] for a in before["asks"]} == {"low_confidence"}
    spool = page.settings.spool_path
    spool.mkdir(parents=True)
    alert = {"trigger": "class_shift", "severity": "warning", "details": {}}
    write_status(
        page.settings.status_path,
        {"drift": {"u-ada": {"enough_data": True, "alerts": [alert]}}},
    )
    # a status file alone is a daemon that ran once: its drift is not news
    assert page.asks(query)["pending"] == before["pending"]
    lock = InstanceLock(page.settings.lock_path)
    lock.acquire()
    try:
        shown = page.status()
        assert shown["running"] is True
        assert shown["drift"]["u-ada"]["alerts"] == [
            {"trigger": "class_shift", "severity": "warning"}
        ]
        after = page.asks(query)
        # drift asks join the queue; served lowest confidence first, as taskclf serves them,
        # they come after the day's uncertain runs (the budget of 20 is spent on those first)
        assert after["pending"] > before["pending"]
        confidences = [a["confidence"] for a in after["asks"]]
        assert confidences == sorted(confidences)
        assert page.asks({"date": "2026-03-24", "user": "u-ben"})["asks"] == []  # no windows
    finally:
        lock.release()


def test_a_call_with_a_coffee_break_is_drawn_as_the_report_counts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window that stands for a 20-minute call with 4 minutes away inside it: the page's
    segment runs the call's length, counts 16 minutes (its hover's figure), and carries the
    away stretch to draw hatched; the day's away minutes are the report's."""
    from test_report_command import rec

    monkeypatch.setenv("TZ", "UTC")
    t = datetime(2026, 3, 10, 9, tzinfo=UTC)
    minute = 60.0

    def z(offset: float) -> str:
        return datetime.fromtimestamp(t.timestamp() + offset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    call = rec(t, "Meet", user="u-ada", span_start_ts=z(0), span_end_ts=z(20 * minute),
               span_away=[[z(5 * minute), z(9 * minute)]])  # fmt: skip
    write_log(tmp_path / "data", [call, rec(t.replace(minute=20), "Build", user="u-ada")])
    config = tmp_path / "daemon.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    page = Page(load_settings(config, {}), Learning(config=config, overrides={}), clock=lambda: t)
    shown = page.day({"date": "2026-03-10", "user": "u-ada"})
    meet, build = shown["segments"]
    assert (meet["label"], meet["end"] - meet["start"], meet["seconds"]) == (
        "Meet",
        20 * minute,
        16 * minute,
    )
    assert meet["away"] == [[t.timestamp() + 5 * minute, t.timestamp() + 9 * minute]]
    assert (build["label"], build["seconds"], build["away"]) == ("Build", minute, [])
    assert shown["away_minutes"] == pytest.approx(4)
    assert shown["total_minutes"] == pytest.approx(17)
    assert sum(s["seconds"] for s in shown["segments"]) / 60 == pytest.approx(
        shown["total_minutes"]
    )


def test_a_span_that_ends_after_now_is_refused_as_label_add_refuses_it(page: Page) -> None:
    """A drag past the present (the page's clock: 2026-03-25 12:00 UTC) would label windows
    that arrive later, unseen: refused, naming now; up to now is taken."""
    ahead = {"start": "2026-03-25T11:00:00Z", "end": "2026-03-25T12:30:00Z", "label": "Build"}
    with pytest.raises(ApiError) as info:
        page.add_span({**ahead, "user": "u-ada"})
    assert info.value.status == 400
    assert str(info.value).startswith(
        "end: 2026-03-25T12:30:00Z is after now (2026-03-25T12:00:00Z): only time that is over"
    )
    done = page.add_span({**ahead, "end": "2026-03-25T12:00:00Z", "user": "u-ada"})
    assert done["replaced"] is None
