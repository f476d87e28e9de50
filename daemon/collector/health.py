"""Can the collector read ActivityWatch? One call for `doctor` and `status`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from daemon.collector.client import AWClient
from daemon.collector.status import status_path
from daemon.config.keys import COLLECTOR_KEYS
from daemon.config.settings import Settings
from taskclf_core.activity import BucketChoice, parse_timestamp_us, select_buckets
from taskclf_core.errors import TaskclfError
from taskclf_core.timespan import format_us

__all__ = ["AWHealth", "check_aw_reachable", "collector_in_use"]

# aw-watcher-input sends a sample every few seconds, all zeros while nobody is there (merged
# into one growing event): its bucket this far behind the window bucket means it stopped
_INPUT_BEHIND_US: Final = 15 * 60 * 1_000_000


class AWHealth(NamedTuple):
    """``ok``: ActivityWatch answers at ``aw_url`` and has this host's window bucket;
    ``message`` says what was found (or why not); ``input_ok``: keyboard and mouse data
    comes in (an aw-watcher-input bucket, as recent as the window bucket)."""

    ok: bool
    message: str
    input_ok: bool = False


def _input_stopped(buckets: Mapping[str, Any], choice: BucketChoice) -> str | None:
    """Why the input bucket's data stops well before the window bucket's, by each bucket's
    ``last_updated`` (aw-server and aw-server-rust give it; aw-server leaves it out of a
    bucket without events); None when it does not, or when the window bucket's is unknown."""
    if choice.input is None:
        return None
    try:
        window = parse_timestamp_us(buckets[choice.window].get("last_updated"), choice.window)
    except TaskclfError:
        return None
    updated = buckets[choice.input].get("last_updated")
    if updated is None:
        return f"{choice.input} has no data yet: aw-watcher-input is not running"
    try:
        inputs = parse_timestamp_us(updated, choice.input)
    except TaskclfError:
        return None
    if window - inputs <= _INPUT_BEHIND_US:
        return None
    return (
        f"{choice.input} has nothing since {format_us(inputs)}, {choice.window} has data up "
        f"to {format_us(window)}: aw-watcher-input is not running"
    )


def check_aw_reachable(settings: Settings, *, timeout: float = 2.0) -> AWHealth:
    """What the collector would find at ``aw_url`` (see :class:`AWHealth`)."""
    try:
        client = AWClient(settings.aw_url, timeout=timeout, api_key=settings.aw_api_key)
        info = client.info()
        buckets = client.buckets()
        choice = select_buckets(buckets, settings.aw_hostname, source=settings.aw_url)
    except TaskclfError as exc:
        return AWHealth(False, str(exc))
    version = info.get("version", "?")
    stopped = _input_stopped(buckets, choice)
    inputs = (
        stopped or choice.input or "no aw-watcher-input bucket (keyboard/mouse columns stay null)"
    )
    return AWHealth(
        True,
        f"ActivityWatch {version} at {client.url}: {choice.window}; {inputs}",
        choice.input is not None and stopped is None,
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
