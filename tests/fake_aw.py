"""A small ActivityWatch REST server on 127.0.0.1 for the collector's tests, polite or hostile.

It answers ``/api/0/info``, ``/api/0/buckets/`` and ``/api/0/buckets/<id>/events`` (AW's
filters: ``start``/``end`` overlap, ``limit``, newest first) from an export-shaped dict, so
it can serve what no real server would hold (lone surrogates, 400-digit numbers, junk). A
``hostile`` mode replaces every answer: a byte every few seconds, a huge body, not HTTP.

Writes as aw-server takes them: ``POST /api/0/buckets/<id>`` (create; 304 if it exists),
``POST .../events`` (an event with an ``id`` replaces that one) and ``DELETE
.../events/<id>``; ``refuse_writes`` answers them 503. ``api_key`` asks for ActivityWatch's
``Authorization: Bearer <key>`` on every request but ``/api/0/info``; ``authorization``
records the header of every request.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _when(value: object) -> datetime | None:
    try:
        ts = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _overlaps(event: object, start: datetime | None, end: datetime | None) -> bool:
    if not isinstance(event, dict):
        return True  # no real server holds one; a hostile one serves it anyway
    begin = _when(event.get("timestamp"))
    duration = event.get("duration", 0)
    if begin is None or not isinstance(duration, int | float) or isinstance(duration, bool):
        return True
    try:
        stop = begin.timestamp() + float(duration)
    except (OverflowError, ValueError):
        return True
    if start is not None and stop < start.timestamp():
        return False
    return end is None or begin <= end


class FakeAW:
    """The server's state: the buckets it holds and how it answers."""

    def __init__(self, buckets: Mapping[str, Mapping[str, Any]]) -> None:
        self.buckets = {k: dict(v) for k, v in buckets.items()}
        self.hostile: str | None = None  # "dribble", "huge", "huge-unsized", "not-http"
        self.dribble_s = 2.0
        self.requests: list[str] = []
        self.dribbled = 0  # bytes sent so far by "dribble" answers
        self.closing = threading.Event()
        self.url = ""
        self.api_key: str | None = None
        self.authorization: list[str | None] = []
        self.refuse_writes = False
        self.writes: list[str] = []  # "METHOD path" of each write answered
        self._next_id = 0
        self.lock = threading.Lock()

    def write(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """A write as aw-server does it (the label bucket's), under the lock."""
        if self.refuse_writes:
            return 503, {"message": "refused (test)"}
        prefix = "/api/0/buckets/"
        rest = urllib.parse.unquote(urllib.parse.urlsplit(path).path[len(prefix) :])
        bucket_id, _, tail = rest.partition("/")
        with self.lock:
            self.writes.append(f"{method} {path}")
            if method == "POST" and not tail:
                if bucket_id in self.buckets:
                    return 304, None
                self.buckets[bucket_id] = {
                    **body,
                    "id": bucket_id,
                    "created": datetime.now(UTC).isoformat(),
                    "events": [],
                }
                return 200, {}
            bucket = self.buckets.get(bucket_id)
            if bucket is None:
                return 404, {"message": "no such bucket"}
            events: list[Any] = bucket["events"]
            if method == "POST" and tail == "events":
                for event in body if isinstance(body, list) else [body]:
                    if event.get("id") is not None:
                        for i, old in enumerate(events):
                            if old.get("id") == event["id"]:
                                events[i] = dict(event)
                    else:
                        events.append({**event, "id": self._next_id})
                        self._next_id += 1
                return 200, None
            if method == "DELETE" and tail.startswith("events/"):
                event_id = int(tail.removeprefix("events/"))
                bucket["events"] = [e for e in events if e.get("id") != event_id]
                return 200, {"success": True}
        return 404, {"message": "not found"}

    def events(self, bucket_id: str, query: Mapping[str, list[str]]) -> list[Any] | None:
        bucket = self.buckets.get(bucket_id)
        if bucket is None:
            return None
        start = _when(query["start"][0]) if "start" in query else None
        end = _when(query["end"][0]) if "end" in query else None
        chosen = [e for e in bucket.get("events", []) if _overlaps(e, start, end)]

        def key(e: object) -> str:
            return str(e.get("timestamp", "")) if isinstance(e, dict) else ""

        chosen.sort(key=key, reverse=True)  # AW answers newest first
        limit = int(query.get("limit", ["-1"])[0])
        return chosen if limit < 0 else chosen[:limit]

    def answer(self, path: str) -> tuple[int, Any]:
        parts = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(parts.query)
        if parts.path == "/api/0/info":
            return 200, {"hostname": "fake", "version": "v0.13.2-fake", "testing": True}
        if parts.path == "/api/0/buckets/":
            meta = {
                bucket_id: {k: v for k, v in bucket.items() if k != "events"}
                for bucket_id, bucket in self.buckets.items()
            }
            return 200, meta
        prefix = "/api/0/buckets/"
        if parts.path.startswith(prefix) and parts.path.endswith("/events"):
            bucket_id = urllib.parse.unquote(parts.path[len(prefix) : -len("/events")])
            events = self.events(bucket_id, query)
            if events is not None:
                return 200, events
        return 404, {"message": "not found"}


def _handler(state: FakeAW) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            state.requests.append(self.path)
            try:
                self._answer()
            except (BrokenPipeError, ConnectionResetError):
                return

        def do_POST(self) -> None:
            self._write("POST")

        def do_DELETE(self) -> None:
            self._write("DELETE")

        def _send(self, status: int, doc: Any) -> None:
            body = b"" if doc is None else json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _refused(self) -> bool:
            """Record the Authorization header; answer 401 when it is not the key asked for."""
            header = self.headers.get("Authorization")
            state.authorization.append(header)
            if state.api_key is None or self.path.split("?")[0] == "/api/0/info":
                return False
            if header == f"Bearer {state.api_key}":
                return False
            self._send(401, {"message": "Missing or invalid API key."})
            return True

        def _write(self, method: str) -> None:
            state.requests.append(f"{method} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self._refused():
                return
            self._send(*state.write(method, self.path, json.loads(raw) if raw else None))

        def _answer(self) -> None:
            if self._refused():
                return
            if state.hostile == "not-http":
                self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")
                return
            if state.hostile == "dribble":
                # a valid answer, a byte every dribble_s: no single read ever times out
                body = b'{"hostname": "slow"}'
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                for byte in head + body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    state.dribbled += 1
                    if state.closing.wait(state.dribble_s):
                        return
                return
            if state.hostile in ("huge", "huge-unsized"):
                size = 80 * 1024 * 1024
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if state.hostile == "huge":
                    self.send_header("Content-Length", str(size))
                self.end_headers()
                block = b" " * (1024 * 1024)
                for _ in range(size // len(block)):
                    if state.closing.is_set():
                        return
                    self.wfile.write(block)
                return
            with state.lock:
                status, doc = state.answer(self.path)
                body = json.dumps(doc).encode()  # ensure_ascii: a lone surrogate as \ud800
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def fake_aw(buckets: Mapping[str, Mapping[str, Any]]) -> Iterator[FakeAW]:
    """Serve ``buckets`` (an export's ``buckets`` map) on a free loopback port."""
    state = FakeAW(buckets)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        state.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
