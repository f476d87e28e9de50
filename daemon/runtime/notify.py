"""sd_notify(3) without libsystemd: readiness, status, reload, stop and watchdog messages."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType

import structlog

__all__ = ["Notifier"]

_log = structlog.get_logger()

# A stalled manager must not stall the daemon's main loop: a dropped message is
# better than a blocked one (systemd then sees a missed watchdog ping, which is true).
_SEND_TIMEOUT_S = 1.0


def _socket_address(value: str) -> str | None:
    """The AF_UNIX address in NOTIFY_SOCKET, or None for one this module cannot use."""
    if value.startswith("@"):
        # abstract namespace: systemd writes the leading NUL as '@'
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def _positive_int(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if number > 0 else None


class Notifier:
    """Sends sd_notify messages to ``NOTIFY_SOCKET``; a silent no-op when it is not set.

    Never raises on send: the daemon must outlive the service manager going away.
    Failures are logged, once per run of failures. Thread-safe; one socket, kept open.
    """

    def __init__(
        self,
        notify_socket: str | None = None,
        *,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
    ) -> None:
        self._address: str | None = None
        if notify_socket:
            self._address = _socket_address(notify_socket)
            if self._address is None:
                _log.warning(
                    "sd_notify disabled: unsupported NOTIFY_SOCKET", notify_socket=notify_socket
                )
        self._watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self._watchdog_pid = watchdog_pid
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failing = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from ``environ`` (os.environ)."""
        env = os.environ if environ is None else environ
        raw_usec = env.get("WATCHDOG_USEC")
        usec = _positive_int(raw_usec)
        if raw_usec is not None and usec is None:
            _log.warning("ignoring invalid WATCHDOG_USEC", watchdog_usec=raw_usec)
        raw_pid = env.get("WATCHDOG_PID")
        pid = _positive_int(raw_pid)
        if raw_pid is not None and pid is None:
            # unparsable: treat as "meant for someone else" rather than ping blindly
            pid = -1
        return cls(env.get("NOTIFY_SOCKET"), watchdog_usec=usec, watchdog_pid=pid)

    @property
    def enabled(self) -> bool:
        """True when there is a socket to notify (the daemon runs under systemd)."""
        return self._address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or None: do not ping."""
        if self._watchdog_usec is None:
            return None
        # WATCHDOG_PID names the process systemd watches; a child that merely
        # inherited the environment must not ping on its parent's behalf
        if self._watchdog_pid is not None and self._watchdog_pid != os.getpid():
            return None
        return self._watchdog_usec / 2 / 1_000_000

    def notify(self, message: str) -> bool:
        """Send one raw newline-separated ``KEY=value`` message; True if it was delivered."""
        if self._address is None:
            return False
        # never raise, not even for text that cannot be encoded
        data = message.encode("utf-8", errors="replace")
        with self._lock:
            try:
                if self._sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    sock.settimeout(_SEND_TIMEOUT_S)
                    self._sock = sock
                self._sock.sendto(data, self._address)
            except OSError as exc:
                if not self._failing:
                    _log.warning(
                        "sd_notify send failed",
                        notify_socket=self._address.replace("\0", "@", 1),
                        message=message.split("\n", 1)[0],
                        error=str(exc),
                    )
                self._failing = True
                return False
        if self._failing:
            _log.info("sd_notify send works again")
            self._failing = False
        return True

    def ready(self, status: str | None = None) -> bool:
        """READY=1 (and STATUS=): startup or a reload has finished."""
        return self.notify("READY=1" if status is None else f"READY=1\nSTATUS={_one_line(status)}")

    def status(self, text: str) -> bool:
        """STATUS=: the one-line state shown by ``systemctl --user status``."""
        return self.notify(f"STATUS={_one_line(text)}")

    def stopping(self) -> bool:
        """STOPPING=1: shutdown has begun."""
        return self.notify("STOPPING=1")

    def reloading(self) -> bool:
        """RELOADING=1 with MONOTONIC_USEC: a reload has begun; follow with :meth:`ready`."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify(f"RELOADING=1\nMONOTONIC_USEC={usec}")

    def watchdog(self) -> bool:
        """WATCHDOG=1: the main loop is alive."""
        return self.notify("WATCHDOG=1")

    def close(self) -> None:
        """Close the socket; a later message opens a new one."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self._address.replace("\0", "@", 1) if self._address else None
        return f"Notifier(notify_socket={where!r}, watchdog_interval={self.watchdog_interval!r})"


def _one_line(text: str) -> str:
    # a newline would start a new KEY=value assignment in the message
    return " ".join(text.splitlines())
