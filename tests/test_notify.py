"""Notifier speaks the sd_notify datagram protocol to a real AF_UNIX socket, and never raises."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.runtime import notify
from daemon.runtime.notify import Notifier

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="abstract-namespace sockets are Linux-only"
)


class RecordingLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def _record(self, level: str, event: str, **kw: Any) -> None:
        self.events.append((level, event, kw))

    def warning(self, event: str, **kw: Any) -> None:
        self._record("warning", event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._record("info", event, **kw)


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> RecordingLog:
    recorder = RecordingLog()
    monkeypatch.setattr(notify, "_log", recorder)
    return recorder


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "notify.sock"
    if len(os.fsencode(path)) < 100:
        yield path
        return
    # sun_path holds ~108 bytes; a deep pytest tmp_path can exceed it
    with tempfile.TemporaryDirectory(prefix="sdn") as short:
        yield Path(short) / "notify.sock"


@pytest.fixture
def listener(socket_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(socket_path))
    sock.settimeout(5)
    yield sock
    sock.close()


def received(sock: socket.socket) -> str:
    return sock.recv(4096).decode("utf-8")


def test_sends_every_message_kind(listener: socket.socket, socket_path: Path) -> None:
    with Notifier.from_env({"NOTIFY_SOCKET": str(socket_path)}) as notifier:
        assert notifier.enabled
        assert notifier.ready()
        assert received(listener) == "READY=1"
        assert notifier.ready("model loaded")
        assert received(listener) == "READY=1\nSTATUS=model loaded"
        assert notifier.status("labelled 12 windows")
        assert received(listener) == "STATUS=labelled 12 windows"
        assert notifier.watchdog()
        assert received(listener) == "WATCHDOG=1"
        assert notifier.stopping()
        assert received(listener) == "STOPPING=1"

        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert notifier.reloading()
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        first, second = received(listener).split("\n")
        assert first == "RELOADING=1"
        key, _, usec = second.partition("=")
        assert key == "MONOTONIC_USEC"
        assert before <= int(usec) <= after


def test_status_cannot_inject_extra_assignments(listener: socket.socket, socket_path: Path) -> None:
    with Notifier(str(socket_path)) as notifier:
        notifier.status("line one\nREADY=1")
        assert received(listener) == "STATUS=line one READY=1"


@linux_only
def test_abstract_namespace_socket() -> None:
    name = f"taskclf-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        with Notifier.from_env({"NOTIFY_SOCKET": "@" + name}) as notifier:
            assert notifier.enabled
            assert notifier.ready()
            assert received(sock) == "READY=1"
    finally:
        sock.close()


@linux_only
def test_one_socket_is_kept_open(listener: socket.socket, socket_path: Path) -> None:
    notifier = Notifier(str(socket_path))
    notifier.watchdog()
    received(listener)
    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        notifier.watchdog()
        received(listener)
    assert len(os.listdir("/proc/self/fd")) == fds
    notifier.close()
    assert len(os.listdir("/proc/self/fd")) == fds - 1
    # closing is not final: the next message opens a socket again
    assert notifier.watchdog()
    assert received(listener) == "WATCHDOG=1"
    notifier.close()


def test_from_env_defaults_to_os_environ(
    listener: socket.socket, socket_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(socket_path))
    with Notifier.from_env() as notifier:
        assert notifier.ready()
        assert received(listener) == "READY=1"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "2000000"}, 1.0),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}, 1.0),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "not-a-pid"}, None),
        ({}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval(
    socket_path: Path, log: RecordingLog, env: dict[str, str], expected: float | None
) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(socket_path), **env})
    assert notifier.watchdog_interval == expected


def test_without_notify_socket_everything_is_a_no_op(log: RecordingLog) -> None:
    notifier = Notifier.from_env({})
    assert not notifier.enabled
    for send in (
        notifier.ready,
        notifier.stopping,
        notifier.reloading,
        notifier.watchdog,
        lambda: notifier.status("x"),
        lambda: notifier.ready("x"),
    ):
        assert send() is False
    notifier.close()
    assert log.events == []


def test_unusable_notify_socket_disables(log: RecordingLog) -> None:
    for value in ("relative/notify.sock", "vsock:2:1234"):
        notifier = Notifier.from_env({"NOTIFY_SOCKET": value})
        assert not notifier.enabled
        assert notifier.ready() is False
    assert [event for _, event, _ in log.events] == [
        "sd_notify disabled: unsupported NOTIFY_SOCKET"
    ] * 2


def test_socket_gone_is_logged_once_and_never_raises(socket_path: Path, log: RecordingLog) -> None:
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(socket_path))
    receiver.settimeout(5)
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(socket_path)})
    assert notifier.ready()
    assert received(receiver) == "READY=1"

    # systemd went away
    receiver.close()
    socket_path.unlink()
    for _ in range(5):
        assert notifier.watchdog() is False
    assert notifier.stopping() is False
    warnings = [e for e in log.events if e[0] == "warning"]
    assert len(warnings) == 1
    assert warnings[0][1] == "sd_notify send failed"

    # and came back at the same address
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(socket_path))
    receiver.settimeout(5)
    try:
        assert notifier.watchdog()
        assert received(receiver) == "WATCHDOG=1"
        assert log.events[-1][:2] == ("info", "sd_notify send works again")
    finally:
        receiver.close()
        notifier.close()


@linux_only
def test_missing_abstract_socket_never_raises(log: RecordingLog) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": f"@taskclf-absent-{uuid.uuid4().hex}"})
    assert notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    notifier.close()
    assert len(log.events) == 1
