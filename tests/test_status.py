"""Human `status`: where collectors write, and a `last error` that agrees with the problems."""

from __future__ import annotations

from typing import Any

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
