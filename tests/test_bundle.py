"""Model bundles: load the session bundle, encode, predict one vs many, refuse broken bundles."""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import window_stream

from taskclf_core import _lgbm
from taskclf_core.bundle import ModelBundle, load_bundle, save_bundle
from taskclf_core.errors import BundleError
from taskclf_core.labels import CORE_LABELS
from taskclf_core.schema import UNKNOWN_TOKEN, ColumnKind, parse_window, registry


@pytest.fixture(scope="module")
def rows(bundle: ModelBundle, training_windows: list[dict[str, Any]]) -> np.ndarray:
    """Every training window encoded (1280 rows), plus rows with unseen/missing values."""
    windows = window_stream(training_windows)
    encoded = [parse_window(w, bundle.schema).features for w in windows]
    odd = {**windows[0], "app_id": "never.seen", "keys_per_min": None}
    encoded.append(parse_window(odd, bundle.schema).features)
    return np.stack(encoded)


@pytest.fixture
def copy_bundle(bundle_dir: Path, tmp_path: Path) -> Callable[..., Path]:
    """A writable copy of the session bundle, optionally with edited metadata."""

    def make(name: str = "bundle_copy", **metadata_changes: Any) -> Path:
        target = Path(shutil.copytree(bundle_dir, tmp_path / name))
        if metadata_changes:
            meta = json.loads((target / "metadata.json").read_text())
            for key, value in metadata_changes.items():
                if value is None:
                    meta.pop(key, None)
                else:
                    meta[key] = value
            (target / "metadata.json").write_text(json.dumps(meta, indent=2))
        return target

    return make


def refused(path: Path) -> str:
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    return str(info.value)


# --- loading ----------------------------------------------------------------------------


def test_session_bundle_loads(bundle: ModelBundle, bundle_dir: Path) -> None:
    reg = registry("v2")
    assert reg is not None
    assert bundle.bundle_id == "bundle_test" == bundle_dir.name
    assert bundle.path == bundle_dir
    assert bundle.label_set == CORE_LABELS
    assert bundle.schema.version == "v2"
    assert bundle.schema_hash == reg.schema_hash == "a15f4751a947"
    assert bundle.schema.feature_columns == reg.feature_columns
    assert bundle.booster.num_classes == len(CORE_LABELS)
    assert bundle.booster.feature_names == reg.feature_columns
    kinds = dict(zip(bundle.schema.feature_columns, bundle.schema.kinds, strict=True))
    assert kinds["app_id"] is ColumnKind.CATEGORICAL
    assert kinds["is_browser"] is ColumnKind.BOOL
    assert kinds["keys_per_min"] is ColumnKind.NUMERIC


def test_metadata_is_read_only(bundle: ModelBundle) -> None:
    with pytest.raises(TypeError):
        bundle.metadata["schema_version"] = "v3"  # type: ignore[index]


def test_label_set_order_in_metadata_does_not_matter(copy_bundle: Callable[..., Path]) -> None:
    path = copy_bundle(label_set=list(reversed(CORE_LABELS)))
    assert load_bundle(path).label_set == CORE_LABELS


def test_bundle_id_is_the_directory_name_even_through_a_symlink(
    bundle_dir: Path, tmp_path: Path
) -> None:
    link = tmp_path / "current"
    link.symlink_to(bundle_dir)
    assert load_bundle(link).bundle_id == "bundle_test"


# --- encoding ---------------------------------------------------------------------------


def test_unseen_category_takes_the_unknown_code(
    bundle: ModelBundle, bundle_dir: Path, training_windows: list[dict[str, Any]]
) -> None:
    window = {**window_stream(training_windows)[0], "app_id": "org.never.seen"}
    parsed = parse_window(window, bundle.schema)
    col = bundle.schema.feature_columns.index("app_id")
    vocab = sorted(json.loads((bundle_dir / "categorical_encoders.json").read_text())["app_id"])
    assert UNKNOWN_TOKEN in vocab
    assert parsed.features[col] == vocab.index(UNKNOWN_TOKEN)
    assert (
        parsed.n_missing
        == parse_window(window_stream(training_windows)[0], bundle.schema).n_missing
    )


def test_unseen_category_without_unknown_in_vocab_is_minus_one(
    copy_bundle: Callable[..., Path], training_windows: list[dict[str, Any]]
) -> None:
    path = copy_bundle()
    encoders = json.loads((path / "categorical_encoders.json").read_text())
    encoders["app_id"] = [v for v in encoders["app_id"] if v != UNKNOWN_TOKEN][::-1]
    (path / "categorical_encoders.json").write_text(json.dumps(encoders))
    bundle = load_bundle(path)
    window = window_stream(training_windows)[0]
    col = bundle.schema.feature_columns.index("app_id")
    unseen = parse_window({**window, "app_id": "org.never.seen"}, bundle.schema)
    assert unseen.features[col] == -1.0
    seen = parse_window(window, bundle.schema)
    # the file's order is ignored: codes index the sorted vocabulary
    assert seen.features[col] == sorted(encoders["app_id"]).index(window["app_id"])
    missing = parse_window({**window, "app_id": None}, bundle.schema)
    assert missing.features[col] == -1.0
    assert bundle.predict_one(unseen.features).shape == (len(CORE_LABELS),)


def test_missing_numerics_take_the_fill_and_are_counted(
    bundle: ModelBundle, copy_bundle: Callable[..., Path], training_windows: list[dict[str, Any]]
) -> None:
    window = window_stream(training_windows)[0]
    complete = parse_window(window, bundle.schema)
    gappy = {**window, "keys_per_min": None}
    del gappy["clicks_per_min"]
    parsed = parse_window(gappy, bundle.schema)
    cols = [bundle.schema.feature_columns.index(c) for c in ("keys_per_min", "clicks_per_min")]
    assert parsed.features[cols].tolist() == [0.0, 0.0]  # taskclf's fill
    assert parsed.n_missing == complete.n_missing + 2
    filled = load_bundle(copy_bundle(numeric_fill=-1.5))
    assert parse_window(gappy, filled.schema).features[cols].tolist() == [-1.5, -1.5]


# --- prediction -------------------------------------------------------------------------


def test_predict_one_equals_predict_many_bitwise(bundle: ModelBundle, rows: np.ndarray) -> None:
    many = bundle.predict_many(rows)
    one = np.stack([bundle.predict_one(r) for r in rows])
    assert many.shape == (len(rows), len(CORE_LABELS))
    assert np.array_equal(one, many)
    assert np.array_equal(bundle.predict_many(rows, num_threads=1), many)
    np.testing.assert_allclose(many.sum(axis=1), 1.0, atol=1e-12)


def test_predict_one_returns_a_fresh_array(bundle: ModelBundle, rows: np.ndarray) -> None:
    first = bundle.predict_one(rows[0])
    kept = first.copy()
    bundle.predict_one(rows[1])
    assert np.array_equal(first, kept)


def test_predict_does_not_modify_input(bundle: ModelBundle, rows: np.ndarray) -> None:
    frozen = rows[:50].copy()
    frozen.flags.writeable = False
    bundle.predict_many(frozen)
    bundle.predict_one(frozen[0])
    assert np.array_equal(frozen, rows[:50])


def test_predict_many_on_no_rows(bundle: ModelBundle) -> None:
    out = bundle.predict_many(np.empty((0, bundle.schema.n_features)))
    assert out.shape == (0, len(CORE_LABELS))


def test_predict_refuses_wrong_width(bundle: ModelBundle) -> None:
    with pytest.raises(BundleError, match="feature columns"):
        bundle.predict_many(np.zeros((2, bundle.schema.n_features - 1)))
    with pytest.raises(BundleError, match="feature columns"):
        bundle.predict_one(np.zeros(bundle.schema.n_features + 1))


class _Counting:
    """Wraps a ctypes function and counts its calls."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.calls = fn, 0

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        return self.fn(*args)


@pytest.fixture
def lgbm_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, _Counting]:
    """Count calls into LightGBM's C predict functions (for boosters loaded after this)."""
    lib: ctypes.CDLL = _lgbm._library()
    counters = {}
    for name in ("LGBM_BoosterPredictForMat", "LGBM_BoosterPredictForMatSingleRowFast"):
        counters[name] = _Counting(getattr(lib, name))
        monkeypatch.setattr(lib, name, counters[name])
    return counters


def test_batch_is_one_lightgbm_call(
    bundle_dir: Path, rows: np.ndarray, lgbm_calls: dict[str, _Counting]
) -> None:
    bundle = load_bundle(bundle_dir)  # loaded here, so it binds the counting wrappers
    many = bundle.predict_many(rows)
    assert lgbm_calls["LGBM_BoosterPredictForMat"].calls == 1
    assert lgbm_calls["LGBM_BoosterPredictForMatSingleRowFast"].calls == 0
    one = bundle.predict_one(rows[0])
    assert lgbm_calls["LGBM_BoosterPredictForMatSingleRowFast"].calls == 1
    assert lgbm_calls["LGBM_BoosterPredictForMat"].calls == 1
    assert np.array_equal(one, many[0])


# --- refusals ---------------------------------------------------------------------------


def test_tampered_schema_hash_is_refused(copy_bundle: Callable[..., Path]) -> None:
    message = refused(copy_bundle(schema_hash="deadbeef0000"))
    assert "metadata.json" in message
    assert "schema_hash" in message
    assert "deadbeef0000" in message
    assert "a15f4751a947" in message


def test_schema_hash_of_another_version_is_refused(copy_bundle: Callable[..., Path]) -> None:
    message = refused(copy_bundle(schema_hash="4077fe0dba70"))
    assert "does not match schema_version 'v2'" in message


@pytest.mark.parametrize(
    "label_set",
    [
        list(CORE_LABELS[:-1]),  # a label missing
        [*CORE_LABELS, "Sleep"],  # an extra label
        [*CORE_LABELS[:-1], "write"],  # renamed (case matters)
        [*CORE_LABELS[:-1], CORE_LABELS[0]],  # a duplicate in place of one
        [],
    ],
    ids=["missing", "extra", "renamed", "duplicate", "empty"],
)
def test_changed_label_set_is_refused(
    copy_bundle: Callable[..., Path], label_set: list[str]
) -> None:
    message = refused(copy_bundle(label_set=label_set))
    assert "metadata.json" in message
    assert "label_set" in message


@pytest.mark.parametrize("label_set", [None, "BreakIdle", [1, 2]])
def test_malformed_label_set_is_refused(copy_bundle: Callable[..., Path], label_set: Any) -> None:
    path = copy_bundle()
    meta = json.loads((path / "metadata.json").read_text())
    meta["label_set"] = label_set
    (path / "metadata.json").write_text(json.dumps(meta))
    assert "label_set" in refused(path)


def test_missing_model_is_refused(copy_bundle: Callable[..., Path]) -> None:
    path = copy_bundle()
    (path / "model.txt").unlink()
    message = refused(path)
    assert "model.txt" in message
    assert "missing" in message


@pytest.mark.parametrize(
    "content", [b"", b"garbage\n", b"tree\nversion=v4\n", b"\xff\xfe\x00", b"{}"]
)
def test_garbage_model_is_refused(copy_bundle: Callable[..., Path], content: bytes) -> None:
    path = copy_bundle()
    (path / "model.txt").write_bytes(content)
    assert "model.txt" in refused(path)


def test_truncated_model_is_refused_without_crashing(bundle_dir: Path, tmp_path: Path) -> None:
    # LightGBM reads past a cut-off tree section (a segfault), so run it in a child process
    code = """
import shutil, sys
from pathlib import Path
from taskclf_core.bundle import load_bundle
from taskclf_core.errors import BundleError
src, tmp = Path(sys.argv[1]), Path(sys.argv[2])
text = (src / "model.txt").read_text()
target = Path(shutil.copytree(src, tmp / "cut"))
first_tree = text.index("\\nTree=")
end = text.index("end of trees")
outcomes = []
for cut in (first_tree // 2, first_tree + 1, first_tree + 500, (first_tree + end) // 2, end - 2):
    (target / "model.txt").write_text(text[:cut])
    try:
        load_bundle(target)
        outcomes.append("loaded")
    except BundleError as exc:
        assert "model.txt" in str(exc), exc
        outcomes.append("refused")
print(",".join(outcomes))
"""
    result = subprocess.run(
        [sys.executable, "-c", code, str(bundle_dir), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ",".join(["refused"] * 5)


def test_model_with_fewer_classes_is_refused(
    copy_bundle: Callable[..., Path], training_windows: list[dict[str, Any]]
) -> None:
    import lightgbm as lgb

    path = copy_bundle()
    bundle = load_bundle(path)
    x = np.stack(
        [parse_window(w, bundle.schema).features for w in window_stream(training_windows)[:200]]
    )
    y = np.arange(len(x)) % 4
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 4, "verbose": -1, "num_threads": 1},
        lgb.Dataset(x, label=y, feature_name=list(bundle.schema.feature_columns)),
        num_boost_round=2,
    )
    (path / "model.txt").write_text(booster.model_to_string())
    message = refused(path)
    assert "model.txt" in message
    assert "4 classes" in message


def test_missing_metadata_is_refused(copy_bundle: Callable[..., Path]) -> None:
    path = copy_bundle()
    (path / "metadata.json").unlink()
    message = refused(path)
    assert "metadata.json" in message
    assert "missing" in message


@pytest.mark.parametrize("text", ["{", "", "not json", "[1, 2]", "null"])
def test_invalid_metadata_is_refused(copy_bundle: Callable[..., Path], text: str) -> None:
    path = copy_bundle()
    (path / "metadata.json").write_text(text)
    assert "metadata.json" in refused(path)


@pytest.mark.parametrize("text", ["{", '["app_id"]', '{"app_id": "x"}', '{"app_id": [1]}'])
def test_invalid_encoders_are_refused(copy_bundle: Callable[..., Path], text: str) -> None:
    path = copy_bundle()
    (path / "categorical_encoders.json").write_text(text)
    assert "categorical_encoders.json" in refused(path)


def test_encoders_file_is_optional(
    copy_bundle: Callable[..., Path], training_windows: list[dict[str, Any]]
) -> None:
    path = copy_bundle()
    (path / "categorical_encoders.json").unlink()
    bundle = load_bundle(path)
    window = parse_window(window_stream(training_windows)[0], bundle.schema)
    assert window.features[bundle.schema.feature_columns.index("app_id")] == -1.0


def test_unknown_schema_version_without_feature_columns_is_refused(
    copy_bundle: Callable[..., Path],
) -> None:
    message = refused(
        copy_bundle(schema_version="v9", schema_hash="0123456789ab", feature_columns=None)
    )
    assert "schema_version 'v9'" in message
    assert "feature_columns" in message


def test_unknown_schema_version_with_matching_feature_columns_loads(
    copy_bundle: Callable[..., Path], bundle: ModelBundle
) -> None:
    path = copy_bundle(
        schema_version="v9",
        schema_hash="0123456789ab",
        feature_columns=list(bundle.schema.feature_columns),
        categorical_columns=["app_id", "app_category", "domain_category"],
    )
    loaded = load_bundle(path)
    assert loaded.schema.version == "v9"
    assert loaded.schema_hash == "0123456789ab"
    assert loaded.schema.kinds.count(ColumnKind.CATEGORICAL) == 3


@pytest.mark.parametrize("schema_version", [None, 2, ""])
def test_bad_schema_version_is_refused(
    copy_bundle: Callable[..., Path], schema_version: Any
) -> None:
    path = copy_bundle()
    meta = json.loads((path / "metadata.json").read_text())
    meta["schema_version"] = schema_version
    (path / "metadata.json").write_text(json.dumps(meta))
    assert "schema_version" in refused(path)


def test_feature_names_not_matching_the_registry_are_refused(
    copy_bundle: Callable[..., Path],
) -> None:
    # a v3 registry (299 columns) against a model trained on v2's 38
    message = refused(
        copy_bundle(schema_version="v3", schema_hash="7f29b4b8795e", feature_columns=None)
    )
    assert "model.txt" in message
    assert "feature columns" in message


def test_renamed_model_feature_is_refused(copy_bundle: Callable[..., Path]) -> None:
    path = copy_bundle()
    text = (path / "model.txt").read_text()
    start = text.index("\nfeature_names=")
    end = text.index("\n", start + 1)
    names = text[start + len("\nfeature_names=") : end].split(" ")
    names[5] = "renamed_feature"
    (path / "model.txt").write_text(
        text[:start] + "\nfeature_names=" + " ".join(names) + text[end:]
    )
    assert "model.txt" in refused(path)


def test_feature_columns_in_a_different_order_are_refused(
    copy_bundle: Callable[..., Path], bundle: ModelBundle
) -> None:
    path = copy_bundle(feature_columns=list(reversed(bundle.schema.feature_columns)))
    assert "feature columns" in refused(path)


@pytest.mark.parametrize("fill", ["0", True, "NaN", 10**400])
def test_bad_numeric_fill_is_refused(copy_bundle: Callable[..., Path], fill: Any) -> None:
    path = copy_bundle()
    meta = json.loads((path / "metadata.json").read_text())
    meta["numeric_fill"] = float("nan") if fill == "NaN" else fill
    (path / "metadata.json").write_text(json.dumps(meta))
    assert "numeric_fill" in refused(path)


def test_not_a_directory_is_refused(tmp_path: Path) -> None:
    assert "model bundle directory" in refused(tmp_path / "missing")


# --- save -------------------------------------------------------------------------------


def test_save_then_load_round_trip(bundle: ModelBundle, bundle_dir: Path, tmp_path: Path) -> None:
    model_text = (bundle_dir / "model.txt").read_text()
    metadata = json.loads((bundle_dir / "metadata.json").read_text())
    encoders = json.loads((bundle_dir / "categorical_encoders.json").read_text())
    metrics = json.loads((bundle_dir / "metrics.json").read_text())
    shuffled = {c: list(reversed(v)) for c, v in encoders.items()}
    out = save_bundle(
        tmp_path / "bundle_rt",
        model_text=model_text,
        metadata=metadata,
        encoders=shuffled,
        metrics=metrics,
    )
    for name in ("model.txt", "metadata.json", "categorical_encoders.json", "metrics.json"):
        assert (out / name).read_bytes() == (bundle_dir / name).read_bytes(), name
        assert (out / name).stat().st_mode & 0o777 == 0o600, name
    loaded = load_bundle(out)
    assert loaded.bundle_id == "bundle_rt"
    assert loaded.schema.feature_columns == bundle.schema.feature_columns
    assert loaded.schema.vocabularies == bundle.schema.vocabularies
    assert dict(loaded.metadata) == dict(bundle.metadata)
    probe = np.random.default_rng(0).random((20, bundle.schema.n_features)) * 5
    assert np.array_equal(loaded.predict_many(probe), bundle.predict_many(probe))


def test_save_without_metrics(bundle_dir: Path, tmp_path: Path) -> None:
    out = save_bundle(
        tmp_path / "b",
        model_text=(bundle_dir / "model.txt").read_text(),
        metadata=json.loads((bundle_dir / "metadata.json").read_text()),
        encoders={},
    )
    assert not (out / "metrics.json").exists()
    assert load_bundle(out).bundle_id == "b"


def test_taskclf_bundle_loads(taskclf_sample: Path) -> None:
    bundle = load_bundle(taskclf_sample / "bundle_v1")
    assert bundle.bundle_id == "bundle_v1"
    assert bundle.schema.version == "v1"
    assert bundle.schema_hash == "4077fe0dba70"
    assert "user_id" in bundle.schema.feature_columns
    assert bundle.label_set == CORE_LABELS


def test_repeated_vocabulary_value_is_refused(copy_bundle: Callable[..., Path]) -> None:
    path = copy_bundle()
    encoders = json.loads((path / "categorical_encoders.json").read_text())
    encoders["app_id"].append(encoders["app_id"][0])
    (path / "categorical_encoders.json").write_text(json.dumps(encoders))
    message = refused(path)
    assert "categorical_encoders.json" in message
    assert "app_id" in message
