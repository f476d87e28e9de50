"""Seeded synthetic feature windows with per-user quirks, for the demo, tests and benchmarks."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import numpy as np

from taskclf_core.labels import CORE_LABELS, REJECT_LABEL
from taskclf_core.schema import parse_ts, registry
from taskclf_core.spans import LabelSpan

__all__ = [
    "ARCHETYPES",
    "DEFAULT_USERS",
    "UserProfile",
    "generate_label_log",
    "generate_population",
    "generate_windows",
    "labeller_spans",
]


@dataclass(frozen=True, slots=True)
class UserProfile:
    """How one synthetic user differs from the population.

    ``label_noise`` makes the model over/under-confident for them; ``habits`` make their
    work look like another task for everyone else (``(("Write", "ReadResearch"),)``: their
    Write windows have the apps and activity of others' ReadResearch), which calibration
    cannot fix and a model that knows ``user_id`` can; ``tasks`` are the tasks they do;
    ``mixed_minutes`` of their minutes hold a switch and look half like another task (the
    honest source of a model's doubt, and of rejects); with ``idle_breaks`` a break is what
    ActivityWatch shows of one (a long idle run, often the lock screen) rather than a calm
    minute much like a meeting.
    """

    user_id: str
    label_noise: float = 0.1  # share of windows whose recorded label is a different class
    activity_scale: float = 1.0  # typing/mouse intensity relative to the population
    minutes_per_day: int = 240
    habits: tuple[tuple[str, str], ...] = ()  # (task, the task its windows look like)
    tasks: tuple[str, ...] = CORE_LABELS
    mixed_minutes: float = 0.0  # share of minutes half spent on another task
    idle_breaks: bool = False  # breaks are idle minutes, often on the lock screen


DEFAULT_USERS: tuple[UserProfile, ...] = (
    UserProfile("u-ada", label_noise=0.02, activity_scale=1.2, minutes_per_day=150),
    UserProfile("u-ben", label_noise=0.35, activity_scale=0.8, minutes_per_day=150),
    UserProfile("u-cy", label_noise=0.10, activity_scale=1.0, minutes_per_day=20),
)

# per class: apps (app_id, app_category, domain_category) and typical activity levels
_APPS: dict[str, list[tuple[str, str, str]]] = {
    "BreakIdle": [
        ("com.spotify.client", "media", "non_browser"),
        ("com.apple.finder", "file_manager", "non_browser"),
    ],
    "Build": [
        ("com.microsoft.VSCode", "editor", "non_browser"),
        ("com.googlecode.iterm2", "terminal", "non_browser"),
    ],
    "Communicate": [
        ("com.tinyspeck.slackmacgap", "chat", "non_browser"),
        ("com.apple.mail", "email", "non_browser"),
    ],
    "Debug": [
        ("com.jetbrains.intellij", "editor", "non_browser"),
        ("com.googlecode.iterm2", "terminal", "non_browser"),
    ],
    "Meet": [
        ("us.zoom.xos", "meeting", "non_browser"),
        ("com.apple.FaceTime", "meeting", "non_browser"),
    ],
    "ReadResearch": [
        ("com.google.Chrome", "browser", "docs"),
        ("org.mozilla.firefox", "browser", "search"),
    ],
    "Review": [
        ("com.google.Chrome", "browser", "code_hosting"),
        ("com.microsoft.VSCode", "editor", "non_browser"),
    ],
    "Write": [("md.obsidian", "docs", "non_browser"), ("com.apple.Notes", "docs", "non_browser")],
}
# keys/min, clicks/min, scroll/min, mouse distance, backspace ratio, app switches per 5 min
_ACTIVITY: dict[str, tuple[float, float, float, float, float, float]] = {
    "BreakIdle": (2, 1, 1, 50, 0.05, 0.5),
    "Build": (150, 4, 3, 900, 0.12, 2.0),
    "Communicate": (90, 10, 6, 1500, 0.10, 4.0),
    "Debug": (70, 12, 8, 1800, 0.20, 5.0),
    "Meet": (8, 2, 1, 300, 0.05, 0.5),
    "ReadResearch": (10, 8, 30, 1400, 0.05, 2.5),
    "Review": (30, 14, 25, 2000, 0.08, 3.0),
    "Write": (200, 3, 4, 500, 0.15, 1.0),
}


def _window(
    rng: np.random.Generator,
    user: UserProfile,
    task: str,
    start: datetime,
    minute_in_session: int,
    prev_keys: float,
    schema_version: str,
) -> dict[str, Any]:
    task = dict(user.habits).get(task, task)  # what the work looks like, not what it is
    app_id, app_category, domain = _APPS[task][int(rng.integers(len(_APPS[task])))]
    if rng.random() < 0.08:  # someone else's app now and then: the model must cope
        other = CORE_LABELS[int(rng.integers(len(CORE_LABELS)))]
        app_id, app_category, domain = _APPS[other][0]
    keys, clicks, scroll, mouse, backspace, switches = _ACTIVITY[task]
    on_break = user.idle_breaks and task == "BreakIdle"
    # nobody switches task in the middle of a break: a break minute is idle all through
    if user.mixed_minutes and not on_break and rng.random() < user.mixed_minutes:
        # a minute with a switch in it: half of it looks like another task, and its app may
        # be that task's (the span says the task the person was on)
        other = CORE_LABELS[int(rng.integers(len(CORE_LABELS)))]
        keys, clicks, scroll, mouse, backspace, switches = (
            (a + b) / 2 for a, b in zip(_ACTIVITY[task], _ACTIVITY[other], strict=True)
        )
        if rng.random() < 0.5:
            app_id, app_category, domain = _APPS[other][int(rng.integers(len(_APPS[other])))]
    s = user.activity_scale
    keys_pm = max(0.0, rng.normal(keys * s, keys * 0.35 + 3))
    clicks_pm = max(0.0, rng.normal(clicks * s, clicks * 0.4 + 1))
    mouse_d = max(0.0, rng.normal(mouse * s, mouse * 0.4 + 20))
    active_kb = min(60.0, keys_pm / 4 + rng.uniform(0, 5))
    active_mouse = min(60.0, clicks_pm * 2 + rng.uniform(0, 10))
    window: dict[str, Any] = {
        "user_id": user.user_id,
        "device_id": None,
        "session_id": f"{user.user_id}-{start:%Y%m%d}",
        "bucket_start_ts": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bucket_end_ts": (start + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "schema_version": schema_version,
        "schema_hash": registry(schema_version).schema_hash,  # type: ignore[union-attr]
        "source_ids": ["synthetic"],
        "app_id": app_id,
        "app_category": app_category,
        "window_title_hash": f"{int(rng.integers(1 << 40)):010x}",
        "is_browser": app_category == "browser",
        "is_editor": app_category == "editor",
        "is_terminal": app_category == "terminal",
        "app_switch_count_last_5m": int(rng.poisson(switches)),
        "app_foreground_time_ratio": round(float(rng.uniform(0.3, 1.0)), 4),
        "app_change_count": int(rng.poisson(switches / 5)),
        "app_dwell_time_seconds": round(float(rng.uniform(10, 600)), 2),
        "app_entropy_5m": round(float(rng.uniform(0, 1.6)), 4) if minute_in_session else None,
        "app_entropy_15m": round(float(rng.uniform(0, 2.0)), 4) if minute_in_session else None,
        "top2_app_concentration_15m": round(float(rng.uniform(0.4, 1.0)), 4),
        "idle_return_indicator": bool(rng.random() < (0.4 if task == "BreakIdle" else 0.05)),
        "keys_per_min": round(keys_pm, 1),
        "backspace_ratio": round(float(np.clip(rng.normal(backspace, 0.04), 0, 1)), 4),
        "shortcut_rate": round(float(rng.gamma(2.0, 0.5)), 3),
        "clicks_per_min": round(clicks_pm, 1),
        "scroll_events_per_min": round(max(0.0, float(rng.normal(scroll, scroll * 0.4 + 1))), 1),
        "mouse_distance": round(mouse_d, 1),
        "active_seconds_keyboard": round(active_kb, 1),
        "active_seconds_mouse": round(active_mouse, 1),
        "active_seconds_any": round(max(active_kb, active_mouse), 1),
        "max_idle_run_seconds": round(
            float(rng.uniform(0, 60 if task in ("BreakIdle", "Meet") else 20)), 1
        ),
        "event_density": round(float(rng.gamma(2.0, 1.5)), 4),
        "domain_category": domain,
        "window_title_bucket": int(rng.integers(256)),
        "title_repeat_count_session": int(rng.integers(1, 10)),
        "keys_per_min_rolling_5": round((keys_pm + prev_keys) / 2, 1),
        "keys_per_min_rolling_15": round((keys_pm + 2 * prev_keys) / 3, 1),
        "mouse_distance_rolling_5": round(mouse_d * float(rng.uniform(0.8, 1.2)), 1),
        "mouse_distance_rolling_15": round(mouse_d * float(rng.uniform(0.7, 1.3)), 1),
        "keys_per_min_delta": round(keys_pm - prev_keys, 1) if minute_in_session else None,
        "clicks_per_min_delta": round(float(rng.normal(0, 2)), 1) if minute_in_session else None,
        "mouse_distance_delta": round(float(rng.normal(0, 200)), 1) if minute_in_session else None,
        "app_switch_count_last_15m": int(rng.poisson(switches * 3)),
        "hour_of_day": start.hour,
        "day_of_week": start.weekday(),
        "session_length_so_far": float(minute_in_session),
    }
    if on_break:
        # a break as ActivityWatch sees it: no input at all (now and then a nudged mouse),
        # the input watcher idle the whole minute, and in front either the lock screen or
        # whatever app was left there (any task's)
        nudged = rng.random() < 0.15
        moved = round(float(rng.uniform(5, 80)), 1) if nudged else 0.0
        active = round(float(rng.uniform(0.5, 3.0)), 1) if nudged else 0.0
        if rng.random() < 0.5:
            app_id, app_category, domain = "com.apple.loginwindow", "lockscreen", "non_browser"
        else:
            left = CORE_LABELS[int(rng.integers(1, len(CORE_LABELS)))]
            app_id, app_category, domain = _APPS[left][int(rng.integers(len(_APPS[left])))]
        window.update(
            app_id=app_id,
            app_category=app_category,
            domain_category=domain,
            is_browser=app_category == "browser",
            is_editor=app_category == "editor",
            is_terminal=app_category == "terminal",
            keys_per_min=0.0,
            clicks_per_min=0.0,
            scroll_events_per_min=0.0,
            mouse_distance=moved,
            active_seconds_keyboard=0.0,
            active_seconds_mouse=active,
            active_seconds_any=active,
            max_idle_run_seconds=round(60.0 - active, 1),
            event_density=0.0,
            app_switch_count_last_5m=int(rng.poisson(0.3)),
            app_change_count=0,
            keys_per_min_rolling_5=round(prev_keys / 2, 1),
            keys_per_min_rolling_15=round(2 * prev_keys / 3, 1),
            keys_per_min_delta=round(-prev_keys, 1) if minute_in_session else None,
            mouse_distance_rolling_5=round(moved * float(rng.uniform(0.8, 1.2)), 1),
            mouse_distance_rolling_15=round(moved * float(rng.uniform(0.7, 1.3)), 1),
        )
    return window


def generate_windows(
    *,
    users: Sequence[UserProfile] = DEFAULT_USERS,
    days: int = 4,
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC),
    seed: int = 0,
    schema_version: str = "v2",
) -> list[dict[str, Any]]:
    """Labelled windows (window fields plus ``label``), each user's in time order.

    Work comes in task segments of 5–30 one-minute windows from 09:00 UTC; a user's
    ``label_noise`` share of windows carries a wrong recorded label, so a model trained on
    everyone is over-confident for noisy users and under-confident for careful ones.
    """
    if registry(schema_version) is None:
        raise ValueError(f"schema_version: unknown taskclf schema {schema_version!r}")
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    for user in users:
        for day in range(days):
            t = start + timedelta(days=day, hours=9)
            minute = 0
            prev_keys = 0.0
            while minute < user.minutes_per_day:
                task = user.tasks[int(rng.integers(len(user.tasks)))]
                for _ in range(int(rng.integers(5, 31))):
                    if minute >= user.minutes_per_day:
                        break
                    window = _window(rng, user, task, t, minute, prev_keys, schema_version)
                    prev_keys = window["keys_per_min"]
                    label = task
                    if rng.random() < user.label_noise:
                        label = _slip(rng, user, task)
                    window["label"] = label
                    out.append(window)
                    t += timedelta(minutes=1)
                    minute += 1
    return out


def _slip(rng: np.random.Generator, user: UserProfile, task: str) -> str:
    """A wrong recorded label. Someone labelling spans mixes up their tasks but not a break
    with work (``idle_breaks``: what a person who labels breaks does); otherwise any class."""
    if not user.idle_breaks:
        return CORE_LABELS[int(rng.integers(len(CORE_LABELS)))]
    if task == "BreakIdle":
        return task
    work = [c for c in CORE_LABELS if c != "BreakIdle"]
    return work[int(rng.integers(len(work)))]


def _others(*left_out: str) -> tuple[str, ...]:
    return tuple(c for c in CORE_LABELS if c not in left_out)


# kinds of people whose data differs the way the personalization measurements found:
# (label_noise, activity_scale, minutes_per_day, habits, tasks); everyone has some minutes
# with a switch in them (MIXED_MINUTES), breaks that look like breaks, and careful labellers
# still slip now and then
ARCHETYPES: dict[str, tuple[float, float, int, tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    # their writing happens in a browser, scrolling: others' ReadResearch
    "writer": (0.01, 1.0, 180, (("Write", "ReadResearch"),), _others("ReadResearch")),
    # they debug at the terminal, typing fast: others' Build
    "debugger": (0.01, 1.0, 180, (("Debug", "Build"),), _others("Build")),
    # their meetings are huddles in the chat app: others' Communicate
    "huddler": (0.01, 1.0, 180, (("Meet", "Communicate"),), _others("Communicate")),
    # a light touch on keyboard and mouse: every task looks calmer than everyone else's
    "gentle": (0.01, 0.45, 180, (), CORE_LABELS),
    # careless labels: a quarter of their windows carry a wrong one
    "noisy": (0.25, 1.0, 180, (), CORE_LABELS),
    # labels little of their day
    "sparse": (0.01, 1.0, 45, (), CORE_LABELS),
    "plain": (0.01, 1.0, 180, (), CORE_LABELS),
}
MIXED_MINUTES = 0.15


def generate_population(
    n: int,
    *,
    seed: int,
    prefix: str = "u",
    kinds: Sequence[str] = tuple(ARCHETYPES),
) -> tuple[UserProfile, ...]:
    """``n`` users cycling through ``kinds`` (:data:`ARCHETYPES`), seeded small variations.

    ``generate_population(10, seed=1)`` is a crowd with per-user habits; ``kinds=("plain",)``
    is a crowd without (what a global model is trained on). User ids are
    ``<prefix>-<i>-<kind>``.
    """
    unknown = [k for k in kinds if k not in ARCHETYPES]
    if unknown or not kinds:
        raise ValueError(f"kinds: expected names from {sorted(ARCHETYPES)}, got {list(kinds)}")
    rng = np.random.default_rng(seed)
    users = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        noise, scale, minutes, habits, tasks = ARCHETYPES[kind]
        users.append(
            UserProfile(
                f"{prefix}-{i}-{kind}",
                label_noise=noise,
                activity_scale=round(scale * float(rng.uniform(0.9, 1.1)), 3),
                minutes_per_day=int(minutes * float(rng.uniform(0.8, 1.2))),
                habits=habits,
                tasks=tasks,
                mixed_minutes=MIXED_MINUTES,
                idle_breaks=True,
            )
        )
    return tuple(users)


def labeller_spans(
    windows: Sequence[Mapping[str, Any]], label_key: str = "label"
) -> list[LabelSpan]:
    """The spans a careful labeller makes of labelled windows: one per run of contiguous
    windows of one user and one label (``label_key``)."""
    spans: list[LabelSpan] = []
    run: list[Mapping[str, Any]] = []

    def close() -> None:
        if run:
            spans.append(
                LabelSpan(
                    parse_ts(run[0]["bucket_start_ts"], "bucket_start_ts"),
                    parse_ts(run[-1]["bucket_end_ts"], "bucket_end_ts"),
                    run[0][label_key],
                    "manual",
                    run[0]["user_id"],
                )
            )
            run.clear()

    for w in sorted(windows, key=lambda w: (w["user_id"], w["bucket_start_ts"])):
        if run and (
            w["user_id"] != run[-1]["user_id"]
            or w[label_key] != run[-1][label_key]
            or w["bucket_start_ts"] != run[-1]["bucket_end_ts"]
        ):
            close()
        run.append(w)
    close()
    return spans


# --- label-log records (what the daemon writes), for report tests and benches ----------

_ACTIVITY_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("Build", 0.24),
    ("Debug", 0.15),
    ("Write", 0.12),
    ("Review", 0.10),
    ("ReadResearch", 0.12),
    ("Communicate", 0.12),
    ("Meet", 0.08),
    ("BreakIdle", 0.07),
)


def _probs(rng: random.Random, label: str, peak: float) -> dict[str, float]:
    rest = [rng.random() for _ in CORE_LABELS]
    others = sum(r for c, r in zip(CORE_LABELS, rest, strict=True) if c != label) or 1.0
    probs = {
        c: peak if c == label else (1.0 - peak) * r / others
        for c, r in zip(CORE_LABELS, rest, strict=True)
    }
    return {c: round(p, 6) for c, p in probs.items()}


def generate_label_log(
    *,
    user_id: str = "u-ada",
    start: date = date(2026, 1, 5),
    days: int = 7,
    tz: tzinfo = UTC,
    seed: int = 0,
    weekends: bool = False,
    model_bundle_ids: Sequence[str] = ("bundle_a",),
    store_id: str | None = "0123456789ab",
    buckets: Mapping[str, str] | None = None,
    reject_threshold: float = 0.55,
) -> list[dict[str, Any]]:
    """Label-log records for a person's working days: ~8 h a day in tasks of minutes to an hour.

    Local mornings from about 09:00 and afternoons to about 17:30 with a lunch gap, in ``tz``;
    records are in time order with the fields and rounding of docs/windows.md, a 3-window
    majority as ``smoothed_label``, and about 6 % rejected windows. ``model_bundle_ids``
    label successive equal shares of the days; ``buckets`` (core label → bucket) adds
    ``mapped_label``/``mapped_probs`` as a taxonomy would.
    """
    rng = random.Random(seed)
    labels, weights = zip(*_ACTIVITY_WEIGHTS, strict=True)
    out: list[dict[str, Any]] = []
    recent: list[str] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        if not weekends and day.weekday() >= 5:
            continue
        model = model_bundle_ids[
            min(offset * len(model_bundle_ids) // days, len(model_bundle_ids) - 1)
        ]
        morning = datetime.combine(day, time(8, 45), tzinfo=tz) + timedelta(
            minutes=rng.randint(0, 45)
        )
        lunch = datetime.combine(day, time(12, 15), tzinfo=tz) + timedelta(
            minutes=rng.randint(0, 30)
        )
        back = lunch + timedelta(minutes=rng.randint(30, 60))
        home = datetime.combine(day, time(17, 15), tzinfo=tz) + timedelta(
            minutes=rng.randint(0, 60)
        )
        recent.clear()
        for begin, end in ((morning, lunch), (back, home)):
            t = begin.astimezone(UTC)
            end_utc = end.astimezone(UTC)
            while t < end_utc:
                task = rng.choices(labels, weights)[0]
                length = (
                    rng.choice((30, 60)) if task == "Meet" else max(3, int(rng.expovariate(1 / 22)))
                )
                for _ in range(length):
                    if t >= end_utc:
                        break
                    core = task if rng.random() < 0.88 else rng.choice(CORE_LABELS)
                    peak = min(0.99, max(0.2, rng.betavariate(6, 2)))
                    probs = _probs(rng, core, peak)
                    confidence = max(probs.values())
                    rejected = confidence < reject_threshold
                    label = REJECT_LABEL if rejected else core
                    recent = [*recent[-2:], label]
                    counts = {x: recent.count(x) for x in recent}
                    top = max(counts.values())
                    smoothed = next(x for x in reversed(recent) if counts[x] == top)
                    stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
                    end_stamp = (t + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                    record: dict[str, Any] = {
                        "user_id": user_id,
                        "bucket_start_ts": stamp,
                        "bucket_end_ts": end_stamp,
                        "core_label": core,
                        "core_probs": probs,
                        "confidence": confidence,
                        "is_rejected": rejected,
                        "label": label,
                        "smoothed_label": smoothed,
                        "mapped_label": smoothed,
                    }
                    if buckets is not None:
                        mapped = (
                            REJECT_LABEL
                            if smoothed == REJECT_LABEL
                            else buckets.get(smoothed, "Other")
                        )
                        record["mapped_label"] = mapped
                        record["mapped_probs"] = {mapped: 1.0}
                    record.update(
                        calibrator="global",
                        reject_threshold=reject_threshold,
                        model_bundle_id=model,
                        model_schema_hash="synthetic",
                        store_id=store_id,
                        source=f"{stamp[:10]}.jsonl",
                        processed_at=end_stamp,
                        model_probs=probs,
                    )
                    out.append(record)
                    t += timedelta(minutes=1)
    return out
