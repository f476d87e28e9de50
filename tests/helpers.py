"""Plain test helpers (no fixtures): window streams, JSONL files, synthetic data, stores, units."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, Protocol

import numpy as np
import pytest

from taskclf_core.bundle import ModelBundle, save_bundle
from taskclf_core.calibration import CalibratorStore, TemperatureCalibrator
from taskclf_core.labels import N_CLASSES
from taskclf_core.training import train_bundle
from taskclf_core.types import FloatArray, IntArray

__all__ = [
    "CREATED_AT",
    "IN_CI",
    "VOLATILE",
    "FakeRunner",
    "MakeStore",
    "Window",
    "by_window",
    "faketime_env",
    "in_time_order",
    "isotonic_regressor_json",
    "read_only_bind",
    "require_root",
    "require_tool",
    "save_trained_bundle",
    "synthetic_probs",
    "systemd_verify",
    "temperature_store",
    "unavailable",
    "unit_keys",
    "unwritable",
    "window_stream",
    "write_jsonl",
]

Window = dict[str, Any]

# CI installs every real part the tests drive (.ci/run): there a missing one fails the run
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(what: str, why: str) -> NoReturn:
    """A real part this test needs is missing: the test is skipped, saying why; in CI
    (``CI=true``), where .ci/run installs every part, it fails instead, so a run cannot
    turn green by skipping what it was meant to test."""
    if IN_CI:
        pytest.fail(f"{what} is missing in CI (CI=true): {why}", pytrace=False)
    pytest.skip(f"{what} is not available: {why}")


def require_tool(name: str, why: str) -> str:
    """The path of program ``name`` on PATH, else :func:`unavailable`."""
    found = shutil.which(name)
    if found is None:
        unavailable(name, f"not on PATH ({why})")
    return found


# Debian's `faketime` package (.ci/run installs it): a test that needs it fails without it
_LIBFAKETIME = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1")


def faketime_env(when: str) -> dict[str, str]:
    """The variables that run a process on a clock set to ``when`` (libfaketime's FAKETIME:
    "+5y" ahead of the real clock, "@2026-03-03 00:55:00" from that local time on); wall
    clock only: monotonic time stays real, or every timed wait would hang."""
    found = [p for pattern in _LIBFAKETIME for p in sorted(glob.glob(pattern))]
    if not found:
        unavailable("libfaketime", "apt-get install faketime (.ci/run does)")
    return {"LD_PRELOAD": found[0], "FAKETIME": when, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def require_root(why: str) -> None:
    """Root (mounts, chattr), else :func:`unavailable`: CI runs the suite as root."""
    if os.geteuid() != 0:
        unavailable("root", why)


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


@contextmanager
def read_only_bind(path: Path) -> Iterator[None]:
    """``path`` seen through a read-only bind mount of itself: what is open stays writable,
    anything opened anew there fails with EROFS, for root too (a remount would be refused:
    files are open). Root only."""
    require_root("a read-only bind mount")
    bound = _run("mount", "--bind", str(path), str(path))
    if bound.returncode != 0:
        unavailable("a bind mount", bound.stderr.strip())
    try:
        ro = _run("mount", "-o", "remount,bind,ro", str(path))
        if ro.returncode != 0:
            unavailable("a read-only bind mount", ro.stderr.strip())
        yield
    finally:
        _run("umount", str(path))


@contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """``directory`` refusing new files to whoever runs the tests: mode 0500, or for root
    (whom modes do not stop) a read-only bind mount of itself."""
    if os.geteuid() == 0:
        with read_only_bind(directory):
            yield
        return
    mode = directory.stat().st_mode & 0o777
    directory.chmod(0o500)
    try:
        yield
    finally:
        directory.chmod(mode)


CREATED_AT = "2026-01-09T00:00:00+00:00"  # a made-up store creation time (any fixed one)


def window_stream(windows: list[Window]) -> list[Window]:
    """Windows without their training label (what a collector drops)."""
    return [{k: v for k, v in w.items() if k != "label"} for w in windows]


def in_time_order(windows: list[Window]) -> list[Window]:
    """Unlabelled windows of every user interleaved in time order (each user's in time order)."""
    return sorted(window_stream(windows), key=lambda w: (w["bucket_start_ts"], w["user_id"]))


# the only record fields a restart, a stall or a second read of the same file may change
VOLATILE = ("processed_at", "source")


def by_window(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Records by (user_id, bucket_start_ts) without VOLATILE fields; fails on a window twice."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        key = (record["user_id"], record["bucket_start_ts"])
        assert key not in out, f"window {key} is in the label log twice"
        out[key] = {k: v for k, v in record.items() if k not in VOLATILE}
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def save_trained_bundle(
    path: Path,
    windows: list[Window],
    *,
    rounds: int,
    seed: int,
    created_at: str,
    holdout: float = 0.2,
) -> Path:
    """A small bundle trained on ``windows`` (one thread: deterministic) saved at ``path``."""
    trained = train_bundle(
        windows, rounds=rounds, seed=seed, created_at=created_at, num_threads=1, holdout=holdout
    )
    return save_bundle(
        path,
        model_text=trained.model_text,
        metadata=trained.metadata,
        encoders=trained.encoders,
        metrics=trained.metrics,
    )


def synthetic_probs(
    seed: int, n: int, scale: float, *, spread: float = 2.0
) -> tuple[FloatArray, IntArray]:
    """Labels drawn from softmax(logits); the model reports softmax(scale * logits).

    ``scale`` > 1 makes the model over-confident (best T ≈ scale), < 1 under-confident.
    """
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, N_CLASSES)) * spread
    truth = np.exp(logits - logits.max(axis=1, keepdims=True))
    truth /= truth.sum(axis=1, keepdims=True)
    y = (truth.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    s = logits * scale
    probs = np.exp(s - s.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return probs, y


def temperature_store(
    bundle: ModelBundle | None,
    global_t: float = 1.0,
    users: dict[str, float] | None = None,
    *,
    created_at: str | None = CREATED_AT,
) -> CalibratorStore:
    """A temperature store naming ``bundle`` (None: naming no bundle): a global T, some per user."""
    return CalibratorStore(
        global_calibrator=TemperatureCalibrator(global_t),
        user_calibrators={u: TemperatureCalibrator(t) for u, t in (users or {}).items()},
        method="temperature",
        model_bundle_id=None if bundle is None else bundle.bundle_id,
        model_schema_hash=None if bundle is None else bundle.schema_hash,
        created_at=created_at,
    )


class MakeStore(Protocol):
    """conftest's ``make_store`` fixture: writes :func:`temperature_store` under tmp_path/name."""

    def __call__(
        self,
        name: str = ...,
        global_t: float = ...,
        users: dict[str, float] | None = ...,
        *,
        match_bundle: bool = ...,
    ) -> Path: ...


def isotonic_regressor_json(**override: Any) -> dict[str, Any]:
    """One class's isotonic regressor as taskclf writes it (sklearn's attribute names)."""
    regressor: dict[str, Any] = {
        "X_thresholds_": [0.0, 0.25, 1.0],
        "y_thresholds_": [0.0, 0.5, 1.0],
        "X_min_": 0.0,
        "X_max_": 1.0,
        "increasing_": True,
        "out_of_bounds": "clip",
    }
    regressor.update(override)
    return regressor


def unit_keys(unit: str) -> dict[str, list[str]]:
    """A systemd unit's settings as ``{"[Section]Key": [values in order]}`` (comments skipped)."""
    keys: dict[str, list[str]] = {}
    section = ""
    for raw in unit.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        key, _, value = line.partition("=")
        keys.setdefault(f"{section}{key}", []).append(value)
    return keys


class FakeRunner:
    """Stands in for systemctl/launchctl: records each argv; ``fail`` maps an argv to its status."""

    def __init__(self, fail: dict[tuple[str, ...], int] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail or {}

    def __call__(self, argv: Sequence[str]) -> int:
        self.calls.append(list(argv))
        return self.fail.get(tuple(argv), 0)


SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or (
    "/usr/bin/systemd-analyze" if Path("/usr/bin/systemd-analyze").exists() else None
)


def systemd_verify(*units: Path) -> None:
    """``systemd-analyze --user verify`` accepts ``units`` without a word about any of them.

    Skips the test where systemd-analyze is not installed. Warnings (an unknown or misspelt
    option) do not change its exit status, hence the check that no unit is named.
    """
    if SYSTEMD_ANALYZE is None:
        unavailable("systemd-analyze", "cannot verify the rendered units (Debian: systemd)")
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "--user", "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    for unit in units:
        assert unit.stem not in output, output


# CONTRACT section 16's gates, in its order (the champion comparison last)
CONTRACT_GATES = (
    "breakidle_precision",
    "no_class_below_50_precision",
    "macro_f1",
    "weighted_f1",
    "breakidle_recall",
    "reject_rate_bounds",
    "macro_f1_no_regression",
)


def retrain_scenario(root: Path) -> tuple[list[dict[str, Any]], Path, Path]:
    """Three careful labellers' five days ending yesterday, and two champions for them:
    ``strong`` saw every labelled window (the evaluation ones too), so no challenger trained
    on 70 % of them can match it; ``weak`` was trained for one round on a few, so one can.
    Returns (the labelled windows, strong, weak)."""
    from datetime import UTC, datetime, timedelta

    from taskclf_core.synthetic import generate_population, generate_windows

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    people = generate_windows(
        users=generate_population(3, seed=10, kinds=("plain",)),
        days=5,
        seed=10,
        start=today - timedelta(days=5),
    )
    strong = save_trained_bundle(root / "strong", people, rounds=60, seed=1, holdout=0.0,
                                 created_at=today.isoformat())  # fmt: skip
    weak = save_trained_bundle(root / "weak", people[::40], rounds=1, seed=1, holdout=0.0,
                               created_at=today.isoformat())  # fmt: skip
    return people, strong, weak
