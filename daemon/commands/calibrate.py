"""`taskclf-daemon calibrate`: fit a CalibratorStore on labelled windows and report on it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from daemon.artifacts import load_store
from daemon.config.flags import add_model_flag
from daemon.fsutil import atomic_write_text, utc_now
from daemon.labelled import add_holdout, add_labelled_data, read_labelled_jsonl
from daemon.publish import write_store
from daemon.reporting.calibration import format_report
from taskclf_core.bundle import ModelBundle, load_bundle
from taskclf_core.errors import PublishError, TrainingError
from taskclf_core.vetting import calibrate_windows, parse_labelled
from taskclf_core.words import plural

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_flag(parser, "the bundle to calibrate", required=True)
    add_labelled_data(parser)
    parser.add_argument("--method", choices=("temperature", "isotonic"), default="temperature")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="also write the report as JSON"
    )
    parser.add_argument("--min-windows", type=int, default=200)
    parser.add_argument("--min-days", type=int, default=3)
    parser.add_argument("--min-labels", type=int, default=3)
    add_holdout(parser, "latest fraction of each user's windows used to vet per-user calibrators")
    parser.add_argument(
        "--opt-out-users",
        default=None,
        help="comma-separated users never given a per-user calibrator "
        "(default: opt_out_users from the config)",
    )
    parser.add_argument(
        "--deploy",
        action="store_true",
        help="also make --model with the new store the inference policy in force (policy_file)",
    )


def _opt_out_users(args: argparse.Namespace) -> tuple[str, ...]:
    if args.opt_out_users is not None:
        return tuple(u.strip() for u in args.opt_out_users.split(",") if u.strip())
    from daemon.config.settings import load_settings

    # the same list `run` honours: config file, then TASKCLF_OPT_OUT_USERS
    return load_settings(args.config, {}).opt_out_users


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.holdout < 1.0:
        raise TrainingError(f"--holdout: expected a fraction in [0, 1), got {args.holdout}")
    opt_out = _opt_out_users(args)
    settings = None
    if args.deploy:
        from daemon.config.settings import load_settings
        from daemon.deploy import policy_path_of

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
        f"({plural(len(outcome.store.user_ids), 'per-user calibrator')}: "
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
        from daemon.deploy import deploy_and_report

        deploy_and_report(
            settings,
            model=args.model,
            store=where,
            reject_threshold=None,
            user_thresholds=None,
            source="calibrate",
        )
    return 0
