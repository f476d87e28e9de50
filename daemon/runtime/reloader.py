"""Hot reload: read model + store + thresholds off to the side, then swap one record in.

Everything the loop and `status` need to know about what is in force lives in one frozen
:class:`Reload` record, replaced whole by a single assignment: a status write can never
pair one reload's store with another's error.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from daemon.artifacts import Fingerprint, InForce, judge, sources_fingerprint
from daemon.fsutil import utc_now
from daemon.inforce import Sources, policy_in_force
from taskclf_core.pipeline import Policy, Snapshot
from taskclf_core.taxonomy import Taxonomy

__all__ = ["Holder", "Refusal", "Reload", "ReloadOutcome", "Reloader", "snapshot_of"]

log = structlog.get_logger()
# what a reload did: something new in force, the old kept (refused), the paths back to what
# is in force (a refusal cleared), or no verdict yet (a file changed under the read)
ReloadOutcome = Literal["swapped", "refused", "cleared", "unsettled"]
_SETTLE_CAP = 5.0  # seconds between reads of files that keep changing, at most


def snapshot_of(in_force: InForce, decisions: Policy, taxonomy: Taxonomy | None) -> Snapshot:
    """The snapshot that labels with ``in_force``: its thresholds, the settings' other rules."""
    policy = policy_in_force(decisions, in_force.binding)
    return Snapshot(bundle=in_force.bundle, store=in_force.store, policy=policy, taxonomy=taxonomy)


@dataclass(frozen=True, slots=True)
class Refusal:
    """The newest files that were read whole and refused, and why."""

    fingerprint: Fingerprint
    reason: str
    at: str


@dataclass(frozen=True, slots=True, eq=False)
class Reload:
    """What is in force and what the last reads said about the files; replaced, never changed."""

    snapshot: Snapshot
    in_force: InForce
    refusal: Refusal | None = None
    settling_since: str | None = None  # the files changed under every read since then

    def news(self, found: Fingerprint) -> Literal["read", "clear"] | None:
        """What files with ``found`` fingerprint call for: a read, clearing a refusal, nothing.

        The one rule for "is this news", used by file events and the periodic rescan alike:
        files equal to what is in force need no read (but end a refusal or a settling
        spell); files already refused are not read again until they change.
        """
        if found == self.in_force.fingerprint:
            return "clear" if self.refusal is not None or self.settling_since else None
        if self.refusal is not None and found == self.refusal.fingerprint:
            return None
        return "read"

    def describe(self, sources: Sources) -> dict[str, Any]:
        """``policy``, ``model``, ``store``, ``thresholds`` for the status file."""
        doc = self.in_force.describe(sources)
        refusal = self.refusal
        doc["store"] |= {
            "last_error": None if refusal is None else refusal.reason,
            "last_error_at": None if refusal is None else refusal.at,
            "settling_since": self.settling_since,
        }
        if doc["policy"] is not None:
            doc["policy"]["last_error"] = None if refusal is None else refusal.reason
        return doc


class Holder:
    """The one reference the loop reads per batch (``current``); assigned whole, never mutated."""

    def __init__(self, current: Reload) -> None:
        self.current = current


class Reloader:
    """A thread that reloads on request, once requests have been quiet for the debounce.

    Files that change while they are read get no verdict: they are read again once quiet
    for the debounce, then twice that, ... (at most 5 s apart) until a read sees them
    unchanged. Only such a read can refuse them, and refused files are not read again
    until they change.
    """

    def __init__(
        self,
        holder: Holder,
        sources: Sources,
        *,
        decisions: Policy,
        taxonomy: Taxonomy | None,
        debounce: float,
        on_reloading: Callable[[], object] = lambda: None,
        on_done: Callable[[ReloadOutcome], object] = lambda outcome: None,
    ) -> None:
        self.holder = holder
        self.sources = sources
        self.decisions = decisions
        self.taxonomy = taxonomy
        self.debounce = debounce
        self._on_reloading = on_reloading
        self._on_done = on_done
        self._event = threading.Event()
        self._stopping = False
        self._last_request = 0.0
        self._forced = False
        self._lock = threading.Lock()
        self._unsettled = 0  # reads in a row that a change raced
        self._retry_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="reloader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def request(self, *, force: bool = False) -> None:
        """Ask for a reload; ``force`` reloads even if the files look unchanged."""
        with self._lock:
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
            with self._lock:  # a `reload` arriving now must not be downgraded to a plain one
                forced, self._forced = self._forced, False
            try:
                self.reload(force=forced)
            except Exception:  # the reloader must outlive any one bad file
                log.exception("reload_crashed")

    def reload(self, *, force: bool = True) -> ReloadOutcome | None:
        """Read, check and swap now; what happened (None: nothing to do)."""
        current = self.holder.current
        self._retry_at = None
        news = "read" if force else current.news(sources_fingerprint(self.sources))
        if news is None:
            self._unsettled = 0
            return None
        if news == "clear":
            self._unsettled = 0
            self.holder.current = dataclasses.replace(current, refusal=None, settling_since=None)
            if current.refusal is not None:
                log.info("reload_refusal_cleared", reason_was=current.refusal.reason)
                self._on_done("cleared")
            return "cleared"
        self._on_reloading()
        judgement = judge(self.sources, now=utc_now(), previous=current.in_force)
        if not judgement.settled:
            return self._unsettled_read()
        self._unsettled = 0
        if judgement.in_force is None:
            # the fingerprint of the files judged, not of whatever they were before the read
            reason = str(judgement.error)
            self.holder.current = dataclasses.replace(
                current,
                refusal=Refusal(judgement.fingerprint, reason, utc_now()),
                settling_since=None,
            )
            log.error(
                "reload_refused",
                reason=reason,
                bundle_id_in_force=current.snapshot.bundle.bundle_id,
                store_id_in_force=current.snapshot.store_id,
            )
            self._on_done("refused")
            return "refused"
        new = judgement.in_force
        self.holder.current = Reload(snapshot_of(new, self.decisions, self.taxonomy), new)
        old = current.snapshot
        policy = new.binding.policy
        log.info(
            "reload_swapped",
            old_bundle_id=old.bundle.bundle_id,
            new_bundle_id=new.bundle.bundle_id,
            old_store_id=old.store_id,
            new_store_id=None if new.store is None else new.store.store_id,
            reject_threshold=new.binding.reject_threshold,
            per_user_thresholds=len(new.binding.user_thresholds),
            policy_created_at=None if policy is None else policy.created_at,
        )
        self._on_done("swapped")
        return "swapped"

    def _unsettled_read(self) -> ReloadOutcome:
        """No verdict: keep what is in force and read again once the files are quiet."""
        self._unsettled += 1
        delay = min(_SETTLE_CAP, max(self.debounce, 0.1) * 2 ** (self._unsettled - 1))
        self._retry_at = time.monotonic() + delay
        current = self.holder.current
        if current.settling_since is None:
            self.holder.current = dataclasses.replace(current, settling_since=utc_now())
        log.warning(
            "reload_unsettled",
            detail="files changed while being read; no verdict yet, the old ones stay in force",
            attempt=self._unsettled,
            retry_in_seconds=round(delay, 3),
            store_id_in_force=current.snapshot.store_id,
        )
        self._on_done("unsettled")
        return "unsettled"
