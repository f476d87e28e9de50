"""A real aw-server (ActivityWatch) for tests: its own venv, a free port, memory storage.

``api_key``: the server checks ``Authorization: Bearer <key>`` as ActivityWatch does when
``api_key`` is set under ``[auth]`` (aw-server-rust's config.toml, ``auth.rs``/``apikey.rs``)
or ``[server.auth]`` (aw-server's aw-server.toml, ``aw_server/auth.py``): every ``/api/``
request but ``GET /api/0/info`` and CORS preflights, 401 otherwise. The aw-server release on
PyPI (0.12.0, the one .ci/run installs) predates that check, so :data:`_WITH_KEY` adds it to
the real server's app the way aw-server's own ``auth.register`` does: a ``before_request``
hook; everything else is the unmodified server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aw_fixtures import still_watching

REPO = Path(__file__).resolve().parents[1]
# .ci/run makes this venv; aw-server pins Flask & co. that must not enter our environment
DEFAULT_VENV = REPO / ".aw-venv"
ENV_VAR = "AW_SERVER_BIN"


def find_aw_server(*, install: bool = True) -> tuple[Path | None, str]:
    """The aw-server executable, or None and why not. Makes ``.aw-venv`` when it is missing."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        path = Path(configured)
        return (path, "") if path.is_file() else (None, f"{ENV_VAR}={configured} does not exist")
    exe = DEFAULT_VENV / "bin" / "aw-server"
    if exe.is_file():
        return exe, ""
    if not install:
        return None, f"no aw-server at {exe}"
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(DEFAULT_VENV)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [str(DEFAULT_VENV / "bin" / "pip"), "install", "-q", "aw-server", "peewee<4"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        return None, f"cannot install aw-server into {DEFAULT_VENV}: {exc} {detail[-300:]!r}"
    return (exe, "") if exe.is_file() else (None, f"pip installed no {exe}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# run by the aw-server venv's python: the real server, with ActivityWatch's API-key check
_WITH_KEY = """
import hmac, os, sys
import aw_server.server as server
from flask import Response, request
KEY = os.environ["AW_TEST_API_KEY"].encode("ascii")
PUBLIC = [["api", "0", "info"]]
made = server.create_app

def create_app(*args, **kwargs):
    app = made(*args, **kwargs)

    @app.before_request
    def check_api_key():
        if request.method == "OPTIONS":
            return None
        segments = [s for s in request.path.split("/") if s]
        if not segments or segments[0] != "api" or segments in PUBLIC:
            return None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            try:
                if hmac.compare_digest(header[len("Bearer "):].encode("ascii"), KEY):
                    return None
            except UnicodeEncodeError:
                pass
        return Response(
            '{"message": "Missing or invalid API key. Set Authorization: Bearer <key> header."}',
            status=401,
            content_type="application/json",
        )

    return app

server.create_app = create_app
from aw_server.main import main
sys.argv[0] = "aw-server"
main()
"""


class AWServer:
    """HTTP helpers against one running aw-server (with its API key, if it wants one)."""

    def __init__(
        self, url: str, proc: subprocess.Popen[bytes], log: Path, api_key: str | None = None
    ) -> None:
        self.url = url
        self.proc = proc
        self.log = log
        self.api_key = api_key

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(
            f"{self.url}/api/0{path}", data=data, method=method, headers=headers
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None

    def reset(self) -> None:
        for bucket_id in self.request("GET", "/buckets/"):
            self.request("DELETE", f"/buckets/{bucket_id}?force=1")

    def load_export(self, export: Mapping[str, Any], *, watching: bool = False) -> None:
        """Create the export's buckets and insert their events over the REST API: the day as
        it was recorded, or (``watching``) with the window watcher still running, an event
        now (``still_watching``), as a live collector on a real desktop sees it."""
        buckets = export["buckets"]
        for bucket_id, bucket in (still_watching(buckets) if watching else buckets).items():
            meta = {k: bucket[k] for k in ("client", "type", "hostname")}
            self.request("POST", f"/buckets/{bucket_id}", meta)
            events = bucket["events"]
            for i in range(0, len(events), 2000):
                self.request("POST", f"/buckets/{bucket_id}/events", events[i : i + 2000])


@contextmanager
def aw_server(
    exe: Path, home: Path, *, storage: str = "memory", api_key: str | None = None
) -> Iterator[AWServer]:
    """Start ``aw-server --testing --storage <storage>`` on a free loopback port (its files,
    for ``peewee``, under ``home``); SIGTERM at exit. ``api_key``: it wants that key."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    log = home / "aw-server.log"
    args = ["--testing", "--host", "127.0.0.1", "--port", str(port), "--storage", storage]
    command = [str(exe), *args]
    if api_key is not None:
        env["AW_TEST_API_KEY"] = api_key
        command = [str(exe.parent / "python"), "-c", _WITH_KEY, *args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
    server = AWServer(f"http://127.0.0.1:{port}", proc, log, api_key)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                server.request("GET", "/info")
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"aw-server did not start: {log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass(frozen=True, slots=True)
class AWKind:
    """Which aw-server the ``aw`` fixture starts (conftest.py): its storage and API key."""

    storage: str = "memory"
    api_key: str | None = None


@contextmanager
def available_aw_server(home: Path, kind: AWKind | None = None) -> Iterator[AWServer]:
    """:func:`aw_server` of ``kind`` (default: memory storage, no key) in ``home``, or the
    test skipped (failed in CI) for want of it."""
    from helpers import unavailable

    exe, why = find_aw_server()
    if exe is None:
        unavailable("aw-server", why)
    kind = kind or AWKind()
    with aw_server(exe, home, storage=kind.storage, api_key=kind.api_key) as server:
        yield server
