"""`taskclf-daemon retrain`: train on your labels, gate against the model in force, deploy live."""

from __future__ import annotations

import argparse
import json

from daemon.config.flags import setting_overrides
from daemon.exits import OK
from taskclf_core.errors import TaskclfError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "taskclf's retrain (CONTRACT 16): when due (the model in force is retrain_cadence_days "
        "old, or --force), train a challenger on the labelled windows of the last "
        "retrain_lookback_days, score it and the model in force on the same windows, check "
        "taskclf's gates, and deploy it live with its calibrator store when every gate "
        "passes (`rollback` undoes it). Exit 0 for any decision."
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="decide and explain; write and deploy nothing"
    )
    parser.add_argument("--force", action="store_true", help="retrain even if not due yet")
    parser.add_argument("--json", action="store_true", help="print the decision as one object")
    parser.add_argument(
        "--no-activitywatch",
        action="store_true",
        help="do not rebuild labelled days older than the archive from ActivityWatch",
    )


def run(args: argparse.Namespace) -> int:
    from daemon.config.settings import load_settings
    from daemon.records import record_retrain
    from daemon.retraining import retrain

    settings = load_settings(args.config, setting_overrides(args))
    rebuild = None
    if not args.no_activitywatch:
        from daemon.collector.rebuild import activitywatch_rebuilder

        rebuild = activitywatch_rebuilder(settings)
    try:
        result = retrain(settings, dry_run=args.dry_run, force=args.force, rebuild=rebuild)
    except (TaskclfError, OSError) as exc:
        if not args.dry_run:
            record_retrain(settings.data_dir, {"decision": None, "error": str(exc)})
        raise
    doc = result.to_json()
    if not args.dry_run:
        deployed = doc.get("deployed")
        record_retrain(
            settings.data_dir,
            {k: v for k, v in doc.items() if k not in ("explanation", "deployed")}
            | {
                "deployed": {k: v for k, v in deployed.items() if k != "calibration"}
                if deployed
                else None,
                # what to do about a refusal, for `status` (the timer runs unseen)
                "why": list(result.report.advice),
            },
        )
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print("\n".join(result.lines))
    return OK
