"""A small ActivityWatch REST client on the standard library: loopback only, deadlines, caps."""

from __future__ import annotations

import ipaddress
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from daemon.collector.transport import http_get
from taskclf_core.activity import load_json
from taskclf_core.errors import ActivityError, ConfigError, UnreachableError

__all__ = [
    "EVENTS_DEADLINE_S",
    "EVENTS_MAX_BYTES",
    "META_DEADLINE_S",
    "META_MAX_BYTES",
    "AWClient",
    "check_loopback_url",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def check_loopback_url(url: str) -> str:
    """``url`` without a trailing slash, or a ConfigError: only http(s) to a loopback host.

    The collector reads the user's own ActivityWatch; it never sends a request elsewhere.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"aw_url: expected an http:// URL, got {url!r}")
    host = parts.hostname or ""
    loopback = host.lower() == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if not loopback:
        raise ConfigError(
            f"aw_url: {url!r} is not a loopback address; the collector only reads a local "
            "ActivityWatch (use http://127.0.0.1:5600, http://localhost:5600 or [::1])"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"aw_url: expected scheme://host:port only, got {url!r}")
    try:
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError:
        raise ConfigError(f"aw_url: bad port in {url!r}") from None
    return url.rstrip("/")


def _iso(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat()


# Each request ends by a deadline, whatever the server does (a byte every few seconds keeps
# a socket timeout from ever firing), and reads at most a capped answer. The caps are far
# above a real answer: a busy day is ~10,000 window events and ~17,000 input samples
# (one per 5 s), 2-5 MB each bucket, and an events request covers two days at most.
META_DEADLINE_S: Final = 10.0
EVENTS_DEADLINE_S: Final = 60.0
META_MAX_BYTES: Final = 4 * 1024 * 1024
EVENTS_MAX_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AWClient:
    """GETs against one ActivityWatch server. Every failure is an :class:`UnreachableError`
    (retry later) or an :class:`ActivityError` (the answer is not what AW sends); a set
    ``stop`` event ends any wait within a fraction of a second (:class:`Stopped`).

    ``timeout``: the deadline of the small requests (info, buckets) and the longest silence
    tolerated within any request; event requests have ``events_timeout``.
    """

    url: str
    timeout: float = META_DEADLINE_S
    events_timeout: float = EVENTS_DEADLINE_S
    stop: threading.Event | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", check_loopback_url(self.url))

    def _get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        deadline: float,
        max_bytes: int,
    ) -> Any:
        # no proxies (an http_proxy variable must not route local reads elsewhere), no
        # redirects: http_get talks to the loopback host of aw_url and nothing else
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        parts = urllib.parse.urlsplit(self.url)
        tls = parts.scheme == "https"
        answer = http_get(
            self.url,
            f"{parts.path}{path}{query}",
            host=parts.hostname or "localhost",
            port=parts.port or (443 if tls else 80),
            tls=tls,
            deadline_s=deadline,
            idle_s=self.timeout,
            max_bytes=max_bytes,
            stop=self.stop,
        )
        if not 200 <= answer.status < 300:
            redirect = " (redirects are not followed)" if 300 <= answer.status < 400 else ""
            raise UnreachableError(
                f"ActivityWatch at {self.url} answered {answer.status} {answer.reason} "
                f"for {path}{redirect}"
            )
        return load_json(answer.body, f"{self.url}{path}")

    def info(self) -> dict[str, Any]:
        """``GET /api/0/info`` (hostname, version): the cheap "is it there" call."""
        doc = self._get("/api/0/info", deadline=self.timeout, max_bytes=META_MAX_BYTES)
        if not isinstance(doc, dict):
            raise ActivityError(f"{self.url}/api/0/info: expected a JSON object")
        return doc

    def buckets(self) -> dict[str, Any]:
        """``GET /api/0/buckets/``: bucket id → metadata (type, hostname, ...)."""
        doc = self._get("/api/0/buckets/", deadline=self.timeout, max_bytes=META_MAX_BYTES)
        if not isinstance(doc, dict):
            raise ActivityError(f"{self.url}/api/0/buckets/: expected a JSON object")
        return doc

    def _events_path(self, bucket_id: str) -> str:
        return f"/api/0/buckets/{urllib.parse.quote(bucket_id, safe='')}/events"

    def events(self, bucket_id: str, start_us: int, end_us: int) -> Any:
        """Raw events of ``bucket_id`` overlapping ``[start, end]`` (AW's own filter)."""
        return self._get(
            self._events_path(bucket_id),
            {"start": _iso(start_us), "end": _iso(end_us), "limit": "-1"},
            deadline=self.events_timeout,
            max_bytes=EVENTS_MAX_BYTES,
        )

    def latest_event(self, bucket_id: str) -> Any:
        """The raw event of ``bucket_id`` that starts last (a list of at most one)."""
        return self._get(
            self._events_path(bucket_id),
            {"limit": "1"},
            deadline=self.timeout,
            max_bytes=META_MAX_BYTES,
        )
