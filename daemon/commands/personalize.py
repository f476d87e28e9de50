"""`taskclf-daemon personalize`: per-user calibrators from your spans and the log, shipped live."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.config.flags import setting_overrides
from daemon.paths import calibrators_dir, default_config_file, spans_file
from daemon.records import record_last
from taskclf_core.errors import ConfigError, TaskclfError
from taskclf_core.words import plural

if TYPE_CHECKING:
    from daemon.config.settings import Settings
    from daemon.inforce import Binding
    from taskclf_core.bundle import Model, ModelBundle
    from taskclf_core.calibration import CalibratorStore
    from taskclf_core.personalize import LogScan

__all__ = ["add_arguments", "run"]


def _calibratable(model: Model) -> ModelBundle:
    """The bundle in force; the rule baseline (no model yet) has nothing to calibrate."""
    from taskclf_core.bundle import ModelBundle

    if not isinstance(model, ModelBundle):
        raise ConfigError(
            f"the model in force is the rule baseline ({model.bundle_id}): its labels are rule "
            "answers, not probabilities to calibrate. Label your time (`taskclf-daemon label "
            "add`) and run `taskclf-daemon retrain` for a first model of your own; personalize "
            "calibrates it afterwards"
        )
    return model


def _target(settings: Settings) -> tuple[Binding, ModelBundle, Path]:
    """What the daemon reads under this configuration: the binding, its bundle (checked as
    the daemon checks it) and the store path a new store is published at (may not exist)."""
    from daemon.artifacts import load_deployment
    from daemon.inforce import bind, sources_of
    from taskclf_core.bundle import load_model
    from taskclf_core.policy import policy_home

    binding = bind(sources_of(settings))
    policy_path = settings.policy_file
    if policy_path is not None:
        deployment = load_deployment(policy_path, binding.policy)
        # a policy without calibration: start a store in taskclf's place
        store_path = (
            binding.store_path or policy_home(policy_path) / "artifacts" / "calibrator_store"
        )
        return binding, _calibratable(deployment.bundle), store_path
    if binding.store_path is None:
        raise ConfigError(
            "calibrator_store is not set: personalize writes per-user calibrators into the store "
            f"the daemon reads. Set it in {default_config_file()} (or --config FILE), e.g.\n"
            f'  calibrator_store = "{calibrators_dir(settings.data_dir) / "current"}"\n'
            "personalize creates it (the global calibrator starts as the identity, which is what "
            "the daemon applies without a store); then restart the daemon so it reads the store"
        )
    return binding, _calibratable(load_model(binding.model_path)), binding.store_path


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


def _personalize(args: argparse.Namespace, settings: Settings) -> tuple[int, dict[str, Any]]:
    from daemon.fsutil import utc_now
    from daemon.reporting.calibration import format_outcome
    from daemon.spanfile import load_spans
    from taskclf_core.personalize import personalize, user_rows

    if not settings.personalization:
        reason = "personalization = false in the configuration: nobody gets a per-user calibrator"
        print(f"nothing to do: {reason}")
        return 0, {"outcome": "skipped", "reason": reason}
    binding, bundle, target = _target(settings)
    base, existed = _base_store(target, bundle)
    print(
        f"model {bundle.bundle_id} (schema {bundle.schema_hash}); "
        + (
            f"store {base.store_id} ({base.method}, "
            f"{plural(len(base.user_ids), 'per-user calibrator')}) at {target}"
            if existed
            else f"store at {target}: none yet, starting one whose global calibrator is the "
            "identity"
        )
    )
    path = spans_file(settings.data_dir)
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
        skipped.append(plural(scan.duplicates, "duplicate"))
    print(
        f"label log over the days of your {plural(len(spans), 'span')}: "
        f"{plural(len(logged), 'record')} of this model with model_probs; skipped "
        f"{', '.join(skipped)}"
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
        # the guard judges accuracy at the thresholds the daemon rejects with
        reject_threshold=binding.reject_threshold,
        user_thresholds=binding.user_thresholds,
        **thresholds,
    )
    print(
        f"{plural(outcome.labelled, 'logged window')} "
        f"{'lies' if outcome.labelled == 1 else 'lie'} inside a span of "
        "their user (strict containment)"
    )
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
    from daemon.deploy import publish_store

    where = publish_store(
        store,
        bundle=bundle,
        store_path=target,
        policy_file=settings.policy_file,
        model_path=binding.model_path,
        expected=binding.policy,
    )
    if settings.policy_file is not None:
        print(
            f"deployed: {settings.policy_file} now names the new store (`taskclf-daemon "
            "rollback` restores the previous policy)"
        )
    via = f" -> {where}" if where != target else ""
    print(
        f"written: store {store.store_id} at {target}{via} (per-user calibrators: "
        f"{', '.join(store.user_ids) or 'none'}); the running daemon swaps to it within seconds "
        "(`taskclf-daemon status` shows the store id; `taskclf-daemon reload` forces it now)"
    )
    return 0, {"outcome": "written", **doc, "written_to": str(where)}


def run(args: argparse.Namespace) -> int:
    from daemon.config.settings import load_settings

    settings = load_settings(args.config, setting_overrides(args))
    # --json: the lines a person reads go into the object (as "report"), nothing else is said
    said = io.StringIO()
    with contextlib.redirect_stdout(said) if args.json else contextlib.nullcontext():
        try:
            code, doc = _personalize(args, settings)
        except TaskclfError as exc:
            if not args.dry_run:
                record_last(settings.data_dir, {"outcome": "failed", "error": str(exc)})
            sys.stderr.write(said.getvalue())  # what it said before it failed (--json)
            raise
        if not args.dry_run:
            record_last(settings.data_dir, doc)
    if args.json:
        shown = {"dry_run": args.dry_run, **doc, "report": said.getvalue().splitlines()}
        print(json.dumps(shown, indent=2, allow_nan=False))
    return code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user", default=None, help="refit only this user (the others keep what they have)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would change; write nothing"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: the per-user table and decisions, and the report's lines",
    )
