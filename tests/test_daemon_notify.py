"""The real daemon speaks sd_notify: READY, watchdog pings at half the interval, STOPPING."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _receive_until(sock: socket.socket, want: str, deadline: float) -> list[tuple[float, str]]:
    got: list[tuple[float, str]] = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(4096).decode()
        except TimeoutError:
            break
        got.append((time.monotonic(), data))
        if want in data:
            return got
    raise AssertionError(f"no {want!r} before the deadline; received {[m for _, m in got]}")


@pytest.mark.slow
def test_ready_watchdog_stopping(tmp_path: Path, bundle_dir: Path) -> None:
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    env = os.environ.copy()
    env.update(NOTIFY_SOCKET=address, WATCHDOG_USEC="1000000")  # ping every ~0.5 s
    config = tmp_path / "daemon.toml"
    config.write_text(
        f'model_dir = "{bundle_dir}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'state_dir = "{tmp_path / "state"}"\nheartbeat_seconds = 5.0\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "daemon", "run", "--config", str(config)],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    try:
        start = time.monotonic()
        messages = _receive_until(sock, "READY=1", start + 30)
        ready_at = messages[-1][0]
        pings: list[float] = []
        while len(pings) < 4:
            for at, message in _receive_until(sock, "WATCHDOG=1", time.monotonic() + 5):
                if "WATCHDOG=1" in message:
                    pings.append(at)
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        # half of WATCHDOG_USEC is 0.5 s; allow scheduling slack on a loaded 2-core box
        assert all(0.3 < g < 1.0 for g in gaps), gaps
        assert pings[0] - ready_at < 1.0
        proc.send_signal(signal.SIGTERM)
        _receive_until(sock, "STOPPING=1", time.monotonic() + 10)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        sock.close()


def test_no_notify_socket_is_a_no_op(tmp_path: Path, bundle_dir: Path) -> None:
    """Without NOTIFY_SOCKET the daemon runs the same (here: drains nothing and exits)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "daemon",
            "run",
            "--once",
            "--model-dir",
            str(bundle_dir),
            "--data-dir",
            str(tmp_path / "data"),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=os.environ.copy(),
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
