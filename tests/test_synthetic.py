"""The synthetic population: seeded, per-user habits honoured, and the labeller's spans."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from taskclf_core.schema import parse_ts
from taskclf_core.spans import project
from taskclf_core.synthetic import (
    ARCHETYPES,
    DEFAULT_USERS,
    UserProfile,
    generate_population,
    generate_windows,
    labeller_spans,
)


def test_a_population_is_seeded_and_cycles_through_the_kinds() -> None:
    people = generate_population(10, seed=3)
    assert people == generate_population(10, seed=3)
    assert people != generate_population(10, seed=4)
    kinds = [p.user_id.rsplit("-", 1)[1] for p in people]
    assert kinds == [*ARCHETYPES, *list(ARCHETYPES)[:3]]
    writer = people[0]
    assert writer.habits == (("Write", "ReadResearch"),)
    assert "ReadResearch" not in writer.tasks
    assert next(p for p in people if p.user_id.endswith("noisy")).label_noise == 0.25
    assert all(p.mixed_minutes > 0 for p in people)
    with pytest.raises(ValueError, match="kinds"):
        generate_population(2, seed=0, kinds=("wizard",))


def test_a_habit_makes_one_task_look_like_another() -> None:
    writer = UserProfile("w", label_noise=0.0, habits=(("Write", "ReadResearch"),),
                         tasks=("Write", "Build"))  # fmt: skip
    windows = generate_windows(users=[writer], days=2, seed=1)
    writes = [w for w in windows if w["label"] == "Write"]
    assert {w["label"] for w in windows} == {"Write", "Build"}
    # others write in notes apps, typing; this writer is in the browser, scrolling
    apps = Counter(w["app_category"] for w in writes)
    assert apps.most_common(1)[0][0] == "browser"
    assert sum(w["keys_per_min"] for w in writes) / len(writes) < 40


def test_the_default_users_are_what_they_always_were() -> None:
    # the session bundle and every older test are trained on these: the new fields are off
    assert all(u.habits == () and u.mixed_minutes == 0.0 for u in DEFAULT_USERS)
    assert not any(u.idle_breaks for u in DEFAULT_USERS)


def test_a_populations_breaks_look_like_breaks() -> None:
    (person,) = generate_population(1, seed=5, kinds=("plain",))
    assert person.idle_breaks
    windows = generate_windows(users=[person], days=3, seed=5)
    breaks = [w for w in windows if w["label"] == "BreakIdle"]
    idle = [w for w in breaks if w["max_idle_run_seconds"] >= 45]
    # all but the minutes with a switch in them (and a rare slip of the labeller)
    assert len(idle) >= 0.75 * len(breaks)
    assert any(w["app_category"] == "lockscreen" for w in idle)
    calm = [w for w in idle if w["active_seconds_any"] <= 15]
    assert len(calm) >= 0.9 * len(idle)


def test_the_labellers_spans_give_every_window_its_label_back() -> None:
    windows = generate_windows(users=DEFAULT_USERS[:2], days=1, seed=2)
    spans = labeller_spans(windows)
    assert len(spans) < len(windows)  # one span per run, not per window
    idents = [
        (w["user_id"], parse_ts(w["bucket_start_ts"], "s"), parse_ts(w["bucket_end_ts"], "e"))
        for w in windows
    ]
    assert project(spans, idents) == [w["label"] for w in windows]
    assert all(s.end_ts - s.start_ts >= timedelta(minutes=1) for s in spans)
