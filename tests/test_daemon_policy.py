"""A running daemon follows taskclf's inference policy: model + store + thresholds swap together."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from daemon_harness import DaemonProcess, Daemons
from helpers import Window, save_trained_bundle

from taskclf_core.bundle import load_bundle
from taskclf_core.calibration import CalibratorStore, save_calibrator_store
from taskclf_core.fitting import fit_isotonic_calibrator
from taskclf_core.labels import LABEL_INDEX
from taskclf_core.synthetic import generate_windows

pytestmark = pytest.mark.slow

TEMPERATURE_STORE_ID = "1a8b4f122695"  # taskclf's sample store


@pytest.fixture(scope="module")
def v3_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A schema-v3 bundle (a new feature set: what a retrain to a newer taskclf gives)."""
    return save_trained_bundle(
        tmp_path_factory.mktemp("v3") / "bundle_v3",
        generate_windows(days=3, seed=11, schema_version="v3"),
        rounds=20,
        seed=11,
        created_at="2026-02-01T00:00:00Z",
    )


@pytest.fixture
def home(tmp_path: Path, taskclf_sample: Path, v3_bundle: Path) -> Path:
    """taskclf's home as taskclf lays it out, with its own policy file in models/."""
    root = tmp_path / "taskclf"
    shutil.copytree(taskclf_sample / "bundle_v1", root / "models" / "bundle_v1")
    shutil.copytree(v3_bundle, root / "models" / "bundle_v3")
    shutil.copytree(
        taskclf_sample / "store_temperature", root / "artifacts" / "stores" / "temperature"
    )
    shutil.copy(
        taskclf_sample / "policy" / "policy_v1_temperature.json",
        root / "models" / "inference_policy.json",
    )
    # an isotonic store for bundle_v1, fitted on taskclf's own outputs for the sample windows
    expected = (taskclf_sample / "expected_temperature.jsonl").read_text()
    rows = [json.loads(line) for line in expected.splitlines()]
    raw = np.asarray([r["raw_probs"] for r in rows])
    y = np.asarray([LABEL_INDEX[r["core_label_name"]] for r in rows])
    save_calibrator_store(
        CalibratorStore(
            global_calibrator=fit_isotonic_calibrator(raw, y),
            user_calibrators={},
            method="isotonic",
            model_bundle_id="bundle_v1",
            model_schema_hash="4077fe0dba70",
            created_at="2026-02-01T00:00:00Z",
        ),
        root / "artifacts" / "stores" / "isotonic",
    )
    return root


def policy_path(home: Path) -> Path:
    return home / "models" / "inference_policy.json"


def replace_policy(home: Path, **changes: Any) -> dict[str, Any]:
    """Rewrite the policy as taskclf does: a temp file, then os.replace (atomic)."""
    path = policy_path(home)
    policy: dict[str, Any] = json.loads(path.read_text()) | changes
    tmp = path.with_name(".inference_policy.json.tmp")
    tmp.write_text(json.dumps(policy, indent=2) + "\n")
    os.replace(tmp, path)
    return policy


def stream(taskclf_sample: Path, copies: int) -> list[Window]:
    """taskclf's sample windows, ``copies`` days of them, without their schema stamp (so the
    v1 and the v3 bundle both take them: absent columns take the fill)."""
    base = [
        json.loads(line) for line in (taskclf_sample / "windows.jsonl").read_text().splitlines()
    ]
    out: list[Window] = []
    for day in range(copies):
        for w in base:
            shifted = {k: v for k, v in w.items() if k not in ("schema_version", "schema_hash")}
            for key in ("bucket_start_ts", "bucket_end_ts"):
                shifted[key] = w[key].replace("2026-", f"{2030 + day}-", 1)
            out.append(shifted)
    return out


def started(daemons: Daemons, home: Path) -> DaemonProcess:
    d = daemons.new(model_dir=None, policy_file=str(policy_path(home)))
    d.start()
    return d


def in_force(d: DaemonProcess, bundle_id: str, store_id: str | None, what: str) -> dict[str, Any]:
    return d.wait_status(
        lambda s: s["model"]["bundle_id"] == bundle_id and s["store"]["id"] == store_id,
        10,
        what,
    )


def runs_of(records: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """(bundle, store) in the order the records were labelled, one entry per run."""
    ordered = sorted(records, key=lambda r: (r["processed_at"], r["source"]))
    runs: list[tuple[str, str | None]] = []
    for r in ordered:
        pair = (r["model_bundle_id"], r["store_id"])
        if not runs or runs[-1] != pair:
            runs.append(pair)
    return runs


def test_policy_swaps_while_windows_stream(
    daemons: Daemons, home: Path, taskclf_sample: Path
) -> None:
    d = started(daemons, home)
    status = d.status()
    assert status is not None
    assert status["policy"]["path"] == str(policy_path(home))
    assert status["policy"]["source"] == "calibrate"
    assert status["thresholds"] == {"reject_threshold": 0.55, "per_user": {}}
    windows = stream(taskclf_sample, 3)

    # a brisk live stream: the pace is what is under test
    with d.producing(windows, rate=250) as feeder:
        d.wait_records(60, timeout=30)
        replace_policy(
            home,
            calibrator_store_dir="artifacts/stores/isotonic",
            calibration_method="isotonic",
            per_user_reject_thresholds={"u-alice": 0.8},
            source="deploy",
        )
        status = d.wait_status(
            lambda s: s["store"]["method"] == "isotonic", 10, "the isotonic store in force"
        )
        isotonic_id: str = status["store"]["id"]
        assert status["thresholds"] == {"reject_threshold": 0.55, "per_user": {"u-alice": 0.8}}
        d.wait_records(160, timeout=30)
        replace_policy(
            home,
            model_dir="models/bundle_v3",
            model_schema_hash=load_bundle(home / "models" / "bundle_v3").schema_hash,
            calibrator_store_dir=None,
            calibration_method=None,
            per_user_reject_thresholds=None,
            reject_threshold=0.5,
        )
        in_force(d, "bundle_v3", None, "the v3 bundle without a store")
        feeder.finish()
    records = d.wait_labelled(windows, timeout=60)
    keys = [(r["user_id"], r["bucket_start_ts"]) for r in records]
    assert len(keys) == len(set(keys)) == len(windows), "a window lost or logged twice"
    # each swap lands at one point between two batches: three runs, in order
    assert runs_of(records) == [
        ("bundle_v1", TEMPERATURE_STORE_ID),
        ("bundle_v1", isotonic_id),
        ("bundle_v3", None),
    ]
    for r in records:
        if r["store_id"] == isotonic_id:
            assert r["reject_threshold"] == (0.8 if r["user_id"] == "u-alice" else 0.55)
        elif r["model_bundle_id"] == "bundle_v3":
            assert r["reject_threshold"] == 0.5
            assert r["calibrator"] == "identity"
        else:
            assert r["reject_threshold"] == 0.55
        assert r["is_rejected"] == (r["confidence"] < r["reject_threshold"])
    assert len(d.log_events("reload_swapped")) == 2
    d.stop()


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        ("bad_json", "not valid JSON"),
        ("missing_model", "model_dir 'models/gone'"),
        ("hash_mismatch", "model_schema_hash is 'ffffffffffff'"),
        ("store_for_another_model", "model_bundle_id"),
    ],
)
def test_a_broken_policy_is_refused_and_the_old_triple_keeps_labelling(
    daemons: Daemons, home: Path, taskclf_sample: Path, breakage: str, reason: str
) -> None:
    d = started(daemons, home)
    windows = stream(taskclf_sample, 2)
    d.drop_windows(windows[:20], prefix="a")
    d.wait_labelled(windows[:20])
    good = policy_path(home).read_bytes()
    if breakage == "bad_json":
        policy_path(home).write_text('{"policy_version": "v1", "model_dir": ')
    elif breakage == "missing_model":
        replace_policy(home, model_dir="models/gone")
    elif breakage == "hash_mismatch":
        replace_policy(home, model_schema_hash="ffffffffffff")
    else:
        other = home / "artifacts" / "stores" / "other"
        shutil.copytree(home / "artifacts" / "stores" / "temperature", other)
        meta = json.loads((other / "store.json").read_text())
        (other / "store.json").write_text(json.dumps(meta | {"model_bundle_id": "bundle_x"}))
        replace_policy(home, calibrator_store_dir="artifacts/stores/other")
    status = d.wait_status(lambda s: not s["healthy"], 10, "the refusal in status")
    assert reason in status["store"]["last_error"]
    assert status["model"]["bundle_id"] == "bundle_v1"
    assert status["store"]["id"] == TEMPERATURE_STORE_ID
    shown = d.cli("status")
    assert shown.returncode == 1
    assert f"inference policy {policy_path(home)} refused" in shown.stdout
    # the old triple keeps labelling
    d.drop_windows(windows[20:40], prefix="b")
    records = d.wait_labelled(windows[20:40])
    later = [r for r in records if r["source"].startswith("b")]
    assert {(r["model_bundle_id"], r["store_id"]) for r in later} == {
        ("bundle_v1", TEMPERATURE_STORE_ID)
    }
    assert len(d.log_events("reload_refused")) == 1, "refused once, not reloaded in a loop"
    # fixed: recovers by itself
    tmp = policy_path(home).with_name(".fixed.tmp")
    tmp.write_bytes(good)
    os.replace(tmp, policy_path(home))
    d.wait_status(lambda s: s["healthy"], 10, "healthy again once the policy is fixed")
    assert d.cli("status").returncode == 0
    d.stop()


def test_deploy_and_rollback_swap_a_running_daemon_twice(
    daemons: Daemons, home: Path, taskclf_sample: Path
) -> None:
    d = started(daemons, home)
    windows = stream(taskclf_sample, 4)
    isotonic = home / "artifacts" / "stores" / "isotonic"
    chunk = 25
    seen = 0
    for round_ in range(2):
        deployed = d.cli(
            "deploy", "--model", str(home / "models" / "bundle_v1"), "--store", str(isotonic)
        )
        assert deployed.returncode == 0, deployed.stderr
        assert "deployed" in deployed.stdout
        status = d.wait_status(
            lambda s: s["store"]["method"] == "isotonic", 10, f"deploy {round_} in force"
        )
        batch = windows[seen : seen + chunk]
        seen += chunk
        d.drop_windows(batch, prefix=f"d{round_}")
        records = d.wait_labelled(batch)
        assert {r["store_id"] for r in records if r["source"].startswith(f"d{round_}")} == {
            status["store"]["id"]
        }
        rolled = d.cli("rollback")
        assert rolled.returncode == 0, rolled.stderr
        assert "rolled back to" in rolled.stdout
        in_force(d, "bundle_v1", TEMPERATURE_STORE_ID, f"rollback {round_} in force")
        batch = windows[seen : seen + chunk]
        seen += chunk
        d.drop_windows(batch, prefix=f"r{round_}")
        records = d.wait_labelled(batch)
        assert {r["store_id"] for r in records if r["source"].startswith(f"r{round_}")} == {
            TEMPERATURE_STORE_ID
        }
    assert d.alive()
    d.stop()


def test_a_store_edited_in_place_under_an_unchanged_policy_still_hot_swaps(
    daemons: Daemons, home: Path, taskclf_sample: Path
) -> None:
    d = started(daemons, home)
    store = home / "artifacts" / "stores" / "temperature"
    data = json.loads((store / "global.json").read_text())
    (store / "global.json").write_text(json.dumps(data | {"temperature": 2.0}))
    status = d.wait_status(
        lambda s: s["store"]["id"] not in (TEMPERATURE_STORE_ID, None), 10, "the edited store"
    )
    windows = stream(taskclf_sample, 1)[:10]
    d.drop_windows(windows)
    records = d.wait_labelled(windows)
    assert {r["store_id"] for r in records} == {status["store"]["id"]}
    d.stop()
