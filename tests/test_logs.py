"""Logs are one JSON object per line on a pipe or file, human text on a TTY."""

from __future__ import annotations

import io
import json
from pathlib import Path

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
