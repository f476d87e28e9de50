"""`taskclf-daemon train`: fit a LightGBM bundle (taskclf layout) from labelled JSONL windows."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daemon.fsutil import utc_now
from daemon.labelled import add_holdout, add_labelled_data, read_labelled_jsonl
from daemon.publish import install_bundle
from taskclf_core.errors import PublishError, TrainingError
from taskclf_core.training import TrainedBundle, TrainingSet, check_training_rows
from taskclf_core.words import plural

__all__ = ["add_arguments", "run", "train_windows"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_labelled_data(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--rounds", type=int, default=100, help="boosting rounds (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    add_holdout(parser, "latest fraction of windows held out for metrics.json (default 0.2)")


def train_windows(
    data: TrainingSet, *, rounds: int, seed: int, holdout: float = 0.2, num_threads: int = 0
) -> TrainedBundle:
    """:func:`train_bundle` on rows that :func:`check_training_rows` accepted."""
    from taskclf_core.training import train_bundle

    return train_bundle(
        data.windows,
        rounds=rounds,
        seed=seed,
        holdout=holdout,
        created_at=utc_now("seconds"),
        num_threads=num_threads,
    )


_MAX_ROUNDS = 100_000  # taskclf trains 100 to a few thousand; more is a typo, not a model
_MAX_SEED = 2**31 - 1  # LightGBM takes the seed as a C int


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.rounds <= _MAX_ROUNDS:
        raise TrainingError(f"--rounds: expected 1 to {_MAX_ROUNDS}, got {args.rounds}")
    if not 0 <= args.seed <= _MAX_SEED:
        raise TrainingError(f"--seed: expected 0 to {_MAX_SEED}, got {args.seed}")
    if not 0.0 <= args.holdout < 1.0:
        raise TrainingError(f"--holdout: expected a fraction in [0, 1), got {args.holdout}")
    data = check_training_rows(read_labelled_jsonl(args.data))
    print(
        f"training on {plural(len(data.windows), 'window')} of "
        f"{plural(len(data.users), 'user')} "
        f"({data.first.date()} to {data.last.date()}, schema {data.schema_version}), "
        f"{plural(args.rounds, 'round')}, seed {args.seed}",
        flush=True,
    )
    trained = train_windows(data, rounds=args.rounds, seed=args.seed, holdout=args.holdout)
    try:
        out = install_bundle(trained, args.out)
    except PublishError as exc:
        raise PublishError(f"--out {exc}") from None
    print(_summary(trained, out))
    return 0


def _summary(trained: TrainedBundle, out: Path) -> str:
    m: Mapping[str, Any] = trained.metrics
    md = trained.metadata
    held = m.get("holdout_rows", 0)
    scores = (
        f"macro F1 {m['macro_f1']:.4f}, weighted F1 {m['weighted_f1']:.4f}"
        if "macro_f1" in m
        else "no held-out windows (--holdout 0), no scores"
    )
    return "\n".join(
        [
            f"bundle {out.resolve().name} written to {out}",
            f"  trained on {plural(md['train_rows'], 'window')} ({md['train_date_from']} to "
            f"{md['train_date_to']}); held out the latest {held}",
            f"  held-out {scores}",
        ]
    )
