"""`taskclf-daemon status`: what the daemon of this configuration is doing (and beside it)."""

from __future__ import annotations

import argparse
import json

from daemon.config.flags import setting_overrides
from daemon.config.layers import warn
from daemon.config.subsets import locate
from daemon.lock import lock_holder

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable status")


def run(args: argparse.Namespace) -> int:
    from daemon.runtime.status import evaluate, format_status, read_status

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
    # the processes beside the daemon: the collector and the daily personalize run
    from daemon.collector.status import format_collector_status, read_collector_status
    from daemon.personalize_record import describe_last, read_last

    collector = read_collector_status(where.data_dir)
    personalize = read_last(where.data_dir)
    doc["collector"] = collector
    doc["personalize"] = personalize
    if args.json:
        print(json.dumps(doc, indent=2))
        return code
    lines = [format_status(doc, code)]
    if collector is not None:
        lines.append(format_collector_status(collector))
    if personalize is not None:
        lines.append(describe_last(personalize))
    print("\n".join(lines))
    return code
