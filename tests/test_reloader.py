"""Reloader and Reload.news with real files: swaps, refusals read once, a policy swapped whole."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import MakeStore, temperature_store

from daemon import artifacts
from daemon.artifacts import load_in_force, sources_fingerprint
from daemon.config.settings import Settings, load_settings
from daemon.fsutil import utc_now
from daemon.inforce import decisions_of, sources_of
from daemon.runtime import reloader as reloader_module
from daemon.runtime.reloader import Holder, Refusal, Reload, Reloader, snapshot_of
from taskclf_core.bundle import load_bundle
from taskclf_core.calibration import read_store_files, save_calibrator_store
from taskclf_core.errors import CalibrationError
from taskclf_core.policy import InferencePolicy, policy_to_json


class Rig:
    """What daemon/runtime/runtime.py builds around the reloader, without its threads."""

    def __init__(self, settings: Settings) -> None:
        self.sources = sources_of(settings)
        decisions = decisions_of(settings)
        in_force = load_in_force(self.sources, now=utc_now)
        self.holder = Holder(Reload(snapshot_of(in_force, decisions, None), in_force))
        self.reloader = Reloader(
            self.holder, self.sources, decisions=decisions, taxonomy=None, debounce=0.0
        )

    @property
    def current(self) -> Reload:
        return self.holder.current

    def reload(self) -> str | None:
        """What a file event or the periodic rescan does (no ``force``): news only."""
        return self.reloader.reload(force=False)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per read of the files by the reloader (each :func:`artifacts.judge`)."""
    count: list[int] = []
    real = artifacts.judge

    def counting(*args: Any, **kwargs: Any) -> artifacts.Judgement:
        count.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(reloader_module, "judge", counting)
    return count


def swap_symlink(link: Path, target: Path) -> None:
    """``ln -s target tmp && mv -T tmp link``: the atomic swap users do."""
    tmp = link.with_name(link.name + ".swap")
    os.symlink(target, tmp)
    os.replace(tmp, link)


# --- the settings' model and store ---------------------------------------------------------------


@pytest.fixture
def stores(make_store: MakeStore, tmp_path: Path) -> dict[str, Path]:
    a = make_store("store-a", 1.0, users={"u-ada": 0.8})
    b = make_store("store-b", 1.5)
    bad = make_store("store-bad", 1.2)
    (bad / "global.json").write_text('{"type": "platt"}')
    link = tmp_path / "store"
    os.symlink(a, link)
    return {"a": a, "b": b, "bad": bad, "link": link}


@pytest.fixture
def daemon(bundle_dir: Path, stores: dict[str, Path]) -> Rig:
    settings = load_settings(
        None, {"model_dir": str(bundle_dir), "calibrator_store": str(stores["link"])}
    )
    return Rig(settings)


def test_nothing_changed_is_no_news_and_no_read(daemon: Rig, reads: list[int]) -> None:
    before = daemon.current
    assert before.news(sources_fingerprint(daemon.sources)) is None
    assert daemon.reload() is None
    assert daemon.current is before
    assert len(reads) == 0


def test_a_swapped_store_is_swapped_in_one_new_record_keeping_the_bundle(
    daemon: Rig, stores: dict[str, Path], reads: list[int]
) -> None:
    before = daemon.current
    swap_symlink(stores["link"], stores["b"])
    assert before.news(sources_fingerprint(daemon.sources)) == "read"
    assert daemon.reload() == "swapped"
    after = daemon.current
    assert after is not before
    assert after.snapshot.store is not None
    assert after.snapshot.store_id == after.snapshot.store.store_id
    assert after.snapshot.store.global_calibrator == temperature_store(None, 1.5).global_calibrator
    assert after.snapshot.bundle is before.snapshot.bundle  # the model was not read again
    assert (after.refusal, after.settling_since) == (None, None)
    assert before.snapshot.store_id != after.snapshot.store_id  # the old record is unchanged
    assert len(reads) == 1
    assert daemon.reload() is None  # and now it is what is in force


def test_a_broken_store_is_refused_once_and_not_read_again_until_it_changes(
    daemon: Rig, stores: dict[str, Path], reads: list[int]
) -> None:
    before = daemon.current
    swap_symlink(stores["link"], stores["bad"])
    assert daemon.reload() == "refused"
    refused = daemon.current
    assert refused.snapshot is before.snapshot  # what was in force labels on
    assert refused.in_force is before.in_force
    assert refused.refusal is not None
    assert "platt" in refused.refusal.reason
    assert refused.refusal.fingerprint == sources_fingerprint(daemon.sources)
    described = refused.describe(daemon.sources)["store"]
    assert described["last_error"] == refused.refusal.reason
    assert described["id"] == before.snapshot.store_id
    assert len(reads) == 1

    for _ in range(3):  # every rescan and event finds the same files: no read, no new record
        assert daemon.reload() is None
        assert daemon.current is refused
    assert len(reads) == 1

    (stores["bad"] / "global.json").write_text('{"type": "beta!"}')  # changed: read again
    assert daemon.reload() == "refused"
    assert daemon.current.refusal is not None
    assert "beta!" in daemon.current.refusal.reason
    assert len(reads) == 2


def test_a_refusal_is_cleared_when_the_path_goes_back_without_a_read(
    daemon: Rig, stores: dict[str, Path], reads: list[int]
) -> None:
    before = daemon.current
    swap_symlink(stores["link"], stores["bad"])
    assert daemon.reload() == "refused"
    swap_symlink(stores["link"], stores["a"])  # the user undoes the bad swap
    assert daemon.current.news(sources_fingerprint(daemon.sources)) == "clear"
    assert daemon.reload() == "cleared"
    cleared = daemon.current
    assert (cleared.refusal, cleared.settling_since) == (None, None)
    assert cleared.snapshot is before.snapshot
    assert cleared.describe(daemon.sources)["store"]["last_error"] is None
    assert len(reads) == 1  # only the refused read
    assert daemon.reload() is None


def test_a_store_that_goes_missing_is_refused_naming_it(
    daemon: Rig, stores: dict[str, Path]
) -> None:
    stores["link"].unlink()
    assert daemon.reload() == "refused"
    refusal = daemon.current.refusal
    assert refusal is not None
    assert str(stores["link"]) in refusal.reason


# --- Reload.news: the one rule -------------------------------------------------------------------


def test_news_is_read_clear_or_nothing(daemon: Rig) -> None:
    current = daemon.current
    in_force = current.in_force.fingerprint
    other = ("something", "else")
    refused = dataclasses.replace(current, refusal=Refusal(other, "bad", "t"))
    settling = dataclasses.replace(current, settling_since="t")
    assert current.news(in_force) is None
    assert current.news(other) == "read"
    assert refused.news(in_force) == "clear"
    assert refused.news(other) is None  # refused files are not read again
    assert refused.news(("a", "third")) == "read"
    assert settling.news(in_force) == "clear"
    assert settling.news(other) == "read"


# --- an inference policy -------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, bundle_dir: Path) -> Path:
    """A taskclf home: two bundles (models/bundle_a, models/bundle_b), a store for each."""
    home = tmp_path / "taskclf"
    for name, t in (("a", 1.0), ("b", 1.7)):
        model = shutil.copytree(bundle_dir, home / "models" / f"bundle_{name}")
        store = temperature_store(load_bundle(model), t, {"u-ada": t / 2})
        save_calibrator_store(store, home / "stores" / name)
    return home


def write_policy(home: Path, name: str, threshold: float, **changes: Any) -> Path:
    """models/inference_policy.json for bundle_<name> and stores/<name>, replaced by rename."""
    bundle = load_bundle(home / "models" / f"bundle_{name}")
    policy = InferencePolicy(
        model_dir=f"models/bundle_{name}",
        model_schema_hash=bundle.schema_hash or "",
        model_label_set=bundle.label_set,
        reject_threshold=threshold,
        calibrator_store_dir=f"stores/{name}",
        calibration_method="temperature",
        created_at=utc_now(),
        source="test",
    )
    path = home / "models" / "inference_policy.json"
    tmp = path.with_name(".policy.tmp")
    tmp.write_bytes(policy_to_json(dataclasses.replace(policy, **changes)))
    os.replace(tmp, path)
    return path


@pytest.fixture
def policy_daemon(home: Path) -> Rig:
    policy = write_policy(home, "a", 0.5, per_user_reject_thresholds={"u-ada": 0.7})
    return Rig(load_settings(None, {"policy_file": str(policy), "smooth_window": 5}))


def test_a_replaced_policy_swaps_model_store_and_thresholds_together(
    policy_daemon: Rig, home: Path
) -> None:
    before = policy_daemon.current.snapshot
    assert before.bundle.bundle_id == "bundle_a"
    assert before.policy.reject_threshold == 0.5
    assert dict(before.policy.user_thresholds) == {"u-ada": 0.7}

    write_policy(home, "b", 0.6, per_user_reject_thresholds={"u-ben": 0.4})
    assert policy_daemon.reload() == "swapped"
    after = policy_daemon.current.snapshot
    assert after.bundle.bundle_id == "bundle_b"
    assert after.store is not None
    assert after.store.model_bundle_id == "bundle_b"
    assert after.store.global_calibrator == temperature_store(None, 1.7).global_calibrator
    assert after.policy.reject_threshold == 0.6
    assert dict(after.policy.user_thresholds) == {"u-ben": 0.4}
    assert after.policy.smooth_window == 5  # the settings' other rules stay
    described = policy_daemon.current.describe(policy_daemon.sources)
    assert described["policy"]["model_dir"] == "models/bundle_b"
    assert described["thresholds"] == {"reject_threshold": 0.6, "per_user": {"u-ben": 0.4}}
    assert described["store"]["path"] == str(home / "stores" / "b")
    # the old snapshot still pairs the old model with its own store and thresholds
    assert before.bundle.bundle_id == "bundle_a"
    assert before.store is not None
    assert before.store.model_bundle_id == "bundle_a"
    assert before.policy.reject_threshold == 0.5


def test_a_policy_naming_a_missing_model_is_refused_and_nothing_changes(
    policy_daemon: Rig, home: Path, reads: list[int]
) -> None:
    before = policy_daemon.current
    write_policy(home, "b", 0.6, model_dir="models/bundle_gone")
    assert policy_daemon.reload() == "refused"
    current = policy_daemon.current
    assert current.snapshot is before.snapshot
    assert current.refusal is not None
    assert "model_dir 'models/bundle_gone'" in current.refusal.reason
    described = current.describe(policy_daemon.sources)
    assert described["policy"]["last_error"] == current.refusal.reason
    assert described["policy"]["model_dir"] == "models/bundle_a"
    assert described["thresholds"]["reject_threshold"] == 0.5
    assert policy_daemon.reload() is None  # refused once
    assert len(reads) == 1

    write_policy(home, "b", 0.6)  # fixed: the whole new deployment comes in
    assert policy_daemon.reload() == "swapped"
    assert policy_daemon.current.snapshot.bundle.bundle_id == "bundle_b"
    assert policy_daemon.current.refusal is None


def test_a_policy_that_does_not_match_its_store_is_refused(policy_daemon: Rig, home: Path) -> None:
    write_policy(home, "b", 0.6, calibrator_store_dir="stores/a")  # store a is bundle_a's
    assert policy_daemon.reload() == "refused"
    refusal = policy_daemon.current.refusal
    assert refusal is not None
    assert "calibrator_store_dir 'stores/a'" in refusal.reason
    assert policy_daemon.current.snapshot.bundle.bundle_id == "bundle_a"


def test_a_store_refused_as_unreadable_is_read_again_once_its_permissions_are_fixed(
    daemon: Rig, stores: dict[str, Path], reads: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sudo cp -r`` left root's files; ``chown``/``chmod`` fixes them without touching their
    size or mtime. (Root reads anything, so the read refuses as a user's would.)"""
    real = read_store_files

    def as_a_user(path: Path) -> dict[str, bytes]:
        for rel in ("store.json", "global.json"):
            if not os.stat(path / rel).st_mode & 0o400:
                raise CalibrationError(f"{path / rel}: cannot read (Permission denied)")
        return real(path)

    monkeypatch.setattr(artifacts, "read_store_files", as_a_user)
    (stores["b"] / "global.json").chmod(0o000)
    swap_symlink(stores["link"], stores["b"])
    assert daemon.reload() == "refused"
    assert daemon.current.refusal is not None
    assert "Permission denied" in daemon.current.refusal.reason

    (stores["b"] / "global.json").chmod(0o600)  # only its ctime changes
    assert daemon.reload() == "swapped"
    assert daemon.current.refusal is None
    assert daemon.current.snapshot.store is not None
    assert daemon.current.snapshot.store.global_calibrator == (
        temperature_store(None, 1.5).global_calibrator
    )
    assert len(reads) == 2
