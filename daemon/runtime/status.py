"""The status file: written atomically by the daemon, read and judged by `taskclf-daemon status`."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict

from daemon.exits import DEGRADED, HEALTHY, NOT_RUNNING
from daemon.fsutil import utc_now
from taskclf_core.words import plural

__all__ = [
    "Counters",
    "LastWindow",
    "LatencyWindow",
    "MissingFeatures",
    "SpoolCounts",
    "StatusDoc",
    "evaluate",
    "format_status",
    "read_status",
    "status_document",
    "utc_now",
    "write_status",
]

_SETTLE_GRACE = 60.0  # a store rewritten for longer than this without one clean read is news


class LatencyWindow:
    """The last ``size`` end-to-end latencies (file renamed into new/ → record fsynced)."""

    def __init__(self, size: int = 2048) -> None:
        self._values: deque[float] = deque(maxlen=size)

    def add(self, ms: float) -> None:
        self._values.append(ms)

    def summary(self) -> dict[str, float | None]:
        if not self._values:
            return {"p50": None, "p99": None}
        ordered = sorted(self._values)

        def pick(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

        return {"p50": pick(0.50), "p99": pick(0.99)}


class MissingFeatures:
    """The share of model features missing per window over the last hour, in minute buckets.

    A broken collector shows here (and in one warning per file) before it shows as drift.
    """

    def __init__(self, horizon_seconds: float = 3600.0) -> None:
        self.horizon = horizon_seconds
        self._minutes: dict[int, list[float]] = {}  # minute -> [missing features, features]

    def add(self, now: float, missing: int, features: int) -> None:
        minute = int(now // 60)
        bucket = self._minutes.setdefault(minute, [0.0, 0.0])
        bucket[0] += missing
        bucket[1] += features
        if len(self._minutes) > self.horizon / 60 + 2:
            self._prune(now)

    def _prune(self, now: float) -> None:
        oldest = int((now - self.horizon) // 60)
        for minute in [m for m in self._minutes if m < oldest]:
            del self._minutes[minute]

    def summary(self, now: float) -> dict[str, float | int | None]:
        self._prune(now)
        missing = sum(b[0] for b in self._minutes.values())
        total = sum(b[1] for b in self._minutes.values())
        return {
            "share_last_hour": round(missing / total, 4) if total else None,
            "features_seen": int(total),
        }


class LastWindow(TypedDict):
    user_id: str
    bucket_start_ts: str
    label: str
    smoothed_label: str
    at: str


class SpoolCounts(TypedDict):
    path: str
    new: int
    cur: int
    rejected: int


@dataclass(slots=True)
class Counters:
    """What the daemon counts as it goes; status is a function of these."""

    labelled: int = 0
    refused: int = 0
    duplicates: int = 0
    files_done: int = 0
    files_rejected: int = 0
    last_window: LastWindow | None = None
    last_error: dict[str, str] | None = None
    latency: LatencyWindow = field(default_factory=lambda: LatencyWindow())
    missing: MissingFeatures = field(default_factory=lambda: MissingFeatures())
    archived: int = 0  # windows written to the feature archive
    archive_error: dict[str, str] | None = None  # the last failed archive write, until one works


class StatusDoc(TypedDict):
    """The status file: the keys `status --json` prints, and what `status` shows besides."""

    running: bool
    healthy: bool
    pid: int
    started_at: str
    heartbeat_at: str
    heartbeat_interval_seconds: float
    stopped_at: str | None
    once: bool
    spool: SpoolCounts
    windows: dict[str, int]
    files: dict[str, int]
    last_window: LastWindow | None
    policy: dict[str, Any] | None
    model: dict[str, Any]
    store: dict[str, Any]
    thresholds: dict[str, Any]
    label_log: str
    latency_ms: dict[str, float | None]
    missing_features: dict[str, float | int | None]
    last_error: dict[str, str] | None
    fatal_error: str | None
    storage_error: dict[str, Any] | None
    watcher: str
    retention: dict[str, Any]
    archive: dict[str, Any]
    drift: dict[str, dict[str, Any]]


def status_document(
    *,
    running: bool,
    fatal: str | None,
    pid: int,
    started_at: str,
    now: str,
    now_epoch: float,
    heartbeat_interval: float,
    once: bool,
    spool: SpoolCounts,
    counters: Counters,
    in_force: Mapping[str, Any],
    label_log: str,
    storage_error: dict[str, Any] | None,
    watcher: str,
    retention: dict[str, Any],
    drift: dict[str, dict[str, Any]],
    archive: str | None = None,
) -> StatusDoc:
    """The status file's contents: a pure function of what the daemon counted and holds."""
    c = counters
    store = dict(in_force["store"])
    return StatusDoc(
        running=running,
        healthy=running and fatal is None and not store.get("last_error") and storage_error is None,
        pid=pid,
        started_at=started_at,
        heartbeat_at=now,
        heartbeat_interval_seconds=heartbeat_interval,
        stopped_at=None if running else now,
        once=once,
        spool=spool,
        windows={"labelled": c.labelled, "refused": c.refused, "duplicates": c.duplicates},
        files={"done": c.files_done, "rejected": c.files_rejected},
        last_window=c.last_window,
        policy=in_force["policy"],
        model=dict(in_force["model"]),
        store=store,
        thresholds=dict(in_force["thresholds"]),
        label_log=label_log,
        latency_ms=c.latency.summary(),
        missing_features=c.missing.summary(now_epoch),
        last_error=c.last_error,
        fatal_error=fatal,
        storage_error=storage_error,
        watcher=watcher,
        retention=retention,
        archive={"path": archive, "archived": c.archived, "error": c.archive_error},
        drift=drift,
    )


def write_status(path: Path, data: Mapping[str, Any]) -> None:
    """Replace the status file atomically (0600); readers never see half a file.

    On a full disk (the spool's filesystem is often the label log's) a new file cannot be
    made, but the old one's blocks can hold a status of the same size: it is rewritten in
    place, so `status` can still say why labelling waits (a reader may catch it half-way
    and read again: :func:`read_status` does).
    """
    body = (json.dumps(data, indent=2) + "\n").encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, body)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # a partial temp file holds the very space we lack
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        _rewrite_in_place(path, body)


def _write_all(fd: int, body: bytes) -> None:
    view = memoryview(body)
    while view:
        view = view[os.write(fd, view) :]


def _rewrite_in_place(path: Path, body: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)  # no O_TRUNC: keep the blocks we have
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        _write_all(fd, body)
        os.ftruncate(fd, len(body))
    finally:
        os.close(fd)


def read_status(path: Path) -> dict[str, Any] | None:
    for _ in range(3):  # a status rewritten in place may be caught half-way
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        return data if isinstance(data, dict) else None
    return None


def _age_seconds(ts: str | None, now: float) -> float | None:
    if not ts:
        return None
    try:
        return now - datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return None


def evaluate(
    status: Mapping[str, Any] | None, lock_pid: int | None, *, now: float | None = None
) -> tuple[int, dict[str, Any]]:
    """Exit code and the ``status --json`` document for what the files say.

    3 not running (no process holds the lock); 1 degraded: stale heartbeat, refused store,
    a storage fault being waited out, or a daemon that stopped on a fatal error; 0 healthy.
    """
    now = time.time() if now is None else now
    doc: dict[str, Any] = dict(status or {})
    problems: list[str] = []
    if lock_pid is None:
        doc["running"] = False
        doc["healthy"] = False
        fatal = doc.get("fatal_error")
        if fatal:
            problems.append(f"stopped on a fatal error: {fatal}")
        doc["problems"] = problems
        return (DEGRADED if fatal else NOT_RUNNING), doc
    doc["running"] = True
    doc["pid"] = lock_pid if lock_pid > 0 else doc.get("pid")
    interval = float(doc.get("heartbeat_interval_seconds") or 5.0)
    age = _age_seconds(doc.get("heartbeat_at"), now)
    if age is None:
        problems.append("no heartbeat yet (starting up?)")
    elif age > 3 * interval + 2:
        problems.append(f"heartbeat is stale ({age:.0f} s old)")
    store = doc.get("store") or {}
    if store.get("last_error"):
        problems.append(f"{_refused_what(doc)}: {store['last_error']}")
    settling = _age_seconds(store.get("settling_since"), now)
    if settling is not None and settling > _SETTLE_GRACE:
        problems.append(
            f"{store.get('path') or 'the model'} has kept changing while being read for "
            f"{settling:.0f} s; what is in force stays until a read sees it settled"
        )
    storage = doc.get("storage_error")
    if storage:
        problems.append(
            f"{storage.get('message')}; waiting since {storage.get('since')}, "
            f"{plural(storage.get('files_waiting', 0), 'file')} held in cur/, "
            f"retry {storage.get('retries')} at {storage.get('next_retry_at')}"
        )
    if doc.get("fatal_error"):
        problems.append(f"fatal error: {doc['fatal_error']}")
    doc["healthy"] = not problems
    doc["problems"] = problems
    return (HEALTHY if not problems else DEGRADED), doc


def _refused_what(doc: Mapping[str, Any]) -> str:
    """What a reload refusal is about: the inference policy when there is one, else the store."""
    policy = doc.get("policy")
    if isinstance(policy, Mapping) and policy.get("path"):
        return f"inference policy {policy['path']} refused"
    store = doc.get("store") or {}
    return (
        "calibrator store refused" if store.get("path") or not doc.get("model") else "model refused"
    )


def _fmt(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _last_error(doc: Mapping[str, Any]) -> str:
    """The newest error of any kind, worded as its problem line words it, with its time."""
    if doc.get("fatal_error"):  # the daemon stopped on it: nothing came after
        return f"fatal error: {doc['fatal_error']}"
    seen: list[tuple[str, str]] = []
    last = doc.get("last_error") or {}
    if last.get("message"):
        seen.append((str(last.get("at") or ""), f"input refused: {last['message']}"))
    store = doc.get("store") or {}
    if store.get("last_error"):
        refused = f"{_refused_what(doc)}: {store['last_error']}"
        seen.append((str(store.get("last_error_at") or ""), refused))
    if not seen:
        return "-"
    at, text = max(seen)
    return f"{text} (at {at})" if at else text


def _policy_lines(doc: Mapping[str, Any]) -> list[str]:
    policy = doc.get("policy")
    if not isinstance(policy, Mapping):
        return []
    return [
        f"  policy         {_fmt(policy.get('path'))} (created {_fmt(policy.get('created_at'))} "
        f"by {_fmt(policy.get('source'))})"
    ]


def _threshold_lines(doc: Mapping[str, Any]) -> list[str]:
    thresholds = doc.get("thresholds")
    if not isinstance(thresholds, Mapping):
        return []
    per_user = thresholds.get("per_user") or {}
    own = ", ".join(f"{u} {t}" for u, t in per_user.items())
    return [
        f"  threshold      {_fmt(thresholds.get('reject_threshold'))}"
        + (f" (per user: {own})" if own else "")
    ]


def _missing_lines(doc: Mapping[str, Any]) -> list[str]:
    missing = doc.get("missing_features")
    if not isinstance(missing, Mapping) or missing.get("share_last_hour") is None:
        return []
    share = float(missing["share_last_hour"])
    warn = "  <- most features missing: check the collector" if share > 0.5 else ""
    return [f"  missing feat.  {share:.1%} of model features over the last hour{warn}"]


def model_in_force(doc: Mapping[str, Any]) -> str | None:
    """The bundle id of the model a running daemon reports (judged by :func:`evaluate`)."""
    model = doc.get("model") if doc.get("running") else None
    bundle_id = model.get("bundle_id") if isinstance(model, Mapping) else None
    return bundle_id if isinstance(bundle_id, str) else None


def _count(n: object, noun: str) -> str:
    """``1 user``, ``3 users``; ``? users`` when the record has no number."""
    return (
        plural(n, noun) if isinstance(n, int) and not isinstance(n, bool) else f"{_fmt(n)} {noun}s"
    )


def _lineage_lines(doc: Mapping[str, Any]) -> list[str]:
    """Where the model in force came from: rules, `retrain` (data, gates) or elsewhere."""
    model = doc.get("model")
    lineage = model.get("lineage") if isinstance(model, Mapping) else None
    if not isinstance(lineage, Mapping):
        return []
    kind = lineage.get("kind")
    if kind == "rule_baseline":
        return [
            "  lineage        taskclf's rule baseline, not trained: label your time and run "
            "`taskclf-daemon retrain` for a model of your own"
        ]
    if kind == "retrain":
        data = lineage.get("dataset") or {}
        gates = [g for g in lineage.get("gates") or [] if isinstance(g, Mapping)]
        passed = [g for g in gates if g.get("passed")]
        return [
            f"  lineage        retrained {_fmt(lineage.get('trained_at'))} to replace "
            f"{_fmt(lineage.get('champion'))}, on {_fmt(data.get('rows'))} labelled windows "
            f"({_count(data.get('users'), 'user')}, {_count(data.get('days'), 'day')}, "
            f"{_fmt(data.get('date_from'))} to {_fmt(data.get('date_to'))})",
            f"  gates          {len(passed)} of {len(gates)} passed: "
            + ", ".join(
                f"{g.get('name')} {_fmt(g.get('value'))} ({'pass' if g.get('passed') else 'FAIL'})"
                for g in gates
            )
            + f"; reject threshold {_fmt(lineage.get('reject_threshold'))}",
        ]
    return [
        f"  lineage        trained {_fmt(lineage.get('trained_at'))} on "
        f"{_fmt(lineage.get('train_date_from'))} to {_fmt(lineage.get('train_date_to'))} "
        f"({_fmt(lineage.get('data_provenance'))})"
    ]


def _archive_lines(doc: Mapping[str, Any]) -> list[str]:
    archive = doc.get("archive")
    error = archive.get("error") if isinstance(archive, Mapping) else None
    if not isinstance(error, Mapping):
        return []
    return [
        f"  note           feature archive not written since {_fmt(error.get('at'))}: "
        f"{_fmt(error.get('message'))} (labelling goes on; retrain lacks these windows)"
    ]


def _retention_lines(doc: Mapping[str, Any]) -> list[str]:
    """Pruning passes refused on a clock run ahead: a note, not a problem (labelling goes on)."""
    retention = doc.get("retention")
    paused = retention.get("paused") if isinstance(retention, Mapping) else None
    if not isinstance(paused, list):
        return []
    return [f"  note           {p['message']}" for p in paused if isinstance(p, Mapping)]


def format_status(doc: Mapping[str, Any], code: int) -> str:
    """A short human summary of ``doc`` (as returned by :func:`evaluate`)."""
    spool_path = (doc.get("spool") or {}).get("path")
    if not doc.get("running"):
        lines = ["taskclf-daemon: not running"]
        if doc.get("lock"):
            lines.append(f"  looked at      {doc['lock']} (no process holds it)")
        if doc.get("stopped_at"):
            lines.append(f"  last stopped   {doc['stopped_at']}")
        if spool_path:
            lines.append(f"  spool          {spool_path}")
        held = doc.get("label_log_held_by")
        if held:
            lines.append(
                f"  label log      {held.get('label_log')} is in use by another daemon "
                f"(pid {held.get('pid')}, on another spool)"
            )
        lines += [f"  problem        {p}" for p in doc.get("problems", [])]
        lines.append(
            "  start it       `taskclf-daemon run` (in a terminal) or `taskclf-daemon service "
            "install` (at each login)"
        )
        return "\n".join(lines)
    state = "healthy" if code == HEALTHY else "DEGRADED"
    model = doc.get("model") or {}
    store = doc.get("store") or {}
    windows = doc.get("windows") or {}
    spool = doc.get("spool") or {}
    last = doc.get("last_window") or {}
    latency = doc.get("latency_ms") or {}
    users = store.get("user_ids") or []
    lines = [
        f"taskclf-daemon: running ({state}), pid {_fmt(doc.get('pid'))}",
        f"  running since  {_fmt(doc.get('started_at'))}",
        f"  heartbeat      {_fmt(doc.get('heartbeat_at'))}",
        f"  spool          {_fmt(spool_path)} (collectors write into tmp/, then rename into new/)",
        *_policy_lines(doc),
        f"  model          {_fmt(model.get('bundle_id'))} "
        f"(schema {_fmt(model.get('schema_hash'))})",
        *_lineage_lines(doc),
        f"  store          {_fmt(store.get('id'))} ({_fmt(store.get('method'))}) "
        f"loaded {_fmt(store.get('loaded_at'))}",
        f"  per-user cal.  {plural(len(users), 'user')}{': ' + ', '.join(users) if users else ''}",
        *_threshold_lines(doc),
        # "by the model": the person's own labels are counted under "first model"
        f"  windows        {windows.get('labelled', 0)} labelled by the model, "
        f"{windows.get('refused', 0)} refused, {plural(windows.get('duplicates', 0), 'duplicate')}",
        f"  backlog        {spool.get('new', 0)} waiting, {spool.get('cur', 0)} in progress, "
        f"{plural(spool.get('rejected', 0), 'rejected file')}",
        f"  last window    {_fmt(last.get('user_id'))} {_fmt(last.get('bucket_start_ts'))} -> "
        f"{_fmt(last.get('label'))} (at {_fmt(last.get('at'))})",
        f"  latency        p50 {_fmt(latency.get('p50'))} ms, p99 {_fmt(latency.get('p99'))} ms",
        *_missing_lines(doc),
        f"  label log      {_fmt(doc.get('label_log'))}",
        f"  last error     {_last_error(doc)}",
    ]
    lines += [f"  problem        {p}" for p in doc.get("problems", [])]
    lines += _retention_lines(doc)
    lines += _archive_lines(doc)
    drift = doc.get("drift")
    if isinstance(drift, Mapping) and drift:
        # warnings about the model, not about the daemon: they do not make it degraded
        from daemon.reporting.drift import format_drift

        lines += format_drift(drift, in_force=model_in_force(doc))
    return "\n".join(lines)
