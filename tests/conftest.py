"""Shared fixtures: isolated HOME/XDG dirs, a bundle trained from seeded data, stores, daemons.

Plain helpers live in helpers.py (import them from there, never from conftest).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aw_server import AWKind, AWServer, available_aw_server
from daemon_harness import Daemons, isolated_env, running_daemons
from helpers import MakeStore, save_trained_bundle, temperature_store

from taskclf_core.bundle import ModelBundle, load_bundle
from taskclf_core.calibration import save_calibrator_store
from taskclf_core.synthetic import generate_windows

# artifacts made by taskclf itself (provenance in their README): data, not code
TASKCLF_SAMPLE = Path(__file__).resolve().parent / "fixtures" / "taskclf-sample"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in :func:`isolated_env`: its own HOME and XDG dirs, no TASKCLF_*."""
    home = tmp_path / "home"
    env = isolated_env(home)
    for key in os.environ.keys() - env.keys():
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
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
    return save_trained_bundle(
        tmp_path_factory.mktemp("bundles") / "bundle_test",
        training_windows,
        rounds=30,
        seed=7,
        created_at="2026-01-09T00:00:00Z",
    )


@pytest.fixture(scope="session")
def bundle(bundle_dir: Path) -> ModelBundle:
    return load_bundle(bundle_dir)


@pytest.fixture
def make_store(tmp_path: Path, bundle: ModelBundle) -> MakeStore:
    """``make_store(name, global_t=1.0, users={"u-ada": 0.8})`` writes a temperature store."""

    def make(
        name: str = "store",
        global_t: float = 1.0,
        users: dict[str, float] | None = None,
        *,
        match_bundle: bool = True,
    ) -> Path:
        store = temperature_store(bundle if match_bundle else None, global_t, users)
        return save_calibrator_store(store, tmp_path / name)

    return make


@pytest.fixture
def daemons(tmp_path: Path, bundle_dir: Path, isolated_home: Path) -> Iterator[Daemons]:
    """Daemon configurations under ``tmp_path`` (in this test's HOME); all killed at the end."""
    with running_daemons(tmp_path, bundle_dir) as made:
        yield made


@pytest.fixture
def taskclf_sample() -> Path:
    """taskclf's own artifacts, kept under tests/fixtures/ (see their README)."""
    return TASKCLF_SAMPLE


@pytest.fixture(scope="module")
def aw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AWServer]:
    """A real aw-server (ActivityWatch) for the module's tests, memory storage; another kind
    (``AWKind``: its storage, an API key) with ``@pytest.mark.parametrize("aw", [AWKind(...)],
    indirect=True)``, one server a module per kind."""
    kind: AWKind | None = getattr(request, "param", None)
    with available_aw_server(tmp_path_factory.mktemp("aw-home"), kind) as server:
        yield server
