"""Hot reload: build and validate a new Snapshot off to the side, then swap one reference."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from daemon.runtime.status import utc_now
from daemon.settings import Settings
from taskclf_core.bundle import ModelBundle, load_bundle
from taskclf_core.calibration import (
    CalibratorStore,
    check_store_matches,
    parse_calibrator_store,
    read_store_files,
)
from taskclf_core.errors import CalibrationError, TaskclfError
from taskclf_core.pipeline import Policy, Snapshot
from taskclf_core.taxonomy import load_taxonomy

__all__ = [
    "ReloadOutcome",
    "Reloader",
    "SnapshotHolder",
    "StoreChanged",
    "StoreInfo",
    "Verdict",
    "build_snapshot",
    "judge_store",
    "load_store",
    "policy_from",
    "store_fingerprint",
]

log = structlog.get_logger()
Fingerprint = tuple[object, ...]
# what a reload did: a new store in force, the old one kept (refused), the path back to the
# store in force (a refusal cleared), or no verdict yet (it changed under the read)
ReloadOutcome = Literal["swapped", "refused", "cleared", "unsettled"]
_SETTLE_CAP = 5.0  # seconds between reads of a store that keeps changing, at most


def store_fingerprint(path: Path) -> Fingerprint:
    """What changes when a store is edited in place or swapped (target, files, sizes, times)."""
    try:
        target = os.path.realpath(path)
        entries: list[tuple[str, int, int, int]] = []
        for rel in ("store.json", "global.json"):
            st = os.stat(os.path.join(target, rel))
            entries.append((rel, st.st_ino, st.st_size, st.st_mtime_ns))
        users = os.path.join(target, "users")
        if os.path.isdir(users):
            with os.scandir(users) as it:
                for e in it:
                    st = e.stat()
                    entries.append((f"users/{e.name}", st.st_ino, st.st_size, st.st_mtime_ns))
        return (target, tuple(sorted(entries)))
    except OSError as exc:
        # name the target and file: two different broken stores must not look alike
        return ("unreadable", os.path.realpath(path), exc.filename, exc.errno)


class StoreChanged(CalibrationError):
    """The store changed while it was being read: no verdict on it yet; read it again."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one read of a store: ``store`` or ``error`` for the files that
    ``fingerprint`` describes, or neither when the store changed under the read."""

    fingerprint: Fingerprint
    store: CalibratorStore | None = None
    error: TaskclfError | None = None

    @property
    def settled(self) -> bool:
        return self.store is not None or self.error is not None


def judge_store(path: Path, bundle: ModelBundle) -> Verdict:
    """Read, validate and match a store to ``bundle``, trusting only a read the store did
    not change under: a symlink swapped or a file rewritten mid-read is not a verdict."""
    before = store_fingerprint(path)
    _hold("store-read")
    failure: TaskclfError | None = None
    try:
        files = read_store_files(Path(os.path.realpath(path)))
    except TaskclfError as exc:  # a file missing mid-swap says nothing until the path settles
        failure = exc
    after = store_fingerprint(path)
    _hold("store-verdict")
    if before != after:
        return Verdict(after)
    if failure is not None:
        return Verdict(after, error=failure)
    try:
        store = parse_calibrator_store(files, source=str(path))
        check_store_matches(
            store, bundle_id=bundle.bundle_id, schema_hash=bundle.schema_hash, source=str(path)
        )
    except TaskclfError as exc:
        return Verdict(after, error=exc)
    return Verdict(after, store=store)


def load_store(
    path: Path,
    bundle: ModelBundle,
    *,
    pause: Callable[[float], object] | None = None,
    attempts: int = 5,
) -> tuple[CalibratorStore, Fingerprint]:
    """:func:`judge_store`, raising its error. With ``pause`` (a stop-aware wait), a store
    that changes under the read is read again, up to ``attempts`` times, backing off."""
    for attempt in range(attempts if pause is not None else 1):
        if attempt and pause is not None:
            pause(0.1 * 2**attempt)
        verdict = judge_store(path, bundle)
        if verdict.store is not None:
            return verdict.store, verdict.fingerprint
        if verdict.error is not None:
            raise verdict.error
    raise StoreChanged(
        f"{path}: kept changing while being read; try again once it is settled "
        "(swap a finished store in with one rename: ln -s new tmp && mv -T tmp store)"
    )


def _hold(point: str) -> None:
    """Test seam: with ``_TASKCLF_TEST_HOLD=<dir>`` set and a FIFO at ``<dir>/<point>``, the
    read waits at ``point`` until a test writes a byte to it (so a race can be staged)."""
    where = os.environ.get("_TASKCLF_TEST_HOLD")
    if not where:
        return
    try:
        fd = os.open(os.path.join(where, point), os.O_RDONLY)  # blocks until the test is there
    except OSError:
        return  # no FIFO at that point: not held
    try:
        os.read(fd, 1)
    finally:
        os.close(fd)


def policy_from(settings: Settings) -> Policy:
    return Policy(
        reject_threshold=settings.reject_threshold,
        smooth_window=settings.smooth_window,
        idle_gap_seconds=settings.idle_gap_seconds,
        personalization=settings.personalization,
        opt_out_users=frozenset(settings.opt_out_users),
        predict_threads=settings.predict_threads,
    )


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What `status` shows about the calibrator store."""

    path: str | None = None
    id: str | None = None
    method: str | None = None
    user_ids: tuple[str, ...] = ()
    loaded_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    settling_since: str | None = None  # the path changed under every read since then

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "id": self.id,
            "method": self.method,
            "user_count": len(self.user_ids),
            "user_ids": list(self.user_ids),
            "loaded_at": self.loaded_at,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "settling_since": self.settling_since,
        }


def build_snapshot(
    settings: Settings, *, pause: Callable[[float], object] | None = None
) -> tuple[Snapshot, StoreInfo, Fingerprint | None]:
    """The start-up snapshot; any problem raises a TaskclfError naming the file.

    ``pause`` (a stop-aware wait) lets a store being swapped right now settle first.
    """
    bundle = load_bundle(settings.model_path)
    taxonomy = load_taxonomy(settings.taxonomy) if settings.taxonomy is not None else None
    store = None
    fingerprint = None
    info = StoreInfo()
    if settings.calibrator_store is not None:
        if not os.path.exists(settings.calibrator_store):
            raise CalibrationError(f"calibrator_store: {settings.calibrator_store} does not exist")
        store, fingerprint = load_store(settings.calibrator_store, bundle, pause=pause)
        info = StoreInfo(
            path=str(settings.calibrator_store),
            id=store.store_id,
            method=store.method,
            user_ids=store.user_ids,
            loaded_at=utc_now(),
        )
    snapshot = Snapshot(bundle=bundle, store=store, policy=policy_from(settings), taxonomy=taxonomy)
    return snapshot, info, fingerprint


class SnapshotHolder:
    """The one reference the loop reads per batch; replaced whole, never mutated."""

    def __init__(
        self, snapshot: Snapshot, info: StoreInfo, fingerprint: Fingerprint | None
    ) -> None:
        self.snapshot = snapshot
        self.info = info
        self.fingerprint = fingerprint
        self.refused_fingerprint: Fingerprint | None = None


class Reloader:
    """A thread that reloads the store on request, after requests have been quiet a moment.

    A store that changes while it is read gets no verdict: it is read again once the path
    has been quiet for the debounce, then for twice that, ... (at most 5 s apart) until a
    read sees it unchanged. Only such a read can refuse it, and a refused store is not read
    again until its files change.
    """

    def __init__(
        self,
        holder: SnapshotHolder,
        store_path: Path,
        *,
        debounce: float,
        on_reloading: Callable[[], object] = lambda: None,
        on_done: Callable[[ReloadOutcome], object] = lambda outcome: None,
    ) -> None:
        self.holder = holder
        self.store_path = store_path
        self.debounce = debounce
        self._on_reloading = on_reloading
        self._on_done = on_done
        self._event = threading.Event()
        self._stopping = False
        self._last_request = 0.0
        self._forced = False
        self._unsettled = 0  # reads in a row that the store changed under
        self._retry_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="store-reloader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def request(self, *, force: bool = False) -> None:
        """Ask for a reload; ``force`` reloads even if the files look unchanged."""
        self._last_request = time.monotonic()
        self._forced = self._forced or force
        self._event.set()

    def stop(self) -> None:
        self._stopping = True
        self._event.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            retry_at = self._retry_at
            self._event.wait(None if retry_at is None else max(0.0, retry_at - time.monotonic()))
            if self._stopping:
                return
            # debounce: an editor saving several files fires a burst of events
            while (remaining := self._last_request + self.debounce - time.monotonic()) > 0:
                self._event.clear()
                self._event.wait(remaining)
                if self._stopping:
                    return
            self._event.clear()
            forced, self._forced = self._forced, False
            try:
                self.reload(force=forced)
            except Exception:  # the reloader must outlive any one bad store
                log.exception("store_reload_crashed")

    def reload(self, *, force: bool = True) -> bool:
        """Build, validate and swap now. True if a new store is in force."""
        holder = self.holder
        self._retry_at = None
        fingerprint = store_fingerprint(self.store_path)
        if not force and fingerprint in (holder.fingerprint, holder.refused_fingerprint):
            # settled on a store already judged: nothing to read
            self._unsettled = 0
            if holder.info.settling_since is not None:
                holder.info = dataclasses.replace(holder.info, settling_since=None)
            if fingerprint == holder.fingerprint and holder.refused_fingerprint is not None:
                # the path is back to the store in force (a bad swap undone): nothing is refused
                holder.refused_fingerprint = None
                holder.info = dataclasses.replace(holder.info, last_error=None, last_error_at=None)
                log.info("store_refusal_cleared", path=str(self.store_path))
                self._on_done("cleared")
            return False
        self._on_reloading()
        old = holder.snapshot
        verdict = judge_store(self.store_path, old.bundle)
        if not verdict.settled:
            return self._unsettled_read()
        self._unsettled = 0
        if verdict.error is not None or verdict.store is None:
            # the fingerprint of the files judged, not of whatever the path showed before
            holder.refused_fingerprint = verdict.fingerprint
            holder.info = dataclasses.replace(
                holder.info,
                last_error=str(verdict.error),
                last_error_at=utc_now(),
                settling_since=None,
            )
            log.error(
                "store_refused",
                path=str(self.store_path),
                reason=str(verdict.error),
                store_id_in_force=old.store_id,
            )
            self._on_done("refused")
            return False
        store = verdict.store
        holder.snapshot = dataclasses.replace(old, store=store)
        holder.fingerprint = verdict.fingerprint
        holder.refused_fingerprint = None
        holder.info = StoreInfo(
            path=str(self.store_path),
            id=store.store_id,
            method=store.method,
            user_ids=store.user_ids,
            loaded_at=utc_now(),
        )
        log.info(
            "store_swapped",
            old_store_id=old.store_id,
            new_store_id=store.store_id,
            path=str(self.store_path),
            user_count=len(store.user_ids),
        )
        self._on_done("swapped")
        return True

    def _unsettled_read(self) -> bool:
        """No verdict: keep the store in force and read again once the path is quiet."""
        self._unsettled += 1
        delay = min(_SETTLE_CAP, max(self.debounce, 0.1) * 2 ** (self._unsettled - 1))
        self._retry_at = time.monotonic() + delay
        holder = self.holder
        if holder.info.settling_since is None:
            holder.info = dataclasses.replace(holder.info, settling_since=utc_now())
        log.warning(
            "store_unsettled",
            path=str(self.store_path),
            detail="changed while being read; no verdict yet, the old store stays in force",
            attempt=self._unsettled,
            retry_in_seconds=round(delay, 3),
            store_id_in_force=holder.snapshot.store_id,
        )
        self._on_done("unsettled")
        return False
