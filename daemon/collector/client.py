"""A small ActivityWatch REST client on the standard library: loopback only, with timeouts."""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from taskclf_core.activity import load_json
from taskclf_core.errors import ActivityError, ConfigError, UnreachableError

__all__ = ["AWClient", "check_loopback_url"]

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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could point anywhere: refuse it rather than follow it off the machine."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _iso(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat()


@dataclass(frozen=True, slots=True)
class AWClient:
    """GETs against one ActivityWatch server. Every failure is an :class:`UnreachableError`
    (retry later) or an :class:`ActivityError` (the answer is not what AW sends)."""

    url: str
    timeout: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", check_loopback_url(self.url))

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        target = f"{self.url}{path}{query}"
        # no proxies (an http_proxy variable must not route local reads elsewhere), no redirects
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
        request = urllib.request.Request(target, headers={"Accept": "application/json"})
        try:
            with opener.open(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise UnreachableError(
                f"ActivityWatch at {self.url} answered {exc.code} {exc.reason} for {path}"
            ) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise UnreachableError(
                    f"ActivityWatch at {self.url} did not answer within {self.timeout:g} s"
                ) from None
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
            raise UnreachableError(
                f"ActivityWatch is not reachable at {self.url} ({text}); is it running? "
                "(set aw_url if it listens elsewhere)"
            ) from None
        except TimeoutError:
            raise UnreachableError(
                f"ActivityWatch at {self.url} did not answer within {self.timeout:g} s"
            ) from None
        except OSError as exc:
            raise UnreachableError(
                f"ActivityWatch at {self.url}: {exc.strerror or exc} while reading {path}"
            ) from None
        return load_json(body, f"{self.url}{path}")

    def info(self) -> dict[str, Any]:
        """``GET /api/0/info`` (hostname, version): the cheap "is it there" call."""
        doc = self._get("/api/0/info")
        if not isinstance(doc, dict):
            raise ActivityError(f"{self.url}/api/0/info: expected a JSON object")
        return doc

    def buckets(self) -> dict[str, Any]:
        """``GET /api/0/buckets/``: bucket id → metadata (type, hostname, ...)."""
        doc = self._get("/api/0/buckets/")
        if not isinstance(doc, dict):
            raise ActivityError(f"{self.url}/api/0/buckets/: expected a JSON object")
        return doc

    def events(self, bucket_id: str, start_us: int, end_us: int) -> Any:
        """Raw events of ``bucket_id`` overlapping ``[start, end]`` (AW's own filter)."""
        path = f"/api/0/buckets/{urllib.parse.quote(bucket_id, safe='')}/events"
        return self._get(path, {"start": _iso(start_us), "end": _iso(end_us), "limit": "-1"})
