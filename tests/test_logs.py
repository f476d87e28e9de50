"""Logs are one JSON object per line on a pipe or file, human text on a TTY."""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path
from typing import Any

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
