"""Rolling-majority smoothing: spikes, ties, gaps, immutability and restart transparency."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskclf_core.labels import REJECT_LABEL
from taskclf_core.smoothing import Entry, SmoothingState, majority, rolling_majority

IDLE_GAP = 300.0
MINUTE = 60.0


def run(state: SmoothingState, items: list[tuple[str, Entry]]) -> tuple[SmoothingState, list[str]]:
    out = []
    for user, entry in items:
        state, smoothed = state.step(user, entry)
        out.append(smoothed)
    return state, out


def minutes(labels: str, *, start: float = 0.0, step: float = MINUTE) -> list[Entry]:
    """One-minute windows back to back, one per character of ``labels``."""
    return [
        Entry(start + i * step, start + i * step + MINUTE, label) for i, label in enumerate(labels)
    ]


def smoothed(labels: str, size: int = 3, **kw: float) -> str:
    state = SmoothingState(size, IDLE_GAP)
    _, out = run(state, [("u", e) for e in minutes(labels, **kw)])
    return "".join(out)


# --- the rules --------------------------------------------------------------------------


def test_a_spike_is_removed() -> None:
    assert smoothed("AABAA") == "AAAAA"


def test_a_sustained_change_comes_through_one_window_late() -> None:
    assert smoothed("AAABBB") == "AAAABB"


def test_ties_keep_the_most_recent_label() -> None:
    assert smoothed("AB", size=2) == "AB"
    assert smoothed("AABB", size=4) == "AAAB"
    assert smoothed("ABAB", size=4) == "ABAB"
    assert smoothed("ABC") == "ABC"  # three-way tie each time: the newest wins
    assert majority(["A", "B"]) == "B"
    assert majority(["B", "A", "B", "A"]) == "A"
    assert majority(["A", "A", "B"]) == "A"


def test_window_of_one_is_identity() -> None:
    assert smoothed("ABACBB", size=1) == "ABACBB"


def test_reject_label_votes_like_any_other() -> None:
    state = SmoothingState(3, IDLE_GAP)
    entries = minutes("AAXX")
    entries = [Entry(e.start, e.end, REJECT_LABEL if e.label == "X" else e.label) for e in entries]
    _, out = run(state, [("u", e) for e in entries])
    assert out == ["A", "A", "A", REJECT_LABEL]


def test_a_gap_over_idle_gap_starts_fresh() -> None:
    state = SmoothingState(3, IDLE_GAP)
    before = minutes("AA")
    # the next window starts 301 s after the previous one ended
    after = minutes("BA", start=before[-1].end + IDLE_GAP + 1)
    _, out = run(state, [("u", e) for e in before + after])
    assert out == ["A", "A", "B", "A"]  # without the gap the B would have been outvoted


def test_a_gap_of_exactly_idle_gap_continues() -> None:
    state = SmoothingState(3, IDLE_GAP)
    before = minutes("AA")
    after = minutes("B", start=before[-1].end + IDLE_GAP)
    _, out = run(state, [("u", e) for e in before + after])
    assert out == ["A", "A", "A"]


def test_a_gap_inside_the_window_cuts_the_older_part() -> None:
    state = SmoothingState(5, IDLE_GAP)
    early = minutes("AAA")
    late = minutes("BB", start=early[-1].end + 1000)
    _, out = run(state, [("u", e) for e in early + late])
    assert out == ["A", "A", "A", "B", "B"]


def test_users_are_smoothed_independently() -> None:
    state = SmoothingState(3, IDLE_GAP)
    a, b = minutes("AAB"), minutes("BBA")
    interleaved = [
        x for pair in zip([("a", e) for e in a], [("b", e) for e in b], strict=True) for x in pair
    ]
    state, out = run(state, interleaved)
    assert out == ["A", "B", "A", "B", "A", "B"]
    assert [e.label for e in state.buffer("a")] == ["A", "A", "B"]
    assert state.buffer("nobody") == ()


def test_buffer_keeps_the_newest_windows_by_time() -> None:
    state, _ = run(SmoothingState(3, IDLE_GAP), [("u", e) for e in minutes("ABCDE")])
    assert [e.label for e in state.buffer("u")] == ["C", "D", "E"]


def test_invalid_window_size_is_refused() -> None:
    with pytest.raises(ValueError, match="smooth_window"):
        SmoothingState(0, IDLE_GAP)


# --- late (out-of-order) windows --------------------------------------------------------


def test_a_late_window_is_smoothed_over_the_windows_before_it() -> None:
    entries = minutes("AABAA")
    state = SmoothingState(5, IDLE_GAP)
    # the third window arrives last
    state, out = run(state, [("u", e) for e in entries[:2] + entries[3:]])
    state, late = state.step("u", entries[2])
    assert out == ["A", "A", "A", "A"]
    # it sees only windows that started before it, never the newer ones
    assert late == "A"
    assert [e.start for e in state.buffer("u")] == [e.start for e in entries]


def test_a_window_older_than_the_whole_buffer_stands_alone() -> None:
    entries = minutes("BAAAA")
    state, _ = run(SmoothingState(3, IDLE_GAP), [("u", e) for e in entries[1:]])
    after, label = state.step("u", entries[0])
    assert label == "B"
    assert after.buffer("u") == state.buffer("u")  # too old to be kept


def test_late_windows_are_deterministic() -> None:
    entries = [("u", e) for e in minutes("ABBACABBAC")]
    order = random.Random(4).sample(entries, len(entries))
    first = run(SmoothingState(3, IDLE_GAP), order)
    second = run(SmoothingState(3, IDLE_GAP), list(order))
    assert first[1] == second[1]
    assert dict(first[0].buffers) == dict(second[0].buffers)


def test_a_replayed_window_replaces_itself() -> None:
    entries = minutes("AAB")
    state, _ = run(SmoothingState(3, IDLE_GAP), [("u", e) for e in entries])
    again, _ = state.step("u", entries[1])
    assert again.buffer("u") == state.buffer("u")


# --- immutability -----------------------------------------------------------------------


def test_step_leaves_the_old_state_unchanged() -> None:
    state, _ = run(SmoothingState(3, IDLE_GAP), [("u", e) for e in minutes("AB")])
    snapshot = dict(state.buffers)
    new, _ = state.step("u", Entry(10 * MINUTE, 11 * MINUTE, "C"))
    new, _ = new.step("v", Entry(0.0, MINUTE, "A"))
    assert dict(state.buffers) == snapshot
    assert state.buffer("v") == ()
    assert new is not state
    with pytest.raises(TypeError):
        state.buffers["u"] = ()  # type: ignore[index]
    with pytest.raises(AttributeError):
        state.size = 5  # type: ignore[misc]


def test_merged_leaves_the_old_state_unchanged() -> None:
    state = SmoothingState(3, IDLE_GAP)
    merged = state.merged([("u", e) for e in minutes("AB")])
    assert dict(state.buffers) == {}
    assert len(merged.buffer("u")) == 2


def test_state_copies_the_buffers_it_is_given() -> None:
    buffers = {"u": tuple(minutes("A"))}
    state = SmoothingState(3, IDLE_GAP, buffers)
    buffers["v"] = ()
    assert "v" not in state.buffers


# --- restart transparency (hypothesis) --------------------------------------------------

LABELS = st.sampled_from(["A", "B", "C", REJECT_LABEL])
# mostly back-to-back minutes, sometimes a short pause, sometimes a gap past idle_gap
GAPS = st.sampled_from([0.0, 0.0, 0.0, 30.0, IDLE_GAP, IDLE_GAP + 0.5, 3600.0])


@st.composite
def timelines(draw: st.DrawFn) -> list[tuple[str, Entry]]:
    """Windows of up to three users, each user's in time order, interleaved at random."""
    per_user: list[list[tuple[str, Entry]]] = []
    for user in draw(st.sampled_from([["u"], ["u", "v"], ["u", "v", "w"]])):
        t = draw(st.sampled_from([0.0, 7.0, 1e9]))
        windows = []
        for label, gap in draw(st.lists(st.tuples(LABELS, GAPS), max_size=25)):
            t += gap
            windows.append((user, Entry(t, t + MINUTE, label)))
            t += MINUTE
        per_user.append(windows)
    merged: list[tuple[str, Entry]] = []
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    while any(per_user):
        merged.append(rng.choice([w for w in per_user if w]).pop(0))
    return merged


def rebuild_inputs(
    processed: list[tuple[str, Entry]], size: int, data: st.DataObject
) -> list[tuple[str, Entry]]:
    """What a restart may read back: each user's last ``size`` (or more) records, any order."""
    kept = []
    for user in {u for u, _ in processed}:
        mine = sorted((e for u, e in processed if u == user), key=lambda e: e.start)
        extra = data.draw(st.integers(0, len(mine)), label=f"older records of {user}")
        kept += [(user, e) for e in mine[max(0, len(mine) - size - extra) :]]
    return data.draw(st.permutations(kept), label="log order")


@settings(max_examples=150, deadline=None)
@given(items=timelines(), size=st.integers(1, 5), data=st.data())
def test_restart_from_records_equals_uninterrupted(
    items: list[tuple[str, Entry]], size: int, data: st.DataObject
) -> None:
    full_state, full = run(SmoothingState(size, IDLE_GAP), items)
    k = data.draw(st.integers(0, len(items)), label="restart after")
    rebuilt = SmoothingState.from_entries(
        rebuild_inputs(items[:k], size, data), size=size, idle_gap=IDLE_GAP
    )
    after_state, after = run(rebuilt, items[k:])
    assert after == full[k:]
    assert dict(after_state.buffers) == dict(full_state.buffers)


@settings(max_examples=120, deadline=None)
@given(items=timelines(), size=st.integers(1, 5), data=st.data())
def test_restart_with_late_windows_equals_uninterrupted(
    items: list[tuple[str, Entry]], size: int, data: st.DataObject
) -> None:
    """Arrival order need not be time order: a rebuilt state still continues identically."""
    arrival = data.draw(st.permutations(items), label="arrival order")
    full_state, full = run(SmoothingState(size, IDLE_GAP), arrival)
    k = data.draw(st.integers(0, len(arrival)), label="restart after")
    # what the log holds at the restart: every processed window, in any order
    logged = data.draw(st.permutations(arrival[:k]), label="log order")
    rebuilt = SmoothingState.from_entries(logged, size=size, idle_gap=IDLE_GAP)
    after_state, after = run(rebuilt, arrival[k:])
    assert after == full[k:]
    assert dict(after_state.buffers) == dict(full_state.buffers)


@settings(max_examples=100, deadline=None)
@given(items=timelines())
def test_size_one_is_identity_for_any_timeline(items: list[tuple[str, Entry]]) -> None:
    _, out = run(SmoothingState(1, IDLE_GAP), items)
    assert out == [e.label for _, e in items]


@settings(max_examples=100, deadline=None)
@given(items=timelines(), size=st.integers(1, 5))
def test_smoothed_label_is_one_of_the_recent_labels(
    items: list[tuple[str, Entry]], size: int
) -> None:
    state = SmoothingState(size, IDLE_GAP)
    for user, entry in items:
        window = [e.label for e in state.buffer(user)][-(size - 1) :] if size > 1 else []
        state, label = state.step(user, entry)
        assert label in [*window, entry.label]


# --- taskclf's centred vote (the report's story, batch) ---------------------------------------


def test_rolling_majority_gives_taskclfs_answers() -> None:
    """The cases of taskclf's own tests (tests/test_infer_smooth.py at 1f207a9)."""
    assert rolling_majority(["Build", "Build", "BreakIdle", "Build", "Build"], 3)[2] == "Build"
    assert rolling_majority([]) == []
    assert rolling_majority(["Build"]) == ["Build"]
    assert rolling_majority(["Write"] * 10) == ["Write"] * 10
    assert rolling_majority(["X", "A", "B"], 3)[1] == "A"  # a tie keeps the label
    assert rolling_majority(["Build", "Write", "BreakIdle", "Build"], 1) == [
        "Build",
        "Write",
        "BreakIdle",
        "Build",
    ]


def _taskclf_reference(labels: list[str], window: int) -> list[str]:
    """taskclf's rule as its docstring states it: the most common label in the centred
    window (Counter.most_common: the first seen among equals), the own label on a tie."""
    out = []
    half = window // 2
    for i in range(len(labels)):
        votes = labels[max(0, i - half) : i + half + 1]
        counts = {x: votes.count(x) for x in votes}
        best = max(counts.values())
        winner = next(x for x in votes if counts[x] == best)
        out.append(labels[i] if counts[labels[i]] == best else winner)
    return out


@given(st.lists(st.sampled_from("ABCD"), max_size=14), st.sampled_from([1, 2, 3, 5, 7]))
def test_rolling_majority_is_centred_with_taskclfs_tie_rule(labels: list[str], window: int) -> None:
    assert rolling_majority(labels, window) == _taskclf_reference(labels, window)


def test_the_centred_vote_is_not_a_window_late_at_a_switch() -> None:
    labels = ["Build"] * 4 + ["Debug"] * 4
    assert rolling_majority(labels) == labels
    trailing = SmoothingState(3, 300.0).steps(
        ("u", Entry(60.0 * i, 60.0 * i + 60, label)) for i, label in enumerate(labels)
    )[1]
    assert trailing == ["Build"] * 5 + ["Debug"] * 3
