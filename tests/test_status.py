"""`status`: evaluate's exit codes and problems; the human text (spool path, a last error that
agrees with the problems)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest.mock import ANY

import pytest

from daemon.exits import DEGRADED, HEALTHY, NOT_RUNNING
from daemon.runtime.status import evaluate, format_status, utc_now


def _doc(**extra: Any) -> dict[str, Any]:
    return {
        "pid": 42,
        "heartbeat_at": utc_now(),
        "heartbeat_interval_seconds": 5,
        "spool": {"path": "/data/spool", "new": 0, "cur": 0, "rejected": 0},
        **extra,
    }


def _line(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(label))


def test_running_status_shows_the_spool_path() -> None:
    code, doc = evaluate(_doc(), 42)
    text = format_status(doc, code)
    assert _line(text, "spool").split(None, 1)[1].startswith("/data/spool ")
    assert "tmp/" in _line(text, "spool")
    assert _line(text, "last error").endswith("  -")


def test_not_running_status_shows_the_spool_it_had() -> None:
    code, doc = evaluate(_doc(stopped_at=utc_now()), None)
    assert "/data/spool" in _line(format_status(doc, code), "spool")


def test_a_refused_store_is_the_last_error_and_the_problem_alike() -> None:
    status = _doc(
        last_error={"message": "a.json: not valid JSON", "at": "2026-01-01T10:00:00Z"},
        store={"last_error": "s/store.json: missing", "last_error_at": "2026-01-01T11:00:00Z"},
    )
    code, doc = evaluate(status, 42)
    text = format_status(doc, code)
    problem = _line(text, "problem").split(None, 1)[1]
    assert problem == "calibrator store refused: s/store.json: missing"
    assert _line(text, "last error").split(None, 2)[2] == f"{problem} (at 2026-01-01T11:00:00Z)"


def test_a_newer_input_error_is_named_as_one() -> None:
    status = _doc(
        last_error={"message": "b.json: not valid JSON", "at": "2026-01-01T12:00:00Z"},
        store={"last_error": "s/store.json: missing", "last_error_at": "2026-01-01T11:00:00Z"},
    )
    code, doc = evaluate(status, 42)
    line = _line(format_status(doc, code), "last error")
    assert line.endswith("input refused: b.json: not valid JSON (at 2026-01-01T12:00:00Z)")


def test_a_fatal_error_is_the_last_error() -> None:
    status = _doc(
        stopped_at=utc_now(),
        fatal_error="label log: No space left on device",
        last_error={"message": "label log: No space left on device", "at": utc_now()},
    )
    code, doc = evaluate(status, None)
    assert code == 1
    text = format_status(doc, code)
    assert "stopped on a fatal error: label log: No space left on device" in text
    code, doc = evaluate(status | {"heartbeat_at": utc_now()}, 42)
    line = _line(format_status(doc, code), "last error")
    assert line.endswith("fatal error: label log: No space left on device")


# --- evaluate: exit code and problems ------------------------------------------------------------

BEAT = "2026-01-05T10:00:00Z"
BEAT_EPOCH = datetime(2026, 1, 5, 10, tzinfo=UTC).timestamp()


def _running(**extra: Any) -> dict[str, Any]:
    return {"pid": 42, "heartbeat_at": BEAT, "heartbeat_interval_seconds": 5, **extra}


def test_healthy_when_the_lock_is_held_and_the_heartbeat_is_fresh() -> None:
    status = _running(running=False, healthy=False)  # the lock decides, not the file
    before = dict(status)
    code, doc = evaluate(status, 42, now=BEAT_EPOCH + 1)
    assert (code, doc["running"], doc["healthy"], doc["problems"]) == (
        HEALTHY,
        True,
        True,
        [],
    )
    assert status == before  # the input is not changed


@pytest.mark.parametrize("status", [None, {}, _running()])
def test_not_running_when_no_process_holds_the_lock(status: dict[str, Any] | None) -> None:
    code, doc = evaluate(status, None, now=BEAT_EPOCH)
    assert code == NOT_RUNNING
    assert (doc["running"], doc["healthy"], doc["problems"]) == (False, False, [])


def test_stopped_on_a_fatal_error_is_degraded_not_just_not_running() -> None:
    code, doc = evaluate(_running(fatal_error="label log: EIO"), None, now=BEAT_EPOCH)
    assert code == DEGRADED
    assert doc["running"] is False
    assert doc["problems"] == ["stopped on a fatal error: label log: EIO"]


def test_the_lock_holder_is_the_pid_unless_it_is_unknown() -> None:
    assert evaluate(_running(), 77, now=BEAT_EPOCH)[1]["pid"] == 77
    assert evaluate(_running(), 0, now=BEAT_EPOCH)[1]["pid"] == 42
    assert evaluate(_running(), -1, now=BEAT_EPOCH)[1]["pid"] == 42


@pytest.mark.parametrize("status", [None, {"pid": 42}, _running(heartbeat_at="yesterday")])
def test_no_readable_heartbeat_yet_is_degraded(status: dict[str, Any] | None) -> None:
    code, doc = evaluate(status, 42, now=BEAT_EPOCH)
    assert code == DEGRADED
    assert doc["problems"] == ["no heartbeat yet (starting up?)"]
    assert doc["pid"] == 42


@pytest.mark.parametrize(
    ("interval", "limit"),
    [(5, 17.0), (0.5, 3.5), (60, 182.0), (None, 17.0), (0, 17.0)],  # 3 x interval + 2 s
)
def test_the_heartbeat_is_stale_past_three_intervals_and_two_seconds(
    interval: float | None, limit: float
) -> None:
    status = _running(heartbeat_interval_seconds=interval)
    assert evaluate(status, 42, now=BEAT_EPOCH + limit) == (HEALTHY, ANY)
    code, doc = evaluate(status, 42, now=BEAT_EPOCH + limit + 0.01)
    assert code == DEGRADED
    assert doc["problems"] == [f"heartbeat is stale ({limit + 0.01:.0f} s old)"]
    assert doc["healthy"] is False


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"store": {"path": "/s", "last_error": "E"}}, "calibrator store refused: E"),
        ({"store": {"last_error": "E"}}, "calibrator store refused: E"),  # no model either
        ({"store": {"last_error": "E"}, "model": {"bundle_id": "b"}}, "model refused: E"),
        (
            {"store": {"path": "/s", "last_error": "E"}, "policy": {"path": "/p.json"}},
            "inference policy /p.json refused: E",
        ),
    ],
)
def test_a_refused_reload_names_what_was_refused(extra: dict[str, Any], problem: str) -> None:
    code, doc = evaluate(_running(**extra), 42, now=BEAT_EPOCH)
    assert (code, doc["problems"]) == (DEGRADED, [problem])


def test_a_store_that_keeps_changing_is_a_problem_after_a_minute() -> None:
    for store, what in (({"path": "/s"}, "/s"), ({}, "the model")):
        status = _running(store={**store, "settling_since": "2026-01-05T09:59:00Z"})
        assert evaluate(status, 42, now=BEAT_EPOCH)[0] == HEALTHY
        code, doc = evaluate(status, 42, now=BEAT_EPOCH + 1)
        assert code == DEGRADED
        assert doc["problems"] == [
            f"{what} has kept changing while being read for 61 s; "
            "what is in force stays until a read sees it settled"
        ]


def test_a_storage_fault_being_waited_out_is_degraded() -> None:
    storage = {
        "message": "label log: ENOSPC",
        "since": "2026-01-05T09:59:00Z",
        "retries": 3,
        "next_retry_at": "2026-01-05T10:00:04Z",
    }
    code, doc = evaluate(_running(storage_error=storage), 42, now=BEAT_EPOCH)
    assert code == DEGRADED
    assert doc["problems"] == [
        "label log: ENOSPC; waiting since 2026-01-05T09:59:00Z, 0 files held in cur/, "
        "retry 3 at 2026-01-05T10:00:04Z"
    ]
    storage["files_waiting"] = 2
    (problem,) = evaluate(_running(storage_error=storage), 42, now=BEAT_EPOCH)[1]["problems"]
    assert "2 files held in cur/" in problem
    storage["files_waiting"] = 1
    (problem,) = evaluate(_running(storage_error=storage), 42, now=BEAT_EPOCH)[1]["problems"]
    assert "1 file held in cur/" in problem


def test_every_problem_is_listed_in_one_order() -> None:
    status = _running(
        store={"path": "/s", "last_error": "E", "settling_since": BEAT},
        storage_error={"message": "M"},
        fatal_error="F",
    )
    code, doc = evaluate(status, 42, now=BEAT_EPOCH + 100)
    assert code == DEGRADED
    assert [p.split(" ", 1)[0] for p in doc["problems"]] == [
        "heartbeat",
        "calibrator",
        "/s",
        "M;",
        "fatal",
    ]


def test_a_retrained_models_lineage_counts_users_and_days_in_words() -> None:
    lineage = {
        "kind": "retrain",
        "trained_at": "2026-12-07T09:50:10Z",
        "champion": "baseline",
        "dataset": {"rows": 1661, "users": 1, "days": 11, "date_from": "a", "date_to": "b"},
        "gates": [],
        "reject_threshold": 0.88,
    }
    code, doc = evaluate(_doc(model={"bundle_id": "m", "lineage": lineage}), 42)
    line = _line(format_status(doc, code), "lineage")
    assert "on 1661 labelled windows (1 user, 11 days, a to b)" in line
