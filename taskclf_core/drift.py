"""Online drift signals per user: the last 24 h against the 7 days before, in hourly counters.

taskclf checks drift offline (``core/drift.py``, ``infer/monitor.py``) on two batches of
predictions; here the same figures come from rolling counters the daemon updates with every
labelled window, so memory stays bounded (8 days × 24 hourly buckets per user) whatever
the size of the log, and the state is rebuilt by observing the log's recent records.

- **reject rate**: share of windows with ``is_rejected``; an increase ≥ 0.10 is *critical*;
- **class shares**: shares of ``core_label`` (the model's argmax, before the reject rule, so
  a rise in rejects is not reported twice) in the *time* the windows stand for
  (:mod:`taskclf_core.timespan`: a 20-minute call is one window and 20 minutes of Meet); any
  class moving by more than 0.15 is a *warning*;
- **mean prediction entropy** of ``core_probs`` (natural log, probabilities clipped at 1e-8);
  above 2× the reference mean it is a *warning*;
- **missing-feature share**: mean share of a window's feature columns that were missing (the
  daemon passes it; records do not carry it); an increase ≥ 0.10 is a *warning* (ours);
- **model age**: from the bundle's ``created_at``; past taskclf's 7-day retrain cadence a
  retrain is *due* (a figure, not an alert).

Every figure compares like with like: only the windows of the **labeller** now in force — the
``model_bundle_id`` and ``reject_threshold`` of the user's newest window — in both periods.
Windows another model or threshold labelled say nothing about the data drifting (a first model
replacing the rule baseline rejects far less, by design), so after a change the figures start
over from the new labeller's own windows and its reference builds up over the next 8 days (no
alert until it holds enough windows). A new calibrator store is not a change here: the daily
`personalize` timer writes one whenever new labels move a fit (the store is everyone's), and
restarting on each would leave drift without a reference for good.

Windows are bucketed by their own ``bucket_start_ts`` hour, not by when they were seen, so
a rebuild from the log gives the same state. An alert ends only when its figure falls back
past 80 % of the threshold, so a figure hovering at the threshold does not flap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from taskclf_core.errors import WindowError
from taskclf_core.labels import REJECT_LABEL
from taskclf_core.timespan import MAX_SPAN, TimeSpan, parse_time_span

__all__ = [
    "AlertChange",
    "DriftThresholds",
    "DriftTracker",
    "LabellerChange",
    "prediction_entropy",
]

HOUR: Final = 3600
CURRENT_HOURS: Final = 24
REFERENCE_HOURS: Final = 7 * 24
_KEPT_HOURS: Final = CURRENT_HOURS + REFERENCE_HOURS
_EPS: Final = 1e-8
_RELEASE: Final = 0.8  # an active alert ends below 80 % of its threshold
_MAX_LABELLERS: Final = 8  # per user; the oldest is forgotten (a change a day is already a lot)

Severity = Literal["warning", "critical"]


@dataclass(frozen=True, slots=True)
class DriftThresholds:
    """taskclf's drift thresholds (``core/defaults.py``), and the minimum sample sizes."""

    reject_rate_increase: float = 0.10
    class_shift: float = 0.15
    entropy_multiplier: float = 2.0
    missing_share_increase: float = 0.10
    retrain_cadence_days: float = 7.0
    # ours: a handful of windows says nothing; taskclf compares whatever it is given
    min_current_windows: int = 30
    min_reference_windows: int = 60

    def to_dict(self) -> dict[str, float | int]:
        return {
            "reject_rate_increase": self.reject_rate_increase,
            "class_shift": self.class_shift,
            "entropy_multiplier": self.entropy_multiplier,
            "missing_share_increase": self.missing_share_increase,
            "retrain_cadence_days": self.retrain_cadence_days,
            "min_current_windows": self.min_current_windows,
            "min_reference_windows": self.min_reference_windows,
        }


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert that started or ended, for one log line each way."""

    user_id: str
    trigger: str
    severity: Severity
    state: Literal["started", "ended"]
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LabellerChange:
    """A user's windows are now labelled by another model or threshold: the figures
    start over from its own windows. ``labeller`` is the status' ``labeller`` object."""

    user_id: str
    labeller: Mapping[str, Any]


# who labelled a window: (model_bundle_id, reject_threshold) as its record says
Labeller = tuple[str | None, float | None]


@dataclass(slots=True)
class _Hour:
    windows: int = 0
    rejects: int = 0
    classes: dict[str, float] = field(default_factory=dict)  # seconds per core label
    seconds: float = 0.0
    entropy_sum: float = 0.0
    entropy_n: int = 0
    missing_sum: float = 0.0
    missing_n: int = 0
    first: float = math.inf  # the earliest and latest window start counted here
    last: float = -math.inf

    def add(self, other: _Hour) -> None:
        self.windows += other.windows
        self.rejects += other.rejects
        self.seconds += other.seconds
        for label, n in other.classes.items():
            self.classes[label] = self.classes.get(label, 0.0) + n
        self.entropy_sum += other.entropy_sum
        self.entropy_n += other.entropy_n
        self.missing_sum += other.missing_sum
        self.missing_n += other.missing_n  # first/last: per hour only, totals need none


@dataclass(slots=True)
class _User:
    # labeller -> hour -> counters: each labeller's windows apart, the newest few only
    runs: dict[Labeller, dict[int, _Hour]] = field(default_factory=dict)


def _labeller(record: Any) -> Labeller:
    model, threshold = _get(record, "model_bundle_id"), _get(record, "reject_threshold")
    return (
        model if isinstance(model, str) else None,
        (
            round(float(threshold), 6)
            if isinstance(threshold, int | float) and not isinstance(threshold, bool)
            else None
        ),
    )


def _labeller_dict(labeller: Labeller) -> dict[str, Any]:
    return dict(zip(("model_bundle_id", "reject_threshold"), labeller, strict=True))


def _changed(before: Labeller, after: Labeller) -> list[str]:
    """What differs between two labellers, in words: "model", "reject_threshold"."""
    names = ("model", "reject_threshold")
    return [name for name, a, b in zip(names, before, after, strict=True) if a != b]


def prediction_entropy(probs: Iterable[float]) -> float:
    """Shannon entropy (nats) of one probability vector, as taskclf computes it."""
    total = 0.0
    for p in probs:
        q = min(max(float(p), _EPS), 1.0)
        total -= q * math.log(q)
    return total


def _get(record: Any, key: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(key)
    return getattr(record, key, None)


def _start_epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.timestamp()


def _epoch(now: datetime | float) -> float:
    return now.timestamp() if isinstance(now, datetime) else float(now)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _shares(total: _Hour) -> dict[str, float]:
    """Each core label's share of the time the windows stand for."""
    if total.seconds <= 0:
        return {}
    return {k: v / total.seconds for k, v in total.classes.items()}


_MAX_SPAN_S: Final = MAX_SPAN.total_seconds()


def _seconds(record: Any, start: float) -> float:
    """The active seconds ``record`` stands for: its span without away parts (a record
    without a span: its own window; an unreadable one: nothing)."""
    span = _get(record, "span")
    if isinstance(span, TimeSpan):
        return span.active_us / 1e6
    end = _start_epoch(_get(record, "bucket_end_ts"))
    if end is None or not end > start:
        return 0.0
    if isinstance(record, Mapping):
        try:
            parsed = parse_time_span(record, round(start * 1e6), round(end * 1e6))
        except WindowError:
            return 0.0
        if parsed is not None:
            return parsed.active_us / 1e6
    return min(end - start, _MAX_SPAN_S)


def _summary(total: _Hour) -> dict[str, Any]:
    n = total.windows
    return {
        "windows": n,
        "reject_rate": round(total.rejects / n, 4) if n else None,
        "class_shares": {k: round(v, 4) for k, v in sorted(_shares(total).items())},
        "mean_entropy": (
            round(total.entropy_sum / total.entropy_n, 6) if total.entropy_n else None
        ),
        "missing_feature_share": (
            round(total.missing_sum / total.missing_n, 4) if total.missing_n else None
        ),
    }


class DriftTracker:
    """Per-user hourly counters of labelled windows, and the alerts they raise.

    ``observe`` every record the daemon logs (and, at start, the log's last 8 days);
    ``status(now)`` gives the ``drift`` object per user for ``status --json``;
    ``transitions(now)`` returns the alerts that started or ended since its previous call
    (call it after each batch or heartbeat and log each change once), ``labeller_changes(now)``
    each user whose windows another model or threshold now labels. Right after a
    rebuild from the log their first answers list every alert already active and every
    change still within the 8 days.
    """

    def __init__(self, thresholds: DriftThresholds | None = None) -> None:
        self.thresholds = thresholds or DriftThresholds()
        self._users: dict[str, _User] = {}
        # (user, trigger) -> (severity, started at): the alerts transitions() reported
        self._active: dict[tuple[str, str], tuple[Severity, float]] = {}
        # the labeller each active alert was raised on, and each user's last reported one
        self._labelled_by: dict[tuple[str, str], Labeller] = {}
        self._labellers: dict[str, Labeller] = {}

    # --- counting ------------------------------------------------------------------

    def observe(
        self,
        record: Mapping[str, Any] | Any,
        now: datetime | float,
        *,
        missing_share: float | None = None,
    ) -> bool:
        """Count one labelled window (a record dict or a ``LabelRecord``).

        ``missing_share`` is the share of the window's feature columns that were missing
        (``n_missing / len(feature_columns)``), when known. Returns False (and counts
        nothing) for a record without a usable user and start time, or one outside the
        8 days the figures look at (older, or more than an hour ahead of ``now``).
        """
        user_id = _get(record, "user_id")
        start = _start_epoch(_get(record, "bucket_start_ts"))
        if not isinstance(user_id, str) or not user_id or start is None:
            return False
        now_hour = int(_epoch(now) // HOUR)
        hour = int(start // HOUR)
        if not now_hour - _KEPT_HOURS < hour <= now_hour + 1:
            return False
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User()
        labeller = _labeller(record)
        hours = user.runs.get(labeller)
        if hours is None:
            hours = user.runs[labeller] = {}
        bucket = hours.get(hour)
        if bucket is None:
            bucket = hours[hour] = _Hour()
            self._prune(user, now_hour)
            if len(user.runs) > _MAX_LABELLERS:
                others = [k for k in user.runs if k != labeller]
                del user.runs[min(others, key=lambda k: (_last(user.runs[k]), repr(k)))]
        if start < bucket.first:
            bucket.first = start
        if start > bucket.last:
            bucket.last = start
        label = _get(record, "label")
        rejected = _get(record, "is_rejected")
        if not isinstance(rejected, bool):
            rejected = label == REJECT_LABEL
        bucket.windows += 1
        bucket.rejects += rejected
        core = _get(record, "core_label")
        if not isinstance(core, str):
            core = label
        if isinstance(core, str):
            seconds = _seconds(record, start)
            bucket.seconds += seconds
            bucket.classes[core] = bucket.classes.get(core, 0.0) + seconds
        probs = _get(record, "core_probs")
        if isinstance(probs, Mapping) and probs:
            try:
                bucket.entropy_sum += prediction_entropy(probs.values())
                bucket.entropy_n += 1
            except (TypeError, ValueError):
                pass
        if missing_share is not None and math.isfinite(missing_share):
            bucket.missing_sum += min(max(missing_share, 0.0), 1.0)
            bucket.missing_n += 1
        return True

    def observe_many(
        self, records: Iterable[Mapping[str, Any] | Any], now: datetime | float
    ) -> int:
        """:meth:`observe` each record (a rebuild from the log); returns how many counted."""
        return sum(self.observe(record, now) for record in records)

    def _prune(self, user: _User, now_hour: int) -> None:
        cutoff = now_hour - _KEPT_HOURS
        for labeller, hours in list(user.runs.items()):
            for hour in [h for h in hours if h <= cutoff]:
                del hours[hour]
            if not hours:
                del user.runs[labeller]

    def bucket_count(self) -> int:
        """Hourly buckets held, all users together (the memory bound's unit)."""
        return sum(len(h) for u in self._users.values() for h in u.runs.values())

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(sorted(self._users))

    # --- figures and alerts --------------------------------------------------------

    def _evaluate(
        self, user_id: str, runs: Mapping[Labeller, Mapping[int, _Hour]], now_hour: int
    ) -> tuple[dict[str, Any], list[tuple[str, Severity, dict[str, Any]]]]:
        """The figures and alerts of ``runs`` (:func:`_in_view`) for ``user_id``."""
        t = self.thresholds
        labeller = _newest(runs)
        current, reference = _totals(runs.get(labeller, {}), now_hour)
        cur, ref = _summary(current), _summary(reference)
        figures: dict[str, Any] = {
            "labeller": _labeller_status(runs, labeller),
            "current": cur,
            "reference": ref,
        }
        enough = (
            current.windows >= t.min_current_windows
            and reference.windows >= t.min_reference_windows
        )
        figures["enough_data"] = enough

        def active(trigger: str) -> bool:
            # an alert raised on another labeller's windows lends this one no hysteresis
            key = (user_id, trigger)
            return key in self._active and self._labelled_by.get(key, labeller) == labeller

        def limit(trigger: str, threshold: float) -> float:
            return threshold * _RELEASE if active(trigger) else threshold

        alerts: list[tuple[str, Severity, dict[str, Any]]] = []
        increase = None
        if current.windows and reference.windows:
            increase = current.rejects / current.windows - reference.rejects / reference.windows
        figures["reject_rate_increase"] = None if increase is None else round(increase, 4)
        rejects_up = increase is not None and increase >= limit(
            "reject_rate_increase", t.reject_rate_increase
        )
        if enough and rejects_up:
            alerts.append(
                (
                    "reject_rate_increase",
                    "critical",
                    {
                        "ref_rate": ref["reject_rate"],
                        "cur_rate": cur["reject_rate"],
                        "increase": figures["reject_rate_increase"],
                    },
                )
            )

        shifts: dict[str, float] = {}
        cur_shares, ref_shares = _shares(current), _shares(reference)
        if cur_shares and ref_shares:
            for label in sorted(set(cur_shares) | set(ref_shares)):
                shifts[label] = abs(cur_shares.get(label, 0.0) - ref_shares.get(label, 0.0))
        max_shift = max(shifts.values(), default=None)
        figures["max_class_shift"] = None if max_shift is None else round(max_shift, 4)
        bound = limit("class_shift", t.class_shift)
        shifted = [label for label, s in shifts.items() if s > bound]
        figures["shifted_classes"] = [label for label, s in shifts.items() if s > t.class_shift]
        if enough and shifted:
            alerts.append(
                (
                    "class_shift",
                    "warning",
                    {"max_shift": round(max_shift or 0.0, 4), "shifted_classes": shifted},
                )
            )

        ratio = None
        if current.entropy_n and reference.entropy_n:
            ref_entropy = reference.entropy_sum / reference.entropy_n
            cur_entropy = current.entropy_sum / current.entropy_n
            if ref_entropy > _EPS:
                ratio = cur_entropy / ref_entropy
        figures["entropy_ratio"] = None if ratio is None else round(ratio, 4)
        multiplier = t.entropy_multiplier
        if active("entropy_spike"):
            multiplier = 1 + (multiplier - 1) * _RELEASE
        if enough and ratio is not None and ratio > multiplier:
            alerts.append(
                (
                    "entropy_spike",
                    "warning",
                    {
                        "ref_mean_entropy": ref["mean_entropy"],
                        "cur_mean_entropy": cur["mean_entropy"],
                        "ratio": round(ratio, 4),
                    },
                )
            )

        missing_increase = None
        if current.missing_n and reference.missing_n:
            missing_increase = (
                current.missing_sum / current.missing_n
                - reference.missing_sum / reference.missing_n
            )
        figures["missing_share_increase"] = (
            None if missing_increase is None else round(missing_increase, 4)
        )
        if (
            current.missing_n >= t.min_current_windows
            and reference.missing_n >= t.min_reference_windows
            and missing_increase is not None
            and missing_increase >= limit("missing_features", t.missing_share_increase)
        ):
            alerts.append(
                (
                    "missing_features",
                    "warning",
                    {
                        "ref_share": ref["missing_feature_share"],
                        "cur_share": cur["missing_feature_share"],
                        "increase": round(missing_increase, 4),
                    },
                )
            )
        return figures, alerts

    def _model(
        self,
        runs: Mapping[Labeller, Mapping[int, _Hour]],
        now: float,
        created_at: Mapping[str, datetime | str] | None,
    ) -> dict[str, Any] | None:
        bundle_id = _newest(runs)[0]
        if bundle_id is None:
            return None
        first = min(
            h.first
            for (model, _), hours in runs.items()
            if model == bundle_id
            for h in hours.values()
        )
        made = (created_at or {}).get(bundle_id)
        made_epoch = _start_epoch(made) if isinstance(made, str) else None
        if isinstance(made, datetime):
            made_epoch = (made if made.tzinfo else made.replace(tzinfo=UTC)).timestamp()
        age_days = None if made_epoch is None else round((now - made_epoch) / 86400, 2)
        return {
            "bundle_id": bundle_id,
            "labelling_since": _iso(first),
            "created_at": None if made_epoch is None else _iso(made_epoch),
            "age_days": age_days,
            "retrain_due": (
                None if age_days is None else age_days >= self.thresholds.retrain_cadence_days
            ),
        }

    def status(
        self,
        now: datetime | float,
        *,
        model_created_at: Mapping[str, datetime | str] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """The ``drift`` object per user: figures, thresholds and the alerts active now.

        ``model_created_at`` maps bundle ids to their ``metadata.json`` ``created_at``
        (the daemon knows the bundle in force), for the model's age.
        """
        epoch = _epoch(now)
        now_hour = int(epoch // HOUR)
        out: dict[str, dict[str, Any]] = {}
        for user_id in sorted(self._users):
            user = self._users[user_id]
            runs = _in_view(user, now_hour)
            figures, alerts = self._evaluate(user_id, runs, now_hour)
            doc: dict[str, Any] = {
                "as_of": _iso(epoch),
                "window_hours": {"current": CURRENT_HOURS, "reference": REFERENCE_HOURS},
                **figures,
                "model": self._model(runs, epoch, model_created_at),
                "thresholds": self.thresholds.to_dict(),
                "alerts": [
                    {
                        "trigger": trigger,
                        "severity": severity,
                        "details": details,
                        "since": (
                            _iso(self._active[(user_id, trigger)][1])
                            if (user_id, trigger) in self._active
                            else None
                        ),
                    }
                    for trigger, severity, details in alerts
                ],
            }
            out[user_id] = doc
        return out

    def transitions(self, now: datetime | float) -> list[AlertChange]:
        """Alerts that started or ended since the previous call (each reported once). An
        alert that ends because another model or threshold now labels the user's
        windows says so in its details (``reason``: ``labeller_changed``, ``changed``)."""
        epoch = _epoch(now)
        now_hour = int(epoch // HOUR)
        changes: list[AlertChange] = []
        seen: set[tuple[str, str]] = set()
        labellers: dict[str, Labeller] = {}
        for user_id in sorted(self._users):
            user = self._users[user_id]
            self._prune(user, now_hour)
            if not user.runs:
                del self._users[user_id]  # gone quiet for 8 days: forget them
                continue
            runs = _in_view(user, now_hour)
            labellers[user_id] = _newest(runs)
            _, alerts = self._evaluate(user_id, runs, now_hour)
            by = labellers[user_id]
            for trigger, severity, details in alerts:
                key = (user_id, trigger)
                seen.add(key)
                if key in self._active and self._labelled_by.get(key, by) != by:
                    # raised again on the new labeller's own windows: the old alert ends, a
                    # new one starts
                    changes.append(self._end(key, by))
                if key not in self._active:
                    self._active[key] = (severity, epoch)
                    self._labelled_by[key] = by
                    changes.append(AlertChange(user_id, trigger, severity, "started", details))
        for key in sorted(set(self._active) - seen):
            changes.append(self._end(key, labellers.get(key[0])))
        return changes

    def _end(self, key: tuple[str, str], by: Labeller | None) -> AlertChange:
        """End an active alert; ``by`` labels the user's windows now (None: gone quiet): if
        not the labeller it was raised on, its details say so."""
        severity, _ = self._active.pop(key)
        was = self._labelled_by.pop(key, None)
        why: dict[str, Any] = {}
        if was is not None and by is not None and was != by:
            why = {"reason": "labeller_changed", "changed": ",".join(_changed(was, by))}
        return AlertChange(key[0], key[1], severity, "ended", why)

    def labeller_changes(self, now: datetime | float) -> list[LabellerChange]:
        """Users whose windows another model or threshold labels since the previous
        call, each change once: the figures start over from the new labeller's windows.
        Right after a rebuild, every user with a change still within the 8 days."""
        now_hour = int(_epoch(now) // HOUR)
        changes: list[LabellerChange] = []
        for user_id in sorted(self._users):
            runs = _in_view(self._users[user_id], now_hour)
            labeller = _newest(runs)
            doc = _labeller_status(runs, labeller)
            told = self._labellers.get(user_id)
            if told != labeller and (told is not None or doc["since"] is not None):
                changes.append(LabellerChange(user_id, doc))
            self._labellers[user_id] = labeller
        for user_id in set(self._labellers) - set(self._users):
            del self._labellers[user_id]
        return changes


# --- one user's windows, by labeller -----------------------------------------------


def _last(hours: Mapping[int, _Hour]) -> float:
    return max((h.last for h in hours.values()), default=-math.inf)


def _in_view(user: _User, now_hour: int) -> dict[Labeller, dict[int, _Hour]]:
    """Each labeller's hours the figures look at (the last 8 days, none ahead of now)."""
    runs: dict[Labeller, dict[int, _Hour]] = {}
    for labeller, hours in user.runs.items():
        kept = {h: c for h, c in hours.items() if 0 <= now_hour - h < _KEPT_HOURS}
        if kept:
            runs[labeller] = kept
    return runs


def _newest(runs: Mapping[Labeller, Mapping[int, _Hour]]) -> Labeller:
    """The labeller of the newest window: the one in force (none: all unknown)."""
    if not runs:
        return (None, None)
    return max(runs, key=lambda k: (_last(runs[k]), repr(k)))


def _totals(hours: Mapping[int, _Hour], now_hour: int) -> tuple[_Hour, _Hour]:
    current, reference = _Hour(), _Hour()
    for hour, counts in hours.items():
        age = now_hour - hour
        if 0 <= age < CURRENT_HOURS:
            current.add(counts)
        elif CURRENT_HOURS <= age < _KEPT_HOURS:
            reference.add(counts)
    return current, reference


def _labeller_status(
    runs: Mapping[Labeller, Mapping[int, _Hour]], labeller: Labeller
) -> dict[str, Any]:
    """Who labelled the windows compared, and whether another labeller's windows were left out:
    ``since`` is when it took over from ``previous`` (None: it labelled all 8 days),
    ``changed`` what differs (``model``, ``reject_threshold``), ``back`` whether it
    had labelled before ``previous`` too (a rollback, a deploy back: those windows count),
    ``other_windows`` the windows left out, and ``reference_full_at`` when the last of them
    leaves the 8 days."""
    doc = _labeller_dict(labeller)
    others = {k: hours for k, hours in runs.items() if k != labeller}
    if not others:
        return {
            **doc,
            "since": None,
            "previous": None,
            "changed": [],
            "back": False,
            "other_windows": 0,
            "reference_full_at": None,
        }
    previous = _newest(others)
    other_last = max(_last(hours) for hours in others.values())
    own = runs.get(labeller, {}).values()
    # its first window after the other labellers' last (hour by hour: within an hour both
    # may have labelled, e.g. a rollback)
    since = min((h.first for h in own if h.first > other_last), default=None)
    if since is None:
        since = min((h.last for h in own if h.last > other_last), default=other_last)
    return {
        **doc,
        "since": _iso(since),
        "previous": _labeller_dict(previous),
        "changed": _changed(previous, labeller),
        "back": any(h.first < other_last for h in own),
        "other_windows": sum(h.windows for hours in others.values() for h in hours.values()),
        "reference_full_at": _iso((int(other_last // HOUR) + _KEPT_HOURS) * HOUR),
    }
