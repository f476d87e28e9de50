"""The user's local time zone, as an IANA zone when the system names one (DST-correct)."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["local_timezone", "zone_key"]

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
