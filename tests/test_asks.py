"""The page's asks (taskclf's active-learning queue): candidates, order and the daily budget."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from taskclf_core.asks import Ask, Asked, ask_queue, candidate_asks
from taskclf_core.schema import format_ts
from taskclf_core.spans import LabelSpan

T0 = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
TODAY = date(2026, 3, 23)


def record(minute: int, confidence: float, label: str = "Build", user: str = "u1") -> str:
    start = T0 + timedelta(minutes=minute)
    rejected = confidence < 0.55
    return json.dumps(
        {
            "user_id": user,
            "bucket_start_ts": format_ts(start),
            "bucket_end_ts": format_ts(start + timedelta(minutes=1)),
            "core_label": label,
            "label": "Mixed/Unknown" if rejected else label,
            "smoothed_label": label,
            "confidence": confidence,
            "is_rejected": rejected,
        }
    )


def asks_of(lines: list[str], **kwargs: Any) -> list[Ask]:
    return candidate_asks(
        lines, since=T0, until=T0 + timedelta(days=1), gap_seconds=300.0, **kwargs
    )


def test_uncertain_runs_are_asked_lowest_confidence_first() -> None:
    lines = [
        *(record(m, 0.9) for m in range(10)),
        *(record(m, 0.5, "Debug") for m in range(10, 15)),  # a run of five
        *(record(m, 0.9) for m in range(15, 20)),
        record(20, 0.3, "Meet"),  # one window, less sure
        *(record(m, 0.9) for m in range(21, 30)),
    ]
    found = asks_of(lines)
    assert [(a.start, a.end, a.windows, a.reason) for a in found] == [
        (T0 + timedelta(minutes=10), T0 + timedelta(minutes=15), 5, "low_confidence"),
        (T0 + timedelta(minutes=20), T0 + timedelta(minutes=21), 1, "low_confidence"),
    ]
    queue = ask_queue(found, [], today=TODAY, limit=20)
    assert [a.guess for a in queue.asks] == ["Meet", "Debug"]  # taskclf: lowest first
    assert (queue.pending, queue.served_today, queue.remaining) == (2, 0, 20)


def test_the_rule_baselines_windows_where_no_rule_fired_are_asked_without_a_guess() -> None:
    """Its probabilities are 1/8 each: the core label is the tie rule's (BreakIdle), not a
    guess to offer as "Yes, BreakIdle"; its threshold (1.0) is not a threshold anyone set."""
    from taskclf_core.suggest import uncertain_runs

    def baseline(minute: int) -> str:
        doc = json.loads(record(minute, 0.125, "BreakIdle"))
        return json.dumps(doc | {"model_bundle_id": "baseline", "reject_threshold": 1.0})

    (ask,) = asks_of([baseline(m) for m in range(5)])
    assert (ask.windows, ask.guess) == (5, None)
    (run,) = uncertain_runs([baseline(m) for m in range(5)], since=T0)
    assert (run.guess, run.reject_thresholds) == (None, ())
    # a model's own rejects keep their guess and threshold
    own = [json.dumps(json.loads(record(m, 0.4, "Debug")) | {"reject_threshold": 0.55})
           for m in range(10, 13)]  # fmt: skip
    (mine,) = uncertain_runs(own, since=T0)
    assert (mine.guess, mine.reject_thresholds) == ("Debug", (0.55,))


def test_a_span_over_the_time_leaves_nothing_to_ask() -> None:
    lines = [record(m, 0.4) for m in range(10)]
    span = LabelSpan(T0, T0 + timedelta(minutes=10), "Write", "manual", "u1")
    assert asks_of(lines, spans=[span]) == []
    other = LabelSpan(T0, T0 + timedelta(minutes=10), "Write", "manual", "u2")
    assert len(asks_of(lines, spans=[other])) == 1


def test_drift_asks_the_lowest_confidence_windows_of_a_drifting_user() -> None:
    # confident windows only: nothing is asked, until a drift alert names the user
    confidences = [0.95, 0.7, 0.72, 0.99, 0.98, 0.6, 0.97, 0.96]
    lines = [record(m, c) for m, c in enumerate(confidences)]
    assert asks_of(lines) == []
    found = asks_of(lines, drift_users=["u1"], drift_since=T0, drift_limit=3)
    # the three lowest: minutes 1 and 2 (next to each other: one ask) and 5
    assert [(a.start, a.end, a.windows, a.reason) for a in found] == [
        (T0 + timedelta(minutes=1), T0 + timedelta(minutes=3), 2, "drift"),
        (T0 + timedelta(minutes=5), T0 + timedelta(minutes=6), 1, "drift"),
    ]
    assert found[0].confidence == (0.7 + 0.72) / 2
    assert asks_of(lines, drift_users=["u2"], drift_since=T0) == []
    # before the drift's current period: not asked
    later = asks_of(lines, drift_users=["u1"], drift_since=T0 + timedelta(minutes=4), drift_limit=1)
    assert [a.start for a in later] == [T0 + timedelta(minutes=5)]


def ask(minute: int, confidence: float, user: str = "u1") -> Ask:
    start = T0 + timedelta(minutes=minute)
    return Ask(user, start, start + timedelta(minutes=5), "low_confidence", 5, confidence, "Build")


def asked(a: Ask, status: str = "answered", day: date = TODAY) -> Asked:
    return Asked(
        a.id, a.user_id, a.start, a.end, "skipped" if status == "skipped" else "answered", day
    )


def test_the_budget_counts_answers_and_skips_of_today_only() -> None:
    candidates = [ask(10 * i, 0.1 + 0.01 * i) for i in range(10)]
    before = [asked(candidates[0]), asked(candidates[1], "skipped")]
    yesterday = [asked(ask(500, 0.2), day=TODAY - timedelta(days=1))] * 5
    queue = ask_queue(candidates, before + yesterday, today=TODAY, limit=5)
    assert queue.served_today == 2
    assert queue.remaining == 3
    assert [a.id for a in queue.asks] == [c.id for c in candidates[2:5]]
    assert queue.pending == 8
    spent = ask_queue(candidates, [asked(c) for c in candidates[:5]], today=TODAY, limit=5)
    assert spent.asks == ()
    assert spent.remaining == 0


def test_a_skipped_stretch_is_not_asked_again_when_its_run_grows() -> None:
    first = ask(0, 0.3)
    grown = Ask("u1", first.start, first.end + timedelta(minutes=3), "low_confidence", 8, 0.3, None)
    assert grown.id != first.id
    queue = ask_queue([grown], [asked(first, "skipped")], today=TODAY, limit=20)
    assert queue.asks == ()
    answered = ask_queue([grown], [asked(first, "answered")], today=TODAY, limit=20)
    assert answered.asks == (grown,)  # an answer labels its windows; the rest is new


@settings(max_examples=200, deadline=None)
@given(
    confidences=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=60),
    answered=st.sets(st.integers(0, 59), max_size=20),
    limit=st.integers(0, 25),
)
def test_queue_invariants(confidences: list[float], answered: set[int], limit: int) -> None:
    lines = [record(m, c, ("Build", "Debug")[m % 2]) for m, c in enumerate(confidences)]
    found = asks_of(lines, drift_users=["u1"], drift_since=T0, drift_limit=10)
    # no two asks share a window; every ask is the user's and inside the day
    covered: list[tuple[datetime, datetime]] = []
    for a in found:
        assert a.user_id == "u1"
        assert a.end > a.start
        assert all(a.end <= s or a.start >= e for s, e in covered), a
        covered.append((a.start, a.end))
    done = [asked(a) for i, a in enumerate(found) if i in answered]
    queue = ask_queue(found, done, today=TODAY, limit=limit)
    assert len(queue.asks) <= max(0, limit - len(done))
    assert [a.confidence for a in queue.asks] == sorted(a.confidence for a in queue.asks)
    assert not {a.id for a in queue.asks} & {d.ask_id for d in done}
    assert queue.pending == len(found) - len(done)
