"""Label spans: taskclf's CSV and JSONL, validation that names the line and field, projection."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskclf_core.errors import SpanError
from taskclf_core.labels import CORE_LABELS
from taskclf_core.spans import (
    LabelSpan,
    check_overlaps,
    csv_cell,
    csv_text,
    merge_spans,
    near_typed_switch,
    project,
    read_spans_csv,
    read_spans_jsonl,
    span_days,
    spans_to_csv,
    spans_to_jsonl,
    typed_steps,
)
from taskclf_core.wallclock import parse_when

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def span(a: float, b: float, label: str = "Build", user: str | None = "u1") -> LabelSpan:
    return LabelSpan(at(a), at(b), label, "manual", user)


def minute(user: str, m: float) -> tuple[str, datetime, datetime]:
    return (user, at(m), at(m + 1))


# --- the value ---------------------------------------------------------------------------


def test_naive_times_are_utc_and_aware_ones_are_converted() -> None:
    s = LabelSpan(
        datetime(2026, 1, 5, 9), datetime(2026, 1, 5, 11, tzinfo=ZoneInfo("Europe/Berlin")), "Write"
    )
    assert s.start_ts == T0
    assert s.end_ts == at(60)
    assert s.start_ts.tzinfo is UTC
    assert s.end_ts.tzinfo is UTC


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"end_ts": T0}, r"end_ts: .* is not after start_ts"),
        ({"label": "Coding"}, r"label: 'Coding' is not a core label"),
        ({"label": "Mixed/Unknown"}, r"label: 'Mixed/Unknown' is not a core label"),
        ({"provenance": " "}, r"provenance: expected a non-empty string"),
        ({"user_id": ""}, r"user_id: expected a non-empty string"),
        ({"confidence": 1.5}, r"confidence: expected a number in \[0, 1\]"),
        ({"confidence": float("inf")}, r"confidence: expected a number in \[0, 1\]"),
    ],
)
def test_invalid_spans_name_the_field(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "start_ts": T0,
        "end_ts": at(30),
        "label": "Build",
        "provenance": "manual",
        "user_id": "u1",
    }
    with pytest.raises(SpanError, match=message):
        LabelSpan(**(base | kwargs))  # type: ignore[arg-type]


def test_id_is_stable_and_depends_on_the_key_only() -> None:
    a = span(0, 30, "Build")
    assert a.id == span(0, 30, "Debug").id  # same key: a relabel replaces the span
    assert a.id != span(0, 31).id != span(0, 30, user="u2").id
    assert a.id == "10f0efe042"  # pinned: ids are how people remove spans, across versions
    assert len({span(i, i + 1).id for i in range(500)}) == 500


# --- CSV and JSONL -----------------------------------------------------------------------

TASKCLF_EXPORT = """\
start_ts,end_ts,label,provenance,user_id,confidence,extend_forward
2026-01-05 09:00:00+00:00,2026-01-05 09:30:00+00:00,Build,manual,u1,0.9,False
2026-01-05 09:30:00+00:00,2026-01-05 10:00:00.564407+00:00,Debug,manual,u1,,False
2026-01-05 10:00:00+00:00,2026-01-05 10:00:00+00:00,Write,manual,u1,,True
2026-01-05 11:00:00,2026-01-05 12:00:00,Meet,weak:app_rule,,,False
"""


def test_reads_taskclf_export_including_its_extra_column() -> None:
    parsed = read_spans_csv(TASKCLF_EXPORT, source="labels.csv")
    assert parsed.skipped_open == 1  # the open "label from now" span labels no window
    a, b, c = parsed.spans
    assert (a.label, a.user_id, a.confidence) == ("Build", "u1", 0.9)
    assert b.end_ts == datetime(2026, 1, 5, 10, 0, 0, 564407, tzinfo=UTC)
    assert b.confidence is None
    assert (c.user_id, c.provenance, c.start_ts) == (None, "weak:app_rule", at(120))


def test_minimal_columns_and_blank_lines() -> None:
    text = (
        "start_ts,end_ts,label,provenance\n\n"
        "2026-01-05T09:00:00Z,2026-01-05T10:00:00Z,Write,manual\n"
    )
    (s,) = read_spans_csv(text, source="f.csv").spans
    assert (s.user_id, s.confidence, s.end_ts) == (None, None, at(60))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"^f\.csv: empty file"),
        ("start_ts,end_ts,label\n", r"^f\.csv:1: missing column 'provenance'"),
        ("start_ts,end_ts,label,provenance,colour\n", r"^f\.csv:1: unknown column 'colour'"),
        (
            "start_ts,end_ts,label,provenance\n2026-01-05T09:00Z,2026-01-05T10:00Z,Build,manual\n"
            "2026-01-05 11:00,yesterday,Build,manual\n",
            r"^f\.csv:3: end_ts: expected an ISO-8601 timestamp .* got 'yesterday'",
        ),
        (
            "start_ts,end_ts,label,provenance\n2026-01-05T09:00Z,2026-01-05T10:00Z,Coding,manual\n",
            r"^f\.csv:2: label: 'Coding' is not a core label",
        ),
        (
            "start_ts,end_ts,label,provenance\n2026-01-05T10:00Z,2026-01-05T09:00Z,Build,manual\n",
            r"^f\.csv:2: end_ts: 2026-01-05T09:00:00Z is not after start_ts",
        ),
        (
            "start_ts,end_ts,label,provenance,confidence\n"
            "2026-01-05T09:00Z,2026-01-05T10:00Z,Build,manual,high\n",
            r"^f\.csv:2: confidence: expected a number in \[0, 1\], got 'high'",
        ),
        (
            "start_ts,end_ts,label,provenance\n2026-01-05T09:00Z,2026-01-05T10:00Z,Build\n",
            r"^f\.csv:2: provenance: missing",
        ),
        (
            "start_ts,end_ts,label,provenance\n2026-01-05T09:00Z,2026-01-05T10:00Z,Build,m,x\n",
            r"^f\.csv:2: more fields than the header",
        ),
        (
            "start_ts,end_ts,label,provenance,extend_forward\n"
            "2026-01-05T09:00Z,2026-01-05T10:00Z,Build,m,maybe\n",
            r"^f\.csv:2: extend_forward: expected true or false",
        ),
    ],
)
def test_bad_csv_names_line_and_field(text: str, message: str) -> None:
    with pytest.raises(SpanError, match=message):
        read_spans_csv(text, source="f.csv")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{nope", r"^s\.jsonl:2: not valid JSON"),
        ("[1]", r"^s\.jsonl:2: expected a JSON object, got list"),
        (
            '{"start_ts":"2026-01-05T09:00Z","end_ts":"2026-01-05T10:00Z","label":"Build"}',
            r"^s\.jsonl:2: provenance: missing",
        ),
        (
            '{"start_ts":"2026-01-05T09:00Z","end_ts":"2026-01-05T10:00Z","label":"Build",'
            '"provenance":"m","user_id":7}',
            r"^s\.jsonl:2: user_id: expected a string, got int",
        ),
        (
            '{"start_ts":"2026-01-05T09:00Z","end_ts":"2026-01-05T10:00Z","label":"Build",'
            '"provenance":"m","confidence":true}',
            r"^s\.jsonl:2: confidence: expected a number",
        ),
        (
            '{"start_ts":"2026-01-05T09:00Z","end_ts":"2026-01-05T10:00Z","label":"Build",'
            '"provenance":"m","note":"x"}',
            r"^s\.jsonl:2: unknown column 'note'",
        ),
        (
            '{"start_ts":1767600000,"end_ts":"2026-01-05T10:00Z","label":"Build","provenance":"m"}',
            r"^s\.jsonl:2: start_ts: expected an ISO-8601 timestamp, got 1767600000",
        ),
    ],
)
def test_bad_jsonl_names_line_and_field(line: str, message: str) -> None:
    good = (
        '{"start_ts":"2026-01-04T09:00Z","end_ts":"2026-01-04T10:00Z",'
        '"label":"Build","provenance":"m"}'
    )
    with pytest.raises(SpanError, match=message):
        read_spans_jsonl(f"{good}\n{line}\n", source="s.jsonl")


timestamps = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
span_values = st.builds(
    lambda start, length, label, prov, user, conf: LabelSpan(
        start, start + timedelta(microseconds=length), label, prov, user, conf
    ),
    timestamps,
    st.integers(1, 10 * 86_400 * 10**6),
    st.sampled_from(CORE_LABELS),
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
        min_size=1,
        max_size=12,
    ),
    st.none() | st.sampled_from(["u1", "u-ada", "ü ser", "a,b", 'q"uote']),
    st.none() | st.floats(0.0, 1.0),
)


@settings(max_examples=200)
@given(st.lists(span_values, max_size=12))
def test_csv_and_jsonl_round_trip(spans: list[LabelSpan]) -> None:
    csv_back = read_spans_csv(spans_to_csv(spans), source="x.csv").spans
    json_back = read_spans_jsonl(spans_to_jsonl(spans), source="x.jsonl").spans
    expected = sorted(spans, key=lambda s: (s.start_ts, s.user_id or "", s.end_ts, s.label))
    assert list(csv_back) == expected
    assert list(json_back) == expected
    # and again: export of the import is byte-identical
    assert spans_to_csv(csv_back) == spans_to_csv(spans)


# OWASP's CSV-injection triggers: no exported free-text cell may start with one
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@given(st.text())
def test_a_free_text_cell_never_starts_a_formula_and_comes_back_exactly(text: str) -> None:
    cell = csv_cell(text)
    assert not cell.startswith(FORMULA_START)
    assert csv_text(cell) == text


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'quoted", "''quoted"),  # a real leading quote is kept by escaping it too
        ("manual", "manual"),
        ("a=b", "a=b"),
    ],
)
def test_owasp_cells(text: str, cell: str) -> None:
    assert csv_cell(text) == cell
    assert csv_text(cell) == text


free_text = st.text(min_size=1).filter(str.strip)  # what a span holds (trimmed, non-empty)


@settings(max_examples=300)
@given(
    st.lists(
        st.builds(
            lambda i, prov, user: LabelSpan(at(2 * i), at(2 * i + 1), "Build", prov, user),
            st.integers(0, 10_000),
            free_text,
            st.none() | free_text,
        ),
        max_size=8,
        unique_by=lambda s: s.start_ts,
    )
)
def test_any_free_text_survives_export_and_import_and_no_cell_is_a_formula(
    spans: list[LabelSpan],
) -> None:
    text = spans_to_csv(spans)
    back = read_spans_csv(text, source="x.csv").spans
    assert list(back) == sorted(spans, key=lambda s: s.start_ts)
    for row in list(csv.reader(io.StringIO(text, newline="")))[1:]:
        assert not row[3].startswith(FORMULA_START), row
        assert not row[4].startswith(FORMULA_START), row


def test_import_takes_one_leading_quote_off_free_text_only() -> None:
    text = (
        "start_ts,end_ts,label,provenance,user_id,confidence\n"
        "2026-01-05T09:00:00Z,2026-01-05T10:00:00Z,Build,'=1+1,''u1,\n"
    )
    [span] = read_spans_csv(text, source="x.csv").spans
    assert (span.provenance, span.user_id) == ("=1+1", "'u1")


# --- overlaps ----------------------------------------------------------------------------


def test_overlap_with_another_label_names_both_spans() -> None:
    a, b = span(0, 30, "Build"), span(20, 40, "Debug")
    with pytest.raises(SpanError, match=rf"overlap for u1 .*{a.id} .*Build.* and {b.id} .*Debug"):
        check_overlaps([b, a])


def test_allowed_overlaps_and_neighbours() -> None:
    check_overlaps([span(0, 30, "Build"), span(30, 60, "Debug")])  # touching is not overlapping
    check_overlaps([span(0, 30, "Build"), span(10, 40, "Build")])  # same label
    check_overlaps([span(0, 30, "Build", "u1"), span(0, 30, "Debug", "u2")])  # other users


def test_a_span_without_user_conflicts_with_every_user() -> None:
    with pytest.raises(SpanError, match="overlap for u2"):
        check_overlaps([span(0, 30, "Build", None), span(29, 31, "Meet", "u2")])


def test_merge_replaces_same_key_and_refuses_conflicts() -> None:
    old = [span(0, 30, "Build"), span(30, 60, "Debug")]
    merged = merge_spans(old, [span(0, 30, "Write")])
    assert [s.label for s in merged] == ["Write", "Debug"]
    with pytest.raises(SpanError, match="different labels"):
        merge_spans(old, [span(50, 70, "Meet")])


def test_span_days_are_utc_days_touched() -> None:
    s = LabelSpan(
        datetime(2026, 1, 5, 23, tzinfo=UTC), datetime(2026, 1, 7, 0, tzinfo=UTC), "Build"
    )
    assert sorted(d.isoformat() for d in span_days([s])) == ["2026-01-05", "2026-01-06"]


# --- projection (taskclf's strict containment) -------------------------------------------


def test_projection_rules() -> None:
    spans = [span(0, 30, "Build"), span(30, 60, "Debug"), span(100, 110, "Write", "u2")]
    windows = [
        minute("u1", 0),  # starts with the span: inside
        minute("u1", 29),  # ends with the span (end exclusive): inside
        minute("u1", 29.5),  # across two spans: dropped
        minute("u1", 59.5),  # partly covered: dropped
        minute("u1", -0.5),  # partly covered at the start: dropped
        minute("u1", 45),
        minute("u1", 105),  # another user's span: not for u1
        minute("u2", 105),
        minute("u3", 10),  # no span of theirs
    ]
    assert project(spans, windows) == [
        "Build",
        "Build",
        None,
        None,
        None,
        "Debug",
        None,
        "Write",
        None,
    ]


def test_projection_without_user_applies_to_everyone() -> None:
    spans = [span(0, 60, "Meet", None), span(100, 130, "Build", "u1")]
    windows = [minute("u1", 10), minute("u9", 10), minute("u1", 110), minute("u9", 110)]
    assert project(spans, windows) == ["Meet", "Meet", "Build", None]


def test_projection_of_overlapping_spans_follows_taskclf() -> None:
    # contained in two spans of one label: labelled; of two labels: dropped (validation
    # refuses to store the latter, projection still never guesses)
    same = [span(0, 30, "Build"), span(10, 40, "Build")]
    assert project(same, [minute("u1", 15), minute("u1", 35)]) == ["Build", "Build"]
    mixed = [span(0, 30, "Build"), span(10, 40, "Debug", None)]
    assert project(mixed, [minute("u1", 15), minute("u1", 5), minute("u2", 15)]) == [
        None,
        "Build",
        "Debug",
    ]
    # a long early span is still found behind a later short one
    nested = [span(0, 120, "Build"), span(50, 51, "Build")]
    assert project(nested, [minute("u1", 100)]) == ["Build"]


def test_projection_on_dst_days_counts_real_minutes() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 11, 30, tzinfo=UTC)

    def local(text: str) -> datetime:
        return parse_when(text, now=now, tz=berlin)

    spring = LabelSpan(local("2026-03-29 01:00"), local("2026-03-29 04:00"), "Build", "m", "u1")
    autumn = LabelSpan(local("2026-10-25 01:00"), local("2026-10-25 04:00"), "Write", "m", "u1")
    assert spring.end_ts - spring.start_ts == timedelta(hours=2)
    assert autumn.end_ts - autumn.start_ts == timedelta(hours=4)

    def minutes_around(s: LabelSpan) -> list[tuple[str, datetime, datetime]]:
        first = s.start_ts - timedelta(minutes=30)
        return [
            ("u1", first + timedelta(minutes=i), first + timedelta(minutes=i + 1))
            for i in range(6 * 60)
        ]

    for s, real_minutes in ((spring, 120), (autumn, 240)):
        windows = minutes_around(s)
        labels = project([spring, autumn], windows)
        assert labels.count(s.label) == real_minutes
        inside = [w for w, lab in zip(windows, labels, strict=True) if lab is not None]
        assert inside[0][1] == s.start_ts
        assert inside[-1][2] == s.end_ts


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 200),
            st.integers(1, 60),
            st.sampled_from(CORE_LABELS[:3]),
            st.sampled_from(["u1", "u2", None]),
        ),
        max_size=8,
    ),
    st.lists(st.tuples(st.sampled_from(["u1", "u2"]), st.integers(0, 400)), max_size=40),
)
def test_projection_matches_the_rule_by_brute_force(
    raw_spans: list[tuple[int, int, str, str | None]], raw_windows: list[tuple[str, int]]
) -> None:
    spans = [span(a / 2, (a + n) / 2, lab, user) for a, n, lab, user in raw_spans]
    windows = [("u", at(m / 2), at(m / 2 + 1)) for _, m in raw_windows]
    windows = [(u, s, e) for (u, _), (_, s, e) in zip(raw_windows, windows, strict=True)]
    got = project(spans, windows)
    for (user, start, end), label in zip(windows, got, strict=True):
        containing = {
            s.label for s in spans if s.applies_to(user) and s.start_ts <= start and end <= s.end_ts
        }
        assert label == (containing.pop() if len(containing) == 1 else None)


# --- how spans were typed: a coarse step, the minute, finer ------------------------------

_T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _day_of_spans(
    minutes: list[int], labels: list[str], user_id: str | None = None
) -> list[LabelSpan]:
    """Back-to-back spans whose edges are ``minutes`` after 08:00."""
    return [
        LabelSpan(_T0 + timedelta(minutes=a), _T0 + timedelta(minutes=b), label, user_id=user_id)
        for a, b, label in zip(minutes, minutes[1:], labels, strict=False)
    ]


def test_the_step_spans_were_typed_to_is_told_from_spans_typed_to_the_minute() -> None:
    five = _day_of_spans(list(range(0, 300, 20)), ["Build", "BreakIdle"] * 8, "u5")
    to_the_minute = _day_of_spans([0, 17, 41, 58, 63, 92, 118, 131, 160, 187, 203, 233, 251, 270],
                                  ["Write", "Meet"] * 7, "u1")  # fmt: skip
    quarter = _day_of_spans(list(range(0, 600, 45)), ["Build", "Meet"] * 7, None)
    steps = typed_steps([*five, *to_the_minute, *quarter])
    assert (steps["u5"].minutes, steps["u5"].edges, steps["u5"].on_step) == (
        10,
        15,
        15,
    )  # all on :x0
    assert (steps["u1"].minutes, steps["u1"].margin) == (1, timedelta(seconds=30))
    assert (steps[None].minutes, steps[None].margin) == (15, timedelta(minutes=7.5))
    # too few edges to tell a coarse step: taken as typed to the minute
    assert typed_steps(five[:3])["u5"].minutes == 1
    # edges off the minute (a program's spans, to the second): finer than a minute, no margin
    to_the_second = [
        LabelSpan(s.start_ts + timedelta(seconds=17), s.end_ts + timedelta(seconds=17), s.label)
        for s in to_the_minute
    ]
    assert (typed_steps(to_the_second)[None].minutes, typed_steps(to_the_second)[None].margin) == (
        0,
        timedelta(0),
    )
    # one edge in twenty off the mark is still a 5-minute typist; three in twenty is not
    edges = list(range(0, 100, 5))
    one_off = _day_of_spans([*edges[:-2], 91, 95], ["Build", "Write"] * 10)
    three_off = _day_of_spans([*edges[:-4], 82, 87, 91, 95], ["Build", "Write"] * 10)
    assert typed_steps(one_off)[None].minutes == 5
    assert typed_steps(three_off)[None].minutes == 1


def test_minutes_near_a_typed_switch_and_none_where_a_label_goes_on() -> None:
    spans = [
        *_day_of_spans([0, 30, 45, 60, 90], ["Build", "BreakIdle", "BreakIdle", "Write"]),
        *_day_of_spans([120, 125, 150, 200, 240, 245, 300, 305], ["Meet", "Build", "Write"] * 3),
    ]
    minutes = [
        ("u", _T0 + timedelta(minutes=i), _T0 + timedelta(minutes=i + 1)) for i in range(320)
    ]
    near = {i for i, flag in enumerate(near_typed_switch(spans, minutes)) if flag}
    # the minutes within 2.5 minutes of 0, 30, 60, 90 (where labelled time ends), 120, ...:
    # none around 45, where one break goes on into the next span
    switches = (0, 30, 60, 90, 120, 125, 150, 200, 240, 245, 300, 305)
    assert near == {m for s in switches for m in range(s - 3, s + 3) if m >= 0}
    assert not {43, 44, 45, 46, 47} & near
    # another user's spans say nothing of this user's minutes; spans for any user do
    theirs = [LabelSpan(s.start_ts, s.end_ts, s.label, user_id="v") for s in spans]
    assert not any(near_typed_switch(theirs, minutes))
    # typed to the minute: the minute either side of a switch may hold some of both tasks
    edges = [0, 17, 41, 58, 63, 92, 118, 131, 160, 187, 203, 233, 251, 270]
    to_the_minute = _day_of_spans(edges, ["Write", "Meet"] * 7)
    near = {i for i, flag in enumerate(near_typed_switch(to_the_minute, minutes)) if flag}
    assert near == {m for e in edges for m in (e - 1, e) if m >= 0}
    # to the second: no minute is near a switch (taskclf's projection alone)
    exact = [
        LabelSpan(s.start_ts + timedelta(seconds=17), s.end_ts + timedelta(seconds=17), s.label)
        for s in to_the_minute
    ]
    assert not any(near_typed_switch(exact, minutes))


@given(
    st.lists(st.integers(1, 12), min_size=1, max_size=30),
    st.sampled_from([1, 5, 10, 15]),
    st.lists(st.sampled_from(CORE_LABELS), min_size=30, max_size=30),
    st.integers(0, 59),
)
@settings(max_examples=150, deadline=None)
def test_a_minute_is_near_a_switch_exactly_when_it_comes_within_half_a_step_of_one(
    gaps: list[int], step: int, labels: list[str], second: int
) -> None:
    edges = [0]
    for g in gaps:
        edges.append(edges[-1] + g * step)
    spans = _day_of_spans(edges, labels)
    offset = timedelta(seconds=second)
    windows = [("u", _T0 + timedelta(minutes=i) + offset, _T0 + timedelta(minutes=i + 1) + offset)
               for i in range(-10, edges[-1] + 10)]  # fmt: skip
    steps = typed_steps(spans)
    margin = steps[None].margin
    # switches: every edge but where one label goes on into the next span
    switch_at = [_T0 + timedelta(minutes=e) for k, e in enumerate(edges)
                 if k in (0, len(edges) - 1) or labels[k - 1] != labels[k]]  # fmt: skip
    got = near_typed_switch(spans, windows, steps)
    for (_, start, end), flag in zip(windows, got, strict=True):
        expected = margin > timedelta(0) and any(
            start < e + margin and end > e - margin for e in switch_at
        )
        assert flag == expected


def test_a_users_own_spans_and_spans_for_any_user_switch_together() -> None:
    """Where a user's own span and a span for any user meet under one label there is no
    switch; another user's spans say nothing of this user's minutes."""

    def m(minutes: int) -> datetime:
        return _T0 + timedelta(minutes=minutes)

    own = _day_of_spans(list(range(5, 130, 10)), ["Build", "Write"] * 6, "u")  # 5 … 125
    assert (own[-1].label, own[-1].end_ts) == ("Write", m(125))
    anyone = [
        LabelSpan(m(125), m(150), "Write"),
        LabelSpan(m(150), m(160), "Meet"),
        *_day_of_spans(list(range(600, 660, 5)), ["Build", "Meet"] * 6),
    ]
    other = [LabelSpan(m(300), m(310), "Meet", user_id="v")]
    spans = [*own, *anyone, *other]
    steps = typed_steps(spans)
    assert (steps["u"].minutes, steps[None].minutes, steps["v"].minutes) == (5, 5, 1)
    minutes = [("u", m(i), m(i + 1)) for i in range(100, 170)]
    flagged = {100 + i for i, flag in enumerate(near_typed_switch(spans, minutes)) if flag}
    assert {112, 113, 114, 115, 116, 117} <= flagged  # u's own Build -> Write at 115
    assert not {122, 123, 124, 125, 126, 127} & flagged  # Write goes on into a span for anyone
    assert {147, 148, 149, 150, 151, 152} <= flagged  # Write -> Meet (for anyone)
    assert {157, 158, 159, 160, 161, 162} <= flagged  # labelled time ends
    assert not {120, 130, 140, 155, 165} & flagged
    # v's spans were typed to the minute: the minute either side of each of v's switches;
    # u has none there
    assert not any(near_typed_switch(spans, [("u", m(i), m(i + 1)) for i in range(297, 304)]))
    v = near_typed_switch(spans, [("v", m(i), m(i + 1)) for i in range(297, 304)])
    assert [297 + i for i, flag in enumerate(v) if flag] == [299, 300]


def test_an_edge_off_the_minute_has_no_margin_among_edges_typed_to_it() -> None:
    """`label add --from 09:00 --to now` keeps the seconds of now: that edge is exact, the
    others were typed to the minute."""
    t = _T0
    spans = [
        LabelSpan(t, t + timedelta(minutes=20, seconds=17), "Build"),  # --to now
        LabelSpan(t + timedelta(minutes=30), t + timedelta(minutes=45), "BreakIdle"),
    ]
    step = typed_steps(spans)[None]
    assert (step.minutes, step.edges, step.on_step) == (1, 4, 3)
    assert step.margin_at(t + timedelta(minutes=20, seconds=17)) == timedelta(0)
    assert step.margin_at(t + timedelta(minutes=30)) == timedelta(seconds=30)
    minutes = [("u", t + timedelta(minutes=i), t + timedelta(minutes=i + 1)) for i in range(-3, 50)]
    near = {i - 3 for i, flag in enumerate(near_typed_switch(spans, minutes)) if flag}
    assert near == {-1, 0, 29, 30, 44, 45}  # none around 20:17
    # a coarse typist's edge off the mark still has their margin
    five = _day_of_spans(list(range(0, 300, 20)), ["Build", "BreakIdle"] * 8, "u5")
    coarse = typed_steps(five)["u5"]
    assert coarse.margin_at(_T0 + timedelta(minutes=7, seconds=3)) == coarse.margin
