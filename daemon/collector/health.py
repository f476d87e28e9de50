"""Can the collector read ActivityWatch? One call for `doctor` and `status`."""

from __future__ import annotations

from daemon.collector.client import AWClient
from daemon.settings import Settings
from taskclf_core.activity import select_buckets
from taskclf_core.errors import TaskclfError

__all__ = ["check_aw_reachable"]


def check_aw_reachable(settings: Settings, *, timeout: float = 2.0) -> tuple[bool, str]:
    """``(ok, message)``: ActivityWatch answers at ``aw_url`` and has this host's window bucket."""
    try:
        client = AWClient(settings.aw_url, timeout=timeout)
        info = client.info()
        choice = select_buckets(client.buckets(), settings.aw_hostname, source=settings.aw_url)
    except TaskclfError as exc:
        return False, str(exc)
    version = info.get("version", "?")
    inputs = choice.input or "no aw-watcher-input bucket (keyboard/mouse columns stay null)"
    return True, f"ActivityWatch {version} at {client.url}: {choice.window}; {inputs}"
