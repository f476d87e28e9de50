"""`taskclf-daemon personalize`: per-user calibrators from your spans and the log, shipped live."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.paths import default_config_file
from taskclf_core.errors import ConfigError, TaskclfError

if TYPE_CHECKING:
    from daemon.settings import Settings
    from taskclf_core.bundle import ModelBundle
    from taskclf_core.calibration import CalibratorStore
    from taskclf_core.personalize import LogScan, PersonalizeOutcome

__all__ = [
    "add_personalize_arguments",
    "describe_last",
    "last_path",
    "publish_store",
    "read_last",
    "run",
    "store_in_force",
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


# --- the policy hook -----------------------------------------------------------------------
# Where the store in force lives and how a new one is made current. With a calibrator_store
# these are the configured path and write_store (a dir replace or a symlink swap, as
# `calibrate` does). POLICY HOOK (issue 12): when `policy_file` is in use, the store in force
# is the policy's calibrator_store_dir and a new store must be made current through `deploy`
# (a new policy naming it); both functions below are the only places that has to change.


def _policy_file(settings: Settings) -> object:
    return getattr(settings, "policy_file", None)


def store_in_force(settings: Settings) -> Path:
    """The store directory (or symlink) the daemon reads for this configuration."""
    if _policy_file(settings) is not None:
        raise ConfigError(
            f"policy_file is set ({_policy_file(settings)}): personalize does not go through "
            "`deploy` yet; run it with calibrator_store instead of policy_file"
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
    return settings.calibrator_store


def publish_store(settings: Settings, store: CalibratorStore, bundle: ModelBundle) -> Path:
    """Make ``store`` the one in force; returns the directory it now lives in.

    The daemon watches the store path and swaps the new store in between two windows.
    """
    from daemon.publish import write_store
    from daemon.runtime.reloader import load_store

    target = store_in_force(settings)
    # the same validation the daemon applies before it swaps: never publish one it refuses
    return write_store(store, target, check=lambda p: load_store(p, bundle))


# --- the run -------------------------------------------------------------------------------


def _base_store(path: Path, bundle: ModelBundle) -> tuple[CalibratorStore, bool]:
    """The store in force (validated against the bundle), or a fresh identity one if none."""
    import os

    from daemon.runtime.reloader import load_store
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
        f"{thresholds['min_days']}, labels >= {thresholds['min_labels']}, counted on the earliest "
        f"{100 - share}% of each user's labelled windows; the latest {share}% are held out and a "
        "per-user calibrator is kept only if its held-out NLL is not worse than global):",
        f"  {'user':<16} {'windows':>7} {'fit':>5} {'held':>5} {'days':>4} {'labels':>6}  "
        f"{'eligible':<8}  {'per-user calibrator':<19} why",
    ]
    for u in outcome.users:
        e = u.eligibility
        decision = {"n.a.": "none", "previous": "kept previous"}.get(u.decision, u.decision)
        why = e.reason or u.note
        if u.guard_user_nll is not None and u.decision in ("kept", "dropped", "previous"):
            sign = "<=" if u.decision != "dropped" else ">"
            why = f"{why}: {_f(u.guard_user_nll)} {sign} {_f(u.guard_global_nll)}"
        if u.decision == "n.a." and e.reason != "opted out" and u.user_id in outcome.carried:
            why += "; keeps the per-user calibrator it had"
        lines.append(
            f"  {e.user_id:<16} {u.windows:>7} {e.windows:>5} {u.held_out:>5} {e.days:>4} "
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
    from taskclf_core.bundle import load_bundle
    from taskclf_core.personalize import personalize, user_rows

    if not settings.personalization:
        reason = "personalization = false in the configuration: nobody gets a per-user calibrator"
        print(f"nothing to do: {reason}")
        return 0, {"outcome": "skipped", "reason": reason}
    target = store_in_force(settings)
    bundle = load_bundle(settings.model_path)
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
    outcome = personalize(
        spans,
        logged,
        base,
        bundle_id=bundle.bundle_id,
        schema_hash=bundle.schema_hash,
        created_at=utc_now("seconds"),
        users=None if args.user is None else [args.user],
        opt_out=settings.opt_out_users,
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
    where = publish_store(settings, store, bundle)
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
