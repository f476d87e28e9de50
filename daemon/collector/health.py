"""Can the collector read ActivityWatch? One call for `doctor` and `status`."""

from __future__ import annotations

from typing import NamedTuple

from daemon.collector.client import AWClient
from daemon.collector.status import status_path
from daemon.config.keys import COLLECTOR_KEYS
from daemon.config.settings import Settings
from taskclf_core.activity import select_buckets
from taskclf_core.errors import TaskclfError

__all__ = ["AWHealth", "check_aw_reachable", "collector_in_use"]


class AWHealth(NamedTuple):
    """``ok``: ActivityWatch answers at ``aw_url`` and has this host's window bucket;
    ``message`` says what was found (or why not); ``input_bucket``: its aw-watcher-input
    bucket, None without one."""

    ok: bool
    message: str
    input_bucket: str | None = None


def check_aw_reachable(settings: Settings, *, timeout: float = 2.0) -> AWHealth:
    """What the collector would find at ``aw_url`` (see :class:`AWHealth`)."""
    try:
        client = AWClient(settings.aw_url, timeout=timeout, api_key=settings.aw_api_key)
        info = client.info()
        choice = select_buckets(client.buckets(), settings.aw_hostname, source=settings.aw_url)
    except TaskclfError as exc:
        return AWHealth(False, str(exc))
    version = info.get("version", "?")
    inputs = choice.input or "no aw-watcher-input bucket (keyboard/mouse columns stay null)"
    return AWHealth(
        True, f"ActivityWatch {version} at {client.url}: {choice.window}; {inputs}", choice.input
    )


_COLLECTOR_KEYS = frozenset(COLLECTOR_KEYS)


def collector_in_use(settings: Settings) -> bool:
    """Whether this user runs the collector: a collector key is configured, it has run here
    (its status file exists), or its service is installed. ``doctor`` checks it only then:
    people who feed the spool from their own producer need no ActivityWatch."""
    if _COLLECTOR_KEYS & settings.model_fields_set or status_path(settings).exists():
        return True
    from daemon.units.unit import COLLECTOR_UNIT, service_file

    return any(service_file(p, unit=COLLECTOR_UNIT).exists() for p in ("systemd", "launchd"))
