"""Spool file → windows: every FileRefusal code, .json vs .jsonl, the position of each refusal."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from helpers import Window, window_stream

from daemon.runtime.intake import FileRefusal, ParsedFile, parse_spool_file, read_claimed
from daemon.runtime.spool import Claimed, Spool
from taskclf_core.bundle import ModelBundle
from taskclf_core.schema import ColumnKind, FeatureSchema


@pytest.fixture(scope="module")
def schema(bundle: ModelBundle) -> FeatureSchema:
    return bundle.schema


@pytest.fixture(scope="module")
def stream(training_windows: list[Window]) -> list[Window]:
    return window_stream(training_windows)[:40]


@pytest.fixture(scope="module")
def numeric_column(schema: FeatureSchema) -> str:
    return next(name for name, kind, *_ in schema.plan if kind is ColumnKind.NUMERIC)


def jsonl(*rows: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def parsed(name: str, data: bytes, schema: FeatureSchema) -> ParsedFile:
    result = parse_spool_file(name, data, schema)
    assert isinstance(result, ParsedFile), result
    return result


def keys(result: ParsedFile) -> list[tuple[str, str]]:
    return [w.key for w in result.windows]


def window_keys(windows: list[Window]) -> list[tuple[str, str]]:
    return [(w["user_id"], w["bucket_start_ts"]) for w in windows]


# --- whole files refused ------------------------------------------------------------------------

FILE_REFUSALS = [
    ("w.txt", b"{}", "unsupported_type", "expected a .json or .jsonl file name"),
    ("w.json.partial", b"{}", "unsupported_type", "expected a .json or .jsonl file name"),
    ("w.JSON", b"{}", "unsupported_type", "expected a .json or .jsonl file name"),
    ("w.json", b"", "empty_file", "the file is empty"),
    ("w.jsonl", b" \n\r\n\t\n", "empty_file", "the file is empty"),
    ("w.json", b"[]", "empty_file", "the file holds an empty list"),
    ("w.json", b" [ \n ] ", "empty_file", "the file holds an empty list"),
    ("w.json", b'{"user_id": "u"}\0', "binary_content", "NUL bytes"),
    ("w.jsonl", b'{"user_id": "u"}\n\0\n', "binary_content", "NUL bytes"),
    ("w.json", b'{"user_id": "\xff"}', "invalid_utf8", "not valid UTF-8 at byte 13"),
    ("w.jsonl", b'{}\n{"user_id": "\xc3"}\n', "invalid_utf8", "not valid UTF-8 at byte 16"),
    ("w.json", b'{"user_id": ', "invalid_json", "not valid JSON"),
    ("w.json", b'{"a": 1}\n{"a": 2}\n', "invalid_json", "not valid JSON"),  # JSONL named .json
]


@pytest.mark.parametrize(("name", "data", "code", "detail"), FILE_REFUSALS)
def test_a_file_that_is_not_windows_is_refused_whole_with_its_code(
    name: str, data: bytes, code: str, detail: str, schema: FeatureSchema
) -> None:
    result = parse_spool_file(name, data, schema)
    assert isinstance(result, FileRefusal), result
    assert result.error == code
    assert detail in result.detail


# --- .json ---------------------------------------------------------------------------------------


def test_a_json_object_is_one_window(stream: list[Window], schema: FeatureSchema) -> None:
    result = parsed("w.json", json.dumps(stream[0]).encode(), schema)
    assert keys(result) == window_keys(stream[:1])
    assert result.refused == ()
    assert result.jsonl is False


@pytest.mark.parametrize("n", [3, 40])  # below and above the column-wise batch size
def test_a_json_list_is_its_windows_in_order(
    n: int, stream: list[Window], schema: FeatureSchema
) -> None:
    result = parsed("w.json", json.dumps(stream[:n]).encode(), schema)
    assert keys(result) == window_keys(stream[:n])
    assert result.refused == ()
    assert result.jsonl is False


@pytest.mark.parametrize("n", [4, 40])
def test_json_refusals_carry_their_0_based_index_and_the_window(
    n: int, stream: list[Window], numeric_column: str, schema: FeatureSchema
) -> None:
    items: list[Any] = list(stream[:n])
    no_user = {k: v for k, v in stream[1].items() if k != "user_id"}
    items[1] = no_user
    items[3] = "not an object"
    items[-2] = {**stream[n - 2], numeric_column: "high"}
    result = parsed("w.json", json.dumps(items).encode(), schema)

    good = [w for i, w in enumerate(items) if i not in (1, 3, n - 2)]
    assert keys(result) == window_keys(good)
    assert [r.position for r in result.refused] == sorted({1, 3, n - 2})
    by_position = {r.position: r for r in result.refused}
    assert by_position[1].field == "user_id"
    assert by_position[1].window == no_user  # nothing is lost
    assert by_position[3].field is None
    assert by_position[3].reason == "window: expected a JSON object, got string"
    assert by_position[n - 2].field == numeric_column
    assert by_position[n - 2].reason == f"{numeric_column}: expected a JSON number, got string"
    assert by_position[1].to_json(jsonl=False) == {
        "index": 1,
        "field": "user_id",
        "reason": "user_id: expected a non-empty string",
        "window": no_user,
    }


def test_nan_and_infinity_are_read_so_that_the_field_can_be_named(
    stream: list[Window], numeric_column: str, schema: FeatureSchema
) -> None:
    text = json.dumps([{**stream[0], numeric_column: 0.5}, {**stream[1], numeric_column: 0.5}])
    text = text.replace(f'"{numeric_column}": 0.5', f'"{numeric_column}": NaN', 1)
    text = text.replace(f'"{numeric_column}": 0.5', f'"{numeric_column}": -Infinity', 1)
    result = parsed("w.json", text.encode(), schema)
    assert result.windows == ()
    assert [(r.position, r.field) for r in result.refused] == [
        (0, numeric_column),
        (1, numeric_column),
    ]
    assert "expected a finite number" in result.refused[0].reason


def test_a_lone_surrogate_escape_is_read_as_u_fffd_like_the_collector_does(
    stream: list[Window], numeric_column: str, schema: FeatureSchema
) -> None:
    """ "\\ud800" is valid JSON that the fast parser refused: the line went to rejected/. It
    reads as U+FFFD now (taskclf_core.surrogates: the collector's rule too); a real pair
    stays one character and an escaped backslash stays text."""
    accepted = {**stream[0], "app_id": "Tool\ud800", "device_id": "x\ud83d\ude00\\ud800"}
    refused = {**stream[1], "app_id": "Tool\udc00\ud800", numeric_column: "high"}
    text = json.dumps(accepted) + "\n" + json.dumps(refused) + "\n"
    assert "\\ud800" in text
    result = parsed("w.jsonl", text.encode(), schema)
    assert keys(result) == window_keys([stream[0]])
    [kept] = result.refused  # refused for its number, and kept as read
    assert kept.field == numeric_column
    assert kept.window["app_id"] == "Tool\ufffd\ufffd"
    read = parsed("w.json", json.dumps([{**accepted, numeric_column: "x"}]).encode(), schema)
    assert read.refused[0].window["app_id"] == "Tool\ufffd"
    assert read.refused[0].window["device_id"] == "x\U0001f600\\ud800"
    assert parse_spool_file("w.json", b'{"a": "\\ud800', schema) == FileRefusal(
        "invalid_json", "not valid JSON (EOF while parsing a string at line 1 column 13)"
    )


# --- .jsonl --------------------------------------------------------------------------------------


def test_jsonl_is_one_window_a_line_blank_lines_and_crlf_allowed(
    stream: list[Window], schema: FeatureSchema
) -> None:
    lines = [json.dumps(w).encode() for w in stream[:3]]
    data = lines[0] + b"\r\n\n" + lines[1] + b"\n   \n" + lines[2]  # no final newline
    result = parsed("w.jsonl", data, schema)
    assert keys(result) == window_keys(stream[:3])
    assert result.refused == ()
    assert result.jsonl is True


def test_jsonl_refusals_carry_their_1_based_line_in_file_order(
    stream: list[Window], schema: FeatureSchema
) -> None:
    no_user = {k: v for k, v in stream[1].items() if k != "user_id"}
    data = (
        jsonl(stream[0])  # line 1
        + b"\n"  # line 2: blank, still counted
        + jsonl(no_user)  # line 3: a window refused by the schema
        + b'{"user_id": \n'  # line 4: not JSON, refused before the others are parsed
        + jsonl(stream[2], [stream[3]])  # lines 5 and 6: a list is not a window in JSONL
    )
    result = parsed("w.jsonl", data, schema)
    assert keys(result) == window_keys([stream[0], stream[2]])
    assert [r.position for r in result.refused] == [3, 4, 6]
    line3, line4, line6 = result.refused
    assert (line3.field, line3.window) == ("user_id", no_user)
    assert line4.field is None
    assert line4.window is None
    assert line4.reason.startswith("line 4: not valid JSON (")
    assert line6.reason == "window: expected a JSON object, got array"
    assert line4.to_json(jsonl=True) == {
        "line": 4,
        "field": None,
        "reason": line4.reason,
        "window": None,
    }


def test_a_jsonl_file_of_only_bad_lines_is_parsed_with_every_line_refused(
    schema: FeatureSchema,
) -> None:
    result = parsed("w.jsonl", b"nope\n{}\n", schema)
    assert result.windows == ()
    assert [(r.position, r.field) for r in result.refused] == [(1, None), (2, "user_id")]


# --- read_claimed --------------------------------------------------------------------------------


def claimed_file(spool: Spool, name: str, data: bytes) -> Claimed:
    (spool.new / name).write_bytes(data)
    claimed = spool.claim(name)
    assert claimed is not None
    return claimed


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    s = Spool(tmp_path / "spool")
    s.ensure()
    return s


def test_read_claimed_parses_a_regular_file(
    spool: Spool, stream: list[Window], schema: FeatureSchema
) -> None:
    claimed = claimed_file(spool, "w.jsonl", jsonl(*stream[:2]))
    result = read_claimed(claimed, schema, max_bytes=1 << 20)
    assert isinstance(result, ParsedFile)
    assert keys(result) == window_keys(stream[:2])


@pytest.mark.parametrize("kind", ["dir", "symlink"])
def test_read_claimed_refuses_what_is_not_a_regular_file(
    kind: str, spool: Spool, tmp_path: Path, schema: FeatureSchema
) -> None:
    path = spool.new / "w.json"
    if kind == "dir":
        path.mkdir()
    else:
        target = tmp_path / "target.json"
        target.write_text("{}")
        path.symlink_to(target)
    claimed = spool.claim("w.json")
    assert claimed is not None
    assert claimed.kind == kind
    assert read_claimed(claimed, schema, max_bytes=1 << 20) == FileRefusal(
        "not_a_file", f"expected a regular file, found a {kind}"
    )


def test_read_claimed_refuses_a_file_over_the_limit_by_its_size_at_the_claim(
    spool: Spool, stream: list[Window], schema: FeatureSchema
) -> None:
    data = jsonl(*stream[:2])
    claimed = claimed_file(spool, "w.jsonl", data)
    assert read_claimed(claimed, schema, max_bytes=len(data) - 1) == FileRefusal(
        "too_large", f"{len(data)} bytes exceeds max_file_bytes = {len(data) - 1}"
    )
    # exactly at the limit is fine
    assert isinstance(read_claimed(claimed, schema, max_bytes=len(data)), ParsedFile)


def test_read_claimed_refuses_a_file_that_grew_past_the_limit_after_the_claim(
    spool: Spool, stream: list[Window], schema: FeatureSchema
) -> None:
    data = jsonl(stream[0])
    claimed = claimed_file(spool, "w.jsonl", data)
    with open(claimed.path, "ab") as fh:  # a producer still writing into new/ (a bug)
        fh.write(jsonl(*stream[1:10]))
    assert read_claimed(claimed, schema, max_bytes=len(data)) == FileRefusal(
        "too_large", f"exceeds max_file_bytes = {len(data)}"
    )


def test_read_claimed_says_why_a_file_cannot_be_read(spool: Spool, schema: FeatureSchema) -> None:
    claimed = claimed_file(spool, "w.json", b"{}")
    os.unlink(claimed.path)
    os.mkdir(claimed.path)  # replaced behind our back: open() fails with EISDIR
    result = read_claimed(claimed, schema, max_bytes=1 << 20)
    assert result == FileRefusal("unreadable", "cannot read the file (Is a directory)")


def test_read_claimed_raises_for_a_file_that_vanished(spool: Spool, schema: FeatureSchema) -> None:
    claimed = claimed_file(spool, "w.json", b"{}")
    os.unlink(claimed.path)
    with pytest.raises(FileNotFoundError):
        read_claimed(claimed, schema, max_bytes=1 << 20)


# --- the time a window stands for (span fields, docs/windows.md) -----------------------------


def with_span(window: Window, seconds: float = 1062.0, **extra: Any) -> Window:
    """``window`` standing for ``seconds`` from 18 s into its minute (a 17.7-minute call)."""
    from taskclf_core.timerange import parse_ts
    from taskclf_core.timespan import format_us, to_us

    start = to_us(parse_ts(window["bucket_start_ts"], "bucket_start_ts")) + 18_000_000
    fields = {
        "span_start_ts": format_us(start),
        "span_end_ts": format_us(start + round(seconds * 1e6)),
        "span_away": [],
    }
    return {**window, **fields, **extra}


@pytest.mark.parametrize("n", [3, 40])  # below and above the column-wise batch size
def test_a_span_is_read_with_the_window_and_a_bad_one_refused_naming_its_field(
    n: int, stream: list[Window], schema: FeatureSchema
) -> None:
    items = [with_span(w) for w in stream[:n]]
    items[1] = with_span(stream[1], span_end_ts=None)
    items[2] = with_span(stream[2], span_away=[["x", "y"]])
    result = parsed("w.jsonl", jsonl(*items), schema)
    assert [r.field for r in result.refused] == ["span_end_ts", "span_away"]
    assert result.refused[0].reason.startswith("span_end_ts: expected together with")
    assert result.refused[1].window == items[2]  # nothing is lost
    spans = [w.span for w in result.windows]
    assert all(s is not None and s.active_us == 1_062_000_000 for s in spans)
    plain = parsed("w.jsonl", jsonl(*stream[:n]), schema)
    assert all(w.span is None for w in plain.windows)
