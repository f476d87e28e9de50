"""Per-window compute: our single-window path vs the naive pandas/sklearn path vs the model."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

PROCESSED_AT = "2026-01-01T00:00:00.000000Z"


def _time_each(fn: Callable[[int], object], n: int, warmup: int = 20) -> list[float]:
    """µs per call of ``fn(i)`` for i in range(n), after ``warmup`` untimed calls."""
    for i in range(warmup):
        fn(i)
    out = []
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        fn(i)
        out.append((clock() - t0) / 1e3)
    return out


def _row(label: str, us: Sequence[float]) -> list[object]:
    p50, p99 = c.percentiles(us)
    return [label, len(us), float(np.mean(us)), p50, p99]


# --- the naive path a first version would take ----------------------------------------


class NaivePath:
    """dict -> 1-row pandas DataFrame -> lightgbm.Booster.predict -> sklearn isotonic x8 -> dict.

    The encoding mirrors taskclf's (sorted vocabulary codes, ``__unknown__`` for unseen
    values, missing numerics filled with the bundle's fill), so its probabilities equal ours.
    """

    def __init__(self, bundle_dir: Path, store_dir: Path, labels: Sequence[str]) -> None:
        import lightgbm as lgb
        import pandas as pd

        self.pd = pd
        self.booster = lgb.Booster(model_file=str(bundle_dir / "model.txt"))
        self.features = self.booster.feature_name()
        encoders = json.loads((bundle_dir / "categorical_encoders.json").read_text())
        self.codes = {
            col: {v: float(i) for i, v in enumerate(sorted(vocab))}
            for col, vocab in encoders.items()
        }
        self.unknown = {col: codes.get("__unknown__", -1.0) for col, codes in self.codes.items()}
        self.labels = list(labels)
        self.threshold = 0.55
        self.history: dict[str, deque[str]] = {}
        self.global_iso, self.user_iso = self._fit_sklearn(bundle_dir, store_dir)

    @staticmethod
    def _fit_sklearn(bundle_dir: Path, store_dir: Path) -> tuple[list[Any], dict[str, list[Any]]]:
        """sklearn IsotonicRegression objects fitted exactly as the project's isotonic store."""
        from sklearn.isotonic import IsotonicRegression

        probs, y, users, _ = c._validation(bundle_dir)
        store_users = json.loads((store_dir / "store.json").read_text())["user_ids"]

        def fit(rows: np.ndarray) -> list[Any]:
            models = []
            for k in range(probs.shape[1]):
                m = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
                m.fit(probs[rows, k], (y[rows] == k).astype(np.float64))
                models.append(m)
            return models

        everyone = np.arange(len(y))
        per_user = {
            u: fit(np.asarray([i for i, v in enumerate(users) if v == u])) for u in store_users
        }
        return fit(everyone), per_user

    def frame(self, window: dict[str, Any]) -> Any:
        df = self.pd.DataFrame([window])
        for col, codes in self.codes.items():
            df[col] = df[col].map(codes).fillna(self.unknown[col])
        return df[self.features].astype("float64").fillna(0.0)

    def raw(self, window: dict[str, Any]) -> np.ndarray:
        return np.asarray(self.booster.predict(self.frame(window)))[0]

    def calibrate(self, user_id: str, raw: np.ndarray) -> np.ndarray:
        models = self.user_iso.get(user_id, self.global_iso)
        out = np.array([m.predict([raw[k]])[0] for k, m in enumerate(models)])
        out = np.clip(out, 1e-12, None)
        result: np.ndarray = out / out.sum()
        return result

    def label(self, window: dict[str, Any]) -> dict[str, Any]:
        raw = self.raw(window)
        probs = self.calibrate(window["user_id"], raw)
        best = int(probs.argmax())
        confidence = float(probs[best])
        core = self.labels[best]
        label = core if confidence >= self.threshold else "Mixed/Unknown"
        hist = self.history.setdefault(window["user_id"], deque(maxlen=3))
        hist.append(label)
        votes = list(hist)
        smoothed = max(
            set(votes), key=lambda v: (votes.count(v), len(votes) - votes[::-1].index(v))
        )
        return {
            "user_id": window["user_id"],
            "bucket_start_ts": window["bucket_start_ts"],
            "bucket_end_ts": window["bucket_end_ts"],
            "core_label": core,
            "core_probs": {n: round(float(p), 6) for n, p in zip(self.labels, probs, strict=True)},
            "confidence": confidence,
            "is_rejected": label != core,
            "label": label,
            "smoothed_label": smoothed,
            "calibrator": "user" if window["user_id"] in self.user_iso else "global",
            "processed_at": PROCESSED_AT,
        }


# --- spin trap: calls spaced like sporadic arrivals ------------------------------------


def _spaced(fn: Callable[[int], object], n: int, gap_s: float) -> tuple[float, float]:
    """(wall ms per call, process CPU ms per call, all threads) with ``gap_s`` between calls."""
    wall = cpu = 0.0
    for i in range(n):
        time.sleep(gap_s)
        c0, t0 = time.process_time(), time.perf_counter()
        fn(i)
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
    return wall / n * 1e3, cpu / n * 1e3


def _best_of(
    paths: Sequence[tuple[str, Callable[[int], object], int]], rounds: int
) -> dict[str, list[float]]:
    """Run every path once per round, round-robin; keep each path's round with the lowest p50.

    Other processes share this 2-core box; interleaving exposes every path to the same
    disturbances and the best round is the least disturbed one.
    """
    best: dict[str, list[float]] = {}
    for _ in range(rounds):
        for label, fn, n in paths:
            us = _time_each(fn, n, warmup=5 if n < 1000 else 20)
            if (
                label not in best
                or c.percentiles(us, (50,))[0] < c.percentiles(best[label], (50,))[0]
            ):
                best[label] = us
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--windows", type=int, default=2000, help="windows for our paths")
    ap.add_argument("--naive-windows", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds, best kept")
    ap.add_argument("--spaced", type=int, default=50, help="calls 20 ms apart (spin trap)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, n_naive, n_spaced, rounds = (
        (500, 100, 20, 2)
        if args.quick
        else (args.windows, args.naive_windows, args.spaced, args.rounds)
    )

    c.print_header("per-window compute: ours vs naive (pandas + sklearn) vs the model alone")
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset: libgomp default)')}")
    bundle_dir = c.bundle_path()
    print(c.bundle_summary(bundle_dir))

    import pydantic_core

    from taskclf_core.bundle import load_bundle
    from taskclf_core.calibration import calibrate_rows, load_calibrator_store
    from taskclf_core.labels import CORE_LABELS
    from taskclf_core.pipeline import Policy, Snapshot, label_window
    from taskclf_core.schema import parse_window

    bundle = load_bundle(bundle_dir)
    schema = bundle.schema
    booster = bundle.booster
    iso_dir = c.store_path("isotonic", bundle_dir)
    stores = {
        "temperature": load_calibrator_store(c.store_path("temperature", bundle_dir)),
        "isotonic": load_calibrator_store(iso_dir),
    }
    windows = c.stream_windows(n)
    m = len(windows)
    parsed = [parse_window(w, schema) for w in windows]
    users = [p.user_id for p in parsed]
    rows = np.stack([p.features for p in parsed])
    texts = [json.dumps(w).encode() for w in windows]
    raw_all = booster.predict_many(rows, num_threads=1)
    snapshots = {k: Snapshot(bundle=bundle, store=st, policy=Policy()) for k, st in stores.items()}
    states: dict[str, Any] = {k: snap.policy.empty_state() for k, snap in snapshots.items()}
    records: list[Any] = []

    def ours(kind: str, *, from_bytes: bool = False) -> Callable[[int], object]:
        snapshot = snapshots[kind]

        def one(i: int) -> object:
            obj = pydantic_core.from_json(texts[i % m]) if from_bytes else windows[i % m]
            window = parse_window(obj, schema)
            states[kind], record = label_window(
                snapshot, states[kind], window, source="bench", processed_at=PROCESSED_AT
            )
            return record.to_json_line() if from_bytes else record

        return one

    def label_only(i: int) -> None:
        states["isotonic"], record = label_window(
            snapshots["isotonic"],
            states["isotonic"],
            parsed[i % m],
            source="bench",
            processed_at=PROCESSED_AT,
        )
        records.append(record)

    def calibrate(kind: str) -> Callable[[int], object]:
        store = stores[kind]
        return lambda i: calibrate_rows(store, raw_all[i % m : i % m + 1], [users[i % m]], [True])

    label_only(0)
    a_temp = "(a) ours: parse_window + label_window, temperature store"
    a_iso = "(a) ours: parse_window + label_window, isotonic store"
    a_json = "(a') ours incl. JSON bytes in + JSON line out, isotonic"
    floor = "(c) model alone: NativeBooster.predict_one (prepared row)"
    # Order matters: everything of ours runs before the first multi-threaded LightGBM call,
    # whose OpenMP workers keep spinning afterwards (default wait policy) and steal a core.
    ours_paths: list[tuple[str, Callable[[int], object], int]] = [
        (a_temp, ours("temperature"), n),
        (a_iso, ours("isotonic"), n),
        (a_json, ours("isotonic", from_bytes=True), n),
        (floor, lambda i: booster.predict_one(rows[i % m]), n),
        (
            "pydantic_core.from_json (window bytes)",
            lambda i: pydantic_core.from_json(texts[i % m]),
            n,
        ),
        ("parse_window (dict -> validated row)", lambda i: parse_window(windows[i % m], schema), n),
        ("predict_one (tree walk + ctypes)", lambda i: booster.predict_one(rows[i % m]), n),
        ("calibrate_rows, isotonic (8 x numpy clip + interp)", calibrate("isotonic"), n),
        ("calibrate_rows, temperature", calibrate("temperature"), n),
        ("label_window total (isotonic; parsed row)", label_only, n),
        ("LabelRecord.to_json_line", lambda i: records[i % len(records)].to_json_line(), n),
    ]
    got = _best_of(ours_paths, rounds)
    t0 = time.perf_counter()
    for _ in range(3):
        booster.predict_many(rows, num_threads=1)
    batch1 = (time.perf_counter() - t0) / 3 / m * 1e6

    # the spin trap: calls 20 ms apart like sporadic arrivals (process CPU counts all threads)
    gap = 0.02
    spaced_rows = []
    w_ours, cpu_ours = _spaced(label_only, n_spaced, gap)
    spaced_rows.append(["ours: label_window (predict_one, 1 thread)", n_spaced, w_ours, cpu_ours])
    w_one, cpu_one = _spaced(lambda i: booster.predict_one(rows[i % m]), n_spaced, gap)
    spaced_rows.append(["  of which the model: predict_one alone", n_spaced, w_one, cpu_one])

    # --- from here on LightGBM's default-thread OpenMP pool exists ---------------------
    naive = NaivePath(bundle_dir, iso_dir, CORE_LABELS)
    frames = [naive.frame(windows[i % m]) for i in range(n_naive + 5)]
    naive_label = "(b) naive: DataFrame + Booster.predict + sklearn isotonic x8"
    lgb_label = "(c') lightgbm.Booster.predict, 1-row numpy, default threads"
    naive_paths: list[tuple[str, Callable[[int], object], int]] = [
        (naive_label, lambda i: naive.label(windows[i % m]), n_naive),
        (
            "    naive part: dict -> encoded 1-row DataFrame",
            lambda i: naive.frame(windows[i % m]),
            n_naive,
        ),
        (
            "    naive part: Booster.predict(that DataFrame)",
            lambda i: naive.booster.predict(frames[i]),
            n_naive,
        ),
        (
            "    naive part: sklearn isotonic x8",
            lambda i: naive.calibrate(users[i % m], raw_all[i % m]),
            n_naive,
        ),
        (lgb_label, lambda i: naive.booster.predict(rows[i % m : i % m + 1]), n),
    ]
    got.update(_best_of(naive_paths, rounds))
    t0 = time.perf_counter()
    for _ in range(3):
        booster.predict_many(rows, num_threads=0)
    batch0 = (time.perf_counter() - t0) / 3 / m * 1e6
    w_lgb, cpu_lgb = _spaced(
        lambda i: naive.booster.predict(rows[i % m : i % m + 1]), n_spaced, gap
    )
    spaced_rows.append(
        ["lightgbm.Booster.predict 1 row, default threads", n_spaced, w_lgb, cpu_lgb]
    )
    w_naive, cpu_naive = _spaced(lambda i: naive.label(windows[i % m]), n_spaced, gap)
    spaced_rows.append(["naive path (default threads)", n_spaced, w_naive, cpu_naive])

    # equal answers, or the comparison means nothing
    worst = worst_cal = 0.0
    for i in range(min(200, m)):
        raw_naive = naive.raw(windows[i])
        raw_ours = bundle.predict_one(parsed[i].features)
        worst = max(worst, float(np.abs(raw_naive - raw_ours).max()))
        cal_n = naive.calibrate(users[i], raw_ours)
        cal_o, _ = calibrate_rows(stores["isotonic"], raw_ours[None, :], [users[i]], [True])
        worst_cal = max(worst_cal, float(np.abs(cal_n - cal_o[0]).max()))

    main_rows = [
        _row(label, got[label]) for label in (a_temp, a_iso, a_json, naive_label, floor, lgb_label)
    ]
    main_rows += [
        [f"    tree walk per row in a {m}-row predict_many, {label}", m, per, nan, nan]
        for label, per, nan in (
            ("1 thread", batch1, float("nan")),
            ("default threads", batch0, float("nan")),
        )
    ]
    main_rows += [_row(label, got[label]) for label, _, _ in naive_paths[1:4]]
    stage_rows = [_row(label, got[label]) for label, _, _ in ours_paths[4:]]

    def ratio(a: str, b: str) -> list[object]:
        return [
            float(np.mean(got[a])) / float(np.mean(got[b])),
            c.percentiles(got[a], (50,))[0] / c.percentiles(got[b], (50,))[0],
        ]

    print()
    print(
        f"µs per window, one window at a time, back to back; best of {rounds} interleaved "
        "rounds (lowest p50) per path"
    )
    print(c.table(["path", "n", "mean µs", "p50 µs", "p99 µs"], main_rows))
    print()
    print(
        c.table(
            ["ratio", "mean", "p50"],
            [
                ["naive / ours (isotonic vs isotonic)", *ratio(naive_label, a_iso)],
                ["naive / ours (temperature store)", *ratio(naive_label, a_temp)],
                ["ours (isotonic) / floor predict_one", *ratio(a_iso, floor)],
                ["ours (temperature) / floor predict_one", *ratio(a_temp, floor)],
                ["lightgbm 1-row predict / predict_one", *ratio(lgb_label, floor)],
            ],
        )
    )
    print("target: naive / ours >= 20x")
    print()
    print("where our single-window time goes (µs per window, each stage timed alone)")
    print(c.table(["stage", "n", "mean µs", "p50 µs", "p99 µs"], stage_rows))
    print()
    print(
        f"calls {gap * 1e3:g} ms apart, like sporadic arrivals: caches are cold (compare the "
        "back-to-back µs above), and the OpenMP spin trap shows as CPU >> work"
    )
    print(c.table(["path", "n", "wall ms/call", "CPU ms/call (all threads)"], spaced_rows))
    print()
    print(
        f"same answers: max |raw naive - raw ours| = {worst:.2e}, "
        f"max |isotonic sklearn - isotonic ours| = {worst_cal:.2e}"
    )
    print(f"load avg at end {c.load_string()}")
    return 0 if worst < 1e-9 and worst_cal < 1e-9 else 1


if __name__ == "__main__":
    raise SystemExit(main())
