"""`taskclf-daemon status`: what the daemon of this configuration is doing (and beside it)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from daemon.config.flags import setting_overrides
from daemon.config.layers import warn
from daemon.config.subsets import locate
from daemon.lock import lock_holder
from taskclf_core.errors import TaskclfError

if TYPE_CHECKING:
    from daemon.reporting.progress import Progress

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable status")


def run(args: argparse.Namespace) -> int:
    from daemon.runtime.status import evaluate, format_status, model_in_force, read_status

    where, problems = locate(args.config, setting_overrides(args))
    warn(problems)
    code, doc = evaluate(read_status(where.status_path), lock_holder(where.lock_path))
    if not doc["running"]:
        # say where we looked: another config (or XDG_DATA_HOME) means another spool
        doc["lock"] = str(where.lock_path)
        # this spool has no daemon; its label log may still be another spool's daemon's
        holder = lock_holder(where.labels_lock_path)
        if holder is not None:
            doc["label_log_held_by"] = {"pid": holder, "label_log": str(where.labels_path)}
    # the processes beside the daemon: the collector, the personalize and retrain runs
    from daemon.collector.status import format_collector_status, read_collector_status
    from daemon.records import (
        describe_last,
        describe_retrain,
        read_last,
        read_retrain,
        retrain_advice,
        retrain_checked,
    )

    collector = read_collector_status(where.data_dir)
    personalize = read_last(where.data_dir)
    retrain = read_retrain(where.data_dir)
    doc["collector"] = collector
    doc["personalize"] = personalize
    doc["retrain"] = retrain
    progress = _first_model(args, doc)
    doc["first_model"] = progress.to_json() if progress is not None else None
    if args.json:
        print(json.dumps(doc, indent=2))
        return code
    lines = [format_status(doc, code)]
    if collector is not None:
        lines.append(format_collector_status(collector))
    if personalize is not None:
        lines.append(describe_last(personalize))
    if retrain is not None:
        lines.append(
            describe_retrain(
                retrain, needs_below=progress is not None, in_force=model_in_force(doc)
            )
        )
        lines += retrain_advice(retrain)
        lines += retrain_checked(retrain)
    if progress is not None:
        lines += progress.lines()
    print("\n".join(lines))
    return code


def _first_model(args: argparse.Namespace, doc: dict[str, Any]) -> Progress | None:
    """With the rule baseline in force (no model yet): what a first model still needs, also
    while the daemon is stopped (the configuration then says what is in force).

    Only then: it reads the spans and the feature archive (and numpy), which `status` otherwise
    never pays for.
    """
    if doc["running"]:
        model = doc.get("model") or {}
        baseline = (model.get("lineage") or {}).get("kind") == "rule_baseline"
        schema_version = model.get("schema_version")
    else:
        baseline, schema_version = _baseline_configured(args)
    if not baseline:
        return None
    from datetime import UTC, datetime

    from daemon.config.settings import load_settings_tolerant
    from daemon.reporting.progress import first_model_progress

    settings, _ = load_settings_tolerant(args.config, setting_overrides(args))
    try:
        return first_model_progress(settings, now=datetime.now(UTC), schema_version=schema_version)
    except (TaskclfError, OSError) as exc:
        print(f"taskclf-daemon: warning: cannot say what a first model needs ({exc})")
        return None


def _baseline_configured(args: argparse.Namespace) -> tuple[bool, str | None]:
    """Whether the model the configuration puts in force is the rule baseline, and its schema
    version, from its metadata.json alone: the light reader of the configuration (no pydantic,
    no model loaded, as `status` always is); (False, None) when unsure."""
    from daemon.config.subsets import report_settings
    from daemon.inforce import model_in_force
    from taskclf_core.ids import is_baseline_metadata

    light = report_settings(args.config, setting_overrides(args))
    if light is None:
        return False, None  # the full loader would have to judge it: `doctor` does
    try:
        path = model_in_force(light.policy_file, light.model_path)
        metadata = json.loads((path / "metadata.json").read_bytes())
    except (TaskclfError, OSError, ValueError):
        return False, None  # `doctor` says what is wrong with the configuration
    if not isinstance(metadata, dict) or not is_baseline_metadata(metadata):
        return False, None
    version = metadata.get("schema_version")
    return True, version if isinstance(version, str) else None
