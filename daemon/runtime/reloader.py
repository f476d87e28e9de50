"""Hot reload: build and validate a new Snapshot off to the side, then swap one reference."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
    "Reloader",
    "SnapshotHolder",
    "StoreInfo",
    "build_snapshot",
    "load_store",
    "policy_from",
    "store_fingerprint",
]

log = structlog.get_logger()
Fingerprint = tuple[object, ...]


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


def load_store(path: Path, bundle: ModelBundle) -> tuple[CalibratorStore, Fingerprint]:
    """Read, validate and match a store to ``bundle``; refuse a store edited while we read it."""
    before = store_fingerprint(path)
    files = read_store_files(Path(os.path.realpath(path)))
    after = store_fingerprint(path)
    if before != after:
        raise CalibrationError(f"{path}: changed while being read; will retry when it settles")
    store = parse_calibrator_store(files, source=str(path))
    check_store_matches(
        store, bundle_id=bundle.bundle_id, schema_hash=bundle.schema_hash, source=str(path)
    )
    return store, after


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
        }


def build_snapshot(settings: Settings) -> tuple[Snapshot, StoreInfo, Fingerprint | None]:
    """The start-up snapshot; any problem raises a TaskclfError naming the file."""
    bundle = load_bundle(settings.model_path)
    taxonomy = load_taxonomy(settings.taxonomy) if settings.taxonomy is not None else None
    store = None
    fingerprint = None
    info = StoreInfo()
    if settings.calibrator_store is not None:
        if not os.path.exists(settings.calibrator_store):
            raise CalibrationError(f"calibrator_store: {settings.calibrator_store} does not exist")
        store, fingerprint = load_store(settings.calibrator_store, bundle)
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
    """A thread that reloads the store on request, after requests have been quiet a moment."""

    def __init__(
        self,
        holder: SnapshotHolder,
        store_path: Path,
        *,
        debounce: float,
        on_reloading: Callable[[], object] = lambda: None,
        on_done: Callable[[bool], object] = lambda ok: None,
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
            self._event.wait()
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
        fingerprint = store_fingerprint(self.store_path)
        if not force and fingerprint in (holder.fingerprint, holder.refused_fingerprint):
            if fingerprint == holder.fingerprint and holder.refused_fingerprint is not None:
                # the path is back to the store in force (a bad swap undone): nothing is refused
                holder.refused_fingerprint = None
                holder.info = dataclasses.replace(holder.info, last_error=None, last_error_at=None)
                log.info("store_refusal_cleared", path=str(self.store_path))
                self._on_done(True)
            return False
        self._on_reloading()
        old = holder.snapshot
        try:
            store, fingerprint = load_store(self.store_path, old.bundle)
        except TaskclfError as exc:
            holder.refused_fingerprint = fingerprint
            holder.info = dataclasses.replace(
                holder.info, last_error=str(exc), last_error_at=utc_now()
            )
            log.error(
                "store_refused",
                path=str(self.store_path),
                reason=str(exc),
                store_id_in_force=old.store_id,
            )
            self._on_done(False)
            return False
        holder.snapshot = dataclasses.replace(old, store=store)
        holder.fingerprint = fingerprint
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
        self._on_done(True)
        return True
