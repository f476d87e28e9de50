"""What a first model still needs: the labelled windows so far, against retrain's data check."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from daemon.paths import spans_file
from taskclf_core.retrain import ASSESSED_COLUMNS, SURE_EVALUATION_WINDOWS, DataCheck, assess

if TYPE_CHECKING:
    from daemon.config.settings import Settings

__all__ = ["Progress", "first_model_progress"]


@dataclass(frozen=True, slots=True)
class Progress:
    """The labelled windows so far (spans over what the daemon archived in the lookback) and
    what a first model still needs (CONTRACT 16: `status` and `doctor` say it)."""

    check: DataCheck
    spans: int
    lookback_days: int
    # what the per-user time split still lacks (BreakIdle in each user's latest 15 %)
    split_gaps: tuple[str, ...] = ()
    # how many windows taskclf's gates would judge a first model on (None: too few labelled
    # windows to split yet)
    evaluation_windows: int | None = None

    @property
    def enough(self) -> bool:
        return self.check.enough and not self.split_gaps

    @property
    def caution(self) -> str | None:
        """Enough to train, but few windows to judge a first model on: what that means.

        The count is of the windows the archive holds; `retrain` may judge on a few more
        (labelled days older than the archive, rebuilt from ActivityWatch), hence "about".
        """
        n = self.evaluation_windows
        if not self.enough or n is None or n >= SURE_EVALUATION_WINDOWS:
            return None
        # the evaluation windows are each user's latest 15 %: this many more labelled ones
        more = math.ceil((SURE_EVALUATION_WINDOWS - n) / 0.15 / 10) * 10
        return (
            "`retrain` will test it on the latest 15 % of your labelled windows (about "
            f"{n} here); with fewer than {SURE_EVALUATION_WINDOWS} a first model is refused "
            f"more often: if it is, label about {more} more windows over a few more days and "
            "run `retrain` again (the timer of `service install --retrain-weekly` tries each "
            "day)"
        )

    @property
    def missing(self) -> tuple[str, ...]:
        return (*self.check.missing, *self.split_gaps)

    def lines(self) -> list[str]:
        c = self.check
        counted = ", ".join(f"{k} {v}" for k, v in c.per_class.items() if v) or "none yet"
        head = (
            f"first model: {c.windows} labelled windows over {c.days} days in the last "
            f"{self.lookback_days} ({counted}); {self.spans} label spans"
        )
        if self.enough:
            caution = self.caution
            return [
                head,
                "  enough to train one: run `taskclf-daemon retrain`",
                *([f"  {caution}"] if caution else []),
            ]
        return [
            head,
            *(line for need in self.check.needs for line in need.lines("  still needed: ", "    ")),
            *(f"  still needed: {gap}" for gap in self.split_gaps),
            "  label with `taskclf-daemon label add --from HH:MM --to HH:MM LABEL` (or `label "
            "import FILE`), then run `taskclf-daemon retrain`",
        ]

    def to_json(self) -> dict[str, Any]:
        c = self.check
        return {
            "windows": c.windows,
            "days": c.days,
            "per_class": {k: v for k, v in c.per_class.items() if v},
            "missing": list(self.missing),
            "enough": self.enough,
            "evaluation_windows": self.evaluation_windows,
            "spans": self.spans,
            "lookback_days": self.lookback_days,
        }


def first_model_progress(
    settings: Settings, *, now: datetime, schema_version: str | None = None
) -> Progress:
    """What `retrain` would find now: the spans projected onto the archived windows of the
    lookback's labelled days (of ``schema_version``, the model in force's, when given),
    checked and split as it does (:func:`assess`, with the requirements of the gates
    configured: :func:`daemon.retraining.retrain_config`), so the counts and what is missing
    are its own (windows left out at a typed switch included). Labelled days older than the
    archive are not counted: `retrain` rebuilds those from ActivityWatch."""
    from daemon.archive import FeatureArchive
    from daemon.retraining import retrain_config
    from daemon.spanfile import load_spans
    from taskclf_core.spans import span_days

    lookback_days = settings.retrain_lookback_days
    spans = load_spans(spans_file(settings.data_dir))
    since = now - timedelta(days=lookback_days)
    days = sorted(d.isoformat() for d in span_days(spans) if d >= since.date())
    archive = FeatureArchive(settings.archive_path)
    windows = archive.read(days, ASSESSED_COLUMNS).windows if days else ()
    assessed = assess(
        spans,
        windows,
        since=since,
        now=now,
        schema_version=schema_version,
        requirements=retrain_config(settings).requirements,
    )
    split = assessed.split
    return Progress(
        assessed.check,
        len(spans),
        lookback_days,
        assessed.gaps,
        None if split is None else len(split.evaluation),
    )
