"""Shared fixtures: isolated HOME/XDG dirs, a bundle trained from seeded data, store helpers."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskclf_core.bundle import ModelBundle, load_bundle, save_bundle
from taskclf_core.calibration import CalibratorStore, TemperatureCalibrator, save_calibrator_store
from taskclf_core.synthetic import generate_windows
from taskclf_core.training import train_bundle

# artifacts made by taskclf itself (provenance in their README): data, not code
TASKCLF_SAMPLE = Path(__file__).resolve().parent / "fixtures" / "taskclf-sample"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HOME and XDG dirs, and no TASKCLF_* from the outside."""
    home = tmp_path / "home"
    for sub in ("", ".config", ".local/share", ".local/state", ".cache", "run"):
        (home / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    for key in list(os.environ):
        if key.startswith("TASKCLF_") or key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            monkeypatch.delenv(key)
    return home


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running (watchers and reloaders must be stopped)."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    assert not leaked, f"threads leaked: {leaked}"


@pytest.fixture(scope="session")
def training_windows() -> list[dict[str, Any]]:
    """Seeded labelled windows (v2 schema): three users, four days."""
    return generate_windows(days=4, seed=7)


@pytest.fixture(scope="session")
def bundle_dir(
    tmp_path_factory: pytest.TempPathFactory, training_windows: list[dict[str, Any]]
) -> Path:
    """A small bundle trained in-session (30 rounds) and saved in taskclf's layout."""
    trained = train_bundle(
        training_windows, rounds=30, seed=7, created_at="2026-01-09T00:00:00Z", num_threads=1
    )
    path = tmp_path_factory.mktemp("bundles") / "bundle_test"
    save_bundle(
        path,
        model_text=trained.model_text,
        metadata=trained.metadata,
        encoders=trained.encoders,
        metrics=trained.metrics,
    )
    return path


@pytest.fixture(scope="session")
def bundle(bundle_dir: Path) -> ModelBundle:
    return load_bundle(bundle_dir)


@pytest.fixture
def make_store(tmp_path: Path, bundle: ModelBundle) -> Any:
    """``make_store(name, global_t=1.0, users={"u-ada": 0.8})`` writes a temperature store."""

    def make(
        name: str = "store",
        global_t: float = 1.0,
        users: dict[str, float] | None = None,
        *,
        match_bundle: bool = True,
    ) -> Path:
        store = CalibratorStore(
            global_calibrator=TemperatureCalibrator(global_t),
            user_calibrators={u: TemperatureCalibrator(t) for u, t in (users or {}).items()},
            method="temperature",
            model_bundle_id=bundle.bundle_id if match_bundle else None,
            model_schema_hash=bundle.schema_hash if match_bundle else None,
            created_at="2026-01-09T00:00:00+00:00",
        )
        return save_calibrator_store(store, tmp_path / name)

    return make


@pytest.fixture
def taskclf_sample() -> Path:
    """taskclf's own artifacts, kept under tests/fixtures/ (see their README)."""
    return TASKCLF_SAMPLE


def window_stream(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Windows without their training label (what a collector drops)."""
    return [{k: v for k, v in w.items() if k != "label"} for w in windows]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
