"""What a first model still needs: the labelled windows so far, against retrain's data check."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from daemon.paths import spans_file
from taskclf_core.retrain import ASSESSED_COLUMNS, SURE_EVALUATION_WINDOWS, DataCheck, assess
from taskclf_core.unarchived import Unarchived, unarchived
from taskclf_core.words import plural

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
    # labelled days of the lookback the archive does not hold yet: in no count above
    unarchived: Unarchived = field(default_factory=Unarchived)

    @property
    def enough(self) -> bool:
        return self.check.enough and not self.split_gaps

    @property
    def caution(self) -> str | None:
        """Enough to train, but few windows to judge a first model on: what that means.

        The count is of the windows the archive holds; `retrain` may judge on a few more
        (labelled days older than the archive, rebuilt from ActivityWatch), hence "about"; on
        many more when labelled days are not in the archive yet, which it then says.
        """
        n = self.evaluation_windows
        if not self.enough or n is None or n >= SURE_EVALUATION_WINDOWS:
            return None
        # the evaluation windows are each user's latest 15 %: this many more labelled ones
        more = math.ceil((SURE_EVALUATION_WINDOWS - n) / 0.15 / 10) * 10
        without = ", without the days not in the archive yet" if self.unarchived.days else ""
        return (
            "`retrain` will test it on the latest 15 % of your labelled windows (about "
            f"{n} here{without}); with fewer than {SURE_EVALUATION_WINDOWS} a first model is "
            f"refused more often: if it is, label about {more} more windows over a few more days "
            "and run `retrain` again (the timer of `service install --retrain-weekly` tries each "
            "day)"
        )

    @property
    def missing(self) -> tuple[str, ...]:
        return (*self.check.missing, *self.split_gaps)

    @property
    def head(self) -> str:
        c = self.check
        counted = ", ".join(f"{k} {v}" for k, v in c.per_class.items() if v) or "none yet"
        return (
            f"first model: {c.windows} labelled windows in the archive over {c.days} days in "
            f"the last {self.lookback_days} ({counted}); {self.spans} label spans"
        )

    def not_archived(self) -> tuple[str, tuple[str, ...]] | None:
        """The labelled days the archive does not hold yet, and how to bring them in (None:
        it holds every one): what `status` shows a line each and `doctor` joins."""
        u = self.unarchived
        if not u.days:
            return None
        first, last = u.days[0], u.days[-1]
        when = f"{first}" if first == last else f"from {first} to {last}"
        head = (
            f"not in the archive yet: {plural(round(u.minutes), 'labelled minute')} on "
            f"{plural(len(u.days), 'day')} ({when}, UTC), left out of the counts here"
            + ("" if self.enough else ", so what is still needed may be in them")
        )
        ways: list[str] = []
        if u.rebuilt:
            which = (
                "them"
                if u.rebuilt == len(u.days)
                else f"the {u.rebuilt} before the archive's first day, not the "
                f"{len(u.days) - u.rebuilt} after it,"
            )
            ways.append(
                f"run `taskclf-daemon retrain`: it rebuilds {which} from ActivityWatch when it "
                "can reach it, and counts them"
            )
        commands = " and ".join(f"`{_backfill(a, b)}`" for a, b in u.runs)
        ways.append(
            ("or back-fill" if ways else "back-fill")
            + f" the archive with {commands}: once the daemon has labelled what it collects, "
            "`status` counts them too"
        )
        return head, tuple(ways)

    def lines(self) -> list[str]:
        gone = self.not_archived()
        head = [self.head] + (
            [f"  {gone[0]}", *(f"    {way}" for way in gone[1])] if gone is not None else []
        )
        if self.enough:
            caution = self.caution
            return [
                *head,
                "  enough to train one: run `taskclf-daemon retrain`",
                *([f"  {caution}"] if caution else []),
            ]
        return [
            *head,
            *(line for need in self.check.needs for line in need.lines("  still needed: ", "    ")),
            *(f"  still needed: {gap}" for gap in self.split_gaps),
            (
                "  label with `taskclf-daemon label add --from HH:MM --to HH:MM LABEL` (or `label "
                "import FILE`), then run `taskclf-daemon retrain`"
                if gone is None
                # what is still needed may be in the days not archived: those first
                else "  once those days are in (above), label what is still needed with "
                "`taskclf-daemon label add --from HH:MM --to HH:MM LABEL` (or `label import "
                "FILE`), then run `taskclf-daemon retrain`"
            ),
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
            "unarchived": self.unarchived.to_json(),
        }


def _backfill(first: date, last: date) -> str:
    """The `collect` run that back-fills the UTC days ``first`` to ``last`` (exact instants:
    `collect` reads a time without an offset in the person's zone)."""
    return (
        f"taskclf-daemon collect --once --from {first}T00:00Z "
        f"--to {last + timedelta(days=1)}T00:00Z"
    )


def first_model_progress(
    settings: Settings, *, now: datetime, schema_version: str | None = None
) -> Progress:
    """What `retrain` would find now: the spans projected onto the archived windows of the
    lookback's labelled days (of ``schema_version``, the model in force's, when given),
    checked and split as it does (:func:`assess`, with the requirements of the gates
    configured: :func:`daemon.retraining.retrain_config`), so the counts and what is missing
    are its own (windows left out at a typed switch included). Labelled days the archive does
    not hold (older than it: `retrain` rebuilds those from ActivityWatch; or not collected)
    are not counted, and their spans' minutes weigh against no window: they are counted apart
    (:attr:`Progress.unarchived`)."""
    from daemon.archive import FeatureArchive
    from daemon.retraining import retrain_config
    from daemon.spanfile import load_spans
    from taskclf_core.spans import span_days

    lookback_days = settings.retrain_lookback_days
    spans = load_spans(spans_file(settings.data_dir))
    since = now - timedelta(days=lookback_days)
    archive = FeatureArchive(settings.archive_path)
    held = {date.fromisoformat(d) for d in archive.days()}
    days = sorted(d for d in span_days(spans) if d >= since.date() and d in held)
    read = [d.isoformat() for d in days]
    windows = archive.read(read, ASSESSED_COLUMNS).windows if read else ()
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
        unarchived(spans, held, since=since, now=now),
    )
