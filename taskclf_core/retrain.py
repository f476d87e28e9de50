"""taskclf's retrain (``train/retrain.py``), pure: due-ness, labelled data, split, gates, decision.

The shell reads the feature archive, the label spans and the model in force, calls
:func:`run_retrain`, prints :attr:`RetrainReport.lines` (or :meth:`RetrainReport.to_json`)
and, when the decision is ``deployed``, saves the challenger, calibrates and deploys it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from taskclf_core.baseline import EVIDENCE_COLUMNS, contradicts, has_input_data, on_lock_screen
from taskclf_core.bundle import Model, ModelBundle, bundle_from_text
from taskclf_core.calibration import Calibrator, CalibratorStore, calibrate_rows
from taskclf_core.errors import TrainingError, WindowError
from taskclf_core.fitting import fit_temperature_calibrator
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX, REJECT_LABEL
from taskclf_core.pipeline import Policy
from taskclf_core.reject import apply_reject
from taskclf_core.schema import format_ts, parse_ts, parse_windows
from taskclf_core.spans import (
    LabelSpan,
    TypedStep,
    near_typed_switch,
    project,
    span_minutes,
    typed_steps,
)
from taskclf_core.training import (
    CHALLENGER_PARAMS,
    TrainedBundle,
    challenger_columns,
    train_challenger,
)
from taskclf_core.types import FloatArray, IntArray
from taskclf_core.words import plural

if TYPE_CHECKING:
    from taskclf_core.vetting import CalibrationOutcome

__all__ = [
    "ASSESSED_COLUMNS",
    "CADENCE_DAYS",
    "CHALLENGER_TEMPERATURE_BOUNDS",
    "LOOKBACK_DAYS",
    "STAND_IN_BLOCKS",
    "SURE_EVALUATION_WINDOWS",
    "Assessment",
    "ClassScores",
    "DataCheck",
    "DataRequirements",
    "Decision",
    "Due",
    "Evaluation",
    "Gate",
    "GateThresholds",
    "LabelledData",
    "ModelScore",
    "RetrainConfig",
    "RetrainOutcome",
    "RetrainReport",
    "Split",
    "ThresholdTuning",
    "UserScore",
    "assess",
    "binomial_tail",
    "calibrate_challenger",
    "challenger_gates",
    "check_data",
    "confident_sweep",
    "dataset_hash",
    "evaluate_labels",
    "labelled_data",
    "model_probs",
    "pooled_score",
    "predicted_labels",
    "regression_gate",
    "retrain_due",
    "run_ids",
    "run_retrain",
    "split_by_time",
    "split_gaps",
    "stand_in_blocks",
    "tune_reject_threshold",
    "user_regression_gate",
    "user_scores",
    "worst_loss",
]

# taskclf's core/defaults.py: DEFAULT_RETRAIN_CADENCE_DAYS, DEFAULT_DATA_LOOKBACK_DAYS
CADENCE_DAYS: Final = 7
LOOKBACK_DAYS: Final = 30

# taskclf's tune_reject_threshold sweep: np.arange(0.10, 1.00, 0.05)
REJECT_SWEEP: Final = tuple(round(0.10 + 0.05 * i, 2) for i in range(18))
# the "final" tuning's finer sweep, 0.10 to 0.99 by 0.01: taskclf's 0.05 steps move a
# confident model's reject rate by several points at a time, past the gate's floor
FINE_REJECT_SWEEP: Final = tuple(round(0.10 + 0.01 * i, 2) for i in range(90))
DEFAULT_REJECT_THRESHOLD: Final = 0.55  # taskclf's DEFAULT_REJECT_THRESHOLD: the fallback
# the challenger's temperature never sharpens it: on validation windows it gets all right,
# NLL falls without end as T -> 0 and every confidence becomes 1.0, which no threshold can
# reject from (the gate's floor then fails for the model that is best)
CHALLENGER_TEMPERATURE_BOUNDS: Final = (1.0, 20.0)
# at most this many thresholds above 0.99 join the final sweep (the report lists the sweep)
_CONFIDENT_SWEEP_MAX: Final = 200
# the "final" tuning's stand-in blocks: the last train windows of each user, as many per block
# as that user's validation windows, each scored by a model trained without it (see
# stand_in_blocks); with the validation windows, four afternoons to tune on instead of one
STAND_IN_BLOCKS: Final = 3

# "deployed" is the decision to deploy: the shell makes it so (or, dry, says it would)
Decision = Literal["deployed", "refused", "not_due", "not_enough_data"]


# --- settings ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateThresholds:
    """taskclf's acceptance gates (``train/evaluate.py``) and regression tolerance."""

    breakidle_precision: float = 0.95
    min_class_precision: float = 0.50
    macro_f1: float = 0.65
    weighted_f1: float = 0.70
    breakidle_recall: float = 0.90
    # ours: the precision floor judges classes predicted at least this often (a precision
    # of one or two predictions is no estimate)
    min_class_predictions: int = 5
    reject_rate_min: float = 0.05
    reject_rate_max: float = 0.30
    regression_tolerance: float = 0.02  # DEFAULT_REGRESSION_TOLERANCE
    # not taskclf's (an eighth gate, on by default; None turns it off): no user with
    # user_min_windows evaluation windows, nor everyone's windows together, may lose more than
    # the tolerance of final accuracy where the loss is significant on the paired windows (an
    # exact one-sided binomial test of the discordant windows, McNemar's, at user_regression_alpha)
    user_regression_tolerance: float | None = 0.01
    user_min_windows: int = 20
    user_regression_alpha: float = 0.05

    @property
    def checks_breakidle(self) -> bool:
        """Whether a BreakIdle gate is on (a threshold of 0 passes any model: off)."""
        return self.breakidle_precision > 0 or self.breakidle_recall > 0


@dataclass(frozen=True, slots=True)
class DataRequirements:
    """What "enough labelled data" means before a challenger is trained.

    ``min_windows``, ``min_days`` and ``min_labels`` are taskclf's own numbers for "enough
    labelled data" (``DEFAULT_MIN_LABELED_WINDOWS``/``_DAYS``/``DEFAULT_MIN_DISTINCT_LABELS``);
    its retrain itself only refuses an empty train or validation split. A label counts once
    it has ``min_class_windows`` windows: fewer leave none for the evaluation windows (the
    latest 15 %). ``required`` labels must count: taskclf's gates check BreakIdle precision
    and recall, which cannot be measured without BreakIdle windows.
    """

    min_windows: int = 200
    min_days: int = 3
    min_labels: int = 3
    min_class_windows: int = 10
    required: tuple[str, ...] = ("BreakIdle",)

    @classmethod
    def for_gates(cls, gates: GateThresholds) -> DataRequirements:
        """taskclf's numbers, BreakIdle required only while a BreakIdle gate is on."""
        return cls(required=("BreakIdle",) if gates.checks_breakidle else ())


# Gates measured on fewer evaluation windows than this refuse a model more often: a reject
# rate or a class's precision over so few moves a lot from one slice to the next. Measured on
# first models (`bench/first_models.py --days 4 6 8`, bench/RESULTS.md): 98 of 141 passed on
# fewer than 120 windows, 99 of 119 on 120-179, 95 of 100 on 180 or more.
SURE_EVALUATION_WINDOWS: Final = 180


# --- due ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    """Whether a retrain is due, and why (one line)."""

    due: bool
    reason: str
    age_days: float | None = None


def retrain_due(
    created_at: str | None,
    *,
    now: datetime,
    cadence_days: int = CADENCE_DAYS,
    force: bool = False,
    model_id: str = "the model in force",
) -> Due:
    """taskclf's ``check_retrain_due``: due when the model is ``cadence_days`` old or more.

    ``created_at`` is the model's ``metadata.json`` ``created_at``; none (the rule baseline,
    no model) or an unreadable one means due, as in taskclf. ``force`` is always due.
    """
    age: float | None = None
    if created_at:
        try:
            age = (now - parse_ts(created_at, "created_at")).total_seconds() / 86400
        except WindowError:
            age = None
    if force:
        return Due(True, "forced (--force)", age)
    if age is None:
        why = "has no training date" if not created_at else f"created_at {created_at!r} unreadable"
        return Due(True, f"{model_id} {why}: a retrain is due", None)
    if age >= cadence_days:
        return Due(True, f"{model_id} is {age:.1f} days old (cadence {cadence_days} days)", age)
    # not due: the age rounded down and the time left up, never "7.0 days old, due in 0.0"
    return Due(
        False,
        f"{model_id} is {math.floor(age * 10) / 10:.1f} days old; the next retrain is due in "
        f"{_time_left(cadence_days - age)} (cadence {cadence_days} days; --force retrains now)",
        age,
    )


def _time_left(days: float) -> str:
    """A positive span of days, rounded up: in minutes, hours or tenths of a day."""
    minutes = math.ceil(round(days * 1440, 6))  # round: 60 minutes are not 60.0000001
    if minutes < 60:
        return plural(minutes, "minute")
    if minutes < 1440:
        return plural(math.ceil(minutes / 60), "hour")
    return f"{math.ceil(round(days * 10, 6)) / 10:.1f} days"


# --- labelled data -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelledData:
    """Windows inside a label span of their user (strict containment), in input order.

    ``windows`` are the archived window objects (features, no label); ``labels`` theirs.
    """

    windows: tuple[Mapping[str, Any], ...]
    labels: tuple[str, ...]
    user_ids: tuple[str, ...]
    starts: tuple[datetime, ...]
    seen: int = 0  # windows considered (in the lookback and of the schema)
    other_schema: int = 0
    duplicates: int = 0
    typed: tuple[TypedStep, ...] = ()  # users whose spans were typed to the minute or coarser
    # per label, windows within half such a step of a switch whose label the machine
    # contradicts (baseline.contradicts: labelled BreakIdle yet active, or a task on the lock
    # screen): not counted above
    left_out_per_class: Mapping[str, int] = field(default_factory=dict)
    # windows on the lock screen, labelled or not, on the days (UTC) a user has labelled
    # windows: 0 says that user never locks, or ActivityWatch cannot see their lock screen
    lock_screens: int = 0
    # the UTC days any window considered starts on: a labelled day without one was not read
    # (no archive, ActivityWatch not reached), so nothing is concluded of its spans
    window_days: frozenset[date] = frozenset()

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def left_out(self) -> int:
        """Windows left out at a typed switch, all labels together."""
        return sum(self.left_out_per_class.values())

    def with_labels(self) -> list[dict[str, Any]]:
        """Training rows: each window plus its ``label``."""
        return [dict(w) | {"label": y} for w, y in zip(self.windows, self.labels, strict=True)]


def labelled_data(
    spans: Sequence[LabelSpan],
    windows: Sequence[Mapping[str, Any]],
    *,
    schema_version: str | None = None,
    since: datetime | None = None,
) -> LabelledData:
    """Project ``spans`` onto archived ``windows`` (taskclf's strict containment).

    Windows of another ``schema_version`` than the one given (the champion's) and windows
    starting before ``since`` (the lookback) are left out and counted; a window seen twice
    (same user and start) counts once, the first. The labelled windows come out in (user,
    start) order. A window without a readable identity raises :class:`TrainingError` naming
    its index.
    """
    kept: list[Mapping[str, Any]] = []
    idents: list[tuple[str, datetime, datetime]] = []
    seen: set[tuple[str, datetime]] = set()
    other = duplicates = 0
    for i, w in enumerate(windows):
        version = w.get("schema_version")
        if schema_version is not None and version is not None and version != schema_version:
            other += 1
            continue
        user_id = w.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise TrainingError(f"window {i}: user_id: expected a non-empty string")
        try:
            start = parse_ts(w.get("bucket_start_ts"), "bucket_start_ts")
            end = parse_ts(w.get("bucket_end_ts"), "bucket_end_ts")
        except WindowError as exc:
            raise TrainingError(f"window {i}: {exc}") from None
        if since is not None and start < since:
            continue
        if (user_id, start) in seen:
            duplicates += 1
            continue
        seen.add((user_id, start))
        kept.append(w)
        idents.append((user_id, start, end))
    labels = project(spans, idents)
    # how the spans of the lookback were typed (a person may have changed their habit)
    recent = [s for s in spans if since is None or s.end_ts > since]
    steps = typed_steps(recent)
    typed = tuple(s for s in steps.values() if s.minutes)
    left_out: Counter[str] = Counter()
    if typed:
        near = near_typed_switch(recent, idents, steps)
        for i, label in enumerate(labels):
            if label is not None and near[i] and contradicts(kept[i], label):
                labels[i] = None
                left_out[label] += 1
    # in (user, start) order whatever order the archive gave them: the same labelled rows
    # train the same challenger (LightGBM's sampling follows the row order), as
    # :func:`dataset_hash` names them
    rows = sorted(
        (i for i, label in enumerate(labels) if label is not None),
        key=lambda i: (idents[i][0], idents[i][1]),
    )
    days = {(idents[i][0], idents[i][1].astimezone(UTC).date()) for i in rows}
    lock_screens = sum(
        1
        for w, (user_id, start, _) in zip(kept, idents, strict=True)
        if (user_id, start.astimezone(UTC).date()) in days and on_lock_screen(w)
    )
    return LabelledData(
        window_days=frozenset(start.astimezone(UTC).date() for _, start, _ in idents),
        windows=tuple(kept[i] for i in rows),
        labels=tuple(str(labels[i]) for i in rows),
        user_ids=tuple(idents[i][0] for i in rows),
        starts=tuple(idents[i][1] for i in rows),
        seen=len(kept),
        other_schema=other,
        duplicates=duplicates,
        typed=typed,
        left_out_per_class=dict(left_out),
        lock_screens=lock_screens,
    )


# a note on a need, after its joiner ("; " or ": ") in the need's one-line form
Note = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Need:
    """One thing a model still needs, said whole in ``head`` ("label 4 more windows of
    BreakIdle (have 6, need 10: ...)"), and notes on it: why there are so few, what makes
    more, the pace. ``line`` is the one-line form (retrain's output, the JSON): the notes inside
    the head's closing parenthesis, each after its joiner; ``status`` shows a note a line."""

    head: str
    notes: tuple[Note, ...] = ()

    @property
    def line(self) -> str:
        if not self.notes:
            return self.head
        return self.head[:-1] + "".join(j + n for j, n in self.notes) + ")"

    def lines(self, lead: str, indent: str) -> list[str]:
        """The head after ``lead``, then each note on a line of its own after ``indent``."""
        return [lead + self.head, *(indent + note for _, note in self.notes)]


@dataclass(frozen=True, slots=True)
class DataCheck:
    """Counts of the labelled data against :class:`DataRequirements`, and what is missing.

    ``needs`` holds one :class:`Need` per unmet requirement, each saying what to label
    ("label 12 more windows of BreakIdle ..."); empty when there is enough. ``missing``: their
    one-line forms.
    """

    windows: int
    days: int
    users: int
    per_class: Mapping[str, int]
    needs: tuple[Need, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(n.line for n in self.needs)

    @property
    def enough(self) -> bool:
        return not self.needs

    @property
    def labels(self) -> int:
        """Labels with at least ``min_class_windows`` windows (counted ones)."""
        return sum(1 for n in self.per_class.values() if n > 0)


def _away_windows(
    minutes: float, have: int, at_edges: int, locked: int, lock_screens: int | None = None
) -> tuple[Note, Note]:
    """Why BreakIdle spans that cover plenty of time hold few windows, and what makes more:
    locking the screen, or, for one who locks, typing a break's start as the clock showed."""
    few = (
        f"your BreakIdle spans cover {round(minutes)} minutes but hold {plural(have, 'window')}"
        + (
            f" that show{'s' if have == 1 else ''} a break and {_edge_windows(at_edges)}"
            if at_edges
            else ""
        )
        + ": a window is a minute in which the window in front changes, which seldom happens "
        "while you are away"
    )
    more: Note = (
        ("; ", _locked_windows(locked))
        if locked
        else (": ", "lock the screen when you step away (each lock is a window)")
        if lock_screens != 0
        else (
            ": ",
            "ActivityWatch has not once shown the lock screen in front on the days you "
            "labelled: if you lock the screen when you step away, aw-watcher-window cannot see "
            "your lock screen (as with some Linux screen lockers, i3lock among them) and your "
            "breaks will seldom make a window; if you do not, lock it (each lock is a window)",
        )
    )
    return ("; ", few), more


def _never_fits(have: int, need: int, span_days: int, lookback_days: int) -> bool:
    """Whether at ``have`` windows in ``span_days`` calendar days the lookback never holds
    ``need`` (its oldest days drop out first)."""
    return need * span_days > have * lookback_days


def _pace(
    have: int,
    need: int,
    days: int,
    lookback_days: int | None = None,
    span_days: int | None = None,
) -> str:
    """How many more labelled days, at the pace so far, bring a label to ``need`` windows;
    or that the lookback never holds that many at this pace (its oldest days drop out).
    ``span_days``: the calendar days from the first labelled day to the last (``days`` when
    not given): the lookback is counted in calendar days, and one who labels weekdays only
    has fewer labelled days in it than its length."""
    if have <= 0 or days <= 0 or have >= need:
        return ""
    pace = f"at your pace so far ({have} in {plural(days, 'labelled day')})"
    span = max(days, span_days or days)
    if lookback_days is not None and _never_fits(have, need, span, lookback_days):
        return (
            f"{pace} the {plural(lookback_days, 'day')} `retrain` looks back never hold "
            f"{need}: it takes more of them a day"
        )
    more = math.ceil((need - have) * days / have)
    return f"{pace} that is about {plural(more, 'more day')} of labels"


# for one whose breaks make no window: taskclf's BreakIdle gates can never pass, so say how
# to have a model without them (DataRequirements.for_gates then asks for no BreakIdle)
_GATES_OFF: Final = (
    "if your breaks will not make windows, you can have a model whose breaks are not checked:"
    " set retrain_min_breakidle_precision = 0 and retrain_min_breakidle_recall = 0 in "
    "daemon.toml (taskclf's two BreakIdle gates off, every other gate kept)"
)


def _locked_windows(n: int) -> str:
    """Lock-screen windows left out of task spans at a switch: breaks typed a minute late."""
    return (
        f"{plural(n, 'window')} on the lock screen fell in a task's span at a switch (left "
        "out): a break starts in the minute the screen locked in, so type the minute the clock "
        "showed (10:32 for a lock at 10:32:40), not the next"
    )


def _edge_windows(n: int) -> str:
    """Windows of a label's spans left out at a switch, where the machine contradicts it."""
    return (
        f"{plural(n, 'more window')} at their edges that the machine saw on the other side of a "
        "switch (left out as not cleanly labelled: `retrain` says why in its `labels:` line)"
    )


def check_data(
    labels: Sequence[str],
    starts: Sequence[datetime],
    user_ids: Sequence[str],
    requirements: DataRequirements = DataRequirements(),
    labelled_minutes: Mapping[str, float] | None = None,
    left_out: Mapping[str, int] | None = None,
    lock_screens: int | None = None,
    lookback_days: int | None = None,
) -> DataCheck:
    """Count labelled windows, UTC days and windows per label; say what a model still needs.
    ``labelled_minutes``: the minutes each label's spans cover (the lookback's), to tell labelled
    breaks that ActivityWatch saw as few windows from breaks not labelled; ``left_out``: each
    label's windows left out at a switch (:attr:`LabelledData.left_out_per_class`);
    ``lock_screens``: the windows on the lock screen, labelled or not, on the days labelled
    (:attr:`LabelledData.lock_screens`; None: not counted), to tell one who never locks, or
    whose lock screen ActivityWatch cannot see, from one who locks; ``lookback_days``: the
    days retrain looks back, which a pace must fit in."""
    r = requirements
    per_class = Counter(labels)
    windows = len(labels)
    dates = {s.astimezone(UTC).date() for s in starts}
    days = len(dates)
    span = (max(dates) - min(dates)).days + 1 if dates else 0
    missing: list[Need] = []
    if windows < r.min_windows:
        missing.append(
            Need(
                f"label {plural(r.min_windows - windows, 'more window')} (have {windows}, "
                f"need {r.min_windows})"
            )
        )
    if days < r.min_days:
        more = r.min_days - days
        missing.append(
            Need(f"label windows on {plural(more, 'more day')} (have {days}, need {r.min_days})")
        )
    for name in r.required:
        have = per_class.get(name, 0)
        if have < r.min_class_windows:
            minutes = (labelled_minutes or {}).get(name, 0.0)
            at_edges = (left_out or {}).get(name, 0)
            # a task's windows are left out only on the lock screen (baseline.contradicts):
            # each a break's lock minute typed into the task before it
            locked = (
                sum(n for k, n in (left_out or {}).items() if k != name)
                if name == "BreakIdle"
                else 0
            )
            # labelled time enough for twice the windows needed, yet few windows in it
            scarce = name == "BreakIdle" and minutes >= 2 * r.min_class_windows
            # breaks that make (almost) no window: none on the lock screen, or too few for
            # the lookback ever to hold enough
            windowless = (
                scarce
                and not locked
                and (
                    lock_screens == 0
                    or have == 0
                    or (
                        lookback_days is not None
                        and _never_fits(have, r.min_class_windows, span, lookback_days)
                    )
                )
            )
            notes: list[Note] = []
            if scarce:
                notes += _away_windows(minutes, have, at_edges, locked, lock_screens)
            else:
                if at_edges:
                    notes.append(("; ", f"its spans hold {_edge_windows(at_edges)}"))
                if locked:
                    notes.append(("; ", _locked_windows(locked)))
            pace = _pace(have, r.min_class_windows, days, lookback_days, span)
            if pace:
                notes.append(("; ", pace))
            if windowless:
                notes.append(("; ", _GATES_OFF))
            missing.append(
                Need(
                    f"label {plural(r.min_class_windows - have, 'more window')} of {name} "
                    f"(have {have}, need {r.min_class_windows}: taskclf's gates check its "
                    "precision and recall)",
                    tuple(notes),
                )
            )
    counted = [c for c in CORE_LABELS if per_class.get(c, 0) >= r.min_class_windows]
    if len(counted) < r.min_labels:
        short = len(set(counted) | set(r.required)) if r.required else len(counted)
        need = r.min_labels - short
        if need > 0:
            # the labels closest to counting first: the cheapest way to get there
            near = sorted(
                (c for c in CORE_LABELS if c not in counted and c not in r.required),
                key=lambda c: (-per_class.get(c, 0), c),
            )
            hints = ", ".join(
                f"{c} ({r.min_class_windows - per_class.get(c, 0)} more)" for c in near[:need]
            )
            missing.append(
                Need(
                    f"label {need} more task{'s' if need > 1 else ''} with "
                    f"{r.min_class_windows} windows each (have {len(counted)} of "
                    f"{r.min_labels}" + (f": {', '.join(counted)}" if counted else "") + "), "
                    f"e.g. {hints}"
                )
            )
    return DataCheck(
        windows=windows,
        days=days,
        users=len(set(user_ids)),
        per_class={c: per_class.get(c, 0) for c in CORE_LABELS},
        needs=tuple(missing),
    )


# --- split -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Split:
    """Row indices (sorted) of taskclf's per-user chronological train/validation/test split."""

    train: IntArray
    val: IntArray
    test: IntArray

    @property
    def evaluation(self) -> IntArray:
        """taskclf scores on the test rows, or on the validation rows when there are none."""
        return self.test if len(self.test) else self.val


def split_by_time(
    user_ids: Sequence[str],
    starts: Sequence[datetime],
    *,
    train_ratio: float = 0.70,
    val_ratio: float = 0.15,
) -> Split:
    """taskclf's ``split_by_time`` without held-out users: per user, sorted by start time,
    the first ``int(n * 0.70)`` rows train, up to ``int(n * 0.85)`` validate, the rest test.

    So a user with 1 to 3 windows has none to validate on (1: test only; 2 and 3: one
    test window); ties in time keep input order.
    """
    if train_ratio + val_ratio > 1.0:
        raise TrainingError(
            f"train_ratio + val_ratio must be <= 1.0 (got {train_ratio} + {val_ratio})"
        )
    if len(user_ids) != len(starts):
        raise TrainingError(
            f"user_ids/starts: expected equal lengths, got {len(user_ids)} and {len(starts)}"
        )
    by_user: dict[str, list[int]] = {}
    for i, uid in enumerate(user_ids):
        by_user.setdefault(uid, []).append(i)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for rows in by_user.values():
        rows.sort(key=lambda i: starts[i])
        n = len(rows)
        train_end = int(n * train_ratio)
        val_end = int(n * (train_ratio + val_ratio))
        train.extend(rows[:train_end])
        val.extend(rows[train_end:val_end])
        test.extend(rows[val_end:])
    return Split(*(np.asarray(sorted(part), dtype=np.intp) for part in (train, val, test)))


def split_gaps(
    split: Split, labels: Sequence[str], requirements: DataRequirements = DataRequirements()
) -> tuple[str, ...]:
    """What the split still lacks for a challenger to be trained and gated: taskclf's own
    refusal (an empty train or validation part) and each ``required`` label missing from the
    evaluation windows (its gates could not be measured)."""
    if not len(split.train) or not len(split.val):
        return ("the train or validation split is empty (taskclf's rule)",)
    truth = {labels[i] for i in split.evaluation}
    return tuple(
        f"no {name} among the evaluation windows (each user's latest 15 %): label some "
        f"{name} time of your last days"
        for name in requirements.required
        if name not in truth
    )


@dataclass(frozen=True, slots=True)
class Assessment:
    """The lookback's labelled windows against what a challenger needs: what `retrain` checks
    before training anything, and what `status` and `doctor` say a first model still needs."""

    data: LabelledData
    check: DataCheck
    split: Split | None  # None while the check says there is not enough
    gaps: tuple[str, ...] = ()  # what the split lacks (split_gaps)


# the columns assess reads of a window: its identity, its schema, the machine's evidence
ASSESSED_COLUMNS: Final = (
    "user_id",
    "bucket_start_ts",
    "bucket_end_ts",
    "schema_version",
    *EVIDENCE_COLUMNS,
)


def assess(
    spans: Sequence[LabelSpan],
    windows: Sequence[Mapping[str, Any]],
    *,
    since: datetime,
    now: datetime,
    schema_version: str | None = None,
    requirements: DataRequirements = DataRequirements(),
) -> Assessment:
    """Project ``spans`` onto ``windows`` (:func:`labelled_data`, windows of the lookback from
    ``since``), check the counts (:func:`check_data`) and, when there are enough, split them
    (:func:`split_by_time`, :func:`split_gaps`). Of a window it reads only
    :data:`ASSESSED_COLUMNS`.

    The spans' minutes are weighed against the windows only on the days a window starts on
    (:attr:`LabelledData.window_days`): of a labelled day whose windows were not read (not
    archived for `status`, not rebuilt from ActivityWatch for `retrain`) nothing is concluded,
    and `status` and `retrain` conclude alike."""
    data = labelled_data(spans, windows, schema_version=schema_version, since=since)
    check = check_data(
        data.labels,
        data.starts,
        data.user_ids,
        requirements,
        span_minutes(spans, since, now, days=data.window_days),
        data.left_out_per_class,
        data.lock_screens,
        round((now - since).total_seconds() / 86400),
    )
    if not check.enough:
        return Assessment(data, check, None)
    split = split_by_time(data.user_ids, data.starts)
    return Assessment(data, check, split, split_gaps(split, data.labels, requirements))


def stand_in_blocks(
    split: Split,
    user_ids: Sequence[str],
    starts: Sequence[datetime],
    blocks: int = STAND_IN_BLOCKS,
) -> tuple[IntArray, ...]:
    """Blocks of the train windows that stand in for more validation windows, the latest first.

    The validation windows are one afternoon of each user, and a reject threshold tuned on
    one afternoon lands the evaluation afternoon's reject rate anywhere from 0 to 0.39 for a
    person's first model (docs/learning.md). Block ``j`` holds each user's ``j``-th last run
    of train windows as long as their validation windows, taken only while at least as many
    train windows come before it (a model trained on later windows scoring the earliest
    ones stood in badly). A model trained on the rest of the train windows and the
    validation windows, as many windows as the challenger, scores the block as the
    challenger scores an afternoon it never saw. Empty blocks are left out; sorted indices.
    """
    by_user: dict[str, list[int]] = {}
    for i in sorted(split.train.tolist(), key=lambda i: starts[i]):
        by_user.setdefault(user_ids[i], []).append(i)
    per_val = Counter(user_ids[i] for i in split.val.tolist())
    out: list[IntArray] = []
    for j in range(1, blocks + 1):
        block: list[int] = []
        for uid, rows in by_user.items():
            m = per_val[uid]
            lo, hi = len(rows) - j * m, len(rows) - (j - 1) * m
            if m and lo >= m:
                block.extend(rows[lo:hi])
        if block:
            out.append(np.asarray(sorted(block), dtype=np.intp))
    return tuple(out)


# --- evaluation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassScores:
    """One class on the evaluation windows: precision, recall, F1 (4 decimals, taskclf's
    ``per_class_metrics`` with ``zero_division=0``), true and predicted counts."""

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Labels (after the reject) against the truth, as taskclf's ``evaluate_model`` scores them.

    Macro-F1 averages over the classes present in the truth, as ``train`` reports it
    (taskclf averages over all eight, so a person who never labels Meet could never pass its
    0.65, and an evaluation slice of one afternoon never holds all eight); a prediction of an
    absent class still costs the true class's recall. Weighted-F1 weights by support, as
    taskclf. A rejected window counts against recall and in ``reject_rate``, never as a
    prediction. ``accuracy`` counts rejected windows as wrong.
    """

    n: int
    macro_f1: float
    weighted_f1: float
    accuracy: float
    reject_rate: float
    per_class: Mapping[str, ClassScores]

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "macro_f1": self.macro_f1,
            "weighted_f1": self.weighted_f1,
            "accuracy": round(self.accuracy, 4),
            "reject_rate": round(self.reject_rate, 4),
            "per_class": {
                c: {
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "support": s.support,
                    "predicted": s.predicted,
                }
                for c, s in self.per_class.items()
            },
        }


def evaluate_labels(y_true: Sequence[str], y_pred: Sequence[str]) -> Evaluation:
    """Score predicted labels (core labels or Mixed/Unknown) against true core labels."""
    if len(y_true) != len(y_pred):
        raise TrainingError(
            f"y_true/y_pred: expected equal lengths, got {len(y_true)} and {len(y_pred)}"
        )
    for name in y_true:
        if name not in LABEL_INDEX:
            raise TrainingError(f"y_true: {name!r} is not a core label")
    for name in y_pred:
        if name not in LABEL_INDEX and name != REJECT_LABEL:
            raise TrainingError(f"y_pred: {name!r} is neither a core label nor {REJECT_LABEL}")
    n = len(y_true)
    per_class: dict[str, ClassScores] = {}
    f1s: dict[str, float] = {}
    for c in CORE_LABELS:
        tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == c and p == c)
        support = sum(1 for t in y_true if t == c)
        predicted = sum(1 for p in y_pred if p == c)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * tp / (support + predicted) if support + predicted else 0.0
        f1s[c] = f1
        per_class[c] = ClassScores(
            round(precision, 4), round(recall, 4), round(f1, 4), support, predicted
        )
    present = [c for c in CORE_LABELS if per_class[c].support]
    macro = sum(f1s[c] for c in present) / len(present) if present else 0.0
    weighted = sum(f1s[c] * per_class[c].support for c in CORE_LABELS) / n if n else 0.0
    correct = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == p)
    rejected = sum(1 for p in y_pred if p == REJECT_LABEL)
    return Evaluation(
        n=n,
        macro_f1=round(macro, 4),
        weighted_f1=round(weighted, 4),
        accuracy=correct / n if n else math.nan,
        reject_rate=rejected / n if n else 0.0,
        per_class=per_class,
    )


def model_probs(model: Model, windows: Sequence[Mapping[str, Any]]) -> FloatArray:
    """``model``'s raw probabilities ``(n, 8)`` for the windows (any ``label`` key ignored).

    A window the model's schema refuses raises :class:`TrainingError` naming its index.
    """
    objs = [{k: v for k, v in w.items() if k != "label"} for w in windows]
    rows = []
    for i, item in enumerate(parse_windows(objs, model.schema)):
        if isinstance(item, WindowError):
            raise TrainingError(f"window {i}: model {model.bundle_id}: {item}")
        rows.append(item.features)
    if not rows:
        return np.empty((0, len(CORE_LABELS)))
    return model.predict_many(np.stack(rows))


def _labels_at(probs: FloatArray, thresholds: Sequence[float]) -> list[str]:
    best = probs.argmax(axis=1)
    confidence = probs[np.arange(len(best)), best]
    return [
        apply_reject(CORE_LABELS[b], float(c), t)
        for b, c, t in zip(best.tolist(), confidence.tolist(), thresholds, strict=True)
    ]


def predicted_labels(
    model: Model,
    windows: Sequence[Mapping[str, Any]],
    *,
    reject_threshold: float,
    calibrator: Calibrator | None = None,
) -> list[str]:
    """``model``'s label for each window: probabilities (calibrated by ``calibrator`` when
    given), rejected below ``reject_threshold`` (the baseline's own threshold for it)."""
    probs = model_probs(model, windows)
    if calibrator is not None:
        probs = calibrator.calibrate(probs)
    fixed = model.fixed_reject_threshold
    threshold = fixed if fixed is not None else reject_threshold
    return _labels_at(probs, [threshold] * len(probs))


def labels_as_deployed(
    model: Model,
    windows: Sequence[Mapping[str, Any]],
    *,
    store: CalibratorStore | None,
    policy: Policy,
) -> list[str]:
    """``model``'s labels as the daemon gives them with ``store`` and ``policy``: each user's
    own calibrator where they have one and may (else the global one), each user's threshold.
    """
    probs = model_probs(model, windows)
    users = [str(w.get("user_id")) for w in windows]
    if store is not None:
        probs, _ = calibrate_rows(store, probs, users, [policy.personalized(u) for u in users])
    fixed = model.fixed_reject_threshold
    thresholds = [fixed if fixed is not None else policy.threshold_for(u) for u in users]
    return _labels_at(probs, thresholds)


# --- the reject threshold ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThresholdTuning:
    """taskclf's ``tune_reject_threshold`` outcome: the threshold, and its sweep.

    ``sweep`` rows are ``(threshold, accuracy on accepted windows, reject rate)``; ``tuned``
    is False when no threshold kept the reject rate in bounds and the fallback was taken.
    """

    threshold: float
    tuned: bool
    sweep: tuple[tuple[float, float, float], ...]
    bounds: tuple[float, float] = (0.05, 0.30)  # the reject rates it chose within
    draws: int | None = None  # what the margin's standard errors were counted over
    gate_draws: int | None = None  # ... and the gate's slice's, when told apart from these
    windows: int = 0  # how many windows it was tuned on
    stand_ins: int = 0  # how many of the "final" tuning's stand-in blocks among them
    margin: float = 0.0  # the standard errors it aimed inside the bounds by
    champion_rate: float | None = None  # over a model: its reject rate on the validation windows
    lowered: bool = False  # whether that rate brought the aim's lower end down

    @property
    def chosen(self) -> tuple[float, float, float] | None:
        return next((row for row in self.sweep if row[0] == self.threshold), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "tuned": self.tuned,
            "bounds": [round(b, 4) for b in self.bounds],
            "effective_n": self.draws,
            "gate_effective_n": self.gate_draws,
            "windows": self.windows,
            "stand_in_blocks": self.stand_ins,
            "margin": self.margin,
            "champion_reject_rate": (
                round(self.champion_rate, 4) if self.champion_rate is not None else None
            ),
            "aim_lowered": self.lowered,
            "sweep": [
                {"threshold": t, "accuracy_on_accepted": a, "reject_rate": r}
                for t, a, r in self.sweep
            ],
        }


def tune_reject_threshold(
    probs: FloatArray,
    y: IntArray,
    *,
    thresholds: Sequence[float] = REJECT_SWEEP,
    reject_rate_min: float = 0.05,
    reject_rate_max: float = 0.30,
    fallback: float = DEFAULT_REJECT_THRESHOLD,
    objective: Literal["accepted", "final"] = "accepted",
    margin: float = 0.0,
    effective_n: int | None = None,
    gate_n: int | None = None,
    stand_ins: int = 0,
    lower_at_most: float | None = None,
) -> ThresholdTuning:
    """taskclf's ``tune_reject_threshold`` on (calibrated) validation probabilities.

    For each threshold: the accuracy on the windows it accepts (confidence >= threshold) and
    the share it rejects. With the defaults, taskclf's rule exactly: the best threshold has
    the highest accuracy on accepted windows among those whose reject rate lies in
    ``[reject_rate_min, reject_rate_max]`` (the first, lowest, on a tie); none in bounds
    leaves ``fallback`` (taskclf's 0.55).

    ``objective="final"`` maximises the final accuracy instead (accepted and right, over all
    windows: a rejected window is never right, as in the guard and the report). ``margin``
    narrows each bound by that many standard errors of a reject rate at that bound, so that
    the evaluation windows' rate, which the gate checks, is not a coin flip around it; the
    narrowed bounds never cross the middle of the gate's. The standard error is over
    ``effective_n`` independent draws (the windows by default; the caller passes the number
    of runs of work when minutes come in runs, which move together: docs/learning.md), and
    the gate's slice's over ``gate_n`` (as many as these by default: two slices of one size).
    ``lower_at_most`` caps the narrowed lower bound (never below ``reject_rate_min``): over a
    model, its own reject rate (recorded, with whether it lowered the bound). When no
    threshold's rate lies in the narrowed bounds, the one
    nearest them within the gate's bounds is taken (the better final accuracy on a tie), else
    ``fallback``.
    ``stand_ins`` says how many of :func:`stand_in_blocks` are among the windows (recorded).
    """
    p = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(y, dtype=np.intp)
    n = len(p)
    best = p.argmax(axis=1) if n else np.empty(0, dtype=np.intp)
    confidence = p[np.arange(n), best] if n else np.empty(0)
    right = best == labels
    sweep: list[tuple[float, float, float, float]] = []
    for t in thresholds:
        accepted = confidence >= t
        rate = float(1.0 - accepted.mean()) if n else 0.0
        acc = float(right[accepted].mean()) if accepted.any() else 0.0
        final = float((right & accepted).mean()) if n else 0.0
        score = acc if objective == "accepted" else final
        sweep.append((round(float(t), 6), round(acc, 4), round(rate, 4), score))
    rows = tuple(row[:3] for row in sweep)
    lo, hi = reject_rate_min, reject_rate_max
    draws = effective_n if effective_n is not None else n
    gate_draws = gate_n if gate_n is not None else draws
    applied = margin if margin > 0 and draws > 0 and gate_draws > 0 else 0.0
    if applied:
        mid = (lo + hi) / 2
        # the evaluation slice's rate differs from this one's by the errors of both
        share = 1 / draws + 1 / gate_draws
        lo = min(lo + applied * math.sqrt(lo * (1 - lo) * share), mid)
        hi = max(hi - applied * math.sqrt(hi * (1 - hi) * share), mid)
    lowered = False
    if lower_at_most is not None:
        narrowed, lo = lo, max(reject_rate_min, min(lo, lower_at_most))
        lowered = lo < narrowed
    told = gate_draws if gate_n is not None else None

    def tuning(threshold: float, tuned: bool) -> ThresholdTuning:
        return ThresholdTuning(
            threshold,
            tuned,
            rows,
            (lo, hi),
            draws,
            told,
            n,
            stand_ins,
            applied,
            lower_at_most,
            lowered,
        )

    inside = [row for row in sweep if lo <= row[2] <= hi]
    if inside:
        # the best score; the first (lowest threshold) on a tie
        return tuning(max(inside, key=lambda row: (row[3], -row[0]))[0], True)
    allowed = [r for r in sweep if reject_rate_min <= r[2] <= reject_rate_max]
    if allowed:
        chosen = min(allowed, key=lambda r: (round(max(lo - r[2], r[2] - hi), 4), -r[3], r[0]))
        return tuning(chosen[0], True)
    return tuning(round(fallback, 4), False)


def confident_sweep(probs: FloatArray) -> tuple[float, ...]:
    """The "final" tuning's thresholds: :data:`FINE_REJECT_SWEEP`, then each confidence above
    its top (0.99) on these windows (at most 200, evenly spaced among them), so that a model
    surer than that of nearly every window can still reject its least sure ones (a sweep
    ending at 0.99 rejects none of them)."""
    p = np.asarray(probs, dtype=np.float64)
    top = FINE_REJECT_SWEEP[-1]
    confidence = p.max(axis=1) if len(p) else np.empty(0)
    above = sorted({round(float(c), 6) for c in confidence if top < round(float(c), 6) < 1.0})
    if len(above) > _CONFIDENT_SWEEP_MAX:  # a big validation set: evenly spaced among them
        picks = np.linspace(0, len(above) - 1, _CONFIDENT_SWEEP_MAX).round().astype(int)
        above = [above[i] for i in sorted(set(picks.tolist()))]
    return (*FINE_REJECT_SWEEP, *above)


def run_ids(
    user_ids: Sequence[str], starts: Sequence[datetime], labels: Sequence[str]
) -> list[int]:
    """Which run of work each window is in: a run is one user's minutes under one label, none
    more than two minutes after the one before (a skipped minute does not end it). Minutes of
    a run are alike, so a rate measured on them varies like a rate over runs, not over
    minutes. Runs are numbered 0, 1, ... by user, then time, and no two users share a number
    (everyone's windows pooled keep their runs apart). Input order does not matter (ties in
    time sort by label)."""
    order = sorted(range(len(user_ids)), key=lambda i: (user_ids[i], starts[i], labels[i]))
    ids = [0] * len(user_ids)
    run = -1
    prev: int | None = None
    for i in order:
        if (
            prev is None
            or user_ids[i] != user_ids[prev]
            or labels[i] != labels[prev]
            or starts[i] - starts[prev] > timedelta(minutes=2)
        ):
            run += 1
        ids[i] = run
        prev = i
    return ids


def label_runs(user_ids: Sequence[str], starts: Sequence[datetime], labels: Sequence[str]) -> int:
    """How many runs of work the windows come in (:func:`run_ids`)."""
    return len(set(run_ids(user_ids, starts, labels)))


# --- per user ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserScore:
    """One user's evaluation windows: accuracy of the final label (a rejected window is
    wrong) under the champion and under the challenger, and the discordant windows: ``lost``
    (the champion right, the challenger not) and ``gained`` (the other way round).
    ``lost_runs`` and ``gained_runs`` count the runs of work (:func:`run_ids`) in which the
    challenger lost more windows than it gained, and the other way round (a run even either
    way counts neither); ``None`` when the runs are not known (each window is then its own
    run)."""

    user_id: str
    windows: int
    champion_accuracy: float
    challenger_accuracy: float
    lost: int = 0
    gained: int = 0
    lost_runs: int | None = None
    gained_runs: int | None = None

    @property
    def delta(self) -> float:
        return self.challenger_accuracy - self.champion_accuracy

    @property
    def p_value(self) -> float:
        """One-sided exact sign test (McNemar's) of the discordant runs of work: the chance of
        ``lost_runs`` or more of them going the champion's way were both models equally good.
        Over runs, not windows: the minutes of a run are alike, so one run the challenger
        takes for another task loses all its minutes at once, and counting them as
        independent would call a single run's loss significant. 1.0 with none discordant."""
        if self.lost_runs is None or self.gained_runs is None:
            return binomial_tail(self.lost, self.lost + self.gained)
        return binomial_tail(self.lost_runs, self.lost_runs + self.gained_runs)

    @property
    def discordant(self) -> str:
        """``N lost and M gained``, and by runs of work (net within each) when known."""
        words = f"{self.lost} lost and {self.gained} gained"
        if self.lost_runs is None or self.gained_runs is None:
            return words
        return f"{words}; by runs of work, {self.lost_runs} lost and {self.gained_runs} gained"

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "windows": self.windows,
            "champion_accuracy": round(self.champion_accuracy, 4),
            "challenger_accuracy": round(self.challenger_accuracy, 4),
            "lost": self.lost,
            "gained": self.gained,
            "lost_runs": self.lost_runs,
            "gained_runs": self.gained_runs,
            "p_value": round(self.p_value, 4),
        }


def binomial_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), exactly."""
    if k <= 0:
        return 1.0
    hits: int = sum(math.comb(n, i) for i in range(k, n + 1))
    return hits / (1 << n)


def user_scores(
    truth: Sequence[str],
    champion: Sequence[str],
    challenger: Sequence[str],
    user_ids: Sequence[str],
    runs: Sequence[int] | None = None,
) -> tuple[UserScore, ...]:
    """Per user (sorted), both models' final-label accuracy on that user's windows; ``runs``
    gives each window's run of work (:func:`run_ids`), which the significance counts over."""
    rows: dict[str, list[int]] = {}
    for i, u in enumerate(user_ids):
        rows.setdefault(u, []).append(i)
    return tuple(
        _score(u, mine, truth, champion, challenger, runs) for u, mine in sorted(rows.items())
    )


def _score(
    user_id: str,
    rows: Sequence[int],
    truth: Sequence[str],
    champion: Sequence[str],
    challenger: Sequence[str],
    runs: Sequence[int] | None,
) -> UserScore:
    cp = [truth[i] == champion[i] for i in rows]
    ch = [truth[i] == challenger[i] for i in rows]
    lost_runs = gained_runs = None
    if runs is not None:
        net: Counter[int] = Counter()  # per run: windows gained - windows lost
        for i, a, b in zip(rows, cp, ch, strict=True):
            net[runs[i]] += int(b) - int(a)
        lost_runs = sum(1 for v in net.values() if v < 0)
        gained_runs = sum(1 for v in net.values() if v > 0)
    return UserScore(
        user_id,
        len(rows),
        sum(cp) / len(rows),
        sum(ch) / len(rows),
        sum(a and not b for a, b in zip(cp, ch, strict=True)),
        sum(b and not a for a, b in zip(cp, ch, strict=True)),
        lost_runs,
        gained_runs,
    )


def pooled_score(
    truth: Sequence[str],
    champion: Sequence[str],
    challenger: Sequence[str],
    runs: Sequence[int] | None = None,
) -> UserScore:
    """Everyone's evaluation windows together, as one :class:`UserScore` named ``everyone``."""
    return _score(EVERYONE, range(len(truth)), truth, champion, challenger, runs)


EVERYONE: Final = "everyone"


# --- gates -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gate:
    """One gate: the measured value, the threshold (a pair for a range), the verdict, why."""

    name: str
    value: float | None
    threshold: float | tuple[float, float]
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        threshold = list(self.threshold) if isinstance(self.threshold, tuple) else self.threshold
        return {
            "name": self.name,
            "value": self.value,
            "threshold": threshold,
            "passed": self.passed,
        }

    @property
    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.detail}"


def _at_least(name: str, value: float, threshold: float, what: str) -> Gate:
    passed = value >= threshold
    sign = ">=" if passed else "<"
    off = " (off: threshold 0)" if threshold <= 0 else ""
    return Gate(name, value, threshold, passed, f"{what} {value:.4f} {sign} {threshold}{off}")


def challenger_gates(ev: Evaluation, t: GateThresholds = GateThresholds()) -> tuple[Gate, ...]:
    """taskclf's acceptance gates on the challenger's evaluation, in CONTRACT section 16's order.

    The precision floor applies to the classes the model predicted at least
    ``min_class_predictions`` times on the evaluation windows (a class it never predicts has
    no precision, one predicted once or twice no estimate of it; its errors cost recall and
    macro-F1 instead); taskclf held every class to it, an unpredicted one as precision 0.
    BreakIdle's gates are taskclf's exactly (a BreakIdle never predicted has precision 0).
    """
    idle = ev.per_class["BreakIdle"]
    predicted = {
        c: s for c, s in ev.per_class.items() if s.predicted >= max(1, t.min_class_predictions)
    }
    low = sorted(
        (s.precision, c) for c, s in predicted.items() if s.precision < t.min_class_precision
    )
    lowest = min(predicted.items(), key=lambda kv: (kv[1].precision, kv[0]), default=None)
    if lowest is None:
        floor = Gate(
            "no_class_below_50_precision",
            None,
            t.min_class_precision,
            False,
            f"no class was predicted {t.min_class_predictions} times on the evaluation windows",
        )
    else:
        detail = (
            f"lowest class precision {lowest[0]} {lowest[1].precision:.4f} >= "
            f"{t.min_class_precision} ({len(predicted)} classes predicted "
            f"{t.min_class_predictions}+ times)"
            if not low
            else "below " + f"{t.min_class_precision}: " + ", ".join(f"{c} {p:.4f}" for p, c in low)
        )
        floor = Gate(
            "no_class_below_50_precision",
            lowest[1].precision,
            t.min_class_precision,
            not low,
            detail,
        )
    rr = ev.reject_rate
    in_range = t.reject_rate_min <= rr <= t.reject_rate_max
    return (
        _at_least(
            "breakidle_precision", idle.precision, t.breakidle_precision, "BreakIdle precision"
        ),
        floor,
        _at_least("macro_f1", ev.macro_f1, t.macro_f1, "macro-F1"),
        _at_least("weighted_f1", ev.weighted_f1, t.weighted_f1, "weighted-F1"),
        _at_least("breakidle_recall", idle.recall, t.breakidle_recall, "BreakIdle recall"),
        Gate(
            "reject_rate_bounds",
            round(rr, 4),
            (t.reject_rate_min, t.reject_rate_max),
            in_range,
            f"reject rate {rr:.4f} {'in' if in_range else 'outside'} "
            f"[{t.reject_rate_min}, {t.reject_rate_max}]",
        ),
    )


def regression_gate(
    champion: Evaluation, challenger: Evaluation, t: GateThresholds = GateThresholds()
) -> Gate:
    """taskclf's ``macro_f1_no_regression``: refused when champion − challenger > tolerance."""
    delta = round(champion.macro_f1 - challenger.macro_f1, 4)
    passed = delta <= t.regression_tolerance
    return Gate(
        "macro_f1_no_regression",
        delta,
        t.regression_tolerance,
        passed,
        f"champion macro-F1 {champion.macro_f1:.4f} - challenger {challenger.macro_f1:.4f} = "
        f"{delta:+.4f} {'<=' if passed else '>'} {t.regression_tolerance}",
    )


def user_regression_gate(
    scores: Sequence[UserScore],
    t: GateThresholds = GateThresholds(),
    everyone: UserScore | None = None,
) -> Gate | None:
    """Not taskclf's: the challenger may not make anyone worse, beyond noise. Each user with
    at least ``user_min_windows`` evaluation windows, and ``everyone`` (all the windows
    together, where a loss of a point is measurable) are compared on final accuracy (a
    rejected window is wrong: what the person sees); the gate fails when one loses more than
    ``user_regression_tolerance`` *and* the loss is significant on the paired runs of work
    (:attr:`UserScore.p_value` below ``user_regression_alpha``). One window of 20 is 5 points,
    and one run of 8 minutes taken for another task is 8 windows lost at once: a drop that
    small is noise, and refusing on it would refuse good challengers at random.
    Value: the largest significant drop (else the largest drop). ``None`` when there is no
    tolerance (turned off).
    """
    tolerance = t.user_regression_tolerance
    if tolerance is None:
        return None
    counted, judged = _judged(scores, t, everyone)
    if not judged:
        return Gate(
            "no_user_regression",
            None,
            tolerance,
            True,
            f"no user has {t.user_min_windows} evaluation windows: nothing to compare per user",
        )

    bad = [s for s in judged if _significant_loss(s, t)]
    worst = max(bad or judged, key=_by_drop)
    drop = round(-worst.delta, 4)
    passed = not bad
    who = "everyone's windows" if worst.user_id == EVERYONE else worst.user_id
    sign = ">" if drop > tolerance else "<="
    verdict = (
        f"a significant loss: p {worst.p_value:.4f} < {t.user_regression_alpha}"
        if _significant_loss(worst, t)
        else (
            f"p {worst.p_value:.4f} >= {t.user_regression_alpha}: within noise"
            if drop > tolerance
            else "within the tolerance"
        )
    )
    return Gate(
        "no_user_regression",
        drop,
        tolerance,
        passed,
        (
            "largest final-accuracy drop" + (" found significant" if bad else "")
            if drop > 0
            else "no final-accuracy drop, the smallest gain"
        )
        + f" of {plural(len(counted), 'user')} and everyone together: {who} "
        f"{worst.champion_accuracy:.4f} -> {worst.challenger_accuracy:.4f} on "
        f"{plural(worst.windows, 'window')}, {worst.discordant} "
        + (f"({drop:+.4f} {sign} {tolerance}; {verdict})" if drop > 0 else f"(+{-drop:.4f})")
        + (f"; {len(bad)} significant" if len(bad) > 1 else ""),
    )


def _significant_loss(s: UserScore, t: GateThresholds) -> bool:
    """Whether ``s`` fails the per-user gate: a drop beyond its tolerance, and significant."""
    tolerance = t.user_regression_tolerance
    return (
        tolerance is not None
        and round(-s.delta, 4) > tolerance
        and s.p_value < t.user_regression_alpha
    )


def _by_drop(s: UserScore) -> tuple[float, str]:
    return (round(-s.delta, 4), s.user_id)


def _judged(
    scores: Sequence[UserScore], t: GateThresholds, everyone: UserScore | None
) -> tuple[list[UserScore], list[UserScore]]:
    """The users with enough evaluation windows to be judged alone, and with them everyone's
    windows together: what the per-user gate judges."""
    counted = [s for s in scores if s.windows >= t.user_min_windows]
    return counted, counted + ([everyone] if everyone is not None and everyone.windows else [])


def worst_loss(
    scores: Sequence[UserScore], t: GateThresholds, everyone: UserScore | None = None
) -> UserScore | None:
    """The largest significant loss the per-user gate refused on (``None``: it did not)."""
    _, judged = _judged(scores, t, everyone)
    bad = [s for s in judged if _significant_loss(s, t)]
    return max(bad, key=_by_drop) if bad else None


# --- the decision ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelScore:
    """A model's id and, when it was scored, its evaluation on the evaluation windows."""

    bundle_id: str
    evaluation: Evaluation | None = None

    def to_json(self) -> dict[str, Any]:
        ev = self.evaluation
        return {
            "bundle_id": self.bundle_id,
            "macro_f1": ev.macro_f1 if ev else None,
            "weighted_f1": ev.weighted_f1 if ev else None,
        }


@dataclass(frozen=True, slots=True)
class RetrainReport:
    """The decision, every gate, champion vs challenger, and the lines that explain it."""

    decision: Decision
    due: Due
    gates: tuple[Gate, ...]
    champion: ModelScore
    challenger: ModelScore | None
    lines: tuple[str, ...]
    data: DataCheck | None = None
    dataset: Mapping[str, Any] = field(default_factory=dict)
    split: Mapping[str, int] = field(default_factory=dict)
    per_user: tuple[UserScore, ...] = ()
    tuning: ThresholdTuning | None = None
    # the "why" lines among ``lines``: what a refusal's wrong windows were, what to label
    advice: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """CONTRACT section 16's object (``decision``, ``gates``, ``champion``,
        ``challenger``), plus the explanation, the data, the split, the challenger's reject
        threshold and every user's accuracy under both models."""
        return {
            "decision": self.decision,
            "gates": [g.to_json() for g in self.gates],
            "champion": self.champion.to_json(),
            "challenger": self.challenger.to_json() if self.challenger else None,
            "due": {"due": self.due.due, "reason": self.due.reason},
            "data": _data_json(self.data),
            "dataset": dict(self.dataset),
            "split": dict(self.split),
            "reject_threshold": self.tuning.to_json() if self.tuning else None,
            "per_user": [u.to_json() for u in self.per_user],
            "explanation": list(self.lines),
        }


def _data_json(data: DataCheck | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {
        "windows": data.windows,
        "days": data.days,
        "users": data.users,
        "per_class": dict(data.per_class),
        "missing": list(data.missing),
    }


@dataclass(frozen=True, slots=True)
class RetrainConfig:
    """Everything that tunes a run (taskclf's ``RetrainConfig`` plus our data requirements)."""

    cadence_days: int = CADENCE_DAYS
    lookback_days: int = LOOKBACK_DAYS
    # the challenger's threshold when none is tuned ("raw", or no threshold in the sweep kept
    # the reject rate in bounds): taskclf's DEFAULT_REJECT_THRESHOLD
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD
    gates: GateThresholds = GateThresholds()
    requirements: DataRequirements = DataRequirements()
    rounds: int = 100  # DEFAULT_NUM_BOOST_ROUND
    seed: int = 0
    user_id_feature: bool = True
    # LightGBM's threads for the challenger and its stand-ins. One: on 2 cores as fast as
    # LightGBM's default for 11,400 windows (10.4 s against 10.9 s per retrain), and 3x as
    # fast beside a busy core (a first model 1.6-1.9 s against 5-8.5 s: OpenMP's threads
    # spin-wait for a core the desktop, the daemon or a test is using); 0 is LightGBM's choice
    num_threads: int = 1
    # taskclf's evaluate_model modes: "raw" is what its retrain scores; "calibrated_reject"
    # scores what ships (see run_retrain)
    eval_mode: Literal["raw", "calibrated_reject"] = "calibrated_reject"
    # how the challenger's reject threshold is tuned on the validation windows: "taskclf"
    # is its tune_reject_threshold exactly; "final" the best final accuracy with the reject
    # rate inside the gate's bounds by 2 standard errors (see tune_reject_threshold)
    threshold_tuning: Literal["taskclf", "final"] = "final"
    # "final" also tunes on this many stand-in blocks of the train windows (stand_in_blocks)
    stand_in_blocks: int = STAND_IN_BLOCKS
    # how many standard errors "final" aims inside the gate's reject-rate bounds
    reject_margin: float = 2.0
    # over a model, "final" aims no higher than the champion's own reject rate on the
    # validation windows (never below the gate's floor): a challenger refused for its reject
    # rate leaves that model labelling, while each point it rejects more than the champion
    # costs everyone final accuracy, which the per-user gate counts (docs/learning.md, step 7)
    aim_at_champion_rejects: bool = True
    # the per-user gate's sign test counts runs of work (False: each window, as before)
    user_runs: bool = True
    # LightGBM parameters on top of taskclf's for the challenger and its stand-ins (the
    # benches compare others on the same rows)
    challenger_params: Mapping[str, Any] = field(
        default_factory=lambda: CHALLENGER_PARAMS, hash=False
    )

    def __post_init__(self) -> None:
        if not (math.isfinite(self.reject_margin) and self.reject_margin >= 0):
            raise ValueError(
                f"reject_margin: expected a finite number >= 0, got {self.reject_margin}"
            )


@dataclass(frozen=True, slots=True)
class RetrainOutcome:
    """The report, and when one was trained the challenger's files (lineage in its metadata),
    the labelled data and the split (the calibration step needs them)."""

    report: RetrainReport
    challenger: TrainedBundle | None = None
    data: LabelledData | None = None
    split: Split | None = None
    # the challenger's global calibrator (fitted on the validation windows, and on the
    # stand-in blocks with "final") and the reject threshold it was gated at: what it is
    # deployed with
    calibrator: Calibrator | None = None
    reject_threshold: float | None = None
    # the challenger loaded (its metadata with the lineage), as it was scored
    model: ModelBundle | None = None

    @property
    def calibration_rows(self) -> IntArray:
        """Rows the challenger did not train on (validation + test): what to calibrate on."""
        if self.split is None:
            return np.empty(0, dtype=np.intp)
        return np.sort(np.concatenate([self.split.val, self.split.test]))


def calibrate_challenger(
    outcome: RetrainOutcome,
    bundle: Model,
    *,
    created_at: str,
    opt_out: Collection[str] = (),
    personalization: bool = True,
) -> CalibrationOutcome:
    """A passing challenger's store (CONTRACT 16): the global temperature it was gated with,
    and per-user calibrators where the guard of CONTRACT 14 keeps them, fitted on the windows
    it did not train on (:attr:`RetrainOutcome.calibration_rows`), judged at the reject
    threshold it is deployed with. ``opt_out`` users (everyone without ``personalization``)
    keep the global one."""
    from taskclf_core.vetting import vet_probs

    data = outcome.data
    threshold = outcome.reject_threshold
    if data is None or threshold is None:
        raise TrainingError("no challenger was trained: nothing to calibrate")
    rows = outcome.calibration_rows.tolist()
    users = [data.user_ids[i] for i in rows]
    return vet_probs(
        model_probs(bundle, [data.windows[i] for i in rows]),
        np.asarray([LABEL_INDEX[data.labels[i]] for i in rows], dtype=np.intp),
        users,
        [data.starts[i] for i in rows],
        bundle_id=bundle.bundle_id,
        schema_hash=bundle.schema_hash,
        method="temperature",
        opt_out=sorted(set(opt_out) | (set() if personalization else set(users))),
        created_at=created_at,
        global_calibrator=outcome.calibrator,
        reject_threshold=threshold,  # eligibility: vet_probs' defaults, personalize's
    )


def dataset_hash(data: LabelledData) -> str:
    """16 hex of SHA-256 over the labelled rows in (user, start) order: the data's identity."""
    digest = hashlib.sha256()
    order = sorted(range(len(data)), key=lambda i: (data.user_ids[i], data.starts[i]))
    for i in order:
        row = dict(data.windows[i]) | {"label": data.labels[i]}
        digest.update(json.dumps(row, sort_keys=True, separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def _most_first(counts: Counter[str]) -> list[tuple[str, int]]:
    """Labels by count, most first (ties by name)."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


# a label with fewer training windows than this is worth labelling more of when the
# challenger takes its windows for another class; with more, the labels are what to check
_FEW_TRAINING_WINDOWS: Final = 50


def _minutes(
    times: Sequence[datetime], users: Sequence[str], labels: Sequence[str] | None = None
) -> str:
    """Up to five evaluation windows' minutes, earliest first, for the person to check: each
    after the label it had (``labels``, when given) and whose it is (when several users')."""
    whose = len(set(users)) > 1

    def tag(i: int) -> str:
        label = [labels[i]] if labels is not None else []
        parts = label + ([f"user {users[i]}"] if whose else [])
        return " of ".join(parts) + " " if parts else ""

    order = sorted(range(len(times)), key=lambda i: times[i])
    return ", ".join(
        tag(i) + times[i].astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") for i in order[:5]
    ) + (", …" if len(times) > 5 else "")


def _precision_misses(
    truth: Sequence[str],
    predicted: Sequence[str],
    starts: Sequence[datetime],
    users: Sequence[str],
    trained: Mapping[str, int],
    ev: Evaluation,
    gates: Sequence[Gate],
    t: GateThresholds,
) -> list[str]:
    """For each class a failed precision gate is about, what its wrong windows really were and
    when: what to label more of (a label with few training windows, ``trained``) or to check,
    in the person's terms."""
    failed = {g.name for g in gates if not g.passed}
    classes = []
    if "breakidle_precision" in failed:
        classes.append("BreakIdle")
    if "no_class_below_50_precision" in failed:
        classes += sorted(
            c
            for c, s in ev.per_class.items()
            if c != "BreakIdle"
            and s.predicted >= max(1, t.min_class_predictions)
            and s.precision < t.min_class_precision
        )

    out = []
    for c in classes:
        said = sum(p == c for p in predicted)
        if not said:
            taken = Counter(p for y, p in zip(truth, predicted, strict=True) if y == c)
            n = sum(taken.values())
            if not n:
                out.append(
                    f"why {c}: no evaluation window is labelled {c} and the challenger said it "
                    f"for none (taskclf counts that precision as 0): label some {c} time of "
                    "your last days, then retrain"
                )
                continue
            out.append(
                f"why {c}: the challenger never said {c}; its "
                f"{plural(n, 'labelled window')} {'was' if n == 1 else 'were'} taken for "
                + ", ".join(f"{p} {n}" for p, n in _most_first(taken))
                + f": label more {c} time, then retrain"
            )
            continue
        wrong = [
            (y, at, u)
            for y, p, at, u in zip(truth, predicted, starts, users, strict=True)
            if p == c and y != c
        ]
        most = _most_first(Counter(y for y, _, _ in wrong))
        # advice about the labels that make up a quarter of the wrong windows or more (the
        # first always): a stray one or two is no lead
        major = [y for i, (y, n) in enumerate(most) if i == 0 or 4 * n >= len(wrong)]
        few = [y for y in major if trained.get(y, 0) < _FEW_TRAINING_WINDOWS]
        plenty = [y for y in major if y not in few]
        fix = "; ".join(
            ([f"label more {', '.join(few)} time"] if few else [])
            + (
                [
                    f"check the labels of the {', '.join(plenty)} minutes (if they are right, "
                    f"those minutes look like {c} in what ActivityWatch saw: the same apps and "
                    "titles)"
                ]
                if plenty
                else []
            )
        )
        when = _minutes([at for _, at, _ in wrong], [u for *_, u in wrong], [y for y, *_ in wrong])
        out.append(
            f"why {c}: the challenger said {c} for {plural(said, 'evaluation window')}, "
            f"{said - len(wrong)} of them labelled {c}; the others were "
            + ", ".join(f"{y} {n}" for y, n in most)
            + f" ({when}): {fix}, then retrain"
        )
    return out


def _recall_miss(
    truth: Sequence[str],
    predicted: Sequence[str],
    starts: Sequence[datetime],
    users: Sequence[str],
    windows: Sequence[Mapping[str, Any]],
) -> str:
    """Why BreakIdle recall failed: which labelled break windows the challenger took for what,
    and when (the person can check those minutes). A missed window on the lock screen is the
    minute the screen locked in, which holds the work of the seconds before the lock: locking
    is not what is missing there, more labelled breaks are."""
    missed = [
        i
        for i, (y, p) in enumerate(zip(truth, predicted, strict=True))
        if y == "BreakIdle" and p != "BreakIdle"
    ]
    breaks = sum(y == "BreakIdle" for y in truth)
    taken = Counter(predicted[i] for i in missed)
    locked = sum(on_lock_screen(windows[i]) for i in missed)
    when = _minutes([starts[i] for i in missed], [users[i] for i in missed])
    share = f"each is {100 / breaks:.0f} points of recall"
    if missed and locked == len(missed):
        why = (
            f": {'each was' if locked > 1 else 'that was'} the minute the screen locked in, "
            "which also holds the work of the seconds before the lock. A break makes few "
            f"windows, so here {share}: label more days with breaks (the model learns such "
            "minutes from them), then retrain"
        )
    else:
        why = (
            (f" ({locked} on the lock screen: the minute it locked in)" if locked else "")
            + ": check that you were away then. A break makes few windows (the minute the "
            f"screen locks), so here {share}: lock the screen when you step away, label more "
            "breaks, then retrain"
        )
    return (
        f"why BreakIdle recall: {plural(breaks, 'evaluation window')} labelled BreakIdle, "
        f"{len(missed)} of them taken for "
        + ", ".join(f"{p} {n}" for p, n in _most_first(taken))
        + f" ({when})"
        + why
    )


def _reject_miss(
    tuning: ThresholdTuning, ev: Evaluation, runs: int, champion_rate: float | None, floor: float
) -> str:
    """Why the reject rate missed the gate's bounds: the afternoon it is measured on, and,
    below the floor where the model in force (``champion_rate``: its rate on the same windows;
    None over the rule baseline) is below it too, that floor: a challenger as sure of those
    windows as the champion must reject more than it to pass."""
    chosen = tuning.chosen
    on_val = f"{chosen[2]:.4f}" if chosen is not None else "none in bounds"
    tuned_on = (
        f"the windows it was tuned on ({plural(tuning.stand_ins, 'stand-in block')} with the "
        "validation windows)"
        if tuning.stand_ins
        else "the validation windows"
    )
    lowered = (
        f" (aimed near the champion's own {tuning.champion_rate:.4f}, not above it: the "
        "champion labels on meanwhile)"
        if tuning.lowered and tuning.champion_rate is not None
        else ""
    )
    under = (
        f", where the champion rejects {champion_rate:.4f}, under the gate's floor of {floor:g} "
        "too (`retrain_min_reject_rate`; taskclf's 0.05)"
        if champion_rate is not None and ev.reject_rate < floor and champion_rate < floor
        else ""
    )
    return (
        f"why reject rate: at {tuning.threshold} {tuned_on} rejected {on_val}{lowered} and "
        f"the evaluation windows {ev.reject_rate:.4f}{under}; those {plural(ev.n, 'window')} "
        f"come in {plural(runs, 'run')} of work, and a rate over so few moves a run at a time: "
        "label more days (the evaluation windows are each user's latest 15 %), then retrain"
    )


def _user_loss(
    worst: UserScore,
    truth: Sequence[str],
    champion: Sequence[str],
    challenger: Sequence[str],
    users: Sequence[str],
    *,
    pooled: bool,
    floor: float | None,
) -> str:
    """Why the per-user gate refused: what the challenger did with the evaluation windows of
    ``worst`` (one user's, or everyone's when ``pooled``) that the champion got right
    (rejected them, or took them for another task), and what to label. ``floor``: taskclf's
    reject-rate floor when the challenger's threshold was aimed at it (it rejects at least
    that much because the gate asks it to), else ``None``."""
    rows = [i for i, u in enumerate(users) if pooled or u == worst.user_id]
    lost = [i for i in rows if champion[i] == truth[i] != challenger[i]]
    rejected = sum(challenger[i] == REJECT_LABEL for i in lost)
    swaps = Counter(f"{truth[i]} as {challenger[i]}" for i in lost if challenger[i] != REJECT_LABEL)
    whose = "everyone's" if pooled else f"{worst.user_id}'s"

    def rate(labels: Sequence[str]) -> float:
        return sum(labels[i] == REJECT_LABEL for i in rows) / len(rows)

    def pct(x: float) -> str:
        return f"{100 * x:.1f} %".replace(".0 %", " %")

    parts = []
    if rejected:
        parts.append(
            f"{rejected} it rejected (it rejects {pct(rate(challenger))} of them, the champion "
            f"{pct(rate(champion))})"
        )
    if swaps:
        top = ", ".join(f"{swap} {n}" for swap, n in _most_first(swaps)[:3])
        parts.append(f"{sum(swaps.values())} it took for another task ({top})")
    if rejected * 2 > len(lost):
        todo = "mostly rejects: a challenger sure of more of them needs more labelled days"
        if pooled and floor is not None and rate(champion) < floor:
            todo += (
                f" (its threshold was aimed at taskclf's reject gate's floor, "
                f"{pct(floor)} of the evaluation windows, more than the champion rejects)"
            )
        todo += ": label more days, then retrain"
    else:
        task = _most_first(Counter(truth[i] for i in lost if challenger[i] != REJECT_LABEL))
        todo = (
            ("mostly other tasks" if rejected * 2 < len(lost) else "as many other tasks")
            + f": label more of {whose} {task[0][0]} (a person's own labels teach the "
            "challenger their habits), then retrain"
        )
    return (
        f"why no_user_regression: of {whose} {plural(len(rows), 'evaluation window')}, the "
        f"champion got {len(lost)} right that the challenger did not: {' and '.join(parts)}; "
        f"{todo}"
    )


def _no_input(lacking: Sequence[bool], evaluation: Sequence[int]) -> str | None:
    """Why a refusal may be the data's, not the labels': half the labelled windows, or half
    the evaluation windows (a watcher that stopped lately), have no keyboard or mouse data.
    ``lacking``: per labelled window; ``evaluation``: the evaluation windows' indices."""
    n, without = len(lacking), sum(lacking)
    n_eval, eval_without = len(evaluation), sum(lacking[i] for i in evaluation)
    if not any(m and 2 * k >= m for k, m in ((without, n), (eval_without, n_eval))):
        return None
    return (
        f"why no keyboard or mouse data: {without} of {plural(n, 'labelled window')} have "
        f"none ({eval_without} of the {n_eval} evaluation windows), as from ActivityWatch "
        "without aw-watcher-input (its default install has no such watcher): with only the "
        "window in front, tasks done in the same apps look alike (reading docs while building "
        "and while researching) and models are refused far more often: install "
        "aw-watcher-input and keep it running, then label a few more days and retrain"
    )


def _few_windows(n: int) -> str:
    """Why a refusal on few evaluation windows may be the slice's, not the model's."""
    return (
        f"why few windows: the gates judged it on {plural(n, 'evaluation window')} (each "
        f"user's latest 15 %); on fewer than {SURE_EVALUATION_WINDOWS} their values move a "
        "lot from one slice to the next and models are refused more often: label more days, "
        "then retrain"
    )


def _typed_line(data: LabelledData) -> str:
    who = "; ".join(
        f"{'spans for any user' if s.user_id is None else f'user {s.user_id}'} typed to "
        + ("the minute" if s.minutes == 1 else f"{s.minutes} minutes")
        + f" ({s.on_step} of {s.edges} span edges on the mark)"
        for s in data.typed
    )
    margins = sorted({s.minutes / 2 for s in data.typed})
    coarse = any(s.coarse for s in data.typed)
    return (
        f"labels: {who}: such a switch may lie up to "
        + " or ".join("30 seconds" if m == 0.5 else f"{m:g} minutes" for m in margins)
        + " either side, so a window that close may hold some of both tasks; "
        f"{plural(data.left_out, 'window')} that close to one whose activity contradicts the "
        "label (labelled BreakIdle yet active by taskclf's idle rule, or labelled a task on the "
        f"lock screen) {'is' if data.left_out == 1 else 'are'} left out as not cleanly "
        "labelled and not counted above"
        + (" (label to the minute to keep most of them)" if coarse else "")
    )


def _class_line(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{c} {n}" for c, n in counts.items() if n) or "none"


def _tuning_words(tuning: ThresholdTuning, gates: GateThresholds, *, final: bool) -> str:
    """How the challenger's reject threshold was chosen, for the explanation."""
    bounds = f"[{gates.reject_rate_min}, {gates.reject_rate_max}]"
    chosen = tuning.chosen
    if not tuning.tuned or chosen is None:
        swept = f" from {tuning.sweep[0][0]} to {tuning.sweep[-1][0]}" if tuning.sweep else ""
        rate = (
            "the tuned-on windows' reject rate"
            if tuning.stand_ins
            else "the validation reject rate"
        )
        return f"taskclf's fallback: no threshold{swept} kept {rate} in the gate's {bounds}"
    got = f"accuracy {chosen[1]:.4f} on the accepted ones, reject rate {chosen[2]:.4f}"
    if not final:
        return (
            "tuned on the validation windows as taskclf's tune_reject_threshold: the best "
            f"accuracy on the accepted windows with the reject rate in {bounds}: {got}"
        )
    lo, hi = tuning.bounds
    middle = (gates.reject_rate_min + gates.reject_rate_max) / 2
    aim = (
        f"a reject rate of {lo:.3f}" if hi - lo < 5e-4 else f"a reject rate in [{lo:.3f}, {hi:.3f}]"
    )
    capped = ", no further than the middle" if abs(hi - middle) < 5e-4 else ""
    missed = (
        ""
        if lo <= chosen[2] <= hi
        else "; no threshold reached it: the nearest in the gate's bounds"
    )
    champ = tuning.champion_rate
    if champ is None:
        lowered = ""
    elif tuning.lowered:
        lowered = (
            f"; its lower end brought down to the champion's reject rate on the validation "
            f"windows, {champ:.3f}"
            if lo > gates.reject_rate_min
            else f"; its lower end brought down to the gate's floor, the champion rejecting "
            f"{champ:.3f} of the validation windows"
        ) + (
            ": a challenger refused for its reject rate leaves the champion labelling, while "
            "each point it rejects more costs everyone final accuracy"
        )
    else:
        lowered = f"; the champion rejects {champ:.3f} of the validation windows"
    runs = plural(tuning.draws or 0, "run")
    on, between = (
        (
            "the same windows",
            f"their rate, over the {runs} of work in them, and the evaluation windows', over "
            f"about as many runs as the validation windows' {tuning.gate_draws}",
        )
        if tuning.stand_ins
        else (
            "the validation windows",
            f"two slices' rates over the {runs} of work in the validation windows",
        )
    )
    why = (
        f"the gate's {bounds} narrowed by {tuning.margin:g} standard errors of the difference "
        f"between {between}{capped}{lowered}"
        if tuning.margin
        else f"the gate's {bounds}{lowered}"
    )
    return (
        f"tuned on {on}: the best final accuracy (a rejected window counts as wrong) aiming at "
        f"{aim} ({why}){missed}: {got}"
    )


def _train_as_challenger(
    rows: Sequence[Mapping[str, Any]],
    at: IntArray,
    version: str,
    now: datetime,
    config: RetrainConfig,
) -> TrainedBundle:
    """A LightGBM trained on these rows as the challenger is (``config``'s rounds, seed,
    threads and ``user_id`` feature, the champion's schema ``version``)."""
    return train_challenger(
        [rows[i] for i in at.tolist()],
        schema_version=version,
        created_at=format_ts(now),
        user_id_feature=config.user_id_feature,
        rounds=config.rounds,
        seed=config.seed,
        num_threads=config.num_threads,
        extra_params=config.challenger_params,
    )


def _stand_in_probs(
    rows: Sequence[Mapping[str, Any]],
    split: Split,
    block: IntArray,
    version: str,
    now: datetime,
    config: RetrainConfig,
) -> FloatArray:
    """A stand-in block's probabilities from a model trained as the challenger on the train
    and validation windows without the block: how the challenger scores windows it never saw.
    """
    keep = np.setdiff1d(np.concatenate([split.train, split.val]), block)
    trained = _train_as_challenger(rows, keep, version, now, config)
    model = bundle_from_text(
        "stand-in", model_text=trained.model_text, metadata=trained.metadata,
        encoders=trained.encoders,
    )  # fmt: skip
    return model_probs(model, [rows[i] for i in block.tolist()])


def run_retrain(
    champion: Model,
    windows: Sequence[Mapping[str, Any]],
    spans: Sequence[LabelSpan],
    *,
    now: datetime,
    champion_created_at: str | None,
    challenger_id: str,
    config: RetrainConfig = RetrainConfig(),
    force: bool = False,
    champion_store: CalibratorStore | None = None,
    champion_policy: Policy | None = None,
) -> RetrainOutcome:
    """taskclf's ``run_retrain_pipeline``, pure: due? enough data? split, train, gate, decide.

    ``windows`` are archived feature windows (the shell reads those of the last
    ``lookback_days``; older ones are left out here too), ``spans`` the label spans,
    ``champion`` the model in force (a bundle, or the baseline when there is none) and
    ``champion_created_at`` its training date. The challenger is trained on the champion's
    schema version with ``user_id`` as a categorical feature, scored on the evaluation
    windows, and so is the champion; the decision is ``deployed`` only when every gate passes.
    ``now`` and ``challenger_id`` (the directory name the shell will give it) come from the
    shell: the core reads no clock.

    Scoring (``config.eval_mode``): taskclf's retrain scores raw probabilities, but what ships
    is calibrated and rejected, and a LightGBM fresh from training is over-confident. So by
    default both models are scored as they label (taskclf's ``calibrated_reject`` mode): the
    challenger through a global temperature fitted on the validation windows, rejected at the
    threshold taskclf's ``tune_reject_threshold`` picks on those calibrated validation
    probabilities (what it is deployed with; the "final" tuning fits both on the validation
    windows and :func:`stand_in_blocks` of the train windows); the champion as the daemon
    runs it, with ``champion_store`` (per-user calibrators where the policy allows them) and
    ``champion_policy``'s thresholds (the baseline rejects by its own rule).
    """
    version = champion.schema.version
    due = retrain_due(
        champion_created_at,
        now=now,
        cadence_days=config.cadence_days,
        force=force,
        model_id=f"model {champion.bundle_id}",
    )
    lines = [f"{'due' if due.due else 'not due'}: {due.reason}"]
    champ = ModelScore(champion.bundle_id)
    if not due.due:
        lines.append("decision: not_due (nothing trained)")
        return RetrainOutcome(RetrainReport("not_due", due, (), champ, None, tuple(lines)))

    since = now - timedelta(days=config.lookback_days)
    assessed = assess(
        spans,
        windows,
        since=since,
        now=now,
        schema_version=version,
        requirements=config.requirements,
    )
    data, check = assessed.data, assessed.check
    skipped = [f"{data.other_schema} of another schema"] if data.other_schema else []
    if data.duplicates:
        skipped.append(plural(data.duplicates, "duplicate"))
    lines.append(
        f"data: {plural(data.seen, f'archived {version} window')} since {format_ts(since)} "
        f"(the last {config.lookback_days} days)"
        + (f", skipped {', '.join(skipped)}" if skipped else "")
        + f"; {len(data)} lie inside a label span of their user (strict containment): "
        f"{plural(check.users, 'user')}, {plural(check.days, 'day')}; "
        f"{_class_line(check.per_class)}"
    )

    if data.left_out or any(s.coarse for s in data.typed):
        lines.append(_typed_line(data))

    def not_enough(why: Sequence[Need]) -> RetrainOutcome:
        for need in why:
            lines.extend(need.lines("not enough data: ", "  "))
        lines.append("decision: not_enough_data (nothing trained)")
        report = RetrainReport("not_enough_data", due, (), champ, None, tuple(lines), check)
        return RetrainOutcome(report, data=data)

    split = assessed.split
    if split is None:
        return not_enough(check.needs)
    sizes = {"train": len(split.train), "val": len(split.val), "test": len(split.test)}
    lines.append(
        f"split per user by time 70/15/15: {sizes['train']} train, {sizes['val']} validation, "
        f"{sizes['test']} test windows; evaluated on the "
        + ("test" if sizes["test"] else "validation")
        + f" windows ({len(split.evaluation)})"
    )
    if assessed.gaps:
        return not_enough([Need(gap) for gap in assessed.gaps])
    eval_truth = [data.labels[i] for i in split.evaluation]

    def runs_of(at: IntArray) -> list[int]:
        """The run of work each of these rows is in (run_ids)."""
        return run_ids(
            [data.user_ids[i] for i in at.tolist()],
            [data.starts[i] for i in at.tolist()],
            [data.labels[i] for i in at.tolist()],
        )

    def runs(at: IntArray) -> int:
        """How many runs of work these rows come in."""
        return len(set(runs_of(at)))

    rows = data.with_labels()
    features, _ = challenger_columns(version, user_id_feature=config.user_id_feature)
    trained = _train_as_challenger(rows, split.train, version, now, config)
    challenger = bundle_from_text(
        challenger_id,
        model_text=trained.model_text,
        metadata=trained.metadata,
        encoders=trained.encoders,
    )
    eval_windows = [data.windows[i] for i in split.evaluation]
    eval_users = [data.user_ids[i] for i in split.evaluation]
    policy = champion_policy or Policy()
    ch_cal: Calibrator | None = None
    tuning: ThresholdTuning | None = None
    threshold = config.reject_threshold
    if config.eval_mode == "calibrated_reject":
        final = config.threshold_tuning == "final"
        # what the challenger's temperature and threshold are fitted on: windows no model
        # that scored them trained on (the validation windows, and for "final" the stand-ins)
        tune_rows = [split.val]
        tune_probs = [model_probs(challenger, [data.windows[i] for i in split.val])]
        blocks = config.stand_in_blocks if final else 0
        for block in stand_in_blocks(split, data.user_ids, data.starts, blocks):
            tune_rows.append(block)
            tune_probs.append(_stand_in_probs(rows, split, block, version, now, config))
        tuned_on = np.concatenate(tune_rows)
        probs = np.vstack(tune_probs)
        tune_y = np.asarray([LABEL_INDEX[data.labels[i]] for i in tuned_on], dtype=np.intp)
        ch_cal, fit = fit_temperature_calibrator(
            probs, tune_y, bounds=CHALLENGER_TEMPERATURE_BOUNDS
        )
        calibrated = ch_cal.calibrate(probs)
        lower_at_most = None
        if final and config.aim_at_champion_rejects and champion.fixed_reject_threshold is None:
            # the model in force's reject rate on the validation windows, as the daemon runs it
            val_windows = [data.windows[i] for i in split.val]
            said = labels_as_deployed(champion, val_windows, store=champion_store, policy=policy)
            if said:
                lower_at_most = sum(label == REJECT_LABEL for label in said) / len(said)
        tuning = tune_reject_threshold(
            calibrated,
            tune_y,
            reject_rate_min=config.gates.reject_rate_min,
            reject_rate_max=config.gates.reject_rate_max,
            fallback=config.reject_threshold,
            thresholds=confident_sweep(calibrated) if final else REJECT_SWEEP,
            objective="final" if final else "accepted",
            margin=config.reject_margin if final else 0.0,
            effective_n=runs(tuned_on),
            # the evaluation slice, the gate's, holds about as many runs as the validation one
            gate_n=runs(split.val) if final else None,
            stand_ins=len(tune_rows) - 1,
            lower_at_most=lower_at_most,
        )
        threshold = tuning.threshold
        tuned = _tuning_words(tuning, config.gates, final=final)
        scored = (
            f"scored as they label: the challenger through a temperature of "
            f"{fit.temperature:.3f} fitted on "
            + (
                f"{plural(len(tuned_on), 'window')} no model that scored them trained on (the "
                f"validation windows and {plural(tuning.stand_ins, 'stand-in block')} of the "
                "latest train windows, each scored by a model trained as the challenger "
                "without it)"
                if tuning.stand_ins
                else "the validation windows"
            )
            + (
                " (its floor: a temperature never sharpens the challenger)"
                if fit.temperature <= CHALLENGER_TEMPERATURE_BOUNDS[0]
                else ""
            )
            + " and the reject at "
            f"{threshold} ({tuned}); the champion with "
            + (
                f"its store {champion_store.store_id} ({champion_store.method}, "
                f"{len(champion_store.user_ids)} per-user)"
                if champion_store is not None
                else "no calibrator"
            )
            + (
                " and its own reject rule"
                if champion.fixed_reject_threshold is not None
                else f" and the policy's reject threshold {policy.reject_threshold}"
                + (" (per-user ones where set)" if policy.user_thresholds else "")
            )
        )
        cp_pred = labels_as_deployed(champion, eval_windows, store=champion_store, policy=policy)
    else:
        scored = f"scored raw (taskclf's retrain) with the reject at {threshold}"
        cp_pred = predicted_labels(champion, eval_windows, reject_threshold=threshold)
    ch_pred = predicted_labels(
        challenger, eval_windows, reject_threshold=threshold, calibrator=ch_cal
    )
    ch_ev, cp_ev = evaluate_labels(eval_truth, ch_pred), evaluate_labels(eval_truth, cp_pred)
    lines.append(
        f"challenger {challenger_id}: LightGBM, {config.rounds} rounds, class-balanced, "
        f"schema {version}"
        + (" + user_id" if config.user_id_feature and "user_id" not in features[:-1] else "")
        + f" ({plural(len(features), 'feature')}), trained on "
        f"{plural(sizes['train'], 'window')}; {scored}"
    )
    eval_run_ids = runs_of(split.evaluation)
    eval_runs = eval_run_ids if config.user_runs else None
    per_user = user_scores(eval_truth, cp_pred, ch_pred, eval_users, eval_runs)
    everyone = pooled_score(eval_truth, cp_pred, ch_pred, eval_runs)
    user_gate = user_regression_gate(per_user, config.gates, everyone)
    gates = (
        *challenger_gates(ch_ev, config.gates),
        regression_gate(cp_ev, ch_ev, config.gates),
        *((user_gate,) if user_gate is not None else ()),
    )
    lines += [g.line for g in gates]
    failed = [g.name for g in gates if not g.passed]
    lacking = [not has_input_data(w) for w in data.windows]
    no_input = _no_input(lacking, split.evaluation.tolist()) if failed else None
    advice = [no_input] if no_input else []
    eval_starts = [data.starts[i] for i in split.evaluation]
    train_counts = Counter(data.labels[i] for i in split.train)
    advice += _precision_misses(
        eval_truth, ch_pred, eval_starts, eval_users, train_counts, ch_ev, gates, config.gates
    )
    if "breakidle_recall" in failed and "BreakIdle" in eval_truth:
        advice.append(
            _recall_miss(
                eval_truth,
                ch_pred,
                eval_starts,
                eval_users,
                eval_windows,
            )
        )
    if tuning is not None and "reject_rate_bounds" in failed:
        advice.append(
            _reject_miss(
                tuning,
                ch_ev,
                len(set(eval_run_ids)),
                cp_ev.reject_rate if champion.fixed_reject_threshold is None else None,
                config.gates.reject_rate_min,
            )
        )
    elif failed and ch_ev.n < SURE_EVALUATION_WINDOWS:
        advice.append(_few_windows(ch_ev.n))
    loss = worst_loss(per_user, config.gates, everyone)
    if loss is not None:
        # "final" tuning takes the fewest rejects its bounds allow: at the floor, when the
        # bounds' lower end came down to it
        floor = config.gates.reject_rate_min
        at_floor = (
            tuning is not None
            and tuning.tuned
            and config.threshold_tuning == "final"
            and tuning.bounds[0] <= floor
        )
        why = _user_loss(
            loss,
            eval_truth,
            cp_pred,
            ch_pred,
            eval_users,
            pooled=loss is everyone,
            floor=floor if at_floor else None,
        )
        advice.append(why)
    lines += advice
    lines.append(
        f"champion {champion.bundle_id}: macro-F1 {cp_ev.macro_f1:.4f}, weighted-F1 "
        f"{cp_ev.weighted_f1:.4f}, accuracy {cp_ev.accuracy:.4f}, reject rate "
        f"{cp_ev.reject_rate:.4f}"
    )
    lines.append(
        f"challenger {challenger_id}: macro-F1 {ch_ev.macro_f1:.4f}, weighted-F1 "
        f"{ch_ev.weighted_f1:.4f}, accuracy {ch_ev.accuracy:.4f}, reject rate "
        f"{ch_ev.reject_rate:.4f} (on the same {plural(ch_ev.n, 'window')})"
    )
    lines += [
        f"user {u.user_id}: accuracy {u.champion_accuracy:.4f} -> {u.challenger_accuracy:.4f} "
        f"({u.delta * 100:+.1f} points) on {plural(u.windows, 'evaluation window')} "
        f"({u.discordant})"
        for u in per_user
    ]
    decision: Decision = "refused" if failed else "deployed"
    lines.append(
        f"decision: refused (failed: {', '.join(failed)})"
        if failed
        else f"decision: deployed (all {len(gates)} gates passed)"
    )
    ds = {
        "dataset_hash": dataset_hash(data),
        "rows": len(data),
        "users": check.users,
        "days": check.days,
        "date_from": format_ts(min(data.starts)),
        "date_to": format_ts(max(data.starts)),
        "class_distribution": {c: n for c, n in check.per_class.items() if n},
        "typed_spans": [
            {"user_id": t.user_id, "minutes": t.minutes, "edges": t.edges, "on_step": t.on_step}
            for t in data.typed
        ],
        "left_out_near_typed_switches": data.left_out,
        "without_input_data": sum(lacking),
    }
    report = RetrainReport(
        decision,
        due,
        gates,
        ModelScore(champion.bundle_id, cp_ev),
        ModelScore(challenger_id, ch_ev),
        tuple(lines),
        check,
        ds,
        sizes,
        per_user,
        tuning,
        tuple(advice),
    )
    lineage = {
        "champion": champion.bundle_id,
        "decision": decision,
        "eval_mode": config.eval_mode,
        "dataset": ds,
        "split": sizes,
        "reject_threshold": threshold,
        "reject_threshold_tuned": tuning.tuned if tuning is not None else False,
        "gates": [g.to_json() for g in gates],
        "champion_scores": cp_ev.to_json(),
        "per_user": [u.to_json() for u in per_user],
    }
    trained = replace(
        trained,
        metadata=dict(trained.metadata) | {"retrain": lineage},
        metrics=ch_ev.to_json()
        | {"eval_mode": config.eval_mode, "gates": [g.to_json() for g in gates]},
    )
    model = replace(challenger, metadata=MappingProxyType(dict(trained.metadata)))
    return RetrainOutcome(report, trained, data, split, ch_cal, threshold, model)
