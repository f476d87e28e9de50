"""One daemon per spool and per label log: flock'd files inside them, freed when it dies."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from taskclf_core.errors import AlreadyRunning, OperationalError

__all__ = ["DataLocks", "InstanceLock", "lock_holder", "running_pid"]

# running_pid's probe holds a shared lock for a few microseconds: a start that collides
# with it is retried rather than refused
_PROBE_RETRIES = 100


class InstanceLock:
    """Held for the daemon's lifetime; a lock left by a SIGKILLed daemon is free again."""

    def __init__(self, path: Path, *, guards: str = "spool") -> None:
        self.path = path
        self.guards = guards  # what the lock protects, for the refusal message
        self._fd: int | None = None

    @property
    def fd(self) -> int | None:
        return self._fd

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise OperationalError(
                f"cannot open the lock {self.path} ({exc.strerror or exc}): the {self.guards} "
                "directory must exist and be writable by the daemon's user"
            ) from exc
        holder = _lock_exclusive(fd, self.path)
        if holder is not None:
            os.close(fd)
            who = f"pid {holder}" if holder > 0 else "its pid not yet written"
            raise AlreadyRunning(
                f"another taskclf-daemon is already running on this {self.guards} "
                f"({who}, lock {self.path}); stop it first, or give this one its own "
                "spool_dir and data_dir"
            )
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a lock file left loose
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            # still ours until closed: clear the pid so a stopped daemon's file names nobody
            # (on a read-only disk this fails, harmlessly: an unheld lock names nobody anyway)
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_exclusive(fd: int, path: Path) -> int | None:
    """None once ``fd`` holds the lock; else the holder's pid (-1: not written yet)."""
    for _ in range(_PROBE_RETRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            pid = running_pid(path)
            if pid is not None:
                return pid
            # only a status probe held it, and it is gone: try again
    return -1


class DataLocks:
    """The spool's lock, then the label log's (once, if both are the same file)."""

    def __init__(self, spool_lock: Path, labels_lock: Path) -> None:
        self._locks = [
            InstanceLock(spool_lock, guards="spool"),
            InstanceLock(labels_lock, guards="label log"),
        ]
        self._held: list[InstanceLock] = []

    def __enter__(self) -> DataLocks:
        try:
            for lock in self._locks:
                if any(_same_file(held, lock.path) for held in self._held):
                    continue  # spool_dir = the label directory: one lock guards both
                lock.acquire()
                self._held.append(lock)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def release(self) -> None:
        while self._held:
            self._held.pop().release()


def _same_file(held: InstanceLock, path: Path) -> bool:
    if held.fd is None:
        return False
    try:
        return os.path.samestat(os.fstat(held.fd), os.stat(path))
    except FileNotFoundError:
        return False


def running_pid(path: Path) -> int | None:
    """The pid holding the lock at ``path``, or None when no daemon holds it.

    Raises OSError for a lock it may not read: "not running" could be false then.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
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


def lock_holder(path: Path) -> int | None:
    """:func:`running_pid`, with a lock that may not be read an OperationalError naming it."""
    try:
        return running_pid(path)
    except OSError as exc:  # not ours to read: saying "not running" could be false
        raise OperationalError(
            f"cannot read the lock {path} ({exc.strerror or exc}); run this as the user the "
            "daemon runs as"
        ) from exc
