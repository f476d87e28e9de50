"""structlog set-up: JSON lines to stderr, or lines for people (by default on a TTY)."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any, BinaryIO, TextIO, cast

import pydantic_core
import structlog

__all__ = ["configure_logging"]


def _dumps(obj: Any, **_kw: Any) -> bytes:
    # one line per window: pydantic-core renders it ~1.5x faster than json.dumps, as bytes
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
