"""Every field of every row equals taskclf's own rows on the taskclf-made ActivityWatch days."""

from __future__ import annotations

import copy
import json

import pytest
from aw_fixtures import HOSTNAME, load_case, parity_cases, row_differences

from taskclf_core.activity import (
    RowSpec,
    build_day,
    export_buckets,
    parse_input_events,
    parse_timestamp_us,
    parse_window_events,
    select_buckets,
)


def rows_for(case_name: str, version: str) -> list[dict[str, object]]:
    case = load_case(case_name)
    buckets = export_buckets(case.export(), source=str(case.export_path))
    choice = select_buckets(buckets, HOSTNAME, source="export")
    windows = parse_window_events(
        buckets[choice.window]["events"],
        bucket_id=choice.window,
        salt=case.salt,
        sketches=version == "v3",
    ).events
    inputs = (
        parse_input_events(buckets[choice.input]["events"], bucket_id=choice.input).events
        if choice.input
        else []
    )
    day = parse_timestamp_us(f"{case.date}T00:00:00Z", "date")
    return build_day(day, windows, inputs, spec=RowSpec(case.user_id, version))


@pytest.mark.parametrize(("case_name", "version"), parity_cases())
def test_rows_equal_taskclf(case_name: str, version: str) -> None:
    case = load_case(case_name)
    expected = case.expected(version)
    got = rows_for(case_name, version)
    assert expected, "the fixture has rows"
    assert row_differences(expected, got) == []
    # exactly what a spool file will hold: JSON round trip keeps every value
    assert row_differences(expected, [json.loads(json.dumps(r)) for r in got]) == []


def test_the_cases_cover_what_parity_needs() -> None:
    """The fixtures exercise input and no-input days, v1 and v3, sessions and unknown apps."""
    workday = load_case("workday").expected("v3")
    noinput = load_case("no-input").expected("v1")
    assert {r["source_ids"][-1] for r in workday} == {"aw-watcher-input"}
    assert all(r["keys_per_min"] is None for r in noinput)
    assert len({r["session_id"] for r in workday}) > 1
    assert any(r["app_id"].startswith("unknown.") for r in workday)
    assert any(r["keys_per_min_delta"] is not None for r in workday)


def test_v2_rows_are_v1_without_user_id_in_the_registry_but_keep_it_for_the_spool() -> None:
    v1 = rows_for("workday", "v1")
    v2 = rows_for("workday", "v2")
    assert len(v1) == len(v2)
    for a, b in zip(v1, v2, strict=True):
        assert b["schema_version"] == "v2"
        assert b["schema_hash"] == "a15f4751a947"
        assert b["user_id"] == a["user_id"]  # the daemon needs it; v2's registry omits it
        rest_a = {k: v for k, v in a.items() if k not in ("schema_version", "schema_hash")}
        rest_b = {k: v for k, v in b.items() if k not in ("schema_version", "schema_hash")}
        assert rest_a == rest_b


def test_a_different_salt_changes_every_title_value() -> None:
    case = load_case("workday")
    buckets = export_buckets(case.export(), source="export")
    choice = select_buckets(buckets, HOSTNAME, source="export")
    events = buckets[choice.window]["events"]
    ours = parse_window_events(events, bucket_id="w", salt=case.salt, sketches=True).events
    other = parse_window_events(events, bucket_id="w", salt=case.salt + "x", sketches=True).events
    assert all(a.title_hash != b.title_hash for a, b in zip(ours, other, strict=True))


def test_wrong_salt_breaks_parity() -> None:
    """The test can fail: a different salt gives different hashes than taskclf's rows."""
    case = load_case("workday")
    doc = copy.deepcopy(case.export())
    buckets = export_buckets(doc, source="export")
    choice = select_buckets(buckets, HOSTNAME, source="export")
    windows = parse_window_events(
        buckets[choice.window]["events"], bucket_id="w", salt="not-the-salt", sketches=False
    ).events
    day = parse_timestamp_us(f"{case.date}T00:00:00Z", "date")
    rows = build_day(day, windows, [], spec=RowSpec(case.user_id, "v1"))
    assert row_differences(case.expected("v1"), rows)


def test_the_check_lets_through_only_the_span_fields_after_taskclfs_columns() -> None:
    """Our rows add the time each stands for (docs/windows.md) and nothing else: the check
    fails on any other extra column, and on the span fields anywhere but at the end."""
    expected = load_case("no-input").expected("v1")
    got = rows_for("no-input", "v1")
    assert all(list(r)[-3:] == ["span_start_ts", "span_end_ts", "span_away"] for r in got)
    assert row_differences(expected, got) == []
    extra = [{**r, "minutes": 1.0} for r in got]
    assert (
        "does not make: ['span_start_ts', 'span_end_ts', 'span_away', 'minutes']"
        in (row_differences(expected, extra)[0])
    )
    moved = [{"span_away": r["span_away"], **r} for r in got]
    assert row_differences(expected, moved)
