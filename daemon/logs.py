"""structlog set-up: JSON lines to stderr, or lines for people (by default on a TTY)."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import pydantic_core
import structlog

__all__ = ["configure_logging"]


def _dumps(obj: Any, **_kw: Any) -> bytes:
    # one line per window: pydantic-core renders it ~1.5x faster than json.dumps, as bytes
    return pydantic_core.to_json(obj, fallback=str)


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
        factory = structlog.WriteLoggerFactory(file=out)
    elif hasattr(out, "buffer"):
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
        factory = structlog.BytesLoggerFactory(file=out.buffer)
    else:  # a text-only stream (tests, embedding)
        renderer = structlog.processors.JSONRenderer(serializer=lambda o, **kw: _dumps(o).decode())
        factory = structlog.WriteLoggerFactory(file=out)
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
