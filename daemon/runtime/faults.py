"""Storage errors the daemon waits out (degraded, retrying) and those that stop it."""

from __future__ import annotations

import errno

__all__ = ["RETRIED", "Backoff", "errno_name", "fix_for", "is_retried"]

# A condition someone can clear while we wait (space freed, a disk remounted read-write,
# a permission or file attribute fixed): stay up, keep the batch in cur/, retry. Anything
# else (EFBIG from RLIMIT_FSIZE, a vanished directory, EBADF ...) stops the daemon with
# exit 1; nothing unlogged is acknowledged either way.
RETRIED: dict[int, str] = {
    errno.ENOSPC: "free some space on that filesystem",
    errno.EDQUOT: "free some space or raise the disk quota",
    errno.EIO: "check the disk (dmesg) and the filesystem",
    errno.EROFS: "remount the filesystem read-write",
    errno.EACCES: "give the daemon's user write access",
    errno.EPERM: "check the file attributes (lsattr; chattr -i/-a) and ownership",
}
_FATAL_FIXES: dict[int, str] = {
    errno.EFBIG: "raise the file size limit (ulimit -f / LimitFSIZE=) and restart",
    errno.ENOENT: "the directory disappeared: restart the daemon to recreate it",
}


def is_retried(exc: OSError) -> bool:
    return exc.errno in RETRIED


def errno_name(exc: OSError) -> str:
    """``ENOSPC`` for ``[Errno 28]``; ``OSError`` when there is no errno."""
    return errno.errorcode.get(exc.errno, "OSError") if exc.errno is not None else "OSError"


def fix_for(exc: OSError) -> str:
    """What a person can do about ``exc``."""
    if exc.errno is None:
        return "see the daemon's log"
    return RETRIED.get(exc.errno) or _FATAL_FIXES.get(exc.errno) or "see the daemon's log"


class Backoff:
    """Seconds to wait before each retry: ``first``, doubling, at most ``cap``."""

    def __init__(self, first: float = 1.0, cap: float = 30.0) -> None:
        self.first = first
        self.cap = cap
        self.attempts = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.first * 2.0**self.attempts)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0
