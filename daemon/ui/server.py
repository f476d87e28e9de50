"""The page's HTTP server: the standard library's, on 127.0.0.1, every request through the guard.

Routes (every one needs the token; a change needs it in the header, :mod:`daemon.ui.guard`):

    GET  /  /app.js  /app.css        the page (package data under daemon/ui/static)
    GET  /api/meta                   labels and colours, the learning actions
    GET  /api/day?date=&user=        the day's timeline, totals and your spans
    GET  /api/asks?date=&user=       the suggestions queue
    GET  /api/status                 the daemon, its model and store, drift
    GET  /api/events?date=&user=&files=
                                     Server-Sent Events: "day", "status" (redraw those);
                                     files: the day's files_key the page drew (changed: "day")
    POST /api/spans                  label a span you drew
    POST /api/spans/undo             take back the span just added
    POST /api/asks/answer|skip       answer or skip an ask
    POST /api/learn/NAME/dry-run|ship

The server, its lock and ``<data_dir>/ui/server.json`` (the URL with the token, 0600) live
as long as :func:`serving`; a second `ui` on the same data directory finds the first there.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.resources
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlsplit

from daemon.fsutil import atomic_write_text, utc_now
from daemon.paths import ensure_private_dir, ui_dir, ui_server_file
from daemon.ui.api import ApiError, Page
from daemon.ui.glance import glance_digest
from daemon.ui.guard import GUARDED_HEADERS, SECURITY_HEADERS, Guard, Refusal, new_token
from daemon.ui.live import TICK_SECONDS, Watch
from taskclf_core.errors import OperationalError, TaskclfError

__all__ = ["Running", "Serving", "find_running", "serving"]

HOST: Final = "127.0.0.1"
MAX_BODY: Final = 64 * 1024
PING_SECONDS: Final = 15.0
_STATIC: Final = {
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
}


def _static(name: str) -> bytes:
    return (importlib.resources.files("daemon.ui") / "static" / name).read_bytes()


class _Server(ThreadingHTTPServer):
    """Handler threads are joined at close: each ends within a tick of ``stop``."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, port: int, page: Page) -> None:
        super().__init__((HOST, port), _Handler)
        self.page = page
        self.stop = threading.Event()
        self.guard = Guard(new_token(), self.server_address[1])
        token = quote(self.guard.token)
        self.files = {
            "/": _static("index.html").replace(b"{{token}}", token.encode()),
            **{path: _static(name) for path, (name, _) in _STATIC.items()},
        }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "taskclf-daemon"
    sys_version = ""
    timeout = 30  # a connection that says nothing for this long is closed

    # every response, refusals and the standard library's own errors included
    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        return  # the request line holds the token: never logged

    def _refuse(self, refusal: Refusal) -> None:
        path = urlsplit(self.path).path
        print(
            f"taskclf-daemon ui: refused {self.command} {path[:80]}: {refusal.status} "
            f"{refusal.reason}",
            file=sys.stderr,
            flush=True,
        )
        self._json(refusal.status, {"error": refusal.reason})

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, doc: Mapping[str, Any]) -> None:
        body = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode()
        self._send(status, body, "application/json")

    def _checked(self) -> tuple[str, dict[str, str]] | None:
        """The path and query of a request the guard lets through, else None (refused)."""
        parts = urlsplit(self.path)
        headers: dict[str, str] = {}
        for name in GUARDED_HEADERS:
            values = self.headers.get_all(name) or []
            if len(values) > 1:  # which one would a proxy, or the browser, have meant?
                self._refuse(Refusal(400, f"{name}: sent {len(values)} times"))
                return None
            if values:
                headers[name] = values[0]
        refusal = self.server.guard.check(self.command, parts.query, headers)
        if refusal is not None:
            self._refuse(refusal)
            return None
        return parts.path, dict(parse_qsl(parts.query))

    def _body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ApiError(400, "Content-Length: expected a number") from None
        if length > MAX_BODY:
            raise ApiError(413, f"a request body is at most {MAX_BODY} bytes")
        raw = self.rfile.read(length) if length > 0 else b"{}"
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "the body is not JSON") from None
        if not isinstance(doc, dict):
            raise ApiError(400, "the body is not a JSON object")
        return doc

    def _answer(self, work: Callable[[], Mapping[str, Any]], status: int = 200) -> None:
        try:
            doc = work()
        except ApiError as exc:
            self._json(exc.status, {"error": str(exc), **exc.extra})
        except TaskclfError as exc:  # a file the page reads is damaged: say which
            self._json(500, {"error": str(exc)})
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            self._json(500, {"error": f"{where}{exc.strerror or exc}"})
        else:
            self._json(status, doc)

    def do_GET(self) -> None:
        checked = self._checked()
        if checked is None:
            return
        path, query = checked
        page = self.server.page
        if path in ("/", "/index.html"):
            self._send(200, self.server.files["/"], "text/html; charset=utf-8")
        elif path in _STATIC:
            self._send(200, self.server.files[path], _STATIC[path][1])
        elif path == "/api/meta":
            self._answer(page.meta)
        elif path == "/api/day":
            self._answer(lambda: page.day(query))
        elif path == "/api/asks":
            self._answer(lambda: page.asks(query))
        elif path == "/api/status":
            self._answer(page.status)
        elif path == "/api/events":
            self._events(query)
        else:
            self._json(404, {"error": f"no such page {path[:80]!r}"})

    def do_POST(self) -> None:
        checked = self._checked()
        if checked is None:
            return
        path, _ = checked
        page = self.server.page
        routes: dict[str, Callable[[dict[str, Any]], Mapping[str, Any]]] = {
            "/api/spans": page.add_span,
            "/api/spans/undo": page.undo,
            "/api/asks/answer": page.answer,
            "/api/asks/skip": page.skip,
        }
        if path.startswith("/api/learn/") and path.count("/") == 4:
            name, step = path.split("/")[3:5]
            self._answer(lambda: page.learn(name, step, self._body()))
            return
        route = routes.get(path)
        if route is None:
            self._json(404, {"error": f"no such action {path[:80]!r}"})
            return
        created = 201 if path in ("/api/spans", "/api/asks/answer") else 200
        self._answer(lambda: route(self._body()), created)

    def _other(self) -> None:
        if self._checked() is not None:
            self._json(405, {"error": f"{self.command} is not a method of this page"})

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    def _events(self, query: Mapping[str, str]) -> None:
        """Server-Sent Events until the page goes away or the server stops."""
        page = self.server.page
        try:
            first = page.day(query)  # what is watched: the day and the user the page shows
        except (ApiError, TaskclfError, OSError) as exc:
            self._json(getattr(exc, "status", 500), {"error": str(exc)})
            return
        day = date.fromisoformat(first["date"])
        watch = Watch(
            page.settings.data_dir,
            lambda: day,
            page.tz,
            lambda: glance_digest(page.status()),
            since=query.get("files"),  # the state of the files the page's day was read from
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        stop = self.server.stop
        quiet = 0.0
        try:
            self.wfile.write(b"retry: 2000\n\n")
            self.wfile.flush()
            while not stop.wait(TICK_SECONDS):
                changed = watch.changes()
                quiet += TICK_SECONDS
                if not changed and quiet < PING_SECONDS:
                    continue
                lines = "".join(f"event: {name}\ndata: {{}}\n\n" for name in changed)
                self.wfile.write((lines or ": ping\n\n").encode())
                self.wfile.flush()
                quiet = 0.0
        except OSError:
            return  # the page went away


@dataclass(frozen=True, slots=True)
class Running:
    """A page being served: its URL (with the token) and who serves it."""

    url: str
    pid: int
    port: int
    started_at: str


@dataclass(frozen=True, slots=True)
class Serving:
    """The page this process serves, until :meth:`stop`."""

    running: Running
    server: _Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.stop.set()
        self.server.page.stop()
        self.server.shutdown()


def _lock_path(data_dir: Path) -> Path:
    return ui_dir(data_dir) / ".server.lock"


def find_running(data_dir: Path) -> Running | None:
    """The page already served for ``data_dir`` by another process, or None."""
    path = _lock_path(data_dir)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # held: it runs
    else:
        return None
    finally:
        os.close(fd)
    try:
        doc = json.loads(ui_server_file(data_dir).read_text(encoding="utf-8"))
        return Running(str(doc["url"]), int(doc["pid"]), int(doc["port"]), str(doc["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def serving(page: Page, port: int) -> Iterator[Serving]:
    """Serve ``page`` on 127.0.0.1:``port`` (0: a free port) in a thread; the lock and
    ``server.json`` are held and written for as long as it runs, removed after."""
    data_dir = page.settings.data_dir
    ensure_private_dir(ui_dir(data_dir))
    fd = os.open(_lock_path(data_dir), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OperationalError(
                f"another `taskclf-daemon ui` serves {data_dir} (lock {_lock_path(data_dir)})"
            ) from None
        try:
            server = _Server(port, page)
        except OSError as exc:
            raise OperationalError(
                f"ui_port: cannot listen on {HOST}:{port} ({exc.strerror or exc}); set "
                "ui_port (or --port) to a free port, or 0 for any"
            ) from None
        bound = server.server_address[1]
        url = f"http://{HOST}:{bound}/?token={quote(server.guard.token)}"
        running = Running(url, os.getpid(), bound, utc_now("seconds"))
        info = ui_server_file(data_dir)
        try:
            doc = {"url": url, "token": server.guard.token, "port": bound}
            atomic_write_text(
                info,
                json.dumps({**doc, "pid": running.pid, "started_at": running.started_at}) + "\n",
                durable=False,
            )
            thread = threading.Thread(
                target=server.serve_forever, name="ui-server", kwargs={"poll_interval": 0.5}
            )
            thread.start()
            serving_ = Serving(running, server, thread)
            try:
                yield serving_
            finally:
                serving_.stop()
                thread.join()
                server.server_close()  # joins the handler threads
        finally:
            with contextlib.suppress(OSError):
                info.unlink()
    finally:
        os.close(fd)
