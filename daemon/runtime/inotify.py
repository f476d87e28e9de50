"""Linux inotify on the spool's new/, read straight from the loop's select: no thread between."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from functools import cache
from pathlib import Path

__all__ = ["SpoolInotify", "available"]

# <sys/inotify.h>: arrivals only. A producer's rename from tmp/ is IN_MOVED_TO; a file
# written in place shows up at IN_CLOSE_WRITE. Our own claims (unlink) are not asked for.
_IN_CLOSE_WRITE = 0x00000008
_IN_MOVED_TO = 0x00000080
_IN_CREATE = 0x00000100
_IN_ONLYDIR = 0x01000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_init1.restype = ctypes.c_int
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_add_watch.restype = ctypes.c_int
    return libc


def available() -> bool:
    return _libc() is not None


class SpoolInotify:
    """An inotify fd that becomes readable when a file arrives in ``directory``.

    The events themselves are not parsed: readability means "rescan new/", which the loop
    does anyway, and a queue overflow therefore loses nothing.
    """

    def __init__(self, directory: Path) -> None:
        libc = _libc()
        if libc is None:
            raise OSError("inotify is only available on Linux")
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        mask = _IN_MOVED_TO | _IN_CLOSE_WRITE | _IN_CREATE | _IN_ONLYDIR
        if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, f"inotify_add_watch {directory}: {os.strerror(err)}")
        self._fd: int | None = fd

    def fileno(self) -> int:
        if self._fd is None:
            raise ValueError("closed")
        return self._fd

    def drain(self) -> None:
        """Consume the pending events (their content does not matter)."""
        if self._fd is None:
            return
        try:
            while os.read(self._fd, 65536):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
