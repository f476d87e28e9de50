"""NativeBooster (ctypes lib_lightgbm) must predict exactly what lightgbm.Booster predicts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pytest

from taskclf_core._lgbm import NativeBooster, library_path
from taskclf_core.errors import BundleError
from taskclf_core.types import FloatArray

REPO_ROOT = Path(__file__).resolve().parents[1]
N_CLASSES = 8
N_FEATURES = 10


def _make_data(seed: int, n: int, *, categorical: bool) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES))
    y = np.argmax(x[:, :N_CLASSES] + 0.5 * rng.normal(size=(n, N_CLASSES)), axis=1)
    if categorical:
        # a code that is informative about the class, so the model really splits on it
        x[:, 0] = (y + rng.integers(0, 2, size=n)) % 6
    x[rng.random(size=x.shape) < 0.05] = np.nan
    return x, y


def _train(seed: int, *, categorical: bool, names: list[str] | None = None) -> lgb.Booster:
    x, y = _make_data(seed, 800, categorical=categorical)
    params = {
        "objective": "multiclass",
        "num_class": N_CLASSES,
        "num_leaves": 15,
        "min_data_in_leaf": 5,
        "verbosity": -1,
        "seed": seed,
        "deterministic": True,
        "num_threads": 1,
    }
    ds = lgb.Dataset(
        x,
        label=y,
        feature_name=names or "auto",
        categorical_feature=[0] if categorical else "auto",
        free_raw_data=False,
    )
    return lgb.train(params, ds, num_boost_round=30)


def _test_rows(seed: int, n: int = 200) -> FloatArray:
    x, _ = _make_data(seed + 1000, n, categorical=True)
    # negative, unseen and NaN categorical codes; LightGBM treats negatives as missing
    odd_codes = [-1.0, -7.0, 6.0, 99.0, np.nan, 2.5]
    x[: len(odd_codes), 0] = odd_codes[:n]
    return x


@pytest.fixture(scope="module")
def plain() -> tuple[lgb.Booster, NativeBooster]:
    booster = _train(1, categorical=False)
    return booster, NativeBooster.from_string(booster.model_to_string())


@pytest.fixture(scope="module")
def categorical() -> tuple[lgb.Booster, NativeBooster]:
    booster = _train(2, categorical=True)
    return booster, NativeBooster.from_string(booster.model_to_string())


@pytest.fixture(params=["plain", "categorical"])
def model(request: pytest.FixtureRequest) -> tuple[lgb.Booster, NativeBooster]:
    result: tuple[lgb.Booster, NativeBooster] = request.getfixturevalue(request.param)
    return result


def test_library_found_inside_lightgbm_package() -> None:
    path = library_path()
    assert path.is_file()
    assert path.name.startswith("lib_lightgbm")
    assert "lightgbm" in path.parts


def test_metadata(model: tuple[lgb.Booster, NativeBooster]) -> None:
    booster, native = model
    assert native.num_classes == N_CLASSES
    assert native.num_features == N_FEATURES
    assert native.feature_names == tuple(booster.feature_name())


def test_long_feature_names_are_not_truncated() -> None:
    names = [f"feature_{i}_" + "x" * 300 for i in range(N_FEATURES)]
    native = NativeBooster.from_string(_train(3, categorical=False, names=names).model_to_string())
    assert native.feature_names == tuple(names)


def test_predict_many_matches_lightgbm(model: tuple[lgb.Booster, NativeBooster]) -> None:
    booster, native = model
    x = _test_rows(5)
    got = native.predict_many(x)
    assert got.shape == (len(x), N_CLASSES)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, booster.predict(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-12)


def test_predict_one_matches_predict_many(model: tuple[lgb.Booster, NativeBooster]) -> None:
    _, native = model
    x = _test_rows(6)
    many = native.predict_many(x)
    for i, row in enumerate(x):
        one = native.predict_one(row)
        assert one.shape == (N_CLASSES,)
        np.testing.assert_allclose(one, many[i], rtol=0, atol=1e-15)


def test_predict_one_returns_a_fresh_array(plain: tuple[lgb.Booster, NativeBooster]) -> None:
    _, native = plain
    x = _test_rows(7, n=2)
    first = native.predict_one(x[0])
    kept = first.copy()
    second = native.predict_one(x[1])
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, kept)
    first[:] = -1.0  # the caller owns it: scribbling must not leak into the next prediction
    np.testing.assert_array_equal(native.predict_one(x[0]), kept)


def test_empty_input(plain: tuple[lgb.Booster, NativeBooster]) -> None:
    _, native = plain
    out = native.predict_many(np.empty((0, N_FEATURES)))
    assert out.shape == (0, N_CLASSES)


@pytest.mark.parametrize("width", [N_FEATURES - 1, N_FEATURES + 1])
def test_wrong_width_is_refused(plain: tuple[lgb.Booster, NativeBooster], width: int) -> None:
    _, native = plain
    with pytest.raises(BundleError, match=rf"expected {N_FEATURES} feature columns, got {width}"):
        native.predict_many(np.zeros((3, width)))
    with pytest.raises(BundleError, match=rf"expected {N_FEATURES} feature columns, got {width}"):
        native.predict_one(np.zeros(width))


def test_wrong_rank_is_refused(plain: tuple[lgb.Booster, NativeBooster]) -> None:
    _, native = plain
    with pytest.raises(BundleError, match="feature columns"):
        native.predict_many(np.zeros(N_FEATURES))
    with pytest.raises(BundleError, match="feature columns"):
        native.predict_one(np.zeros((1, N_FEATURES)))


@pytest.mark.parametrize("text", ["", "garbage", "tree\nversion=v4\nnum_class=8\n"])
def test_garbage_model_text_raises(text: str) -> None:
    with pytest.raises(BundleError, match="LightGBM model load failed"):
        NativeBooster.from_string(text)


def test_close_is_idempotent_and_final() -> None:
    native = NativeBooster.from_string(_train(4, categorical=False).model_to_string())
    row = _test_rows(8, n=1)[0]
    native.predict_one(row)  # so that close() also frees a FastConfig
    native.close()
    native.close()
    with pytest.raises(BundleError, match="closed"):
        native.predict_many(row[None, :])
    with pytest.raises(BundleError, match="closed"):
        native.predict_one(row)


def test_constructor_is_not_public() -> None:
    with pytest.raises(TypeError, match="from_string"):
        NativeBooster()


def test_input_is_not_mutated(categorical: tuple[lgb.Booster, NativeBooster]) -> None:
    booster, native = categorical
    x = _test_rows(9, n=50)
    # float32 and Fortran order force the conversion path; the caller's arrays stay as they were
    for arr in (x, np.asfortranarray(x), x.astype(np.float32), x[:, ::-1][:, ::-1]):
        before = arr.copy()
        native.predict_many(arr)
        native.predict_one(arr[0])
        np.testing.assert_array_equal(arr, before)
    np.testing.assert_allclose(
        native.predict_many(np.asfortranarray(x)), booster.predict(x), rtol=0, atol=1e-12
    )


def test_thread_counts_agree(categorical: tuple[lgb.Booster, NativeBooster]) -> None:
    _, native = categorical
    x = _test_rows(10, n=500)
    one = native.predict_many(x, num_threads=1)
    two = native.predict_many(x, num_threads=2)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, native.predict_many(x))
    with pytest.raises(BundleError, match="num_threads"):
        native.predict_many(x, num_threads=-1)


def test_taskclf_sample_bundle(taskclf_sample: Path) -> None:
    model_file = taskclf_sample / "bundle_v1" / "model.txt"
    text = model_file.read_text(encoding="utf-8")
    names_line = next(line for line in text.splitlines() if line.startswith("feature_names="))
    native = NativeBooster.from_string(text)
    booster = lgb.Booster(model_str=text)
    assert native.feature_names == tuple(names_line.removeprefix("feature_names=").split(" "))
    assert native.num_classes == N_CLASSES
    assert native.num_features == len(native.feature_names)

    rng = np.random.default_rng(11)
    x = rng.normal(scale=3.0, size=(300, native.num_features))
    # categorical columns get small integer codes, some negative, some unseen
    x[:, [0, 1, 24, 38]] = rng.integers(-2, 40, size=(300, 4))
    x[rng.random(size=x.shape) < 0.05] = np.nan
    many = native.predict_many(x)
    np.testing.assert_allclose(many, booster.predict(x), rtol=0, atol=1e-12)
    for i in range(0, len(x), 7):
        np.testing.assert_allclose(native.predict_one(x[i]), many[i], rtol=0, atol=1e-15)


def test_no_heavy_imports(tmp_path: Path, plain: tuple[lgb.Booster, NativeBooster]) -> None:
    booster, _ = plain
    model_file = tmp_path / "model.txt"
    model_file.write_text(booster.model_to_string(), encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from taskclf_core._lgbm import NativeBooster
        native = NativeBooster.from_string(open({str(model_file)!r}, encoding="utf-8").read())
        x = np.zeros((3, native.num_features))
        native.predict_many(x)
        native.predict_one(x[0])
        native.close()
        print(" ".join(sorted({{"lightgbm", "sklearn", "pandas"}} & sys.modules.keys())))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
