"""CalibratorStore: JSON round trips, taskclf layout, store id, each refusal in docs/artifacts."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import MakeStore, isotonic_regressor_json

from taskclf_core.bundle import ModelBundle
from taskclf_core.calibration import (
    Calibrator,
    CalibratorStore,
    IdentityCalibrator,
    IsotonicCalibrator,
    IsotonicRegressor,
    TemperatureCalibrator,
    calibrator_from_json,
    calibrator_to_json,
    check_store_matches,
    load_calibrator_store,
    parse_calibrator_store,
    save_calibrator_store,
    store_files,
)
from taskclf_core.errors import CalibrationError, TaskclfError
from taskclf_core.fitting import fit_isotonic_calibrator
from taskclf_core.labels import N_CLASSES

RNG_PROBS = np.random.default_rng(3).dirichlet(np.ones(N_CLASSES), size=64)
TEMPERATURE_JSON = {"type": "temperature", "temperature": 1.5}


def isotonic_json(n: int = N_CLASSES, **override: Any) -> dict[str, Any]:
    return {"type": "isotonic", "regressors": [isotonic_regressor_json(**override)] * n}


@functools.cache
def fitted_isotonic() -> IsotonicCalibrator:
    rng = np.random.default_rng(11)
    probs = rng.dirichlet(np.ones(N_CLASSES) * 0.5, size=300)
    y = np.array([rng.choice(N_CLASSES, p=p) for p in probs])
    return fit_isotonic_calibrator(probs, y)


def same_outputs(a: Calibrator, b: Calibrator) -> bool:
    return np.array_equal(a.calibrate(RNG_PROBS), b.calibrate(RNG_PROBS))


def write_store(path: Path, files: dict[str, object]) -> Path:
    """Write a store directory; values are JSON-dumped as taskclf does unless already text."""
    (path / "users").mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        text = content if isinstance(content, str) else json.dumps(content, indent=2)
        (path / rel).write_text(text)
    return path


def valid_files(**override: object) -> dict[str, object]:
    files: dict[str, object] = {
        "store.json": {
            "method": "temperature",
            "user_count": 2,
            "user_ids": ["u-ada", "u-ben"],
            "model_bundle_id": "bundle_test",
            "model_schema_hash": "a15f4751a947",
            "created_at": "2026-01-09T00:00:00+00:00",
        },
        "global.json": {"type": "temperature", "temperature": 1.1},
        "users/u-ada.json": {"type": "temperature", "temperature": 0.8},
        "users/u-ben.json": {"type": "identity"},
    }
    files.update(override)
    return files


def refusal(tmp_path: Path, files: dict[str, object]) -> str:
    with pytest.raises(CalibrationError) as info:
        load_calibrator_store(write_store(tmp_path / "store", files))
    return str(info.value)


# --- calibrator JSON --------------------------------------------------------------------


@pytest.mark.parametrize(
    "calibrator",
    [
        IdentityCalibrator(),
        TemperatureCalibrator(1.0),
        TemperatureCalibrator(0.8123456789012345),
        TemperatureCalibrator(19.99),
        IsotonicCalibrator(
            tuple(
                IsotonicRegressor(np.array([0.0, 0.3, 1.0]), np.array([0.0, 0.4, 1.0]), 0.0, 1.0)
                for _ in range(N_CLASSES)
            )
        ),
    ],
    ids=["identity", "t1", "t-long", "t-high", "isotonic"],
)
def test_calibrator_json_round_trip(calibrator: Calibrator) -> None:
    data = calibrator_to_json(calibrator)
    text = json.dumps(data, indent=2)
    back = calibrator_from_json(json.loads(text), source="x.json")
    assert type(back) is type(calibrator)
    assert calibrator_to_json(back) == data
    assert same_outputs(back, calibrator)


def test_fitted_isotonic_json_round_trip_is_exact() -> None:
    calibrator = fitted_isotonic()
    data = calibrator_to_json(calibrator)
    assert set(data["regressors"][0]) == {
        "X_thresholds_",
        "y_thresholds_",
        "X_min_",
        "X_max_",
        "increasing_",
        "out_of_bounds",
    }
    back = calibrator_from_json(json.loads(json.dumps(data)), source="x.json")
    assert calibrator_to_json(back) == data
    assert same_outputs(back, calibrator)


def test_calibrator_json_shapes() -> None:
    assert calibrator_to_json(IdentityCalibrator()) == {"type": "identity"}
    assert calibrator_to_json(TemperatureCalibrator(1.04)) == {
        "type": "temperature",
        "temperature": 1.04,
    }
    assert len(calibrator_to_json(fitted_isotonic())["regressors"]) == N_CLASSES


def test_integer_temperature_is_accepted() -> None:
    cal = calibrator_from_json({"type": "temperature", "temperature": 2}, source="g")
    assert cal == TemperatureCalibrator(2.0)


# --- store round trips ------------------------------------------------------------------


def build_store(**kw: Any) -> CalibratorStore:
    args: dict[str, Any] = {
        "global_calibrator": TemperatureCalibrator(1.1),
        "user_calibrators": {"u-ada": TemperatureCalibrator(0.8), "u-ben": fitted_isotonic()},
        "method": "temperature",
        "model_bundle_id": "bundle_test",
        "model_schema_hash": "a15f4751a947",
        "created_at": "2026-01-09T00:00:00+00:00",
    }
    args.update(kw)
    return CalibratorStore(**args)


def test_store_round_trip(tmp_path: Path) -> None:
    store = build_store()
    loaded = load_calibrator_store(save_calibrator_store(store, tmp_path / "s"))
    assert loaded.store_id == store.store_id
    assert loaded.user_ids == ("u-ada", "u-ben")
    assert (loaded.method, loaded.model_bundle_id, loaded.model_schema_hash, loaded.created_at) == (
        "temperature",
        "bundle_test",
        "a15f4751a947",
        "2026-01-09T00:00:00+00:00",
    )
    assert calibrator_to_json(loaded.global_calibrator) == calibrator_to_json(
        store.global_calibrator
    )
    for user in store.user_ids:
        a, b = loaded.user_calibrators[user], store.user_calibrators[user]
        assert calibrator_to_json(a) == calibrator_to_json(b)
        assert same_outputs(a, b)
    assert store_files(loaded) == store_files(store)


def test_minimal_store_round_trip(tmp_path: Path) -> None:
    store = CalibratorStore(global_calibrator=IdentityCalibrator(), method="identity")
    path = save_calibrator_store(store, tmp_path / "s")
    meta = json.loads((path / "store.json").read_text())
    assert meta == {"method": "identity", "user_count": 0, "user_ids": []}
    loaded = load_calibrator_store(path)
    assert loaded.store_id == store.store_id
    assert loaded.model_bundle_id is None
    assert loaded.user_ids == ()


def test_saved_files_are_private_and_formatted_like_taskclf(tmp_path: Path) -> None:
    path = save_calibrator_store(build_store(), tmp_path / "s")
    for rel in ("store.json", "global.json", "users/u-ada.json", "users/u-ben.json"):
        raw = (path / rel).read_bytes()
        assert not raw.endswith(b"\n"), rel
        assert raw == json.dumps(json.loads(raw), indent=2).encode(), rel
        assert (path / rel).stat().st_mode & 0o777 == 0o600, rel
    assert (path / "users").stat().st_mode & 0o777 == 0o700
    assert list(json.loads((path / "store.json").read_bytes())) == [
        "method",
        "user_count",
        "user_ids",
        "model_bundle_id",
        "model_schema_hash",
        "created_at",
    ]


def test_taskclf_store_is_rewritten_byte_identical(taskclf_sample: Path, tmp_path: Path) -> None:
    source = taskclf_sample / "store_temperature"
    store = load_calibrator_store(source)
    out = save_calibrator_store(store, tmp_path / "copy")
    originals = sorted(p.relative_to(source) for p in source.rglob("*.json"))
    assert sorted(p.relative_to(out) for p in out.rglob("*.json")) == originals
    for rel in originals:
        assert (out / rel).read_bytes() == (source / rel).read_bytes(), rel
    assert load_calibrator_store(out).store_id == store.store_id
    # the in-memory re-serialisation names the same bytes
    assert store_files(store) == {str(rel): (source / rel).read_bytes() for rel in originals}


def test_taskclf_sample_store_contents(taskclf_sample: Path) -> None:
    store = load_calibrator_store(taskclf_sample / "store_temperature")
    assert store.user_ids == ("u-alice", "u-bob", "u-carol")
    assert store.global_calibrator == TemperatureCalibrator(1.04)
    assert store.user_calibrators["u-alice"] == TemperatureCalibrator(0.8)
    assert (store.model_bundle_id, store.model_schema_hash) == ("bundle_v1", "4077fe0dba70")
    # pinned: the id is logged with every record, so its formula must not drift
    assert store.store_id == "1a8b4f122695"


# --- store id ---------------------------------------------------------------------------


def test_store_id_is_stable(tmp_path: Path) -> None:
    a = save_calibrator_store(build_store(), tmp_path / "a")
    b = save_calibrator_store(build_store(), tmp_path / "b")
    ids = {load_calibrator_store(p).store_id for p in (a, a, b)}
    assert ids == {build_store().store_id}
    assert len(build_store().store_id) == 12
    int(build_store().store_id, 16)


@pytest.mark.parametrize(
    "rel", ["store.json", "global.json", "users/u-ada.json", "users/u-ben.json"]
)
def test_store_id_changes_when_any_file_changes(tmp_path: Path, rel: str) -> None:
    path = save_calibrator_store(build_store(), tmp_path / "s")
    before = load_calibrator_store(path).store_id
    target = path / rel
    # a semantically equal edit (trailing newline) still names different bytes
    target.write_bytes(target.read_bytes() + b"\n")
    assert load_calibrator_store(path).store_id != before


def test_store_id_differs_between_stores() -> None:
    assert (
        build_store().store_id != build_store(global_calibrator=TemperatureCalibrator(1.2)).store_id
    )
    assert build_store().store_id != build_store(created_at="2026-01-10T00:00:00+00:00").store_id


def test_store_id_ignores_unlisted_files(tmp_path: Path) -> None:
    path = save_calibrator_store(build_store(), tmp_path / "s")
    before = load_calibrator_store(path).store_id
    (path / "users" / "u-zed.json").write_text('{"type": "identity"}')
    (path / "notes.txt").write_text("hello")
    store = load_calibrator_store(path)
    assert store.store_id == before
    assert "u-zed" not in store.user_calibrators


# --- lookup -----------------------------------------------------------------------------


def test_per_user_lookup_and_global_fallback() -> None:
    store = build_store()
    kind, cal = store.calibrator_for("u-ada")
    assert kind == "user"
    assert cal is store.user_calibrators["u-ada"]
    kind, cal = store.calibrator_for("u-nobody")
    assert kind == "global"
    assert cal is store.global_calibrator
    kind, cal = store.calibrator_for("u-ada", personalized=False)
    assert kind == "global"
    assert cal is store.global_calibrator


def test_store_is_immutable() -> None:
    store = build_store()
    with pytest.raises(TypeError):
        store.user_calibrators["u-x"] = IdentityCalibrator()  # type: ignore[index]
    with pytest.raises(AttributeError):
        store.store_id = "x"  # type: ignore[misc]


def test_store_keeps_its_own_copy_of_the_users() -> None:
    users: dict[str, Calibrator] = {"u-ada": TemperatureCalibrator(0.8)}
    store = build_store(user_calibrators=users)
    users["u-ben"] = IdentityCalibrator()
    assert store.user_ids == ("u-ada",)


# --- refusals (docs/artifacts.md) --------------------------------------------------------------


def test_valid_files_load(tmp_path: Path) -> None:
    store = load_calibrator_store(write_store(tmp_path / "store", valid_files()))
    assert store.user_ids == ("u-ada", "u-ben")


def test_missing_user_file_is_refused(tmp_path: Path) -> None:
    files = valid_files()
    del files["users/u-ben.json"]
    message = refusal(tmp_path, files)
    assert "users/u-ben.json" in message
    assert "missing" in message


@pytest.mark.parametrize("rel", ["store.json", "global.json"])
def test_missing_top_file_is_refused(tmp_path: Path, rel: str) -> None:
    files = valid_files()
    del files[rel]
    message = refusal(tmp_path, files)
    assert rel in message


def test_store_path_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="CalibratorStore directory"):
        load_calibrator_store(tmp_path / "nowhere")
    (tmp_path / "file").write_text("{}")
    with pytest.raises(CalibrationError, match="CalibratorStore directory"):
        load_calibrator_store(tmp_path / "file")


@pytest.mark.parametrize("rel", ["store.json", "global.json", "users/u-ada.json"])
def test_unreadable_file_is_refused(tmp_path: Path, rel: str) -> None:
    # tests may run as root, where chmod 000 still reads; a directory never does
    path = write_store(tmp_path / "store", valid_files())
    (path / rel).unlink()
    (path / rel).mkdir()
    with pytest.raises(CalibrationError) as info:
        load_calibrator_store(path)
    assert rel in str(info.value)
    assert "cannot read" in str(info.value)


@pytest.mark.parametrize("rel", ["store.json", "global.json", "users/u-ada.json"])
@pytest.mark.parametrize("text", ['{"type": "temperature",', "", "\udcff"])
def test_invalid_json_is_refused(tmp_path: Path, rel: str, text: str) -> None:
    path = write_store(tmp_path / "store", valid_files())
    (path / rel).write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(CalibrationError) as info:
        load_calibrator_store(path)
    assert rel in str(info.value)
    assert "not valid JSON" in str(info.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"type": "platt"}, "unknown calibrator type 'platt'"),
        ({"type": ""}, "unknown calibrator type"),
        ({"type": 3}, "unknown calibrator type"),
        ({"temperature": 1.0}, "type: missing"),
        ({}, "type: missing"),
        ([], "expected a JSON object"),
        ("null", "expected a JSON object"),
    ],
)
@pytest.mark.parametrize("rel", ["global.json", "users/u-ada.json"])
def test_bad_type_is_refused(tmp_path: Path, rel: str, content: object, expected: str) -> None:
    message = refusal(tmp_path, valid_files(**{rel: content}))
    assert rel in message
    assert expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type": "temperature", "temperature": 0}', "finite number > 0"),
        ('{"type": "temperature", "temperature": -0.5}', "finite number > 0"),
        ('{"type": "temperature", "temperature": 0.0}', "finite number > 0"),
        ('{"type": "temperature", "temperature": NaN}', "finite number > 0"),
        ('{"type": "temperature", "temperature": Infinity}', "finite number > 0"),
        ('{"type": "temperature", "temperature": -Infinity}', "finite number > 0"),
        ('{"type": "temperature", "temperature": 1e999}', "finite number > 0"),
        ('{"type": "temperature", "temperature": 1' + "0" * 400 + "}", "finite number"),
        ('{"type": "temperature", "temperature": "1.0"}', "expected a number, got str"),
        ('{"type": "temperature", "temperature": true}', "expected a number"),
        ('{"type": "temperature", "temperature": null}', "expected a number"),
        ('{"type": "temperature"}', "expected a number"),
    ],
)
def test_bad_temperature_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    message = refusal(tmp_path, valid_files(**{"global.json": text}))
    assert "global.json" in message
    assert "temperature" in message
    assert expected in message


@pytest.mark.parametrize("n", [0, 1, N_CLASSES - 1, N_CLASSES + 1])
def test_wrong_regressor_count_is_refused(tmp_path: Path, n: int) -> None:
    message = refusal(tmp_path, valid_files(**{"users/u-ada.json": isotonic_json(n)}))
    assert "users/u-ada.json" in message
    assert f"expected {N_CLASSES} regressors" in message
    assert f"got {n}" in message


@pytest.mark.parametrize("regressors", [None, "x", {"a": 1}])
def test_regressors_not_a_list_is_refused(tmp_path: Path, regressors: object) -> None:
    content = {"type": "isotonic", "regressors": regressors}
    message = refusal(tmp_path, valid_files(**{"global.json": content}))
    assert "global.json" in message
    assert "regressors" in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"X_thresholds_": [0.0, 0.5, 0.25]}, "X_thresholds_: expected thresholds sorted"),
        ({"X_thresholds_": [0.0, 0.5]}, "equal length"),
        ({"X_thresholds_": [], "y_thresholds_": []}, "non-empty"),
        ({"X_thresholds_": None}, "X_thresholds_"),
        ({"X_thresholds_": ["a", "b", "c"]}, "numeric threshold lists"),
        ({"out_of_bounds": "nan"}, "out_of_bounds"),
        ({"X_min_": "0"}, "X_min_"),
        ({"X_max_": None}, "X_max_"),
    ],
)
def test_bad_isotonic_regressor_is_refused(
    tmp_path: Path, override: dict[str, Any], expected: str
) -> None:
    message = refusal(tmp_path, valid_files(**{"global.json": isotonic_json(**override)}))
    assert "global.json" in message
    assert "regressors[0]" in message
    assert expected in message


@pytest.mark.parametrize(
    ("field", "literal"),
    [
        ("X_thresholds_", "[0.0, NaN, 1.0]"),
        ("y_thresholds_", "[0.0, Infinity, 1.0]"),
        ("X_thresholds_", "[-Infinity, 0.5, 1.0]"),
        ("X_thresholds_", "[0.0, 0.5, 1" + "0" * 400 + "]"),
        ("X_min_", "NaN"),
        ("X_max_", "Infinity"),
    ],
)
def test_non_finite_thresholds_are_refused(tmp_path: Path, field: str, literal: str) -> None:
    # written as JSON text: Python's json reads the NaN/Infinity literals taskclf could emit
    good = isotonic_json(1)["regressors"][0]
    regressor = json.dumps(good).replace(
        f'"{field}": {json.dumps(good[field])}', f'"{field}": {literal}'
    )
    assert literal in regressor
    content = '{"type": "isotonic", "regressors": [' + ", ".join([regressor] * N_CLASSES) + "]}"
    message = refusal(tmp_path, valid_files(**{"global.json": content}))
    assert "global.json" in message
    assert "regressors[0]" in message
    assert "finite" in message or "numeric" in message


@pytest.mark.parametrize(
    "user_id", ["../x", "..", ".", ".hidden", "a/b", "/etc/passwd", "a b", "x" * 200, ""]
)
def test_unsafe_user_id_in_store_json_is_refused(tmp_path: Path, user_id: str) -> None:
    files = valid_files()
    files["store.json"] = {"method": "temperature", "user_count": 1, "user_ids": [user_id]}
    message = refusal(tmp_path, files)
    assert "store.json" in message
    assert "safe file name" in message
    assert repr(user_id) in message


@pytest.mark.parametrize("user_id", ["../x", "a/b", ".hidden"])
def test_unsafe_user_id_is_refused_when_building_a_store(user_id: str) -> None:
    with pytest.raises(CalibrationError, match="safe file name"):
        CalibratorStore(IdentityCalibrator(), {user_id: IdentityCalibrator()})


def test_unsafe_user_id_never_reads_outside_the_store(tmp_path: Path) -> None:
    # a file exactly where ../x would point must not be read or make the store valid
    (tmp_path / "x.json").write_text('{"type": "identity"}')
    files = valid_files()
    files["store.json"] = {"method": "temperature", "user_count": 1, "user_ids": ["../../x"]}
    message = refusal(tmp_path, files)
    assert "safe file name" in message


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ([], "expected a JSON object"),
        ({"user_ids": []}, "method"),
        ({"method": 3, "user_ids": []}, "method"),
        ({"method": "temperature", "user_ids": "u-ada"}, "user_ids"),
        ({"method": "temperature", "user_ids": [1]}, "user_ids"),
        ({"method": "temperature", "user_ids": ["u-ada", "u-ada"]}, "duplicate"),
        ({"method": "temperature", "user_count": 3, "user_ids": ["u-ada"]}, "user_count"),
        ({"method": "temperature", "user_ids": [], "model_bundle_id": 7}, "model_bundle_id"),
        ({"method": "temperature", "user_ids": [], "model_schema_hash": []}, "model_schema_hash"),
    ],
)
def test_bad_store_json_is_refused(tmp_path: Path, meta: object, expected: str) -> None:
    message = refusal(tmp_path, valid_files(**{"store.json": meta}))
    assert "store.json" in message
    assert expected in message


def test_one_bad_user_refuses_the_whole_store(tmp_path: Path) -> None:
    files = valid_files(**{"users/u-ben.json": {"type": "temperature", "temperature": -1}})
    message = refusal(tmp_path, files)
    assert "users/u-ben.json" in message


def test_parse_refuses_missing_files_in_memory() -> None:
    with pytest.raises(CalibrationError, match=r"src/store\.json: missing"):
        parse_calibrator_store({}, source="src")
    with pytest.raises(CalibrationError, match=r"src/global\.json: missing"):
        parse_calibrator_store({"store.json": b'{"method": "identity"}'}, source="src")


def test_refusals_are_taskclf_errors() -> None:
    assert issubclass(CalibrationError, TaskclfError)


# --- store vs bundle --------------------------------------------------------------------


def test_store_matching_the_bundle_is_accepted(bundle: ModelBundle) -> None:
    store = build_store(model_bundle_id=bundle.bundle_id, model_schema_hash=bundle.schema_hash)
    check_store_matches(store, bundle_id=bundle.bundle_id, schema_hash=bundle.schema_hash)
    # a store that records neither matches any bundle
    bare = build_store(model_bundle_id=None, model_schema_hash=None)
    check_store_matches(bare, bundle_id="other", schema_hash="000000000000")


def test_schema_hash_mismatch_is_refused(bundle: ModelBundle) -> None:
    store = build_store(model_bundle_id=bundle.bundle_id, model_schema_hash="4077fe0dba70")
    with pytest.raises(CalibrationError) as info:
        check_store_matches(
            store, bundle_id=bundle.bundle_id, schema_hash=bundle.schema_hash, source="/s"
        )
    message = str(info.value)
    assert "/s/store.json" in message
    assert "model_schema_hash" in message
    assert "4077fe0dba70" in message
    assert str(bundle.schema_hash) in message
    assert "fit a store for this model" in message


def test_bundle_id_mismatch_is_refused(bundle: ModelBundle) -> None:
    store = build_store(model_bundle_id="bundle_v1", model_schema_hash=bundle.schema_hash)
    with pytest.raises(CalibrationError) as info:
        check_store_matches(store, bundle_id=bundle.bundle_id, schema_hash=bundle.schema_hash)
    message = str(info.value)
    assert "model_bundle_id" in message
    # it explains itself: what the store was fitted for, what the directory is called, the fix
    assert "the store was fitted for bundle 'bundle_v1'" in message
    assert f"the bundle directory is named {bundle.bundle_id!r}" in message
    assert "a bundle's id is its directory name" in message
    assert "rename the directory to 'bundle_v1'" in message
    assert "point model_dir (or the inference policy) at the original 'bundle_v1'" in message


def test_make_store_fixture_matches_the_session_bundle(
    make_store: MakeStore, bundle: ModelBundle
) -> None:
    store = load_calibrator_store(make_store(users={"u-ada": 0.8}))
    check_store_matches(store, bundle_id=bundle.bundle_id, schema_hash=bundle.schema_hash)
    other = load_calibrator_store(make_store("other", match_bundle=False))
    assert other.model_bundle_id is None


def test_copied_store_keeps_its_id(tmp_path: Path) -> None:
    path = save_calibrator_store(build_store(), tmp_path / "s")
    copy = shutil.copytree(path, tmp_path / "t")
    assert load_calibrator_store(copy).store_id == load_calibrator_store(path).store_id


def test_user_ids_differing_only_in_case_are_refused(tmp_path: Path) -> None:
    files = valid_files()
    files["store.json"] = {"method": "temperature", "user_count": 2, "user_ids": ["U-ada", "u-ada"]}
    files["users/U-ada.json"] = {"type": "identity"}
    files["users/u-ada.json"] = {"type": "identity"}
    message = refusal(tmp_path, files)
    assert "differ only in case" in message
    assert "store.json" in message
