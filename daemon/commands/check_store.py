"""`taskclf-daemon check-store`: validate a CalibratorStore exactly as the daemon would."""

from __future__ import annotations

import argparse
from pathlib import Path

from daemon.config.flags import add_model_flag

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", type=Path, metavar="DIR")
    add_model_flag(parser, "also check it matches this bundle (default: the configured model)")


def run(args: argparse.Namespace) -> int:
    from daemon.artifacts import load_store
    from taskclf_core.bundle import ModelBundle, load_bundle
    from taskclf_core.calibration import load_calibrator_store

    bundle: ModelBundle | None
    if args.model is not None:
        bundle = load_bundle(args.model)
    else:
        from daemon.config.settings import load_settings

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
