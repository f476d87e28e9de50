"""`taskclf-daemon calibrate` and `check-store`: fit a CalibratorStore, report, validate one."""

from __future__ import annotations

import argparse
import json
import math

from daemon.artifacts import load_store
from daemon.commands._input import read_labelled_jsonl
from daemon.fsutil import atomic_write_text, utc_now
from daemon.publish import write_store
from taskclf_core.bundle import ModelBundle, load_bundle
from taskclf_core.calibration import load_calibrator_store
from taskclf_core.errors import PublishError, TrainingError
from taskclf_core.metrics import CalibrationMetrics
from taskclf_core.vetting import (
    ECE_BINS,
    CalibrationReport,
    UserReport,
    calibrate_windows,
    parse_labelled,
)

__all__ = ["format_report", "run", "run_check"]


def _opt_out_users(args: argparse.Namespace) -> tuple[str, ...]:
    if args.opt_out_users is not None:
        return tuple(u.strip() for u in args.opt_out_users.split(",") if u.strip())
    from daemon.settings import load_settings

    # the same list `run` honours: config file, then TASKCLF_OPT_OUT_USERS
    return load_settings(args.config, {}).opt_out_users


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.holdout < 1.0:
        raise TrainingError(f"--holdout: expected a fraction in [0, 1), got {args.holdout}")
    opt_out = _opt_out_users(args)
    settings = None
    if args.deploy:
        from daemon.commands.deploy import policy_path_of
        from daemon.settings import load_settings

        # before any work: --deploy without a policy_file must not leave a store behind
        settings = load_settings(args.config, {})
        policy_path_of(settings)
    bundle: ModelBundle = load_bundle(args.model)
    data = parse_labelled(read_labelled_jsonl(args.data), bundle.schema)
    outcome = calibrate_windows(
        bundle,
        data,
        method=args.method,
        holdout=args.holdout,
        min_windows=args.min_windows,
        min_days=args.min_days,
        min_labels=args.min_labels,
        opt_out=opt_out,
        created_at=utc_now("seconds"),
    )
    print(format_report(outcome.report), flush=True)
    try:
        where = write_store(outcome.store, args.out, check=lambda p: load_store(p, bundle))
    except PublishError as exc:
        raise PublishError(f"--out {exc}") from None
    via = f" -> {where}" if where != args.out else ""
    print(
        f"store {outcome.store.store_id} written to {args.out}{via} "
        f"({len(outcome.store.user_ids)} per-user calibrators: "
        f"{', '.join(outcome.store.user_ids) or 'none'})"
    )
    if args.json is not None:
        doc = outcome.report.to_json() | {"written_to": {"out": str(args.out), "dir": str(where)}}
        try:
            # 0600 like everything else we write: the report names users
            atomic_write_text(args.json, json.dumps(doc, indent=2) + "\n")
        except OSError as exc:
            raise TrainingError(
                f"--json {args.json}: cannot write ({exc.strerror or exc})"
            ) from None
        print(f"report written to {args.json}")
    if settings is not None:
        from daemon.commands.deploy import deploy_and_report

        deploy_and_report(
            settings,
            model=args.model,
            store=where,
            reject_threshold=None,
            user_thresholds=None,
            source="calibrate",
        )
    return 0


def run_check(args: argparse.Namespace) -> int:
    """`check-store`: validate a store exactly as the daemon would (and against a bundle)."""
    bundle: ModelBundle | None
    if args.model is not None:
        bundle = load_bundle(args.model)
    else:
        from daemon.settings import load_settings

        model = load_settings(args.config, {}).model_path
        bundle = load_bundle(model) if model.exists() else None
    if bundle is None:
        store = load_calibrator_store(args.store)
        print(
            f"ok: store {store.store_id} ({store.method}, {len(store.user_ids)} per-user "
            "calibrators); no model given, so bundle matching was not checked"
        )
        return 0
    store, _ = load_store(args.store, bundle)
    print(
        f"ok: store {store.store_id} ({store.method}, {len(store.user_ids)} per-user "
        f"calibrators) fits model {bundle.bundle_id}"
    )
    return 0


# --- the report as text --------------------------------------------------------------


def _f(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _decision_text(u: UserReport) -> str:
    if u.decision == "n.a.":
        return "n.a."
    if u.guard_user_nll is None:
        return f"{u.decision} (unvetted)"
    return (
        f"{u.decision} (NLL {_f(u.guard_user_nll, 3)}/{_f(u.guard_global_nll, 3)}, "
        f"acc {_f(u.guard_user_accuracy, 3)}/{_f(u.guard_global_accuracy, 3)})"
    )


def _eligibility_table(report: CalibrationReport) -> list[str]:
    head = (
        f"  {'user':<16} {'windows':>7} {'fit':>5} {'held':>5} {'days':>4} {'labels':>6}  "
        f"{'eligible':<8}  {'per-user calibrator':<38} reason"
    )
    lines = [head]
    for u in report.users:
        e = u.eligibility
        lines.append(
            f"  {e.user_id:<16} {u.windows:>7} {u.fit_windows:>5} {u.held_out:>5} {e.days:>4} "
            f"{e.labels:>6}  {'yes' if e.eligible else 'no':<8}  {_decision_text(u):<38} "
            f"{e.reason or u.note}"
        )
    return lines


def _score_row(scope: str, before: CalibrationMetrics, after: CalibrationMetrics) -> str:
    pairs = ((before.nll, after.nll), (before.brier, after.brier), (before.ece, after.ece))
    cells = "  ".join(f"{_f(b):>7} -> {_f(a):<7}" for b, a in pairs)
    return f"  {scope:<16} {before.n:>5}  {cells}"


def format_report(report: CalibrationReport) -> str:
    """The human-readable report: eligibility table, then held-out scores before and after."""
    t = report.thresholds
    share = round(report.holdout * 100)
    temperature = (
        f", global T = {report.global_temperature:.3f}"
        if report.global_temperature is not None
        else ""
    )
    lines = [
        f"calibration of model {report.bundle_id} (schema {report.schema_hash}): "
        f"{report.method}{temperature}",
        f"  {report.windows} windows of {len(report.users)} users; per user, the earliest "
        f"{100 - share}% ({report.fit_windows}) fit the calibrators and the latest {share}% "
        f"({report.held_out_windows}) are held out",
        f"eligibility for a per-user calibrator, counted on all of the user's windows (windows "
        f">= {t['min_windows']}, days >= {t['min_days']}, labels >= {t['min_labels']}); kept only "
        "if on the held-out windows its NLL (user/global) is not worse than the global "
        f"calibrator's and its accuracy at the reject threshold {report.reject_threshold} "
        "(user/global) is not lower:",
        *_eligibility_table(report),
        f"held-out scores, uncalibrated -> calibrated as the daemon will apply it "
        f"(ECE: top-label, {ECE_BINS} equal-width bins):",
        f"  {'scope':<16} {'n':>5}  {'NLL':^18}  {'Brier':^18}  {'ECE':^18}",
        _score_row("all users", report.before, report.after),
        *(_score_row(u.user_id, u.before, u.after) for u in report.users),
    ]
    if report.opted_out:
        lines.append(f"opted out (never a per-user calibrator): {', '.join(report.opted_out)}")
    return "\n".join(lines)
