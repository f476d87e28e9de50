"""Inference-only ctypes binding to LightGBM's C library, so the daemon never imports lightgbm."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import pathlib
import sys
from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from taskclf_core.errors import BundleError

__all__ = ["NativeBooster", "library_path"]

# Constants from include/LightGBM/c_api.h (LightGBM 4.x).
_C_API_DTYPE_FLOAT64: Final = 1
_C_API_PREDICT_NORMAL: Final = 0
_ROW_MAJOR: Final = 1
_ALL_ITERATIONS: Final = -1  # num_iteration <= 0 means "no limit"

_c_int_p = ctypes.POINTER(ctypes.c_int)
_c_int64_p = ctypes.POINTER(ctypes.c_int64)
_c_size_t_p = ctypes.POINTER(ctypes.c_size_t)
_c_double_p = ctypes.POINTER(ctypes.c_double)
_c_void_pp = ctypes.POINTER(ctypes.c_void_p)
_H = ctypes.c_void_p  # BoosterHandle and FastConfigHandle are both void*

# name -> (restype, argtypes); mirrors the 4.x prototypes exactly, since a wrong
# width (int vs int64_t) is silent stack corruption rather than an error.
_I, _I32 = ctypes.c_int, ctypes.c_int32
_SIGNATURES: Final[dict[str, tuple[type | None, list[type]]]] = {
    "LGBM_GetLastError": (ctypes.c_char_p, []),
    "LGBM_BoosterLoadModelFromString": (_I, [ctypes.c_char_p, _c_int_p, _c_void_pp]),
    "LGBM_BoosterGetNumClasses": (_I, [_H, _c_int_p]),
    "LGBM_BoosterGetNumFeature": (_I, [_H, _c_int_p]),
    # (handle, len, *out_len, buffer_len, *out_buffer_len, char** out_strs)
    "LGBM_BoosterGetFeatureNames": (
        _I,
        [_H, _I, _c_int_p, ctypes.c_size_t, _c_size_t_p, _c_void_pp],
    ),
    # (handle, data, data_type, nrow, ncol, is_row_major, predict_type, start_iteration,
    #  num_iteration, parameter, *out_len, *out_result)
    "LGBM_BoosterPredictForMat": (
        _I,
        [_H, _H, _I, _I32, _I32, _I, _I, _I, _I, ctypes.c_char_p, _c_int64_p, _c_double_p],
    ),
    # (handle, predict_type, start_iteration, num_iteration, data_type, ncol, parameter, *out)
    "LGBM_BoosterPredictForMatSingleRowFastInit": (
        _I,
        [_H, _I, _I, _I, _I, _I32, ctypes.c_char_p, _c_void_pp],
    ),
    # (fast_config, data, *out_len, *out_result)
    "LGBM_BoosterPredictForMatSingleRowFast": (_I, [_H, _H, _c_int64_p, _c_double_p]),
    "LGBM_FastConfigFree": (_I, [_H]),
    "LGBM_BoosterFree": (_I, [_H]),
}


def _library_filename() -> str:
    if sys.platform == "win32":
        return "lib_lightgbm.dll"
    if sys.platform == "darwin":
        return "lib_lightgbm.dylib"
    return "lib_lightgbm.so"


@functools.cache
def library_path() -> pathlib.Path:
    """Where lib_lightgbm was found (inside the installed lightgbm package, not imported)."""
    name = _library_filename()
    # find_spec on a top-level name locates the package without executing its __init__.
    spec = importlib.util.find_spec("lightgbm")
    roots = [pathlib.Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    # Current wheels ship lib/<name>; older ones put it next to __init__.py.
    candidates = [c for root in roots for c in (root / "lib" / name, root / name)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(c) for c in candidates) or "no lightgbm package on sys.path"
    raise BundleError(f"{name} not found (searched: {searched}); is lightgbm installed?")


@functools.cache
def _library() -> ctypes.CDLL:
    path = library_path()
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise BundleError(f"cannot load {path}: {exc}") from exc
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def _check(lib: ctypes.CDLL, rc: int, what: str) -> None:
    if rc != 0:
        # LightGBM keeps the last error per thread, so this reads our own call's message.
        msg: bytes | None = lib.LGBM_GetLastError()
        detail = msg.decode("utf-8", "replace") if msg else "no error message"
        raise BundleError(f"LightGBM {what} failed: {detail}")


class NativeBooster:
    """A LightGBM model loaded through the C API; inference only.

    ``predict_one`` is not thread-safe: it reuses one FastConfig and one input and one
    output buffer per instance, so exactly one thread may call it. ``predict_many`` has no
    per-instance scratch state (LightGBM locks the Booster itself), but the ``num_threads``
    it passes becomes LightGBM's process-wide default until the next call sets another.
    """

    _lib: ctypes.CDLL
    _handle: ctypes.c_void_p | None
    _fast: ctypes.c_void_p | None
    _num_classes: int
    _num_features: int
    _feature_names: tuple[str, ...]
    # predict_one scratch, created by _init_fast; the buffers are only reached through it
    _in_one: npt.NDArray[np.float64]
    _in_one_p: ctypes.c_void_p
    _out_one: npt.NDArray[np.float64]
    _out_one_p: ctypes._Pointer[ctypes.c_double]
    _out_len_p: ctypes._Pointer[ctypes.c_int64]
    _predict_fast: Callable[..., int]

    def __init__(self) -> None:
        raise TypeError("use NativeBooster.from_string(model_text)")

    @classmethod
    def from_string(cls, model_text: str) -> NativeBooster:
        """Parse a LightGBM text model (the content of model.txt)."""
        lib = _library()
        self = cls.__new__(cls)
        self._lib, self._handle, self._fast = lib, None, None
        handle, iterations = ctypes.c_void_p(), ctypes.c_int()
        rc = lib.LGBM_BoosterLoadModelFromString(
            model_text.encode("utf-8"), ctypes.byref(iterations), ctypes.byref(handle)
        )
        _check(lib, rc, "model load")
        self._handle = handle  # owned from here on: close() frees it even if a query below fails
        try:
            out = ctypes.c_int()
            _check(lib, lib.LGBM_BoosterGetNumClasses(handle, ctypes.byref(out)), "num classes")
            self._num_classes = out.value
            _check(lib, lib.LGBM_BoosterGetNumFeature(handle, ctypes.byref(out)), "num features")
            self._num_features = out.value
            self._feature_names = self._read_feature_names()
        except BaseException:
            self.close()
            raise
        return self

    def _read_feature_names(self) -> tuple[str, ...]:
        n, size = self._num_features, 128
        while True:
            buffers = [ctypes.create_string_buffer(size) for _ in range(n)]
            pointers = (ctypes.c_void_p * n)(*(ctypes.addressof(b) for b in buffers))
            out_n, needed = ctypes.c_int(), ctypes.c_size_t()
            rc = self._lib.LGBM_BoosterGetFeatureNames(
                self._require_handle(), n, ctypes.byref(out_n), size, ctypes.byref(needed), pointers
            )
            _check(self._lib, rc, "feature names")
            # needed > size means the names were truncated: retry with the size asked for
            if needed.value <= size:
                return tuple(b.value.decode("utf-8") for b in buffers[: out_n.value])
            size = needed.value

    @property
    def num_classes(self) -> int:
        return self._num_classes

    @property
    def num_features(self) -> int:
        return self._num_features

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._feature_names

    def _require_handle(self) -> ctypes.c_void_p:
        if self._handle is None:
            raise BundleError("NativeBooster is closed")
        return self._handle

    def _as_input(self, x: npt.ArrayLike, ndim: int) -> npt.NDArray[np.float64]:
        # ascontiguousarray copies only when dtype/layout differ, so the caller's array is never
        # written to (LightGBM only reads it anyway) and the common case costs no copy.
        arr = np.ascontiguousarray(x, dtype=np.float64)
        if arr.ndim != ndim or arr.shape[-1] != self._num_features:
            got = arr.shape[-1] if arr.ndim else 0
            shape = arr.shape
            raise BundleError(
                f"expected {self._num_features} feature columns, got {got} (input shape {shape})"
            )
        return arr

    def predict_many(self, x: np.ndarray, *, num_threads: int = 0) -> npt.NDArray[np.float64]:
        """Class probabilities for each row of ``x`` (n, num_features) -> (n, num_classes)."""
        handle = self._require_handle()
        arr = self._as_input(x, 2)
        if num_threads < 0:
            raise BundleError(f"num_threads must be >= 0, got {num_threads}")
        n = arr.shape[0]
        out = np.empty((n, self._num_classes), dtype=np.float64)
        if n == 0:  # LightGBM rejects nrow=0; the empty answer needs no C call
            return out
        params = f"num_threads={num_threads}".encode() if num_threads else b""
        out_len = ctypes.c_int64()
        rc = self._lib.LGBM_BoosterPredictForMat(
            handle,
            arr.ctypes.data,
            _C_API_DTYPE_FLOAT64,
            n,
            self._num_features,
            _ROW_MAJOR,
            _C_API_PREDICT_NORMAL,
            0,
            _ALL_ITERATIONS,
            params,
            ctypes.byref(out_len),
            out.ctypes.data_as(_c_double_p),
        )
        _check(self._lib, rc, "predict")
        if out_len.value != out.size:
            raise BundleError(f"LightGBM returned {out_len.value} values, expected {out.size}")
        return out

    def predict_one(self, row: np.ndarray) -> npt.NDArray[np.float64]:
        """Class probabilities for one row (num_features,) -> (num_classes,); one thread only."""
        if self._fast is None:
            self._init_fast()
        if getattr(row, "shape", None) != self._in_one.shape:
            row = self._as_input(row, 1)  # refuses a wrong width with the usual message
        # Copying into a buffer whose address is cached costs ~0.3 µs; asking numpy for the
        # caller's address (arr.ctypes.data) costs several µs, more than the copy and the cast.
        self._in_one[:] = row
        rc = self._predict_fast(self._fast, self._in_one_p, self._out_len_p, self._out_one_p)
        _check(self._lib, rc, "single-row predict")
        # The buffer is overwritten by the next call; callers get their own copy.
        return self._out_one.copy()

    def _init_fast(self) -> None:
        handle = self._require_handle()
        fast = ctypes.c_void_p()
        rc = self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
            handle,
            _C_API_PREDICT_NORMAL,
            0,
            _ALL_ITERATIONS,
            _C_API_DTYPE_FLOAT64,
            self._num_features,
            b"num_threads=1",
            ctypes.byref(fast),
        )
        _check(self._lib, rc, "single-row predictor setup")
        self._in_one = np.empty(self._num_features, dtype=np.float64)
        self._in_one_p = ctypes.c_void_p(self._in_one.ctypes.data)
        self._out_one = np.empty(self._num_classes, dtype=np.float64)
        self._out_one_p = self._out_one.ctypes.data_as(_c_double_p)
        self._out_len_p = ctypes.pointer(ctypes.c_int64())
        self._predict_fast = self._lib.LGBM_BoosterPredictForMatSingleRowFast
        self._fast = fast

    def close(self) -> None:
        """Free the native FastConfig and Booster; safe to call more than once."""
        # Clear the attributes before freeing so a failure or re-entry never double-frees.
        fast, self._fast = getattr(self, "_fast", None), None
        handle, self._handle = getattr(self, "_handle", None), None
        lib = getattr(self, "_lib", None)
        if lib is None:
            return
        try:
            # The FastConfig points into the Booster, so it goes first.
            if fast is not None:
                _check(lib, lib.LGBM_FastConfigFree(fast), "FastConfig free")
        finally:
            if handle is not None:
                _check(lib, lib.LGBM_BoosterFree(handle), "Booster free")

    def __del__(self) -> None:
        # At interpreter shutdown module globals may already be gone; never raise from here.
        with contextlib.suppress(Exception):
            self.close()
