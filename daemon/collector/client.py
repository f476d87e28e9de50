"""A small ActivityWatch REST client on the standard library: loopback only, deadlines, caps.

It reads events and (``aw_write_labels``) writes the label bucket; with ``aw_api_key`` every
request carries ``Authorization: Bearer <key>``, which is how aw-server-rust (``[auth]
api_key`` in its config.toml) and aw-server (``[server.auth] api_key`` in aw-server.toml)
check a key: on every ``/api/`` request but ``/api/0/info``, answering 401 otherwise.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from daemon.collector.transport import http_request
from taskclf_core.activity import load_json, load_json_lazily
from taskclf_core.errors import ActivityError, ConfigError, UnreachableError

__all__ = [
    "EVENTS_DEADLINE_S",
    "EVENTS_MAX_BYTES",
    "META_DEADLINE_S",
    "META_MAX_BYTES",
    "AWClient",
    "aw_timestamp",
    "check_api_key",
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


def check_api_key(key: str | None) -> str | None:
    """``aw_api_key`` as it is sent (None: no key), or a ConfigError that never shows it.

    ActivityWatch compares the key byte for byte as ASCII; an empty key is no key (as in
    ActivityWatch's own config). A space or a line break would not survive a header.
    """
    if not key:
        return None
    if not all("!" <= c <= "~" for c in key):
        raise ConfigError(
            f"aw_api_key: expected printable ASCII characters without spaces (as in "
            f"ActivityWatch's config), got {len(key)} characters with others among them"
        )
    return key


def aw_timestamp(us: int) -> str:
    """Epoch µs as ActivityWatch writes a time: ISO-8601 with ``+00:00``."""
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
    """Requests to one ActivityWatch server. Every failure is an :class:`UnreachableError`
    (retry later) or an :class:`ActivityError` (the answer is not what AW sends, or AW
    refused the API key); a set ``stop`` event ends any wait within a fraction of a second
    (:class:`Stopped`).

    ``timeout``: the deadline of the small requests (info, buckets, writes) and the longest
    silence tolerated within any request; event reads have ``events_timeout``. ``api_key``:
    sent with every request (a secret: in no repr, message or log line).
    """

    url: str
    timeout: float = META_DEADLINE_S
    events_timeout: float = EVENTS_DEADLINE_S
    stop: threading.Event | None = field(default=None, compare=False)
    api_key: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", check_loopback_url(self.url))
        object.__setattr__(self, "api_key", check_api_key(self.api_key))

    def _request(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        deadline: float,
        max_bytes: int,
        method: str = "GET",
        body: object = None,
        also_ok: tuple[int, ...] = (),
        lazy: bool = False,
    ) -> Any:
        # no proxies (an http_proxy variable must not route local reads elsewhere), no
        # redirects: http_request talks to the loopback host of aw_url and nothing else
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        parts = urllib.parse.urlsplit(self.url)
        tls = parts.scheme == "https"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else None
        payload = None
        if body is not None:
            payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        answer = http_request(
            self.url,
            f"{parts.path}{path}{query}",
            host=parts.hostname or "localhost",
            port=parts.port or (443 if tls else 80),
            tls=tls,
            deadline_s=deadline,
            idle_s=self.timeout,
            max_bytes=max_bytes,
            stop=self.stop,
            method=method,
            body=payload,
            headers=headers,
        )
        if answer.status in (401, 403):
            raise ActivityError(self._refused(answer.status, answer.reason, path))
        if not 200 <= answer.status < 300 and answer.status not in also_ok:
            redirect = " (redirects are not followed)" if 300 <= answer.status < 400 else ""
            shown = path if method == "GET" else f"{method} {path}"
            raise UnreachableError(
                f"ActivityWatch at {self.url} answered {answer.status} {answer.reason} "
                f"for {shown}{redirect}"
            )
        if method != "GET" and not answer.body.strip():
            return None
        if lazy:  # a list of events: parsed as it is read, never all as JSON objects at once
            return load_json_lazily(answer.body, f"{self.url}{path}")
        return load_json(answer.body, f"{self.url}{path}")

    def _refused(self, status: int, reason: str, path: str) -> str:
        where = (
            "the api_key under [auth] in aw-server-rust's config.toml, or [server.auth] in "
            "aw-server.toml"
        )
        if self.api_key is None:
            return (
                f"ActivityWatch at {self.url} answered {status} {reason} for {path}: "
                f"it asks for an API key; set aw_api_key to {where}"
            )
        return (
            f"ActivityWatch at {self.url} refused aw_api_key ({status} {reason} for {path}): "
            f"it is not {where}"
        )

    def info(self) -> dict[str, Any]:
        """``GET /api/0/info`` (hostname, version): the cheap "is it there" call."""
        doc = self._request("/api/0/info", deadline=self.timeout, max_bytes=META_MAX_BYTES)
        if not isinstance(doc, dict):
            raise ActivityError(f"{self.url}/api/0/info: expected a JSON object")
        return doc

    def buckets(self) -> dict[str, Any]:
        """``GET /api/0/buckets/``: bucket id → metadata (type, hostname, ...)."""
        doc = self._request("/api/0/buckets/", deadline=self.timeout, max_bytes=META_MAX_BYTES)
        if not isinstance(doc, dict):
            raise ActivityError(f"{self.url}/api/0/buckets/: expected a JSON object")
        return doc

    def _bucket_path(self, bucket_id: str) -> str:
        return f"/api/0/buckets/{urllib.parse.quote(bucket_id, safe='')}"

    def events(self, bucket_id: str, start_us: int, end_us: int) -> Any:
        """Raw events of ``bucket_id`` overlapping ``[start, end]`` (AW's own filter): a
        :class:`JsonArray` when the server answers a list (parsed as it is iterated)."""
        return self._request(
            f"{self._bucket_path(bucket_id)}/events",
            {"start": aw_timestamp(start_us), "end": aw_timestamp(end_us), "limit": "-1"},
            deadline=self.events_timeout,
            max_bytes=EVENTS_MAX_BYTES,
            lazy=True,
        )

    def latest_event(self, bucket_id: str) -> Any:
        """The raw event of ``bucket_id`` that starts last (a list of at most one)."""
        return self._request(
            f"{self._bucket_path(bucket_id)}/events",
            {"limit": "1"},
            deadline=self.timeout,
            max_bytes=META_MAX_BYTES,
        )

    # --- writes: the label bucket only (daemon/collector/awlabels.py) ----------------------

    def create_bucket(self, bucket_id: str, *, client: str, kind: str, hostname: str) -> None:
        """``POST /api/0/buckets/<id>``; a bucket that exists already (304) is fine."""
        self._request(
            self._bucket_path(bucket_id),
            method="POST",
            body={"client": client, "type": kind, "hostname": hostname},
            deadline=self.timeout,
            max_bytes=META_MAX_BYTES,
            also_ok=(304,),
        )

    def post_events(self, bucket_id: str, events: list[dict[str, Any]]) -> None:
        """``POST /api/0/buckets/<id>/events``: an event with an ``id`` replaces that event
        in place (aw-server and aw-server-rust alike), one without is added."""
        self._request(
            f"{self._bucket_path(bucket_id)}/events",
            method="POST",
            body=events,
            deadline=self.timeout,
            max_bytes=META_MAX_BYTES,
        )

    def delete_event(self, bucket_id: str, event_id: int) -> None:
        """``DELETE /api/0/buckets/<id>/events/<event id>``."""
        self._request(
            f"{self._bucket_path(bucket_id)}/events/{event_id}",
            method="DELETE",
            deadline=self.timeout,
            max_bytes=META_MAX_BYTES,
        )
