"""Filesystem events as hints: wake the loop for the spool, ask for a reload for the rest."""

from __future__ import annotations

import contextlib
import os
import select
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import structlog
from watchdog.events import (
    EVENT_TYPE_ATTRIB,
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from daemon.runtime.inotify import SpoolInotify
from daemon.runtime.inotify import available as inotify_available

__all__ = ["ObserverMode", "Waker", "Watcher"]

log = structlog.get_logger()
ObserverMode = Literal["auto", "polling", "none"]
# reads of the store by the reloader itself must not trigger another reload; a chmod/chown
# (attrib) may be what makes a refused store readable
_CHANGES = {
    EVENT_TYPE_ATTRIB,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    EVENT_TYPE_CLOSED,
}


class Waker:
    """A self-pipe the loop sleeps on: threads and signal handlers wake it without locks."""

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)
        self._sources: dict[int, Callable[[], None]] = {}

    def watch(self, fd: int, drain: Callable[[], None]) -> None:
        """Also wake when ``fd`` is readable (``drain`` then consumes what it holds)."""
        self._sources[fd] = drain

    def unwatch(self, fd: int) -> None:
        self._sources.pop(fd, None)

    def wake(self) -> None:
        # a full buffer already holds wake-ups; a closed one means we are stopping
        with contextlib.suppress(OSError):
            self._w.send(b"\0")

    @property
    def signal_fd(self) -> int:
        """For ``signal.set_wakeup_fd``: a signal wakes the loop at once."""
        return self._w.fileno()

    def wait(self, timeout: float) -> bool:
        """Sleep until woken or ``timeout``; True if woken."""
        own = self._r.fileno()
        ready, _, _ = select.select([own, *self._sources], [], [], max(0.0, timeout))
        for source in ready:
            if source == own:
                try:
                    while self._r.recv(4096):
                        pass
                except (BlockingIOError, OSError):
                    pass
            else:
                self._sources[source]()
        return bool(ready)

    def close(self) -> None:
        self._r.close()
        self._w.close()


class _Handler(FileSystemEventHandler):
    def __init__(self, callback: Callable[[FileSystemEvent], None]) -> None:
        self._callback = callback

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _CHANGES:
            self._callback(event)


class Watcher:
    """One observer thread for the spool's new/ and for what a reload reads.

    A reload path (the policy file, the model directory, the store) is watched twice: its
    parent, for the name being replaced or re-pointed (an atomic rename, a symlink swap),
    and, when it is a directory, its current target, for files edited in place. After a
    reload :meth:`follow` points the second watch at the new targets.
    """

    def __init__(
        self,
        new_dir: Path,
        reload_paths: Sequence[Path],
        *,
        on_spool: Callable[[], None],
        on_change: Callable[[], None],
        mode: ObserverMode = "auto",
        waker: Waker | None = None,
    ) -> None:
        self.new_dir = new_dir
        self.reload_paths = tuple(reload_paths)
        self.mode = mode
        self._on_spool = on_spool
        self._on_change = on_change
        self._observer: BaseObserver | None = None
        self._parent_watches: dict[str, ObservedWatch] = {}
        self._target_watches: dict[str, ObservedWatch] = {}
        self._waker = waker
        self._inotify: SpoolInotify | None = None
        self.kind = "none"

    def start(self) -> None:
        if self.mode == "none":
            log.info("watcher_disabled", reason="observer = none; relying on the rescan")
            return
        if self.mode == "auto":
            spool = self._start_inotify()
            if spool is not None and not self.reload_paths:
                return  # nothing left for an observer thread to watch
            try:
                self._start(Observer(), spool=spool is None)
                return
            except Exception as exc:  # inotify limits, unsupported filesystems, ...
                log.warning("native_watcher_unavailable", error=str(exc), fallback="polling")
            self._start(PollingObserver(timeout=1.0), spool=spool is None)
            return
        self._start(PollingObserver(timeout=1.0), spool=True)

    def _start_inotify(self) -> SpoolInotify | None:
        """On Linux, new/ is watched by an fd in the loop's own select: on the latency path
        there is no observer thread, no GIL hand-off, and no wait to pair a move event."""
        if self._waker is None or not inotify_available():
            return None
        try:
            spool = SpoolInotify(self.new_dir)
        except OSError as exc:
            log.warning("inotify_unavailable", error=str(exc), fallback="watchdog")
            return None
        self._waker.watch(spool.fileno(), spool.drain)
        self._inotify = spool
        self.kind = "inotify"
        log.info("watcher_started", observer=self.kind, spool=str(self.new_dir))
        return spool

    def _start(self, observer: BaseObserver, *, spool: bool) -> None:
        if spool:
            # deletions in new/ are our own claims; only arrivals are news
            handler = _Handler(
                lambda e: None if e.event_type == EVENT_TYPE_DELETED else self._on_spool()
            )
            observer.schedule(handler, str(self.new_dir), recursive=False)
        observer.start()
        self._observer = observer
        observer_name = type(observer).__name__
        self.kind = observer_name if spool else f"{self.kind}+{observer_name} (reloads)"
        self.follow(self.reload_paths)
        log.info(
            "watcher_started",
            observer=self.kind,
            spool=str(self.new_dir),
            reload_paths=[str(p) for p in self.reload_paths],
        )

    def follow(self, paths: Sequence[Path]) -> None:
        """Watch ``paths`` (and their current targets) from now on; drop what is no longer."""
        observer = self._observer
        self.reload_paths = tuple(paths)
        if observer is None:
            return
        names: dict[str, set[str]] = {}
        for path in paths:
            names.setdefault(str(path.parent), set()).add(path.name)
        targets = {os.path.realpath(p) for p in paths if os.path.isdir(os.path.realpath(p))}
        self._sync(observer, self._parent_watches, names, self._parent_handler, recursive=False)
        self._sync(
            observer,
            self._target_watches,
            {t: set() for t in targets},
            lambda _names: _Handler(lambda _e: self._on_change()),
            recursive=True,
        )

    def _parent_handler(self, names: set[str]) -> _Handler:
        def on_parent(event: FileSystemEvent) -> None:
            paths: list[Any] = [event.src_path, getattr(event, "dest_path", "")]
            if any(os.path.basename(os.fsdecode(p)) in names for p in paths if p):
                self._on_change()

        return _Handler(on_parent)

    @staticmethod
    def _sync(
        observer: BaseObserver,
        watches: dict[str, ObservedWatch],
        wanted: dict[str, set[str]],
        handler_for: Callable[[set[str]], _Handler],
        *,
        recursive: bool,
    ) -> None:
        for directory in list(watches):
            # a parent's set of names may have changed too: schedule it afresh
            with contextlib.suppress(KeyError, ValueError):
                observer.unschedule(watches.pop(directory))
        for directory, names in wanted.items():
            if not os.path.isdir(directory):
                continue  # the rescan covers a path whose directory is missing
            try:
                watches[directory] = observer.schedule(
                    handler_for(names), directory, recursive=recursive
                )
            except OSError as exc:  # inotify watch limits: the rescan still covers it
                log.warning("watch_failed", path=directory, error=str(exc))

    def is_alive(self) -> bool:
        """False once a started observer thread has died (the watchdog ping stops then)."""
        if self._observer is not None:
            return bool(self._observer.is_alive())
        return self.mode == "none" or self._inotify is not None

    def stop(self) -> None:
        if self._inotify is not None:
            if self._waker is not None:
                self._waker.unwatch(self._inotify.fileno())
            self._inotify.close()
            self._inotify = None
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
