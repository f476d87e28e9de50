"""Who may ask the page anything: the one place its security policy lives.

The page is served on 127.0.0.1 only, but any web page the user visits can make the browser
send requests there, and any local process can connect. So, for every request:

- the ``Host`` header must be ``127.0.0.1:PORT`` or ``localhost:PORT`` (a DNS-rebinding
  page reaches us under its own name, and is refused);
- it must carry the token, in the ``X-Taskclf-Token`` header or the ``token`` query
  parameter (the URL printed at start); compared in constant time;
- a request that changes anything (POST) must carry the token in the header: a header is
  something no other site can make the browser send without a CORS preflight, which we
  never answer; a cross-site ``Origin`` is refused as well, and the body must be JSON;
- no cookies are set and no CORS header is ever sent.

Every response carries :data:`SECURITY_HEADERS` (refusals too).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs

__all__ = [
    "GUARDED_HEADERS",
    "HEADER",
    "SECURITY_HEADERS",
    "WRITE_METHODS",
    "Guard",
    "Refusal",
    "new_token",
]

HEADER: Final = "X-Taskclf-Token"
WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# the headers the checks read (each refused when sent twice)
GUARDED_HEADERS: Final = ("Host", "Origin", HEADER, "Content-Type")
TOKEN_BYTES: Final = 32  # 256 bits (secrets.token_urlsafe)

# the page loads its one script and style sheet from itself and talks to itself: nothing else
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # the token is in the page's URL: never send it anywhere as a referrer
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused, and with which HTTP status."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Guard:
    """The checks every request passes before anything else reads it."""

    token: str
    port: int

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{host}" for host in self.hosts)

    def _matches(self, given: str | None) -> bool:
        if given is None:
            return False
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode())

    def check(self, method: str, query: str, headers: Mapping[str, str]) -> Refusal | None:
        """None when the request may go on; else why not. ``headers`` are looked up by their
        canonical names (``Host``, ``Origin``, :data:`HEADER`, ``Content-Type``)."""
        host = (headers.get("Host") or "").strip().lower()
        if host not in self.hosts:
            return Refusal(403, f"Host {host[:80]!r} is not this page's address (127.0.0.1:PORT)")
        in_header = headers.get(HEADER)
        in_query = parse_qs(query, keep_blank_values=True).get("token", [None])[-1]
        if in_header is None and in_query is None:
            return Refusal(401, "no token: open the URL `taskclf-daemon ui` printed")
        if not self._matches(in_header if in_header is not None else in_query):
            return Refusal(403, "wrong token: open the URL `taskclf-daemon ui` printed")
        if method in WRITE_METHODS:
            if in_header is None:
                return Refusal(403, f"a change needs the token in the {HEADER} header")
            origin = headers.get("Origin")
            if origin is not None and origin not in self.origins:
                return Refusal(403, f"Origin {origin[:80]!r} may not change anything here")
            kind = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if kind != "application/json":
                return Refusal(415, "a change is sent as application/json")
        return None
