"""Log lines: JSON to stderr for programs, or lines for people (by default on a TTY).

Two writers of the same lines. The daemon logs through structlog (:func:`configure_logging`;
a line per window, rendered by pydantic-core). The collector, which runs all day beside it and
logs a line a minute, through :class:`LineLogger` (:func:`configure_lines`): the same JSON
objects (the event's keys, then ``event``, ``level``, ``timestamp``) and console lines, without
structlog, which imports asyncio, ssl and more (~5 MB of its memory). Neither library is
imported until its writer is configured; tests/test_logs.py holds the two to the same lines.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Final, TextIO, cast

if TYPE_CHECKING:
    import structlog

__all__ = ["LineLogger", "configure_lines", "configure_logging", "get_logger"]

_LEVELS: Final = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_LEVEL_WIDTH: Final = 9  # structlog pads "[info     ]" to its longest level name
_EVENT_WIDTH: Final = 30  # and the event to 30 characters when keys follow
_QUOTED: Final = frozenset(" \t=\r\n\"'")


def _dumps(obj: Any, **_kw: Any) -> bytes:
    # one line per window: pydantic-core renders it ~1.5x faster than json.dumps, as bytes
    import pydantic_core

    return pydantic_core.to_json(obj, fallback=str)


class _DropOnError:
    """A log stream that drops what it cannot write instead of raising.

    Under launchd (and ``run > file``) stderr is a file on the data's own disk: when that
    fills, a raising log call would stop the daemon at the very moment it should stay up,
    stalled and retrying (the status file says why it waits). Lines are lost, never half
    written on purpose: a failed flush is retried with the next line.
    """

    def __init__(self, file: Any) -> None:
        self._file = file

    def write(self, data: Any) -> int:
        try:
            return int(self._file.write(data))
        except OSError:
            return 0

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            self._file.flush()


def configure_logging(
    level: str = "info", *, fmt: str = "auto", stream: TextIO | None = None
) -> None:
    """Route every structlog logger to ``stream`` (stderr) at ``level``.

    ``fmt``: ``json`` (one object a line), ``console`` (for people; colours only on a
    terminal, so a file tailed with ``tail -f`` stays readable) or ``auto`` (console on a
    terminal, JSON otherwise).
    """
    import logging

    import structlog

    out = stream if stream is not None else sys.stderr
    if fmt not in ("auto", "console", "json"):
        raise ValueError(f"log format must be auto, console or json, got {fmt!r}")
    tty = out.isatty()
    renderer: structlog.typing.Processor
    factory: Any
    if fmt == "console" or (fmt == "auto" and tty):
        renderer = structlog.dev.ConsoleRenderer(colors=tty)
        factory = structlog.WriteLoggerFactory(file=cast(TextIO, _DropOnError(out)))
    elif hasattr(out, "buffer"):
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
        factory = structlog.BytesLoggerFactory(file=cast(BinaryIO, _DropOnError(out.buffer)))
    else:  # a text-only stream (tests, embedding)
        renderer = structlog.processors.JSONRenderer(serializer=lambda o, **kw: _dumps(o).decode())
        factory = structlog.WriteLoggerFactory(file=cast(TextIO, _DropOnError(out)))
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )


# --- the collector's writer: the same lines without structlog ------------------------------


def _timestamp() -> str:
    # structlog's TimeStamper(fmt="iso", utc=True)
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _console_value(value: object) -> str:
    # structlog's ConsoleRenderer: a string bare unless a space, quote or = would garble it
    if isinstance(value, str) and not set(value) & _QUOTED:
        return value
    return repr(value)


class _Lines:
    """Where :class:`LineLogger` writes and how (one per process, set by configure_lines)."""

    def __init__(self) -> None:
        self.level = _LEVELS["info"]
        self.console = False
        self.out: TextIO | None = None  # None: sys.stderr at the time of the line
        self.lock = threading.Lock()

    def write(self, level: str, event: str, fields: dict[str, Any]) -> None:
        if _LEVELS[level] < self.level:
            return
        stamp = _timestamp()
        if self.console:
            pairs = " ".join(f"{k}={_console_value(v)}" for k, v in sorted(fields.items()))
            head = f"{stamp} [{level:<{_LEVEL_WIDTH}}] "
            line = (f"{head}{event:<{_EVENT_WIDTH}} {pairs}" if pairs else head + event).rstrip()
        else:
            doc = {**fields, "event": event, "level": level, "timestamp": stamp}
            line = json.dumps(doc, separators=(",", ":"), default=str)
        out = _DropOnError(self.out if self.out is not None else sys.stderr)
        with self.lock:
            out.write(line + "\n")
            out.flush()


_lines = _Lines()


class LineLogger:
    """structlog's ``info("event", key=value)`` calls, written as :func:`configure_lines` says."""

    __slots__ = ()

    def debug(self, event: str, **fields: Any) -> None:
        _lines.write("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        _lines.write("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        _lines.write("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        _lines.write("error", event, fields)


def get_logger(_name: str = "") -> LineLogger:
    """The collector's logger (``_name``: for the reader, as with ``structlog.get_logger``)."""
    return LineLogger()


def configure_lines(
    level: str = "info", *, fmt: str = "auto", stream: TextIO | None = None
) -> None:
    """Route every :class:`LineLogger` to ``stream`` (stderr) at ``level``, in ``fmt`` as
    :func:`configure_logging` reads it (console lines carry no colours)."""
    if fmt not in ("auto", "console", "json"):
        raise ValueError(f"log format must be auto, console or json, got {fmt!r}")
    out = stream if stream is not None else sys.stderr
    _lines.level = _LEVELS[level]
    _lines.console = fmt == "console" or (fmt == "auto" and out.isatty())
    _lines.out = stream
