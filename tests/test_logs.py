"""Logs are one JSON object per line on a pipe or file, human text on a TTY."""

from __future__ import annotations

import errno
import io
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import structlog

from daemon.logs import configure_logging


def test_json_lines_on_a_file(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with open(path, "w") as stream:
        configure_logging("info", stream=stream)
        structlog.get_logger().info("window_labelled", user_id="u-ada", confidence=0.9, p=path)
        structlog.get_logger().debug("hidden")
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "window_labelled"
    assert record["level"] == "info"
    assert record["p"] == str(path)
    assert record["timestamp"].endswith("Z")


def test_json_lines_on_a_text_stream() -> None:
    stream = io.StringIO()
    configure_logging("debug", stream=stream)
    structlog.get_logger().debug("store_swapped", new_store_id="abc")
    assert json.loads(stream.getvalue())["new_store_id"] == "abc"


def test_console_renderer_on_a_tty() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    configure_logging("info", stream=stream)
    structlog.get_logger().info("daemon_started", pid=1)
    text = stream.getvalue()
    assert "daemon_started" in text
    assert not text.lstrip().startswith("{")


def test_a_log_file_on_a_full_disk_never_stops_the_caller(tmp_path: Path) -> None:
    """launchd (and `run > file`) put stderr on the data's disk: when it fills, a log line
    that cannot be written is dropped, and labelling goes on (status says why it waits)."""

    class FillingDisk(io.BytesIO):
        full = True

        def isatty(self) -> bool:
            return False

        def write(self, data: Any) -> int:
            if self.full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return super().write(data)

    class Stderr(io.TextIOWrapper):
        pass

    disk = FillingDisk()
    stderr = Stderr(disk)  # kept: a collected wrapper would close the disk under the logger
    before = structlog.get_config()
    try:
        configure_logging("info", fmt="json", stream=stderr)
        structlog.get_logger().error("label_log_write_failed", errno="ENOSPC")  # dropped
        disk.full = False
        structlog.get_logger().info("label_log_recovered")
        events = [json.loads(line)["event"] for line in disk.getvalue().splitlines()]
    finally:
        structlog.configure(**before)  # later tests must not log into this closed stream
    assert events == ["label_log_recovered"]


def _both(fmt: str, calls: list[tuple[str, str, dict[str, Any]]]) -> tuple[list[str], list[str]]:
    """The lines structlog (the daemon's writer) and LineLogger (the collector's) write for
    the same calls, timestamps cut off."""
    from daemon.logs import configure_lines, get_logger

    daemon_out, collector_out = io.StringIO(), io.StringIO()
    before = structlog.get_config()
    try:
        configure_logging("debug", fmt=fmt, stream=daemon_out)
        configure_lines("debug", fmt=fmt, stream=collector_out)
        for level, event, fields in calls:
            getattr(structlog.get_logger(), level)(event, **fields)
            getattr(get_logger("taskclf.collector"), level)(event, **fields)
    finally:
        structlog.configure(**before)
        configure_lines()

    def cut(text: str) -> list[str]:
        if fmt == "json":
            return [
                json.dumps({k: v for k, v in json.loads(line).items() if k != "timestamp"})
                for line in text.splitlines()
            ]
        return [line.split(" ", 1)[1] for line in text.splitlines()]

    return cut(daemon_out.getvalue()), cut(collector_out.getvalue())


CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("info", "windows_emitted", {"file": "a_b.jsonl", "windows": 3, "first": "2026-03-02T08:00Z"}),
    ("warning", "aw_unreachable", {"error": "refused: x = 1", "retry_in_s": 30.0, "failures": 2}),
    ("info", "collector_stopped", {}),
    ("debug", "poll_completed", {"windows": 0, "cursor": None, "p": Path("/tmp/x y")}),
    ("error", "a_very_long_event_name_longer_than_thirty_characters", {"n": [1, "two"]}),
]


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_the_collectors_lines_are_the_daemons(fmt: str) -> None:
    """The collector writes without structlog (its memory), the same lines as the daemon."""
    daemon_lines, collector_lines = _both(fmt, CALLS)
    assert len(collector_lines) == len(CALLS)
    assert collector_lines == daemon_lines


def test_the_collectors_timestamps_are_the_daemons() -> None:
    from daemon.logs import configure_lines, get_logger

    out = io.StringIO()
    configure_lines("info", fmt="json", stream=out)
    try:
        get_logger().info("x")
        get_logger().debug("hidden")
    finally:
        configure_lines()
    (line,) = out.getvalue().splitlines()
    stamp = json.loads(line)["timestamp"]
    assert stamp.endswith("Z")
    assert datetime.fromisoformat(stamp.replace("Z", "+00:00")).tzinfo is not None
