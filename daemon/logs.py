"""structlog set-up: JSON lines to stderr, a human console renderer on a TTY."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import pydantic_core
import structlog

__all__ = ["configure_logging"]


def _dumps(obj: Any, **_kw: Any) -> str:
    # one line per window: pydantic-core renders it ~1.5x faster than json.dumps
    return pydantic_core.to_json(obj, fallback=str).decode()


def configure_logging(level: str = "info", *, stream: TextIO | None = None) -> None:
    """Route every structlog logger to ``stream`` (stderr) at ``level``."""
    out = stream if stream is not None else sys.stderr
    renderer: structlog.typing.Processor
    if out.isatty():
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
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
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )
