"""The labelling page from outside: `taskclf-daemon ui` as a subprocess, plain HTTP, Chromium.

``UiProcess`` starts the real command and reads the URL it prints; ``request`` speaks plain
HTTP to it (any Host, any header); ``chrome`` drives Debian's chromium through its
chromedriver with selenium (the flags this machine needs: headless, no sandbox as root).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from daemon_harness import wait_for
from helpers import unavailable

__all__ = ["CHROME_FLAGS", "Reply", "UiProcess", "chrome", "request"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)")


class UiProcess:
    """``python -m daemon ui --no-browser ARGS`` with ``env``, until :meth:`stop`."""

    def __init__(self, root: Path, env: Mapping[str, str], *args: str) -> None:
        self.root = root
        self.out = root / "ui.out"
        self.err = root / "ui.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daemon", "ui", "--no-browser", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env={**env, "PYTHONUNBUFFERED": "1"},
            )
        found = wait_for(
            lambda: _URL.search(self.out.read_text()),
            30,
            "the page's URL on ui's stdout",
            context=self.tail,
            abort=lambda: None if self.proc.poll() is None else f"ui exited {self.proc.returncode}",
        )
        self.url = found.group(0)
        self.port = int(found.group(1))
        self.token = found.group(2)

    def tail(self) -> str:
        return f"stdout:\n{self.out.read_text()}\nstderr:\n{self.err.read_text()}"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"ui did not stop within {timeout} s\n{self.tail()}") from None

    def kill(self) -> None:
        with suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()


class Reply:
    """A plain HTTP answer: status, headers (lower-case names), body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    host: str | None = None,
) -> Reply:
    """One HTTP request to 127.0.0.1:``port``, exactly as given (``host``: the Host header)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
        sent = dict(headers or {})
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
            sent["Content-Length"] = str(len(data))
        for name, value in sent.items():
            conn.putheader(name, value)
        conn.endheaders(data)
        reply = conn.getresponse()
        return Reply(reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read())
    finally:
        conn.close()


@contextmanager
def chrome(profile: Path, *, width: int = 1280, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium driven through chromedriver, with a fresh profile; quit after."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium", "`pip install -e '.[dev]'` installs it")
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            unavailable(path, f"`apt-get install {package}` (Debian)")
    options = webdriver.ChromeOptions()
    for flag in (*CHROME_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.binary_location = CHROMIUM  # with the driver's path too: nothing is looked up
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_page(driver: Any, what: str, script: str, timeout: float = 20) -> Any:
    """Poll ``script`` (returns a value) in the page until it is truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script)
        if value:
            return value
        if time.monotonic() > deadline:
            errors = driver.execute_script("return document.body.getAttribute('data-errors')")
            message = driver.execute_script("return document.getElementById('msg').textContent")
            raise AssertionError(
                f"waiting for {what}: timed out; msg {message!r}, errors {errors!r}"
            )
        time.sleep(0.05)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
