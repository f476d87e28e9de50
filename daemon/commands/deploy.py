"""`taskclf-daemon deploy`: make a model (+ store, thresholds) the policy in force, live."""

from __future__ import annotations

import argparse
from pathlib import Path

from daemon.config.flags import add_model_flag
from taskclf_core.errors import ConfigError, PolicyError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_flag(
        parser, "model bundle (or the rule baseline's directory, models/baseline)", required=True
    )
    parser.add_argument("--store", type=Path, default=None, metavar="DIR", help="CalibratorStore")
    parser.add_argument(
        "--no-store", action="store_true", help="no calibration (the model's probabilities)"
    )
    parser.add_argument(
        "--reject-threshold",
        type=float,
        default=None,
        metavar="X",
        help="default: the threshold in force (0.55 if none)",
    )
    parser.add_argument(
        "--user-threshold",
        action="append",
        default=[],
        metavar="USER=X",
        help="a per-user reject threshold (repeat; default: those in force)",
    )
    parser.add_argument(
        "--no-user-thresholds",
        action="store_true",
        help="no per-user reject thresholds (not those in force)",
    )


def run(args: argparse.Namespace) -> int:
    from daemon.config.settings import load_settings
    from daemon.deploy import deploy_and_report, parse_user_thresholds, policy_path_of

    settings = load_settings(args.config, {})
    policy_path_of(settings)  # before anything else: no policy_file, nothing to deploy into
    if args.store is not None and args.no_store:
        raise ConfigError("--store and --no-store: give one")
    for flag, path in (("--model", args.model), ("--store", args.store)):
        if path is not None and not path.is_dir():
            raise ConfigError(f"{flag}: {path} does not exist or is not a directory")
    if args.no_user_thresholds and args.user_threshold:
        raise ConfigError("--user-threshold and --no-user-thresholds: give one")
    user_thresholds = parse_user_thresholds(args.user_threshold) if args.user_threshold else None
    if args.no_user_thresholds:
        user_thresholds = {}
    if args.reject_threshold is not None and not 0.0 <= args.reject_threshold <= 1.0:
        raise PolicyError(f"--reject-threshold: expected X in [0, 1], got {args.reject_threshold}")
    deploy_and_report(
        settings,
        model=args.model,
        store=args.store,
        reject_threshold=args.reject_threshold,
        user_thresholds=user_thresholds,
        source="deploy",
    )
    return 0
