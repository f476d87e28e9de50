"""The user's local time zone, as an IANA zone when the system names one (DST-correct), and
the times a person types read in it (:class:`LocalClock`)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, date, datetime, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["LocalClock", "local_timezone", "zone_key"]

_LOCALTIME = Path("/etc/localtime")


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def local_timezone() -> tzinfo:
    """The one rule for "local" (`label`, `report`, the page): ``$TZ`` if it names a zone;
    a ``$TZ`` that does not (a POSIX rule such as ``CET-1CEST,M3.5.0,M10.5.0/3``) as the C
    library reads it today; without ``$TZ``, the zone ``/etc/localtime`` is.

    A fixed offset is the last resort: it is right for today but not across a DST change.
    """
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        zone = _zone(env)
        if zone is not None:
            return zone
        # $TZ overrides /etc/localtime for every program on the machine; so here
        return datetime.now().astimezone().tzinfo or ZoneInfo("UTC")
    try:
        # /etc/localtime -> .../zoneinfo/Europe/Berlin (Linux, macOS)
        target = str(_LOCALTIME.resolve())
        if "zoneinfo/" in target:
            zone = _zone(target.split("zoneinfo/", 1)[1])
            if zone is not None:
                return zone
        data = _LOCALTIME.read_bytes()
    except OSError:
        data = b""
    try:
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()  # Debian
    except (OSError, UnicodeDecodeError):
        name = ""
    if name:
        zone = _zone(name)
        if zone is not None:
            return zone
    if data:
        import io

        key = "localtime-" + hashlib.sha256(data).hexdigest()[:12]
        try:
            return ZoneInfo.from_file(io.BytesIO(data), key=key)
        except ValueError:
            pass
    return datetime.now().astimezone().tzinfo or ZoneInfo("UTC")


def zone_key(tz: tzinfo) -> str | None:
    """A stable name for ``tz`` (cache keys, display); None if it has none."""
    key = getattr(tz, "key", None)
    if isinstance(key, str) and key:
        return key
    if isinstance(tz, timezone):
        offset = tz.utcoffset(None)
        minutes = int(offset.total_seconds() // 60)
        if minutes == 0:
            return "UTC"
        return f"UTC{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return None


class LocalClock:
    """``now`` and the local zone, read once per command: every time or day a person types
    (`label`, `report`, `collect`) is read here, by taskclf_core/wallclock.py (docs/times.md).

    ``now`` and ``tz`` are for tests; a command takes the clock and the zone of the machine.
    """

    def __init__(self, now: datetime | None = None, tz: tzinfo | None = None) -> None:
        self.tz = tz if tz is not None else local_timezone()
        self.now = now if now is not None else datetime.now(UTC)
        if self.now.tzinfo is None:
            raise ValueError("now: expected an aware datetime")

    def when(self, text: str, field: str) -> datetime:
        """``text`` (local unless it has an offset) as an aware UTC instant; TimeError."""
        from taskclf_core.wallclock import parse_when

        return parse_when(text, now=self.now, tz=self.tz, field=field)

    def day(self, text: str, field: str) -> date:
        """``text`` ("today", "yesterday", YYYY-MM-DD) as a local calendar day; TimeError."""
        from taskclf_core.wallclock import parse_day

        return parse_day(text, today=self.today, field=field)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    def show(self, ts: datetime) -> str:
        """``YYYY-MM-DD HH:MM`` in the local zone."""
        from taskclf_core.wallclock import format_local

        return format_local(ts, self.tz)
