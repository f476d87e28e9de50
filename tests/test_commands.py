"""`train`, `calibrate` and `check-store`: artifacts, report numbers, atomic writes, errors."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import MakeStore, Window, temperature_store, window_stream, write_jsonl

from daemon.artifacts import load_store
from daemon.cli import main
from daemon.publish import write_store
from taskclf_core.bundle import ModelBundle, load_bundle
from taskclf_core.calibration import (
    CalibratorStore,
    TemperatureCalibrator,
    calibrate_rows,
    load_calibrator_store,
    save_calibrator_store,
)
from taskclf_core.errors import CalibrationError
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX
from taskclf_core.metrics import calibration_metrics, nll
from taskclf_core.schema import parse_ts, parse_window
from taskclf_core.synthetic import generate_windows
from taskclf_core.vetting import calibrate_windows, parse_labelled

# --- data ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def split() -> dict[str, list[Window]]:
    """Nine generated days: four to train, four to calibrate, one held out for `run --once`."""
    windows = generate_windows(days=9, seed=11)
    parts: dict[str, list[Window]] = {"train": [], "calibrate": [], "held": []}
    for w in windows:
        day = w["bucket_start_ts"][:10]
        part = "train" if day < "2026-01-09" else "calibrate" if day < "2026-01-13" else "held"
        parts[part].append(w)
    return parts


@pytest.fixture(scope="module")
def calibration_windows() -> list[Window]:
    """Labelled windows the session bundle never saw (another seed), five days."""
    return generate_windows(days=5, seed=8)


@pytest.fixture
def cal_file(tmp_path: Path, calibration_windows: list[Window]) -> Path:
    return write_jsonl(tmp_path / "calibrate.jsonl", calibration_windows)


def calibrate(bundle_dir: Path, data: Path, out: Path, *extra: str) -> int:
    return main(
        ["calibrate", "--model", str(bundle_dir), "--data", str(data), "--out", str(out), *extra]
    )


def read_log(data_dir: Path) -> list[Window]:
    return [
        json.loads(line)
        for path in sorted((data_dir / "labels").glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def held_out_rows(windows: list[Window], holdout: float = 0.2) -> list[int]:
    """Independently of the code under test: per user, the latest ``holdout`` share."""
    by_user: dict[str, list[int]] = {}
    for i, w in enumerate(windows):
        by_user.setdefault(w["user_id"], []).append(i)
    held: list[int] = []
    for rows in by_user.values():
        rows.sort(key=lambda i: parse_ts(windows[i]["bucket_start_ts"], "ts"))
        held.extend(rows[len(rows) - min(round(len(rows) * holdout), len(rows) - 1) :])
    return sorted(held)


# --- train -> calibrate -> run --once ------------------------------------------------------


@pytest.mark.slow
def test_train_calibrate_run_once_end_to_end(
    tmp_path: Path, split: dict[str, list[Window]], capsys: pytest.CaptureFixture[str]
) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", split["train"])
    cal = write_jsonl(tmp_path / "calibrate.jsonl", split["calibrate"])
    model, store = tmp_path / "models" / "b1", tmp_path / "store"
    args = ["train", "--data", str(train), "--out", str(model), "--rounds", "30", "--seed", "3"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "macro F1" in out
    assert "weighted F1" in out
    assert str(model) in out
    assert calibrate(model, cal, store, "--json", str(tmp_path / "report.json")) == 0
    report = json.loads((tmp_path / "report.json").read_text())

    eligible = {u["user_id"] for u in report["users"] if u["eligible"]}
    stored = set(load_calibrator_store(store).user_ids)
    assert stored
    assert stored <= eligible
    assert "u-cy" not in eligible
    assert not (store / "users" / "u-cy.json").exists()
    assert report["global"]["after"]["nll"] <= report["global"]["before"]["nll"]

    # the daemon labels held-out windows with this bundle and store, each exactly once
    spool, data_dir = tmp_path / "spool", tmp_path / "data"
    (spool / "new").mkdir(parents=True)
    stream = window_stream(split["held"])
    for n, start in enumerate(range(0, len(stream), 100)):
        write_jsonl(spool / "new" / f"{n:04d}.jsonl", stream[start : start + 100])
    config = tmp_path / "daemon.toml"
    config.write_text(
        "\n".join(
            f"{key} = {json.dumps(str(value))}"
            for key, value in {
                "spool_dir": spool,
                "model_dir": model,
                "calibrator_store": store,
                "data_dir": data_dir,
                "state_dir": tmp_path / "state",
            }.items()
        )
    )
    run = subprocess.run(
        [sys.executable, "-m", "daemon", "run", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    records = read_log(data_dir)
    counts = Counter((r["user_id"], r["bucket_start_ts"]) for r in records)
    expected = {(w["user_id"], parse_window(w, load_bundle(model).schema).start_ts) for w in stream}
    assert set(counts) == expected
    assert set(counts.values()) == {1}
    for r in records:
        assert r["calibrator"] == ("user" if r["user_id"] in stored else "global")
        assert r["store_id"] == load_calibrator_store(store).store_id

    # calibrated NLL on the held-out day is no worse than the model's own probabilities
    bundle = load_bundle(model)
    truth = {(w["user_id"], w["bucket_start_ts"]): LABEL_INDEX[w["label"]] for w in split["held"]}
    y = np.array([truth[(r["user_id"], r["bucket_start_ts"])] for r in records])
    calibrated = np.array([[r["core_probs"][c] for c in CORE_LABELS] for r in records])
    rows = np.stack([parse_window(w, bundle.schema).features for w in stream])
    raw_y = np.array([LABEL_INDEX[w["label"]] for w in split["held"]])
    assert nll(calibrated, y) <= nll(bundle.predict_many(rows), raw_y)


# --- the report ----------------------------------------------------------------------------


def test_report_numbers_are_the_core_metrics(
    tmp_path: Path,
    bundle_dir: Path,
    bundle: ModelBundle,
    cal_file: Path,
    calibration_windows: list[Window],
) -> None:
    store_dir = tmp_path / "store"
    assert calibrate(bundle_dir, cal_file, store_dir, "--json", str(tmp_path / "r.json")) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    store = load_calibrator_store(store_dir)

    held = held_out_rows(calibration_windows)
    windows = [calibration_windows[i] for i in held]
    rows = np.stack([parse_window(w, bundle.schema).features for w in windows])
    raw = bundle.predict_many(rows)
    y = np.array([LABEL_INDEX[w["label"]] for w in windows])
    users = [w["user_id"] for w in windows]
    after, _ = calibrate_rows(store, raw, users, [True] * len(users))

    def as_json(m: Any) -> dict[str, Any]:
        return {"nll": m.nll, "brier": m.brier, "ece": m.ece, "n": m.n}

    assert report["metrics"]["ece_bins"] == 15
    assert report["global"]["before"] == as_json(calibration_metrics(raw, y, n_bins=15))
    assert report["global"]["after"] == as_json(calibration_metrics(after, y, n_bins=15))
    for entry in report["users"]:
        mask = np.array([u == entry["user_id"] for u in users])
        assert entry["held_out_windows"] == int(mask.sum())
        assert entry["before"] == as_json(calibration_metrics(raw[mask], y[mask]))
        assert entry["after"] == as_json(calibration_metrics(after[mask], y[mask]))
    assert report["store"]["id"] == store.store_id
    assert report["eligibility"]["counted_on"] == "all labelled windows"
    assert report["guard"]["reject_threshold"] == 0.55


def test_report_prints_eligibility_table_and_scores(
    tmp_path: Path, bundle_dir: Path, cal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert calibrate(bundle_dir, cal_file, tmp_path / "store") == 0
    out = capsys.readouterr().out
    assert "eligible" in out
    assert "per-user calibrator" in out
    table = [line.split() for line in out.splitlines() if line.strip().startswith("u-")]
    lines = {row[0]: " ".join(row) for row in reversed(table)}  # the eligibility rows come first
    assert "windows 100 < 200" in out  # all of u-cy's windows count, not the fit part
    assert "n.a." in out
    assert "kept" in lines["u-ada"]
    assert "15 equal-width bins" in out
    for word in ("NLL", "Brier", "ECE", "all users"):
        assert word in out


def test_guard_drops_a_per_user_calibrator_that_does_worse_than_global(
    bundle: ModelBundle, calibration_windows: list[Window]
) -> None:
    # u-ada's latest windows get random labels: her sharp own calibrator must lose there
    windows = [dict(w) for w in calibration_windows]
    rng = random.Random(0)
    for i in held_out_rows(windows):
        if windows[i]["user_id"] == "u-ada":
            windows[i]["label"] = rng.choice(CORE_LABELS)
    data = parse_labelled([(str(i), w) for i, w in enumerate(windows)], bundle.schema)
    outcome = calibrate_windows(bundle, data, created_at="2026-01-10T00:00:00+00:00")
    by_user = {u.user_id: u for u in outcome.report.users}
    ada, ben = by_user["u-ada"], by_user["u-ben"]
    assert ada.eligibility.eligible
    assert ada.decision == "dropped"
    assert ada.guard_user_nll is not None
    assert ada.guard_global_nll is not None
    assert ada.guard_user_nll > ada.guard_global_nll
    # the noisy labeller (35 % wrong labels): a softer temperature wins on NLL, yet it rejects
    # windows the model labelled right, so what the person sees gets worse: dropped
    assert ben.decision == "dropped"
    assert ben.guard_user_nll is not None
    assert ben.guard_global_nll is not None
    assert ben.guard_user_nll <= ben.guard_global_nll
    assert ben.guard_user_accuracy is not None
    assert ben.guard_global_accuracy is not None
    assert ben.guard_user_accuracy < ben.guard_global_accuracy
    assert "accuracy at the reject threshold 0.55 worse than global" in ben.note
    assert outcome.store.user_ids == ()
    assert by_user["u-cy"].decision == "n.a."


# --- the written store ---------------------------------------------------------------------


def test_store_from_calibrate_loads_in_the_daemon(
    tmp_path: Path, bundle_dir: Path, bundle: ModelBundle, cal_file: Path
) -> None:
    out = tmp_path / "store"
    assert calibrate(bundle_dir, cal_file, out) == 0
    store, _ = load_store(out, bundle)
    meta = json.loads((out / "store.json").read_text())
    assert meta["model_bundle_id"] == bundle.bundle_id
    assert meta["model_schema_hash"] == bundle.schema_hash
    assert meta["created_at"]
    assert store.user_ids == tuple(meta["user_ids"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_calibrate_replaces_a_store_dir_and_swaps_a_symlink(
    tmp_path: Path, bundle_dir: Path, bundle: ModelBundle, cal_file: Path, make_store: MakeStore
) -> None:
    old = make_store("stores/old")
    link = tmp_path / "current"
    link.symlink_to(os.path.join("stores", "old"))
    assert calibrate(bundle_dir, cal_file, link) == 0
    new_target = (tmp_path / os.readlink(link)).resolve()
    store, _ = load_store(link, bundle)
    assert new_target.parent == old.parent
    assert new_target.name == store.store_id
    assert not os.path.isabs(os.readlink(link))  # the link's style is kept
    assert load_calibrator_store(old).store_id  # kept for rollback

    assert calibrate(bundle_dir, cal_file, old) == 0  # a real store dir: replaced whole
    assert load_calibrator_store(old).method == "temperature"
    assert sorted(p.name for p in old.parent.iterdir() if p.name.startswith(".")) == []


def test_calibrate_refuses_to_replace_a_dir_that_is_not_a_store(
    tmp_path: Path, bundle_dir: Path, cal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert calibrate(bundle_dir, cal_file, out) == 2
    assert "not a CalibratorStore" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"


def _old_and_new(bundle: ModelBundle) -> tuple[CalibratorStore, CalibratorStore]:
    def make(t: float) -> CalibratorStore:
        return temperature_store(bundle, t, {"u-ada": t / 2})

    return make(1.5), make(2.5)


def _fail_writing_files(monkeypatch: pytest.MonkeyPatch) -> None:
    import daemon.publish as commands

    real = save_calibrator_store

    def half_then_fail(store: CalibratorStore, path: Path) -> Path:
        real(store, path)
        (path / "global.json").write_text('{"type": "temper')  # half a file, then the crash
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(commands, "save_calibrator_store", half_then_fail)


def _fail_installing(monkeypatch: pytest.MonkeyPatch) -> None:
    real_rename, real_replace = os.rename, os.replace

    def rename(src: Any, dst: Any) -> None:
        # the new store's move into place; moving the old one aside still works
        if Path(src).name.endswith(".tmp") and Path(dst).name == "store":
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    def replace(src: Any, dst: Any) -> None:
        if Path(dst).name == "link":
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("shape", ["dir", "symlink"])
@pytest.mark.parametrize("fail", [_fail_writing_files, _fail_installing])
def test_interrupted_write_keeps_the_old_store_and_no_temp_dir(
    tmp_path: Path,
    bundle: ModelBundle,
    monkeypatch: pytest.MonkeyPatch,
    shape: str,
    fail: Callable[[pytest.MonkeyPatch], None],
) -> None:
    old, new = _old_and_new(bundle)
    root = tmp_path / "w"
    if shape == "dir":
        out = root / "store"
        write_store(old, out)
    else:
        write_store(old, root / "stores" / old.store_id)
        out = root / "link"
        out.symlink_to(os.path.join("stores", old.store_id))
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))

    fail(monkeypatch)
    with pytest.raises((RuntimeError, OSError)):
        write_store(new, out, check=lambda p: load_store(p, bundle))
    monkeypatch.undo()

    assert load_store(out, bundle)[0].store_id == old.store_id
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before


def test_a_symlink_swap_makes_the_new_store_dir_durable_before_the_link_names_it(
    tmp_path: Path, bundle: ModelBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stores live in another directory than the link: the new directory's entry there
    must be on disk before the swapped link is, or a power cut leaves a dangling link."""
    import daemon.fsutil
    import daemon.publish

    old, new = _old_and_new(bundle)
    stores = tmp_path / "w" / "stores"
    write_store(old, stores / old.store_id)
    link = tmp_path / "w" / "store"
    link.symlink_to(os.path.join("stores", old.store_id))
    events: list[str] = []
    real_fsync_dir, real_replace = daemon.fsutil.fsync_dir, os.replace

    def fsync_dir(path: Path) -> None:
        events.append(f"fsync {Path(path).name}")
        real_fsync_dir(path)

    def replace(src: Any, dst: Any) -> None:
        events.append(f"replace {Path(dst).name}")
        real_replace(src, dst)

    monkeypatch.setattr(daemon.publish, "fsync_dir", fsync_dir)
    monkeypatch.setattr(os, "replace", replace)
    final = write_store(new, link, check=lambda p: load_store(p, bundle))
    monkeypatch.undo()
    assert final.parent == stores
    assert events.index("fsync stores") < events.index("replace store")
    assert load_store(link, bundle)[0].store_id == new.store_id


def test_write_store_refuses_an_invalid_store_before_installing(
    tmp_path: Path, bundle: ModelBundle
) -> None:
    old, _ = _old_and_new(bundle)
    out = write_store(old, tmp_path / "w" / "store")
    other = CalibratorStore(
        global_calibrator=TemperatureCalibrator(2.0), model_bundle_id="another-bundle"
    )
    with pytest.raises(CalibrationError, match="model_bundle_id"):
        write_store(other, out, check=lambda p: load_store(p, bundle))
    assert load_calibrator_store(out).store_id == old.store_id
    assert [p.name for p in out.parent.iterdir()] == ["store"]


# --- opt-out -------------------------------------------------------------------------------


def test_opt_out_from_the_flag(tmp_path: Path, bundle_dir: Path, cal_file: Path) -> None:
    out = tmp_path / "store"
    args = ["--opt-out-users", "u-ada", "--json", str(tmp_path / "r.json")]
    assert calibrate(bundle_dir, cal_file, out, *args) == 0
    assert "u-ada" not in load_calibrator_store(out).user_ids
    assert not (out / "users" / "u-ada.json").exists()
    ada = next(
        u for u in json.loads((tmp_path / "r.json").read_text())["users"] if u["user_id"] == "u-ada"
    )
    assert ada["reason"] == "opted out"
    assert ada["per_user_calibrator"] == "n.a."


def test_opt_out_from_the_config(tmp_path: Path, bundle_dir: Path, cal_file: Path) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text('opt_out_users = ["u-ben"]\n')
    out = tmp_path / "store"
    assert calibrate(bundle_dir, cal_file, out, "--config", str(config)) == 0
    store = load_calibrator_store(out)
    assert "u-ben" not in store.user_ids
    assert "u-ada" in store.user_ids


def test_opt_out_flag_overrides_the_config(
    tmp_path: Path, bundle_dir: Path, cal_file: Path
) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text('opt_out_users = ["u-ben"]\n')
    out = tmp_path / "store"
    report = tmp_path / "report.json"
    assert calibrate(bundle_dir, cal_file, out, "--config", str(config), "--opt-out-users", "",
                     "--json", str(report)) == 0  # fmt: skip
    users = {u["user_id"]: u for u in json.loads(report.read_text())["users"]}
    assert users["u-ben"]["eligible"]
    assert users["u-ben"]["per_user_calibrator"] != "n.a."  # judged, not opted out
    assert json.loads(report.read_text())["eligibility"]["opted_out"] == []


# --- errors --------------------------------------------------------------------------------


def test_calibrate_names_file_line_and_field_of_a_refused_row(
    tmp_path: Path,
    bundle_dir: Path,
    calibration_windows: list[Window],
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [dict(w) for w in calibration_windows[:10]]
    rows[6]["keys_per_min"] = "fast"
    data = write_jsonl(tmp_path / "c.jsonl", rows)
    assert calibrate(bundle_dir, data, tmp_path / "store") == 2
    err = capsys.readouterr().err
    assert f"{data}:7" in err
    assert "keys_per_min" in err
    assert not (tmp_path / "store").exists()


def _training_rows(n: int = 120) -> list[Window]:
    return generate_windows(days=1, seed=5)[:n]


def _jsonl_text(rows: list[Window]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


TRAIN_ERRORS: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "missing file": (lambda d: d / "nope.jsonl", ["nope.jsonl", "no such file"]),
    "bad json line": (
        lambda d: _write(d, _jsonl_text(_training_rows()[:3]) + '{"user_id": "u-ada", \n'),
        ["data.jsonl:4", "not valid JSON"],
    ),
    "not an object": (lambda d: _write(d, "[1, 2]\n"), ["data.jsonl:1", "expected a JSON object"]),
    "unknown label": (
        lambda d: _write(d, _jsonl_text(_relabel(_training_rows(), 9, "Lunch"))),
        ["data.jsonl:10", "'Lunch' is not a core label"],
    ),
    "reject label": (
        lambda d: _write(d, _jsonl_text(_relabel(_training_rows(), 0, "Mixed/Unknown"))),
        ["data.jsonl:1", "not a core label"],
    ),
    "missing label": (
        lambda d: _write(d, _jsonl_text(_relabel(_training_rows(), 2, None))),
        ["data.jsonl:3", "label: missing"],
    ),
    "too few rows": (
        lambda d: _write(d, _jsonl_text(_training_rows(20))),
        ["too few labelled windows", "20", "at least 50"],
    ),
    "mixed schema versions": (
        lambda d: _write(
            d,
            _jsonl_text(_training_rows(60))
            + _jsonl_text(generate_windows(days=1, seed=5, schema_version="v3")[:60]),
        ),
        ["mixed schema versions", "v2", "v3", "data.jsonl:61"],
    ),
    "bad field": (
        lambda d: _write(d, _jsonl_text(_set(_training_rows(), 4, "clicks_per_min", True))),
        ["data.jsonl:5", "clicks_per_min"],
    ),
}


def _write(directory: Path, text: str) -> Path:
    path = directory / "data.jsonl"
    path.write_text(text)
    return path


def _relabel(rows: list[Window], i: int, label: str | None) -> list[Window]:
    rows[i] = {k: v for k, v in rows[i].items() if k != "label"}
    if label is not None:
        rows[i]["label"] = label
    return rows


def _set(rows: list[Window], i: int, key: str, value: Any) -> list[Window]:
    rows[i] = {**rows[i], key: value}
    return rows


@pytest.mark.parametrize("case", list(TRAIN_ERRORS))
def test_train_errors_exit_2_naming_the_problem(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make, expected = TRAIN_ERRORS[case]
    data = make(tmp_path)
    out = tmp_path / "bundle"
    assert main(["train", "--data", str(data), "--out", str(out), "--rounds", "2"]) == 2
    err = capsys.readouterr().err
    for text in expected:
        assert text in err, err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_train_is_deterministic_for_a_seed(tmp_path: Path, split: dict[str, list[Window]]) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", split["train"][::3])
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        assert main(["train", "--data", str(data), "--out", str(out), "--rounds", "8"]) == 0
    a, b = outs
    assert (a / "model.txt").read_bytes() == (b / "model.txt").read_bytes()
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
    assert (a / "categorical_encoders.json").read_bytes() == (
        b / "categorical_encoders.json"
    ).read_bytes()
    meta = json.loads((a / "metadata.json").read_text())
    assert meta["schema_version"] == "v2"
    assert meta["label_set"] == list(CORE_LABELS)
    assert {"feature_columns", "params", "created_at", "schema_hash"} <= set(meta)
    assert load_bundle(a).bundle_id == "a"


def test_train_replaces_a_bundle_but_not_other_dirs(
    tmp_path: Path, split: dict[str, list[Window]], capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", split["train"][::4])
    out = tmp_path / "bundle"
    args = ["train", "--data", str(data), "--out", str(out), "--rounds", "3"]
    assert main(args) == 0
    first = (out / "metadata.json").read_text()
    assert main([*args[:-1], "4"]) == 0
    assert (out / "metadata.json").read_text() != first  # replaced whole
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    assert main(["train", "--data", str(data), "--out", str(other), "--rounds", "3"]) == 2
    assert "not a model bundle" in capsys.readouterr().err
    assert (other / "keep.txt").exists()


# --- check-store ---------------------------------------------------------------------------


def test_check_store_accepts_a_valid_store(
    tmp_path: Path, bundle_dir: Path, make_store: MakeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store = make_store("s", users={"u-ada": 0.8})
    assert main(["check-store", str(store), "--model", str(bundle_dir)]) == 0
    assert "ok: store" in capsys.readouterr().out


def _edit(rel: str, content: str) -> Callable[[Path], None]:
    def edit(store: Path) -> None:
        (store / rel).write_text(content)

    return edit


def _delete(rel: str) -> Callable[[Path], None]:
    return lambda store: (store / rel).unlink()


def _meta(**changes: Any) -> Callable[[Path], None]:
    def edit(store: Path) -> None:
        meta = json.loads((store / "store.json").read_text())
        (store / "store.json").write_text(json.dumps(meta | changes))

    return edit


REFUSALS: dict[str, tuple[Callable[[Path], None], str]] = {
    "bad json": (_edit("store.json", "{"), "store.json: not valid JSON"),
    "missing user file": (_delete("users/u-ada.json"), "users/u-ada.json"),
    "unknown type": (_edit("global.json", '{"type": "platt"}'), "unknown calibrator type"),
    "missing type": (_edit("global.json", "{}"), "type: missing"),
    "bad temperature": (
        _edit("users/u-ada.json", '{"type": "temperature", "temperature": -1}'),
        "temperature",
    ),
    "other bundle": (_meta(model_bundle_id="someone-else"), "model_bundle_id"),
    "other schema": (_meta(model_schema_hash="000000000000"), "model_schema_hash"),
    "unsafe user id": (_meta(user_ids=["../x"], user_count=1), "not a safe file name"),
    "isotonic count": (
        _edit("global.json", '{"type": "isotonic", "regressors": []}'),
        "expected 8 regressors",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_check_store_refusals_exit_2_with_the_reason(
    bundle_dir: Path, make_store: MakeStore, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    edit, reason = REFUSALS[case]
    store = make_store("s", users={"u-ada": 0.8})
    edit(store)
    assert main(["check-store", str(store), "--model", str(bundle_dir)]) == 2
    assert reason in capsys.readouterr().err
