"""Bad spool input: every poison file is quarantined with a reason and good files keep flowing."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import DaemonProcess, Daemons, isolated_env
from helpers import Window, window_stream

MAX_FILE_BYTES = 200_000


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path) -> Iterator[DaemonProcess]:
    """One daemon for the whole module: each case costs a file drop, not a start-up."""
    root = tmp_path_factory.mktemp("badinput")
    daemons = Daemons(root, bundle_dir, env=isolated_env(root / "home"))
    d = daemons.new(max_file_bytes=MAX_FILE_BYTES)
    d.start()
    try:
        yield d
    finally:
        daemons.cleanup()


@pytest.fixture
def d(shared: DaemonProcess) -> DaemonProcess:
    """The shared daemon, restarted (its poison set aside) if an earlier case killed it."""
    if not shared.alive():
        quarantine = shared.root / f"crashed-{shared.runs}"
        shutil.move(shared.spool / "cur", quarantine)
        shared.start()
    return shared


@pytest.fixture(scope="module")
def pool(training_windows: list[Window]) -> Iterator[Window]:
    """A fresh valid window for every use, so no case can pass by dedupe."""
    return iter(window_stream(training_windows))


_names = itertools.count()


def names(case: str, suffix: str = ".json") -> tuple[str, str]:
    """A bad file's name and the good file's name that sorts right after it."""
    n = next(_names)
    return f"{n:04d}-a-{case}{suffix}", f"{n:04d}-b-good.json"


def logged(d: DaemonProcess, window: Window) -> bool:
    return any(
        r["user_id"] == window["user_id"] and r["bucket_start_ts"] == window["bucket_start_ts"]
        for r in d.records()
    )


def quarantined(d: DaemonProcess, name: str, good: Window) -> dict[str, Any]:
    """Wait for the good file to be labelled and ``name`` to be in rejected/; the sidecar."""
    d.wait_labelled([good])
    sidecar_path = d.wait_spool_file("rejected", f"{name}.error.json")
    d.wait_spool_file("rejected", name)
    assert name not in d.files("new")
    assert name not in d.files("cur")
    assert d.alive(), d.stderr_tail()
    sidecar: dict[str, Any] = json.loads(sidecar_path.read_text())
    assert {"error", "detail"} <= set(sidecar), sidecar
    assert os.stat(sidecar_path).st_mode & 0o777 == 0o600
    return sidecar


def raw(window: Window, field: str, text: str) -> bytes:
    """``window`` as JSON with ``field`` set to the literal JSON text ``text``."""
    return json.dumps({**window, field: "\0marker"}).replace('"\\u0000marker"', text).encode()


def without(window: Window, field: str) -> bytes:
    return json.dumps({k: v for k, v in window.items() if k != field}).encode()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# --- whole files that are not windows ---------------------------------------------------------

FileCase = tuple[str, str, Callable[[Window], bytes], str, str]
FILE_CASES: list[FileCase] = [
    ("empty", ".json", lambda w: b"", "empty_file", "empty"),
    ("whitespace", ".json", lambda w: b"  \n\t\n", "empty_file", "empty"),
    ("empty-list", ".json", lambda w: b"[]", "empty_file", "empty"),
    ("empty-jsonl", ".jsonl", lambda w: b"\n\n", "empty_file", ""),
    ("binary-nul", ".json", lambda w: bytes(range(256)), "binary_content", "NUL"),
    (
        "binary-high",
        ".json",
        lambda w: b"\x89PNG\r\n\x1a\n" + bytes(range(128, 256)),
        "invalid_utf8",
        "UTF-8",
    ),
    (
        "invalid-utf8",
        ".json",
        lambda w: json.dumps(w).encode().replace(b'"u-', b'"u-\xff\xfe', 1),
        "invalid_utf8",
        "UTF-8",
    ),
    (
        "truncated",
        ".json",
        lambda w: json.dumps(w).encode()[: len(json.dumps(w)) // 2],
        "invalid_json",
        "JSON",
    ),
    ("deep-lists", ".json", lambda w: nested(10_000), "invalid_json", "JSON"),
    (
        "deep-objects",
        ".json",
        lambda w: b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "invalid_json",
        "JSON",
    ),
    (
        "deep-inside-window",
        ".json",
        lambda w: raw(w, "extra", nested(10_000).decode()),
        "invalid_json",
        "JSON",
    ),
    (
        "over-max-file-bytes",
        ".json",
        lambda w: json.dumps([w] * (MAX_FILE_BYTES // len(json.dumps(w)) + 10)).encode(),
        "too_large",
        "max_file_bytes",
    ),
    ("txt-name", ".txt", lambda w: json.dumps(w).encode(), "unsupported_type", ".json"),
    ("no-suffix", "", lambda w: json.dumps(w).encode(), "unsupported_type", ".json"),
]


@pytest.mark.parametrize(
    ("case", "suffix", "content", "error", "mentions"),
    FILE_CASES,
    ids=[c[0] for c in FILE_CASES],
)
def test_bad_file_is_quarantined_and_good_files_keep_flowing(
    d: DaemonProcess,
    pool: Iterator[Window],
    case: str,
    suffix: str,
    content: Callable[[Window], bytes],
    error: str,
    mentions: str,
) -> None:
    bad_window, good = next(pool), next(pool)
    bad_name, good_name = names(case, suffix)
    data = content(bad_window)
    d.drop(bad_name, data)
    d.drop(good_name, good)
    sidecar = quarantined(d, bad_name, good)
    assert sidecar["error"] == error, sidecar
    assert mentions in sidecar["detail"], sidecar
    assert (d.spool / "rejected" / bad_name).read_bytes() == data  # kept as it came
    assert not logged(d, bad_window)


# --- windows that are refused -----------------------------------------------------------------

WindowCase = tuple[str, Callable[[Window], bytes], str]
WINDOW_CASES: list[WindowCase] = [
    ("not-an-object", lambda w: b"42", "JSON object"),
    ("list-of-non-objects", lambda w: b'[1, "two", null]', "JSON object"),
    ("string-in-numeric", lambda w: raw(w, "keys_per_min", '"fast"'), "keys_per_min"),
    ("bool-in-numeric", lambda w: raw(w, "keys_per_min", "true"), "keys_per_min"),
    ("number-in-bool", lambda w: raw(w, "is_browser", "1"), "is_browser"),
    ("string-in-bool", lambda w: raw(w, "is_editor", '"yes"'), "is_editor"),
    ("number-in-category", lambda w: raw(w, "app_id", "5"), "app_id"),
    ("nan", lambda w: raw(w, "keys_per_min", "NaN"), "keys_per_min"),
    ("infinity", lambda w: raw(w, "mouse_distance", "Infinity"), "mouse_distance"),
    ("minus-infinity", lambda w: raw(w, "clicks_per_min", "-Infinity"), "clicks_per_min"),
    ("overflowing-float", lambda w: raw(w, "keys_per_min", "1e999"), "keys_per_min"),
    ("overflowing-int", lambda w: raw(w, "keys_per_min", "1" + "0" * 400), "keys_per_min"),
    ("missing-user-id", lambda w: without(w, "user_id"), "user_id"),
    ("empty-user-id", lambda w: raw(w, "user_id", '""'), "user_id"),
    ("numeric-user-id", lambda w: raw(w, "user_id", "42"), "user_id"),
    ("unsafe-user-id", lambda w: raw(w, "user_id", '"../x"'), "user_id"),
    ("missing-bucket-start", lambda w: without(w, "bucket_start_ts"), "bucket_start_ts"),
    ("bad-bucket-start", lambda w: raw(w, "bucket_start_ts", '"yesterday"'), "bucket_start_ts"),
    (
        "bucket-start-out-of-range",
        lambda w: raw(w, "bucket_start_ts", '"0001-01-01T00:30:00+01:00"'),
        "bucket_start_ts",
    ),
    ("end-before-start", lambda w: raw(w, "bucket_end_ts", '"2000-01-01T00:00:00Z"'), "bucket_end"),
    ("raw-key", lambda w: raw(w, "raw_keystrokes", '"hunter2"'), "raw_keystrokes"),
    ("unknown-schema-hash", lambda w: raw(w, "schema_hash", '"0123456789ab"'), "schema_hash"),
    ("unknown-schema-version", lambda w: raw(w, "schema_version", '"v9"'), "schema_version"),
]


@pytest.mark.parametrize(
    ("case", "content", "mentions"), WINDOW_CASES, ids=[c[0] for c in WINDOW_CASES]
)
def test_refused_window_is_quarantined_with_the_field_named(
    d: DaemonProcess,
    pool: Iterator[Window],
    case: str,
    content: Callable[[Window], bytes],
    mentions: str,
) -> None:
    bad_window, good = next(pool), next(pool)
    bad_name, good_name = names(case)
    d.drop(bad_name, content(bad_window))
    d.drop(good_name, good)
    sidecar = quarantined(d, bad_name, good)
    assert sidecar["error"] == "invalid_windows", sidecar
    assert mentions in sidecar["detail"], f"the detail does not name {mentions!r}: {sidecar}"
    assert sidecar["refused"], sidecar
    assert all("index" in r and "reason" in r for r in sidecar["refused"]), sidecar
    assert mentions in sidecar["refused"][0]["reason"], sidecar
    assert not logged(d, bad_window)


# --- things in new/ that are not regular files ------------------------------------------------


@pytest.mark.parametrize("kind", ["directory", "symlink", "dangling-symlink", "fifo"])
def test_non_regular_file_in_new_is_quarantined_unread(
    d: DaemonProcess, pool: Iterator[Window], tmp_path: Path, kind: str
) -> None:
    bad_window, good = next(pool), next(pool)
    bad_name, good_name = names(kind)
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(bad_window))
    path = d.spool / "tmp" / bad_name  # made in tmp/, then renamed in: it arrives whole
    if kind == "directory":
        path.mkdir()
        (path / "inner.json").write_text(json.dumps(bad_window))
    elif kind == "symlink":
        path.symlink_to(target)  # a link to a valid window: must not be followed
    elif kind == "dangling-symlink":
        path.symlink_to(tmp_path / "nothing-here.json")
    else:
        os.mkfifo(path)  # opening it would block the daemon for good
    os.rename(path, d.spool / "new" / bad_name)
    d.drop(good_name, good)
    sidecar = quarantined(d, bad_name, good)
    assert sidecar["error"] == "not_a_file", sidecar
    assert kind.split("-")[-1] in sidecar["detail"] or "file" in sidecar["detail"], sidecar
    assert not logged(d, bad_window)
    assert target.read_text() == json.dumps(bad_window)


# --- files with some bad windows --------------------------------------------------------------


def test_jsonl_with_some_bad_lines(d: DaemonProcess, pool: Iterator[Window]) -> None:
    good = [next(pool) for _ in range(3)]
    bad = [next(pool) for _ in range(3)]
    lines = [
        json.dumps(good[0]).encode(),  # 1
        json.dumps(bad[0]).encode()[:40],  # 2: truncated
        json.dumps(good[1]).encode(),  # 3
        raw(bad[1], "keys_per_min", "NaN"),  # 4
        b"",  # 5: blank lines are skipped
        raw(bad[2], "raw_title", '"secret"'),  # 6
        json.dumps(good[2]).encode(),  # 7, no final newline
    ]
    name, _ = names("mixed", ".jsonl")
    d.drop(name, b"\n".join(lines))
    d.wait_labelled(good)
    sidecar_path = d.wait_spool_file("rejected", f"{name}.error.json")
    d.wait_spool_file("done", name)
    sidecar = json.loads(sidecar_path.read_text())
    assert {"error", "detail"} <= set(sidecar)
    assert "3 of 6" in sidecar["detail"], sidecar
    assert [r["line"] for r in sidecar["refused"]] == [2, 4, 6], sidecar
    assert sidecar["refused"][1]["field"] == "keys_per_min"
    assert sidecar["refused"][2]["field"] == "raw_title"
    assert "JSON" in sidecar["refused"][0]["reason"]
    assert name not in d.files("rejected")  # the file itself is done: its good windows count
    for window in bad:
        assert not logged(d, window)


def test_json_list_with_a_bad_element(d: DaemonProcess, pool: Iterator[Window]) -> None:
    good = [next(pool) for _ in range(2)]
    bad = next(pool)
    name, _ = names("list")
    body = b"[" + b",".join([json.dumps(good[0]).encode(), raw(bad, "is_browser", "0"),
                             json.dumps(good[1]).encode()]) + b"]"  # fmt: skip
    d.drop(name, body)
    d.wait_labelled(good)
    sidecar = json.loads(d.wait_spool_file("rejected", f"{name}.error.json").read_text())
    d.wait_spool_file("done", name)
    assert [r["index"] for r in sidecar["refused"]] == [1], sidecar
    assert sidecar["refused"][0]["field"] == "is_browser"
    assert not logged(d, bad)


def test_jsonl_with_only_bad_lines_is_rejected(d: DaemonProcess, pool: Iterator[Window]) -> None:
    bad, good = next(pool), next(pool)
    name, good_name = names("all-bad", ".jsonl")
    d.drop(name, b"{oops\n" + raw(bad, "app_id", "7") + b"\n")
    d.drop(good_name, good)
    sidecar = quarantined(d, name, good)
    assert sidecar["error"] == "invalid_windows"
    assert [r["line"] for r in sidecar["refused"]] == [1, 2], sidecar


# --- valid but extreme: labelled or refused, never a stuck queue --------------------------------


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01T00:00:00Z", "0001-01-01T00:01:00Z", "bucket_start_ts"),
        ("9999-12-31T23:58:00Z", "9999-12-31T23:59:00Z", "bucket_start_ts"),
        ("1970-01-01T00:00:00Z", "1970-01-01T00:01:00Z", "bucket_start_ts"),  # a reset clock
        ("2099-12-31T23:59:00Z", "2100-01-01T00:01:00Z", "bucket_end_ts"),
    ],
    ids=["year-1", "year-9999", "epoch", "ends-after-2100"],
)
def test_times_outside_the_supported_range_are_refused_naming_the_field(
    d: DaemonProcess, pool: Iterator[Window], start: str, end: str, field: str
) -> None:
    """Logged, a window for 9999-12-31 used to crash report, label and personalize: refused
    at intake instead (docs/windows.md, "Supported times"), its file in rejected/."""
    window = {**next(pool), "bucket_start_ts": start, "bucket_end_ts": end}
    good = next(pool)
    name, good_name = names("extreme")
    d.drop(name, window)
    d.drop(good_name, good)
    sidecar = quarantined(d, name, good)
    assert sidecar["error"] == "invalid_windows", sidecar
    [refused] = sidecar["refused"]
    assert refused["field"] == field, sidecar
    assert "outside the supported times" in refused["reason"], sidecar
    assert not logged(d, window)
    assert not any(r["bucket_start_ts"].startswith(start[:4]) for r in d.records())
