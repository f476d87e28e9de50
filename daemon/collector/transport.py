"""One HTTP request with an overall deadline, a size cap and a stop event (no urllib: it has none).

urllib bounds each socket read only: a server that sends a byte every few seconds keeps a
request alive forever, and a read blocked in the socket does not see SIGTERM. Here every
wait is at most ``_SLICE_S`` long, after which the stop event, the request's deadline and
its idle limit are looked at again; the answer is read up to a byte cap and no further.
The caller (``client.AWClient``) owns the policy: which URLs, which deadlines, which caps,
which headers (an API key).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from taskclf_core.errors import ActivityError, UnreachableError

if TYPE_CHECKING:
    import ssl

__all__ = ["Answer", "Stopped", "http_request"]

_SLICE_S: Final = 0.2  # the longest a blocked wait goes without looking at the stop event
_MAX_HEAD: Final = 64 * 1024
_CHUNK: Final = 256 * 1024


class Stopped(Exception):
    """The stop event was set while a request waited: unwind, nothing was read."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    reason: str
    body: bytes | bytearray  # the buffer it was read into: a day's events are not copied


@dataclass
class _Budget:
    """The request's deadline, its idle limit and the stop event, checked between waits."""

    url: str
    what: str
    deadline: float
    idle_s: float
    stop: threading.Event | None
    started: float
    last_progress: float
    received: int = 0

    def check(self) -> float:
        """The time one wait may take now; raises when the request must end."""
        if self.stop is not None and self.stop.is_set():
            raise Stopped
        now = time.monotonic()
        total = self.deadline - self.started
        if now >= self.deadline:
            raise UnreachableError(
                f"ActivityWatch at {self.url} did not answer within {total:g} s "
                f"({self.what}; {self.received} bytes in)"
            )
        if now - self.last_progress >= self.idle_s:
            raise UnreachableError(
                f"ActivityWatch at {self.url} did not answer within {self.idle_s:g} s "
                f"({self.what}; silent after {self.received} bytes)"
            )
        return max(0.001, min(_SLICE_S, self.deadline - now))


def _connect(host: str, port: int, budget: _Budget) -> socket.socket:
    """A connected non-blocking socket, trying each address ``host`` resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnreachableError(
            f"ActivityWatch at {budget.url}: cannot resolve {host} ({exc})"
        ) from None
    error: OSError | None = None
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(budget.check())
            while True:
                try:
                    sock.connect(address)
                    return sock
                except TimeoutError:
                    sock.close()
                    sock = socket.socket(family, kind, proto)
                    sock.settimeout(budget.check())
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    text = (error.strerror or str(error)) if error is not None else "no address"
    raise UnreachableError(
        f"ActivityWatch is not reachable at {budget.url} ({text}); is it running? "
        "(set aw_url if it listens elsewhere)"
    )


def _handshake(sock: socket.socket, host: str, budget: _Budget) -> ssl.SSLSocket:
    import ssl  # only for an https aw_url (~2 MB of a process that runs all day)

    tls = ssl.create_default_context().wrap_socket(
        sock, server_hostname=host, do_handshake_on_connect=False
    )
    while True:
        tls.settimeout(budget.check())
        try:
            tls.do_handshake()
            return tls
        except TimeoutError:
            continue


def _head(raw: bytes, budget: _Budget) -> tuple[int, str, dict[str, str]]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise UnreachableError(
            f"ActivityWatch at {budget.url} did not answer HTTP ({budget.what}: {lines[0][:60]!r})"
        )
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


def _dechunk(body: bytes | bytearray, budget: _Budget) -> bytearray:
    out = bytearray()
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        try:
            size = int(body[pos:eol].split(b";")[0], 16) if eol >= 0 else -1
        except ValueError:
            size = -1
        if size < 0 or eol + 2 + size > len(body):
            raise UnreachableError(
                f"ActivityWatch at {budget.url} sent a broken chunked answer ({budget.what})"
            )
        if size == 0:
            return out
        out += body[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2


def _too_large(budget: _Budget, max_bytes: int) -> ActivityError:
    return ActivityError(
        f"ActivityWatch at {budget.url} answered {budget.what} with more than "
        f"{max_bytes // (1024 * 1024)} MiB; the collector reads at most that much per request"
    )


def _send(sock: socket.socket, payload: bytes, budget: _Budget) -> None:
    """Send ``payload`` a slice of time at a time (a body waits on the stop event too)."""
    view = memoryview(payload)
    while view:
        sock.settimeout(budget.check())
        try:
            sent = sock.send(view)
        except TimeoutError:
            continue
        view = view[sent:]


def http_request(
    url: str,
    target: str,
    *,
    host: str,
    port: int,
    tls: bool,
    deadline_s: float,
    idle_s: float,
    max_bytes: int,
    stop: threading.Event | None,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """``method target`` to ``host:port`` with ``body`` (JSON) and ``headers``. Raises
    :class:`UnreachableError` (refused, too slow, not HTTP), :class:`ActivityError` (an
    answer over ``max_bytes``) or :class:`Stopped`."""
    now = time.monotonic()
    what = target.split("?")[0] if method == "GET" else f"{method} {target.split('?')[0]}"
    budget = _Budget(url, what, now + deadline_s, idle_s, stop, now, now)
    sock: socket.socket = _connect(host, port, budget)
    try:
        if tls:
            sock = _handshake(sock, host, budget)
        authority = f"[{host}]" if ":" in host else host
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {authority}:{port}",
            "Accept: application/json",
            "Connection: close",
            "User-Agent: taskclf-daemon-collector",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + (body or b"")
        budget.check()
        _send(sock, request, budget)
        data = bytearray()
        head_end = -1
        length: int | None = None
        head: tuple[int, str, dict[str, str]] | None = None
        while True:
            sock.settimeout(budget.check())
            try:
                chunk = sock.recv(_CHUNK)
            except TimeoutError:
                continue
            if not chunk:
                break
            data += chunk
            budget.received = len(data)
            budget.last_progress = time.monotonic()
            if head is None:
                head_end = data.find(b"\r\n\r\n")
                if head_end < 0:
                    if len(data) > _MAX_HEAD:
                        raise UnreachableError(
                            f"ActivityWatch at {url} sent no end of headers in {_MAX_HEAD} bytes"
                        )
                    continue
                head = _head(bytes(data[:head_end]), budget)
                declared = head[2].get("content-length")
                length = int(declared) if declared is not None and declared.isdigit() else None
                if length is not None and length > max_bytes:
                    raise _too_large(budget, max_bytes)
            body_len = len(data) - head_end - 4
            if body_len > max_bytes:
                raise _too_large(budget, max_bytes)
            if length is not None and body_len >= length:
                break
    except OSError as exc:
        raise UnreachableError(
            f"ActivityWatch at {url}: {exc.strerror or exc} while reading {budget.what}"
        ) from None
    finally:
        sock.close()
    if head is None:
        if data:
            first = bytes(data).split(b"\r\n")[0].decode("latin-1")[:60]
            raise UnreachableError(
                f"ActivityWatch at {url} did not answer HTTP ({budget.what}: {first!r})"
            )
        raise UnreachableError(f"ActivityWatch at {url} closed the connection ({budget.what})")
    status, reason, answer_headers = head
    del data[: head_end + 4]  # the body, in the buffer it was read into
    if length is not None and len(data) < length:
        raise UnreachableError(
            f"ActivityWatch at {url} cut its answer short ({budget.what}: "
            f"{len(data)} of {length} bytes)"
        )
    if length is not None:
        del data[length:]
    elif answer_headers.get("transfer-encoding", "").lower() == "chunked":
        data = _dechunk(data, budget)
    return Answer(status, reason, data)
