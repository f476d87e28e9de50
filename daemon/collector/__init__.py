"""The ActivityWatch collector process: REST client, sources, cursor, spool writer, loop."""

from __future__ import annotations

from daemon.collector.health import check_aw_reachable, collector_in_use
from daemon.collector.status import format_collector_status, read_collector_status

__all__ = [
    "check_aw_reachable",
    "collector_in_use",
    "format_collector_status",
    "read_collector_status",
]
