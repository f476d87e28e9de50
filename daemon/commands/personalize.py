"""`taskclf-daemon personalize`: per-user calibrators from your spans and the log, shipped live."""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.paths import default_config_file
from taskclf_core.errors import ConfigError, TaskclfError

if TYPE_CHECKING:
    from daemon.settings import Settings
    from taskclf_core.bundle import ModelBundle
    from taskclf_core.calibration import CalibratorStore
    from taskclf_core.personalize import LogScan, PersonalizeOutcome
    from taskclf_core.policy import InferencePolicy

__all__ = [
    "InForce",
    "add_personalize_arguments",
    "describe_last",
    "in_force",
    "last_path",
    "publish_store",
    "read_last",
    "run",
]


def last_path(data_dir: Path) -> Path:
    """``<data_dir>/personalize/last.json``: what the latest run did (the daily timer's trace)."""
    return data_dir / "personalize" / "last.json"


def read_last(data_dir: Path) -> dict[str, Any] | None:
    """The latest run's record, or ``None`` if personalize never ran (or the file is damaged)."""
    try:
        doc = json.loads(last_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def describe_last(doc: Mapping[str, Any]) -> str:
    """One line for `status`: when personalize last ran, what it did, per user."""
    outcome = doc.get("outcome", "?")
    head = f"personalize {outcome} at {doc.get('at', '?')}"
    store = doc.get("store") or {}
    if outcome in ("written", "unchanged") and store.get("id"):
        head += f": store {store['id']}"
    if outcome in ("failed", "skipped"):
        return f"{head}: {doc.get('error') or doc.get('reason') or ''}".rstrip(": ")
    users = doc.get("users") or []
    parts = [f"{u.get('user_id')} {_short(u)}" for u in users if isinstance(u, dict)]
    return f"{head} ({', '.join(parts)})" if parts else head


def _short(user: Mapping[str, Any]) -> str:
    decision = user.get("decision")
    if decision == "n.a.":
        return "not eligible" if user.get("why") != "opted out" else "opted out"
    return str(decision)


# --- where the store in force lives, and how a new one becomes current -------------------
# With calibrator_store: that path, and write_store (a dir replace or a symlink swap, as
# `calibrate` does). With policy_file: the policy's calibrator_store_dir, and `deploy` of a
# policy naming a new store directory (model and thresholds unchanged; the old policy goes to
# the history, so `rollback` undoes a personalize).


@dataclass(frozen=True, slots=True, eq=False)
class InForce:
    """The bundle and store (path) the daemon uses under this configuration."""

    bundle: ModelBundle
    model_path: Path
    store_path: Path  # may not exist yet
    policy_path: Path | None
    policy: InferencePolicy | None = None  # as read at the start: a deploy meanwhile wins


def in_force(settings: Settings) -> InForce:
    """What the daemon reads: the inference policy's model and store, else model_dir and
    calibrator_store (which must be set: personalize needs a store to write)."""
    from taskclf_core.bundle import load_bundle

    policy_path = settings.policy_file
    if policy_path is not None:
        from daemon.artifacts import load_deployment
        from taskclf_core.policy import policy_home

        deployment = load_deployment(policy_path)
        store_path = deployment.store_path
        if store_path is None:  # a policy without calibration: start a store in taskclf's place
            store_path = policy_home(policy_path) / "artifacts" / "calibrator_store"
        return InForce(
            deployment.bundle, deployment.model_path, store_path, policy_path, deployment.policy
        )
    if settings.calibrator_store is None:
        config = default_config_file()
        raise ConfigError(
            "calibrator_store is not set: personalize writes per-user calibrators into the store "
            f"the daemon reads. Set it in {config} (or --config FILE), e.g.\n"
            f'  calibrator_store = "{settings.data_dir / "calibrators" / "current"}"\n'
            "personalize creates it (the global calibrator starts as the identity, which is what "
            "the daemon applies without a store); then restart the daemon so it reads the store"
        )
    return InForce(
        load_bundle(settings.model_path), settings.model_path, settings.calibrator_store, None
    )


def publish_store(target: InForce, store: CalibratorStore) -> Path:
    """Make ``store`` the one in force; returns the directory it now lives in.

    The daemon watches the store path (or the policy file) and swaps the new store in
    between two windows.
    """
    from daemon.artifacts import load_store
    from daemon.fsutil import free_name
    from daemon.publish import write_store

    def check(path: Path) -> None:
        # the same validation the daemon applies before it swaps: never publish one it refuses
        load_store(path, target.bundle)

    if target.policy_path is None:
        return write_store(store, target.store_path, check=check)
    from daemon.commands.deploy import deploy

    # a policy names store directories, so a new store gets a new one beside the old
    parent = Path(os.path.realpath(target.store_path)).parent
    fresh = parent / free_name(parent, store.store_id)
    write_store(store, fresh, check=check)
    deploy(
        target.policy_path,
        model=target.model_path,
        store=fresh,
        reject_threshold=None,
        user_thresholds=None,
        source="personalize",
        expected=target.policy,
    )
    return fresh


# --- the run -------------------------------------------------------------------------------


def _base_store(path: Path, bundle: ModelBundle) -> tuple[CalibratorStore, bool]:
    """The store in force (validated against the bundle), or a fresh identity one if none."""
    from daemon.artifacts import load_store
    from taskclf_core.calibration import CalibratorStore, IdentityCalibrator

    if not os.path.lexists(path):
        return CalibratorStore(global_calibrator=IdentityCalibrator(), method="temperature"), False
    store, _ = load_store(path, bundle)
    return store, True


def _scan_log(settings: Settings, spans: Sequence[Any], bundle: ModelBundle) -> LogScan:
    from daemon.runtime.labellog import LabelLog
    from taskclf_core.personalize import scan_records
    from taskclf_core.spans import span_days

    log = LabelLog(settings.labels_path)
    wanted = {d.isoformat() for d in span_days(spans)}
    days = [d for d in log.day_files() if d in wanted]
    return scan_records(
        log.iter_records(days), bundle_id=bundle.bundle_id, schema_hash=bundle.schema_hash
    )


def _f(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def format_outcome(outcome: PersonalizeOutcome, thresholds: Mapping[str, int]) -> list[str]:
    """The per-user table and the held-out scores, global vs personal."""
    share = 20
    lines = [
        f"per user (eligible: windows >= {thresholds['min_windows']}, days >= "
        f"{thresholds['min_days']}, labels >= {thresholds['min_labels']}, counted on all of "
        f"the user's labelled windows; a calibrator is fitted on the earliest {100 - share}% "
        f"and one, new or previous, is kept only if on the latest {share}% its NLL is not worse "
        "than global's and its accuracy at the reject threshold is not lower):",
        f"  {'user':<16} {'windows':>7} {'fit':>5} {'held':>5} {'days':>4} {'labels':>6}  "
        f"{'eligible':<8}  {'per-user calibrator':<19} why",
    ]
    for u in outcome.users:
        e = u.eligibility
        decision = {"n.a.": "none", "previous": "kept previous"}.get(u.decision, u.decision)
        why = (e.reason or u.note) if u.decision == "n.a." else u.note
        if u.guard_user_nll is not None:
            why = (
                f"{why} (NLL {_f(u.guard_user_nll)} vs global {_f(u.guard_global_nll)}, "
                f"accuracy at {u.reject_threshold} {_f(u.guard_user_accuracy)} vs "
                f"{_f(u.guard_global_accuracy)})"
            )
        lines.append(
            f"  {e.user_id:<16} {u.windows:>7} {u.fit_windows:>5} {u.held_out:>5} {e.days:>4} "
            f"{e.labels:>6}  {'yes' if e.eligible else 'no':<8}  {decision:<19} {why}"
        )
    lines += [
        "held-out scores, global -> personal (ECE: top-label, 15 bins):",
        f"  {'user':<16} {'n':>5}  {'NLL':^18}  {'Brier':^18}  {'ECE':^18}",
    ]
    for u in outcome.users:
        g, p = u.global_scores, u.user_scores
        if g is None:
            continue
        cells = []
        for name in ("nll", "brier", "ece"):
            mine = getattr(p, name) if p is not None else None
            cells.append(f"{_f(getattr(g, name)):>7} -> {_f(mine):<7}")
        lines.append(f"  {u.user_id:<16} {g.n:>5}  {'  '.join(cells)}")
    return lines


def _record(settings: Settings, doc: dict[str, Any]) -> None:
    from daemon.fsutil import atomic_write_text, utc_now
    from daemon.paths import ensure_private_dir

    path = last_path(settings.data_dir)
    try:
        ensure_private_dir(path.parent)
        atomic_write_text(path, json.dumps({"at": utc_now("seconds"), **doc}, indent=2) + "\n")
    except OSError as exc:
        print(f"taskclf-daemon: warning: cannot write {path} ({exc.strerror or exc})")


def _personalize(args: argparse.Namespace, settings: Settings) -> tuple[int, dict[str, Any]]:
    from daemon.commands.label import load_spans, spans_path
    from daemon.fsutil import utc_now
    from taskclf_core.personalize import personalize, user_rows

    if not settings.personalization:
        reason = "personalization = false in the configuration: nobody gets a per-user calibrator"
        print(f"nothing to do: {reason}")
        return 0, {"outcome": "skipped", "reason": reason}
    where_now = in_force(settings)
    bundle, target = where_now.bundle, where_now.store_path
    base, existed = _base_store(target, bundle)
    print(
        f"model {bundle.bundle_id} (schema {bundle.schema_hash}); store {target}: "
        + (
            f"{base.store_id} ({base.method}, {len(base.user_ids)} per-user calibrators)"
            if existed
            else "none yet: starting one whose global calibrator is the identity"
        )
    )
    path = spans_path(settings)
    spans = load_spans(path)
    scan = _scan_log(settings, spans, bundle)
    logged = scan.windows
    skipped = [
        f"{scan.without_model_probs} without model_probs (written before records carried them)",
        f"{scan.other_bundle} of other models",
    ]
    if scan.unreadable:
        skipped.append(f"{scan.unreadable} unreadable")
    if scan.duplicates:
        skipped.append(f"{scan.duplicates} duplicates")
    print(
        f"label log, the days your {len(spans)} spans cover: {len(logged)} records of this model "
        f"with model_probs; skipped {', '.join(skipped)}"
    )
    thresholds = {"min_windows": 200, "min_days": 3, "min_labels": 3}
    policy = where_now.policy
    outcome = personalize(
        spans,
        logged,
        base,
        bundle_id=bundle.bundle_id,
        schema_hash=bundle.schema_hash,
        created_at=utc_now("seconds"),
        users=None if args.user is None else [args.user],
        opt_out=settings.opt_out_users,
        # the guard judges accuracy at the threshold the daemon rejects with
        reject_threshold=policy.reject_threshold if policy else settings.reject_threshold,
        user_thresholds=policy.per_user_reject_thresholds if policy else None,
        **thresholds,
    )
    print(f"{outcome.labelled} logged windows lie inside a span of their user (strict containment)")
    if not spans:
        print(
            f"no label spans in {path}: label your time with `taskclf-daemon label add` or "
            "import taskclf's labels with `taskclf-daemon label import FILE`"
        )
    for user in outcome.no_labels:
        print(f"{user}: no labelled windows of this model (spans over time the daemon logged?)")
    if outcome.users:
        print("\n".join(format_outcome(outcome, thresholds)))
    for user in outcome.removed:
        print(f"{user}: per-user calibrator removed")
    store = outcome.store
    doc: dict[str, Any] = {
        "model": {"bundle_id": bundle.bundle_id, "schema_hash": bundle.schema_hash},
        "store": {
            "path": str(target),
            "id": store.store_id,
            "previous_id": base.store_id if existed else None,
            "user_ids": list(store.user_ids),
        },
        "log": {
            "records": scan.records,
            "used": len(logged),
            "without_model_probs": scan.without_model_probs,
            "other_models": scan.other_bundle,
            "unreadable": scan.unreadable,
        },
        "spans": len(spans),
        "labelled_windows": outcome.labelled,
        "users": user_rows(outcome),
        "carried": list(outcome.carried),
        "removed": list(outcome.removed),
    }
    if args.dry_run:
        # no id for a changed store: a real run stamps its own created_at, hence its own id
        what = f"would stay {store.store_id}" if not outcome.changed and existed else "would change"
        print(
            f"dry run: nothing written; the store {what} "
            f"(per-user calibrators: {', '.join(store.user_ids) or 'none'})"
        )
        return 0, doc
    if not outcome.changed and existed:
        print(
            f"unchanged: store {store.store_id} is already in force "
            f"(per-user calibrators: {', '.join(store.user_ids) or 'none'})"
        )
        return 0, {"outcome": "unchanged", **doc}
    where = publish_store(where_now, store)
    if where_now.policy_path is not None:
        print(
            f"deployed: {where_now.policy_path} now names the new store (`taskclf-daemon "
            "rollback` restores the previous policy)"
        )
    via = f" -> {where}" if where != target else ""
    print(
        f"written: store {store.store_id} at {target}{via} (per-user calibrators: "
        f"{', '.join(store.user_ids) or 'none'}); the running daemon swaps to it within seconds "
        "(`taskclf-daemon status` shows the store id; `taskclf-daemon reload` forces it now)"
    )
    return 0, {"outcome": "written", **doc, "written_to": str(where)}


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        code, doc = _personalize(args, settings)
    except TaskclfError as exc:
        if not args.dry_run:
            _record(settings, {"outcome": "failed", "error": str(exc)})
        raise
    if not args.dry_run:
        _record(settings, doc)
    return code


def add_personalize_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user", default=None, help="refit only this user (the others keep what they have)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would change; write nothing"
    )
