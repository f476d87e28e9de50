"""Your label spans × the label log's ``model_probs`` → per-user calibrators, through the guard."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import numpy as np

from taskclf_core.calibration import Calibrator, CalibratorStore, store_files
from taskclf_core.errors import TrainingError, WindowError
from taskclf_core.fitting import Method
from taskclf_core.labels import LABEL_INDEX, N_CLASSES
from taskclf_core.schema import parse_ts
from taskclf_core.spans import LabelSpan, project
from taskclf_core.types import FloatArray
from taskclf_core.vetting import (
    DEFAULT_REJECT_THRESHOLD,
    CalibrationReport,
    UserReport,
    vet_probs,
)

__all__ = [
    "HOLDOUT",
    "LogScan",
    "LoggedWindows",
    "PersonalizeOutcome",
    "personalize",
    "scan_records",
    "user_rows",
]

HOLDOUT = 0.2  # the latest share of each user's labelled windows that vets their calibrator


@dataclass(frozen=True, slots=True, eq=False)
class LoggedWindows:
    """Label-log records of one bundle reduced to identity, times and ``model_probs`` rows."""

    user_ids: tuple[str, ...]
    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]
    probs: FloatArray

    def __len__(self) -> int:
        return len(self.user_ids)


@dataclass(frozen=True, slots=True)
class LogScan:
    """What a pass over the label log found: usable windows and why the others were skipped."""

    windows: LoggedWindows
    records: int
    other_bundle: int
    without_model_probs: int
    unreadable: int
    duplicates: int


def _probs_row(value: object) -> list[float] | None:
    if not isinstance(value, dict) or len(value) != N_CLASSES:
        return None
    row = [0.0] * N_CLASSES
    for name, p in value.items():
        index = LABEL_INDEX.get(name)
        if index is None or isinstance(p, bool) or not isinstance(p, int | float):
            return None
        if not (math.isfinite(p) and 0.0 <= p <= 1.0):
            return None
        row[index] = float(p)
    return row


def scan_records(
    lines: Iterable[bytes | str], *, bundle_id: str, schema_hash: str | None
) -> LogScan:
    """Keep the records of ``bundle_id``/``schema_hash`` that carry ``model_probs``; count the rest.

    ``model_probs`` of another bundle are another model's outputs: a calibrator fitted on
    them would not fit the model in force. Records written before ``model_probs`` existed
    are counted, not guessed at. A window seen twice (never, in a healthy log) counts once.
    """
    users: list[str] = []
    starts: list[datetime] = []
    ends: list[datetime] = []
    rows: list[list[float]] = []
    seen: set[tuple[str, str]] = set()
    records = other = without = unreadable = duplicates = 0
    for line in lines:
        try:
            data = json.loads(line)
        except ValueError:
            unreadable += 1
            continue
        if not isinstance(data, dict):
            unreadable += 1
            continue
        records += 1
        if data.get("model_bundle_id") != bundle_id or data.get("model_schema_hash") != schema_hash:
            other += 1
            continue
        if data.get("model_probs") is None:
            without += 1
            continue
        row = _probs_row(data["model_probs"])
        user_id, start_text = data.get("user_id"), data.get("bucket_start_ts")
        try:
            start = parse_ts(start_text, "bucket_start_ts")
            end = parse_ts(data.get("bucket_end_ts"), "bucket_end_ts")
        except WindowError:
            unreadable += 1
            continue
        if row is None or not isinstance(user_id, str):
            unreadable += 1
            continue
        key = (user_id, cast(str, start_text))
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        users.append(user_id)
        starts.append(start)
        ends.append(end)
        rows.append(row)
    probs = np.asarray(rows, dtype=np.float64).reshape(len(rows), N_CLASSES)
    probs.flags.writeable = False
    windows = LoggedWindows(tuple(users), tuple(starts), tuple(ends), probs)
    return LogScan(windows, records, other, without, unreadable, duplicates)


@dataclass(frozen=True, slots=True)
class PersonalizeOutcome:
    """The store to make current, whether it differs from the one in force, and why.

    ``report`` is ``None`` when no logged window of a user in scope lies inside a span.
    ``carried`` lists users whose per-user calibrator was taken over unjudged (not in scope,
    or no labelled windows of theirs); ``removed`` those whose one was taken out (opted out,
    or it lost to the global calibrator on held-out, new fit or previous one).
    """

    store: CalibratorStore
    changed: bool
    labelled: int
    report: CalibrationReport | None
    carried: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    no_labels: tuple[str, ...] = ()

    @property
    def users(self) -> tuple[UserReport, ...]:
        return self.report.users if self.report is not None else ()


def _same_content(a: CalibratorStore, b: CalibratorStore) -> bool:
    return store_files(a) == store_files(b)


def personalize(
    spans: Sequence[LabelSpan],
    logged: LoggedWindows,
    base: CalibratorStore,
    *,
    bundle_id: str,
    schema_hash: str | None,
    created_at: str,
    users: Collection[str] | None = None,
    opt_out: Collection[str] = (),
    min_windows: int = 200,
    min_days: int = 3,
    min_labels: int = 3,
    holdout: float = HOLDOUT,
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD,
    user_thresholds: Mapping[str, float] | None = None,
) -> PersonalizeOutcome:
    """Per-user calibrators from the user's own labelled time, kept only where they help.

    Spans are projected onto the logged windows (strict containment); the labelled rows of
    the users in scope (``users``, default everyone) go through :func:`vet_probs` with the
    ``base`` store's method, its global calibrator carried over unchanged and its per-user
    calibrators as the "previous" ones: a user with labelled held-out windows keeps one
    (new or previous) only if it is not worse than global there, at the reject threshold in
    force (``user_thresholds``, else ``reject_threshold``), eligible for a new fit or not.
    The new store binds ``bundle_id``/``schema_hash``; users without labelled windows in
    scope keep theirs, opted-out users lose theirs. When nothing differs from
    ``base`` the outcome is ``changed=False`` and keeps ``base``'s ``created_at``, so a re-run
    without new labels yields the same store id; otherwise ``created_at`` is stamped.
    """
    method = base.method
    if method not in ("temperature", "isotonic"):
        raise TrainingError(
            f"store.json: method is {method!r}; per-user calibrators are fitted with the "
            "store's method, which must be temperature or isotonic"
        )
    if isinstance(opt_out, str) or (users is not None and isinstance(users, str)):
        raise TrainingError("users/opt_out: expected collections of user ids, got a string")
    opted_out = frozenset(opt_out)
    scope = None if users is None else frozenset(users)
    windows = list(zip(logged.user_ids, logged.starts, logged.ends, strict=True))
    labels = project(spans, windows)
    rows = [
        i
        for i, label in enumerate(labels)
        if label is not None and (scope is None or logged.user_ids[i] in scope)
    ]
    report: CalibrationReport | None = None
    in_force: dict[str, Calibrator] = {}
    decided: set[str] = set()
    if rows:
        idx = np.asarray(rows, dtype=np.intp)
        y = np.asarray([LABEL_INDEX[cast(str, labels[i])] for i in rows], dtype=np.intp)
        outcome = vet_probs(
            logged.probs[idx],
            y,
            [logged.user_ids[i] for i in rows],
            [logged.starts[i] for i in rows],
            bundle_id=bundle_id,
            schema_hash=schema_hash,
            method=cast(Method, method),
            holdout=holdout,
            min_windows=min_windows,
            min_days=min_days,
            min_labels=min_labels,
            opt_out=opted_out,
            created_at=base.created_at,
            global_calibrator=base.global_calibrator,
            previous={u: c for u, c in base.user_calibrators.items() if u not in opted_out},
            reject_threshold=reject_threshold,
            user_thresholds=user_thresholds,
        )
        report = outcome.report
        in_force.update(outcome.store.user_calibrators)
        # a user the guard ruled on is decided (a previous calibrator included); one with
        # neither a new fit nor a previous one has nothing to decide
        decided = {u.user_id for u in report.users if u.decision != "n.a."}
    carried: list[str] = []
    removed: list[str] = []
    for user_id, calibrator in base.user_calibrators.items():
        if user_id in opted_out:
            removed.append(user_id)
        elif user_id in decided:
            if user_id not in in_force:
                removed.append(user_id)
        else:
            in_force[user_id] = calibrator
            carried.append(user_id)
    candidate = CalibratorStore(
        global_calibrator=base.global_calibrator,
        user_calibrators=in_force,
        method=method,
        model_bundle_id=bundle_id,
        model_schema_hash=schema_hash,
        created_at=base.created_at,
    )
    changed = not _same_content(candidate, base)
    if changed:
        candidate = CalibratorStore(
            global_calibrator=base.global_calibrator,
            user_calibrators=in_force,
            method=method,
            model_bundle_id=bundle_id,
            model_schema_hash=schema_hash,
            created_at=created_at,
        )
    else:
        candidate = base  # same content: keep the very bytes (and id) that are in force
    labelled_users = {logged.user_ids[i] for i in rows}
    no_labels = tuple(sorted(scope - labelled_users)) if scope is not None else ()
    return PersonalizeOutcome(
        store=candidate,
        changed=changed,
        labelled=len(rows),
        report=report,
        carried=tuple(sorted(carried)),
        removed=tuple(sorted(removed)),
        no_labels=no_labels,
    )


def user_rows(outcome: PersonalizeOutcome) -> list[dict[str, Any]]:
    """Per-user decisions as JSON-ready dicts (the table, ``last.json``)."""

    def num(x: float | None) -> float | None:
        return None if x is None or math.isnan(x) else round(x, 6)

    out = []
    for u in outcome.users:
        e = u.eligibility
        g, p = u.global_scores, u.user_scores
        out.append(
            {
                "user_id": e.user_id,
                "windows": u.windows,
                "fit_windows": u.fit_windows,
                "held_out_windows": u.held_out,
                "days": e.days,
                "labels": e.labels,
                "eligible": e.eligible,
                "decision": u.decision,
                "why": (e.reason or u.note) if u.decision == "n.a." else u.note,
                "guard": {
                    "reject_threshold": u.reject_threshold,
                    "user_nll": num(u.guard_user_nll),
                    "global_nll": num(u.guard_global_nll),
                    "user_accuracy": num(u.guard_user_accuracy),
                    "global_accuracy": num(u.guard_global_accuracy),
                },
                "held_out": {
                    "global": None
                    if g is None
                    else {"nll": num(g.nll), "brier": num(g.brier), "ece": num(g.ece)},
                    "personal": None
                    if p is None
                    else {"nll": num(p.nll), "brier": num(p.brier), "ece": num(p.ece)},
                },
            }
        )
    return out
