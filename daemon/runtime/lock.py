"""One daemon per user: an flock'd lock file that the kernel releases when the process dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from taskclf_core.errors import TaskclfError

__all__ = ["AlreadyRunning", "InstanceLock", "running_pid"]


class AlreadyRunning(TaskclfError):
    """Another daemon holds the lock."""


class InstanceLock:
    """Held for the daemon's lifetime; a lock left by a SIGKILLed daemon is free again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = running_pid(self.path)
            raise AlreadyRunning(
                f"another taskclf-daemon is already running (pid {pid}, lock {self.path})"
            ) from None
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a lock file left loose
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def running_pid(path: Path) -> int | None:
    """The pid holding the lock at ``path``, or None when no daemon holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 64).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
