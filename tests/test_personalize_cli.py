"""`taskclf-daemon personalize`: from the span file and the label log to the store in force."""

from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import temperature_store
from labelling import spans_from

from daemon.cli import main
from daemon.records import describe_last, read_last
from taskclf_core.bundle import ModelBundle
from taskclf_core.calibration import (
    CalibratorStore,
    TemperatureCalibrator,
    load_calibrator_store,
    save_calibrator_store,
)
from taskclf_core.pipeline import Policy, Snapshot, label_windows
from taskclf_core.schema import parse_window
from taskclf_core.spans import spans_to_csv
from taskclf_core.synthetic import generate_windows


@pytest.fixture(scope="module")
def stream() -> list[dict[str, Any]]:
    return generate_windows(days=5, seed=23, start=datetime(2026, 1, 12, tzinfo=UTC))


def write_log(data_dir: Path, bundle: ModelBundle, windows: list[dict[str, Any]],
              store: CalibratorStore | None, *, drop_model_probs: int = 0) -> None:  # fmt: skip
    """What the daemon would have logged for ``windows`` (the pipeline, one line a record)."""
    policy = Policy()
    parsed = [parse_window({k: v for k, v in w.items() if k != "label"}, bundle.schema)
              for w in windows]  # fmt: skip
    _, records = label_windows(
        Snapshot(bundle, store, policy), policy.empty_state(), parsed,
        sources=["f.json"] * len(parsed), processed_at="2026-02-01T00:00:00Z",
    )  # fmt: skip
    labels = data_dir / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(records):
        data = r.to_dict()
        if i < drop_model_probs:
            del data["model_probs"]  # what an older daemon wrote
        with open(labels / f"{r.day}.jsonl", "a") as fh:
            fh.write(json.dumps(data) + "\n")


@pytest.fixture
def setup(
    tmp_path: Path, bundle: ModelBundle, bundle_dir: Path, stream: list[dict[str, Any]]
) -> dict[str, Any]:
    data_dir = tmp_path / "data"
    base = temperature_store(bundle, 1.3)
    store_path = tmp_path / "stores" / "current"
    save_calibrator_store(base, store_path)
    write_log(data_dir, bundle, stream, base, drop_model_probs=30)
    spans_csv = tmp_path / "spans.csv"
    spans_csv.write_text(spans_to_csv(spans_from(stream)))
    config = tmp_path / "daemon.toml"
    settings = {"data_dir": str(data_dir), "model_dir": str(bundle_dir),
                "calibrator_store": str(store_path)}  # fmt: skip
    config.write_text("".join(f'{k} = "{v}"\n' for k, v in settings.items()))
    assert main(["label", "import", "--config", str(config), str(spans_csv)]) == 0
    return {"config": config, "data_dir": data_dir, "store": store_path, "base": base,
            "tmp": tmp_path}  # fmt: skip


def personalize(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["personalize", "--config", str(setup["config"]), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_then_write_then_unchanged(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    store_path: Path = setup["store"]
    before = {p.name: p.read_bytes() for p in store_path.rglob("*") if p.is_file()}
    code, out, _ = personalize(setup, capsys, "--dry-run")
    assert code == 0
    assert "skipped 30 without model_probs (written before records carried them), 0 of other" in out
    assert "u-ada" in out
    assert "u-cy" in out
    assert "windows 100 < 200" in out  # all of u-cy's labelled windows count
    assert "held-out scores, global -> personal" in out
    # the noisy labeller's temperature wins on NLL but rejects windows it labelled right
    ben = next(line for line in out.splitlines() if line.strip().startswith("u-ben"))
    assert "dropped" in ben
    assert "accuracy at the reject threshold 0.55 worse than global" in ben
    assert "dry run: nothing written; the store would change (per-user calibrators: u-ada)" in out
    assert {p.name: p.read_bytes() for p in store_path.rglob("*") if p.is_file()} == before
    assert read_last(setup["data_dir"]) is None  # a dry run writes nothing at all

    code, out, _ = personalize(setup, capsys)
    assert code == 0
    store = load_calibrator_store(store_path)
    assert f"written: store {store.store_id}" in out
    assert store.user_ids == ("u-ada",)
    assert (store_path / "global.json").read_bytes() == before["global.json"]
    last = read_last(setup["data_dir"])
    assert last is not None
    assert (last["outcome"], last["store"]["id"]) == ("written", store.store_id)
    assert last["log"]["without_model_probs"] == 30
    assert [u["decision"] for u in last["users"]] == ["kept", "dropped", "n.a."]
    path = setup["data_dir"] / "personalize" / "last.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert describe_last(last).startswith(f"personalize written at {last['at']}: store ")
    assert describe_last(last).endswith("(u-ada kept, u-ben dropped, u-cy not eligible)")

    code, out, _ = personalize(setup, capsys)
    assert code == 0
    assert f"unchanged: store {store.store_id} is already in force" in out
    assert load_calibrator_store(store_path).store_id == store.store_id
    assert read_last(setup["data_dir"])["outcome"] == "unchanged"  # type: ignore[index]
    code, out, _ = personalize(setup, capsys, "--dry-run")
    assert f"dry run: nothing written; the store would stay {store.store_id}" in out


def test_a_symlinked_store_is_swapped(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    store_path: Path = setup["store"]
    real = store_path.with_name("first")
    store_path.rename(real)
    store_path.symlink_to("first")
    code, out, _ = personalize(setup, capsys)
    assert code == 0
    assert store_path.is_symlink()
    new_id = load_calibrator_store(store_path).store_id
    assert os.readlink(store_path) == new_id  # relative, as the link was
    assert (real / "store.json").is_file()  # the old one stays for rollback
    assert f"-> {store_path.parent / new_id}" in out


def test_user_scope_keeps_the_others(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str], bundle: ModelBundle
) -> None:
    base: CalibratorStore = setup["base"]
    with_ben = CalibratorStore(
        global_calibrator=base.global_calibrator,
        user_calibrators={"u-ben": TemperatureCalibrator(2.0)},
        method="temperature",
        model_bundle_id=bundle.bundle_id,
        model_schema_hash=bundle.schema_hash,
    )
    save_calibrator_store(with_ben, setup["store"])
    code, out, _ = personalize(setup, capsys, "--user", "u-ada")
    assert code == 0
    store = load_calibrator_store(setup["store"])
    assert store.user_calibrators["u-ben"] == TemperatureCalibrator(2.0)
    assert "u-ada" in store.user_ids
    assert "u-ben " not in out.split("per user")[1].split("held-out")[0]  # not refitted
    code, out, _ = personalize(setup, capsys, "--user", "u-nobody")
    assert code == 0
    assert "u-nobody: no labelled windows of this model" in out


def test_opt_out_and_personalization_off(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = personalize(setup, capsys, "--opt-out-users", "u-ada")
    assert code == 0
    store = load_calibrator_store(setup["store"])
    assert "u-ada" not in store.user_ids
    ada = next(line for line in out.splitlines() if line.strip().startswith("u-ada"))
    assert "opted out" in ada

    before = load_calibrator_store(setup["store"]).store_id
    code, out, _ = personalize(setup, capsys, "--personalization", "false")
    assert code == 0
    assert "nothing to do: personalization = false" in out
    assert load_calibrator_store(setup["store"]).store_id == before
    last = read_last(setup["data_dir"])
    assert last is not None
    assert last["outcome"] == "skipped"
    assert describe_last(last).startswith("personalize skipped at ")


def test_refusals(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config: Path = setup["config"]
    text = config.read_text()
    config.write_text("\n".join(line for line in text.splitlines()
                                if not line.startswith("calibrator_store")) + "\n")  # fmt: skip
    code, _, err = personalize(setup, capsys)
    assert code == 2
    assert "calibrator_store is not set" in err
    assert "calibrator_store = " in err  # how to set it
    last = read_last(setup["data_dir"])
    assert last is not None
    assert last["outcome"] == "failed"
    assert "calibrator_store is not set" in describe_last(last)

    # a store fitted for another model is not the one to personalize
    other = tmp_path / "other_store"
    save_calibrator_store(
        CalibratorStore(TemperatureCalibrator(1.0), model_bundle_id="another_bundle"), other
    )
    config.write_text(text.replace(str(setup["store"]), str(other)))
    code, _, err = personalize(setup, capsys)
    assert code == 2
    assert "the store was fitted for bundle 'another_bundle'" in err


def test_a_store_is_created_where_none_was(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = setup["tmp"] / "new_stores" / "current"
    config: Path = setup["config"]
    config.write_text(config.read_text().replace(str(setup["store"]), str(fresh)))
    code, out, _ = personalize(setup, capsys)
    assert code == 0
    assert "none yet, starting one whose global calibrator is the identity" in out
    store = load_calibrator_store(fresh)
    assert json.loads((fresh / "global.json").read_text()) == {"type": "identity"}
    assert store.method == "temperature"
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700


def test_with_an_inference_policy_it_goes_through_deploy(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str], bundle_dir: Path
) -> None:
    # taskclf's home: models/inference_policy.json naming the model and the store
    home = setup["tmp"] / "taskclf"
    (home / "models").mkdir(parents=True)
    shutil.copytree(bundle_dir, home / "models" / bundle_dir.name)
    shutil.copytree(setup["store"], home / "artifacts" / "calibrator_store")
    policy_file = home / "models" / "inference_policy.json"
    config: Path = setup["config"]
    config.write_text(f'data_dir = "{setup["data_dir"]}"\npolicy_file = "{policy_file}"\n')
    model = home / "models" / bundle_dir.name
    assert main(["deploy", "--config", str(config), "--model", str(model),
                 "--store", str(home / "artifacts" / "calibrator_store"),
                 "--reject-threshold", "0.6"]) == 0  # fmt: skip

    code, out, err = personalize(setup, capsys)
    assert code == 0, err
    policy = json.loads(policy_file.read_text())
    new_dir = home / "artifacts" / Path(policy["calibrator_store_dir"]).name
    store = load_calibrator_store(new_dir)
    assert policy["calibrator_store_dir"] == f"artifacts/{store.store_id}"
    assert (policy["source"], policy["reject_threshold"]) == ("personalize", 0.6)
    assert store.user_ids == ("u-ada",)
    assert "accuracy at 0.6 " in out  # the guard judges at the policy's threshold
    assert f"deployed: {policy_file} now names the new store" in out
    assert (home / "artifacts" / "calibrator_store" / "store.json").is_file()  # old one kept
    history = policy_file.with_name("inference_policy.history.jsonl").read_text().splitlines()
    assert json.loads(history[-1])["policy"]["calibrator_store_dir"] == "artifacts/calibrator_store"

    code, out, _ = personalize(setup, capsys)
    assert f"unchanged: store {store.store_id} is already in force" in out
    assert json.loads(policy_file.read_text()) == policy

    # and rollback undoes a personalize
    assert main(["rollback", "--config", str(config)]) == 0
    assert json.loads(policy_file.read_text())["calibrator_store_dir"] == (
        "artifacts/calibrator_store"
    )


def test_json_is_one_object_with_the_table_and_the_report(
    setup: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, _ = personalize(setup, capsys, "--dry-run")
    code, out, _ = personalize(setup, capsys, "--dry-run", "--json")
    assert code == 0
    doc = json.loads(out)  # nothing else on stdout
    assert doc["dry_run"] is True
    assert [(u["user_id"], u["decision"]) for u in doc["users"]] == [
        ("u-ada", "kept"), ("u-ben", "dropped"), ("u-cy", "n.a."),
    ]  # fmt: skip
    assert doc["report"] == text.splitlines()  # the lines a person reads, unchanged
    assert read_last(setup["data_dir"]) is None

    code, out, _ = personalize(setup, capsys, "--json")
    doc = json.loads(out)
    assert (doc["dry_run"], doc["outcome"]) == (False, "written")
    assert doc["store"]["id"] == load_calibrator_store(setup["store"]).store_id
    assert read_last(setup["data_dir"])["store"]["id"] == doc["store"]["id"]  # type: ignore[index]
