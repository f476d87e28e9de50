"""`train`, `calibrate` and `demo`: the offline commands that make what the daemon consumes."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.report import parse_labelled_window
from taskclf_core.bundle import build_schema, load_bundle, save_bundle
from taskclf_core.calibration import CalibratorStore, save_calibrator_store
from taskclf_core.errors import TrainingError
from taskclf_core.schema import registry
from taskclf_core.training import MIN_ROWS, TrainedBundle

__all__ = [
    "TrainingSet",
    "check_training_rows",
    "dispatch",
    "install_bundle",
    "read_labelled_jsonl",
    "train_windows",
    "utc_stamp",
    "write_store",
]

Labelled = list[tuple[str, dict[str, Any]]]


def dispatch(args: argparse.Namespace) -> int:
    """Run ``train``, ``calibrate`` or ``demo``; errors propagate as TaskclfError (exit 2)."""
    # before LightGBM's OpenMP runtime loads: idle worker threads must sleep, not spin
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.command == "train":
        return _train(args)
    if args.command == "calibrate":
        return _calibrate(args)
    from daemon.demo import run_demo

    return run_demo(args.dir, quick=args.quick)


def utc_stamp() -> str:
    """``created_at`` for bundles and stores (taskclf_core reads no clock, so the shell does)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- input -------------------------------------------------------------------------------


def read_labelled_jsonl(paths: Sequence[Path]) -> Labelled:
    """Every JSON object line of ``paths`` as ``("file:line", object)``; blank lines skipped."""
    out: Labelled = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TrainingError(f"{path}: no such file") from None
        except UnicodeDecodeError as exc:
            raise TrainingError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise TrainingError(f"{path}: cannot read ({exc.strerror or exc})") from None
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingError(
                    f"{where}: not valid JSON ({exc.msg} at column {exc.colno})"
                ) from None
            if not isinstance(value, dict):
                raise TrainingError(
                    f"{where}: expected a JSON object (window fields + label), "
                    f"got {type(value).__name__}"
                )
            out.append((where, value))
    if not out:
        raise TrainingError(f"{', '.join(map(str, paths))}: no labelled windows")
    return out


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Checked training rows (window + label dicts) and what the summary says about them."""

    windows: tuple[dict[str, Any], ...]
    schema_version: str
    users: tuple[str, ...]
    first: datetime
    last: datetime


def _schema_version(items: Labelled) -> str:
    first_at: dict[str, str] = {}
    counts: dict[str, int] = {}
    for where, obj in items:
        version = obj.get("schema_version")
        if version is None:
            raise TrainingError(
                f"{where}: schema_version: missing (train needs it to pick taskclf's "
                "feature registry: v1, v2 or v3)"
            )
        if not isinstance(version, str) or registry(version) is None:
            raise TrainingError(
                f"{where}: schema_version: expected one of v1, v2, v3, got {version!r}"
            )
        first_at.setdefault(version, where)
        counts[version] = counts.get(version, 0) + 1
    if len(first_at) > 1:
        found = ", ".join(
            f"{v} ({counts[v]} windows, first at {first_at[v]})" for v in sorted(first_at)
        )
        raise TrainingError(
            f"mixed schema versions in the training data: {found}; train one bundle per version"
        )
    return next(iter(first_at))


def check_training_rows(items: Labelled) -> TrainingSet:
    """Every row a core label, one schema version, a valid window; errors name file:line."""
    version = _schema_version(items)
    reg = registry(version)
    assert reg is not None  # _schema_version checked it
    # empty vocabularies accept any category string; only types and ranges are checked here
    schema = build_schema({"schema_version": version, "schema_hash": reg.schema_hash}, {})
    users: set[str] = set()
    starts: list[datetime] = []
    for where, obj in items:
        _, window = parse_labelled_window(where, obj, schema)
        users.add(window.user_id)
        starts.append(window.bucket_start)
    if len(items) < MIN_ROWS:
        raise TrainingError(
            f"too few labelled windows to train: {len(items)} (need at least {MIN_ROWS})"
        )
    return TrainingSet(
        windows=tuple(obj for _, obj in items),
        schema_version=version,
        users=tuple(sorted(users)),
        first=min(starts),
        last=max(starts),
    )


# --- writing directories atomically -------------------------------------------------------


def _temp_dir_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # a dot name: the daemon's watcher and `ls` skip it; mkdtemp makes it 0700
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))


def _fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` so a rename never publishes empty files."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _replace_dir(new: Path, out: Path) -> None:
    """Put directory ``new`` at ``out``; an existing ``out`` is moved aside, then deleted.

    Between the two renames ``out`` is briefly absent; a reader in that gap fails and
    retries (the daemon's reload is debounced and refuses a missing store, keeping the
    old one in force). A failure before the second rename puts the old directory back.
    """
    if not os.path.lexists(out):
        os.rename(new, out)
        _fsync_dir(out.parent)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.rename(out, aside / out.name)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(aside / out.name, out)
        shutil.rmtree(aside, ignore_errors=True)
        raise
    _fsync_dir(out.parent)
    shutil.rmtree(aside, ignore_errors=True)


def _free_name(directory: Path, name: str) -> Path:
    candidate, n = directory / name, 1
    while os.path.lexists(candidate):
        n += 1
        candidate = directory / f"{name}-{n}"
    return candidate


def install_bundle(trained: TrainedBundle, out: Path) -> Path:
    """Write ``trained`` at ``out`` atomically; only an absent, empty or bundle dir is replaced."""
    if out.is_symlink():
        raise TrainingError(
            f"--out {out}: is a symlink; the bundle id is the directory name, so train into a "
            "new directory and point the link at it yourself"
        )
    if out.exists():
        if not out.is_dir():
            raise TrainingError(f"--out {out}: exists and is not a directory")
        is_bundle = (out / "metadata.json").is_file() and (out / "model.txt").is_file()
        if any(out.iterdir()) and not is_bundle:
            raise TrainingError(
                f"--out {out}: a non-empty directory that is not a model bundle; "
                "refusing to replace it"
            )
    tmp = _temp_dir_beside(out)
    try:
        save_bundle(
            tmp,
            model_text=trained.model_text,
            metadata=trained.metadata,
            encoders=trained.encoders,
            metrics=trained.metrics,
        )
        _fsync_tree(tmp)
        load_bundle(tmp)  # what the daemon will do at start: never publish one it refuses
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _save_store(store: CalibratorStore, path: Path) -> None:
    save_calibrator_store(store, path)
    _fsync_tree(path)


def write_store(
    store: CalibratorStore, out: Path, *, check: Callable[[Path], object] | None = None
) -> Path:
    """Install ``store`` at ``out`` so readers see the old store or the new one, never half.

    The files go to a temp dir beside the destination, are fsynced and passed to ``check``
    (the daemon's own validation), then: ``out`` absent → renamed into place; ``out`` a
    symlink → the new dir goes beside the link's target, named by store id, and the link is
    swapped atomically (the old target is kept for rollback); ``out`` a store directory →
    :func:`_replace_dir`. Any failure leaves the old store as it was and no temp dir behind.
    Returns the directory the store now lives in.
    """
    if out.is_symlink():
        return _swap_link(store, out, check)
    if out.exists():
        if not out.is_dir():
            raise TrainingError(f"--out {out}: exists and is not a directory")
        if any(out.iterdir()) and not (out / "store.json").is_file():
            raise TrainingError(
                f"--out {out}: a non-empty directory that is not a CalibratorStore; "
                "refusing to replace it"
            )
    tmp = _temp_dir_beside(out)
    try:
        _save_store(store, tmp)
        if check is not None:
            check(tmp)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _swap_link(store: CalibratorStore, link: Path, check: Callable[[Path], object] | None) -> Path:
    old_value = os.readlink(link)
    parent = Path(os.path.realpath(link)).parent
    final = _free_name(parent, store.store_id)
    tmp = _temp_dir_beside(final)
    tmp_link = link.parent / f".{link.name}.{os.getpid()}.link.tmp"
    try:
        _save_store(store, tmp)
        if check is not None:
            check(tmp)
        os.rename(tmp, final)
        # keep the link's style: relative links survive moving the whole tree
        value = (
            str(final)
            if os.path.isabs(old_value)
            else os.path.relpath(final, os.path.realpath(link.parent))
        )
        if os.path.lexists(tmp_link):
            os.unlink(tmp_link)
        os.symlink(value, tmp_link)
        os.replace(tmp_link, link)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.lexists(tmp_link):
            os.unlink(tmp_link)
        if os.readlink(link) == old_value:
            shutil.rmtree(final, ignore_errors=True)
        raise
    _fsync_dir(link.parent)
    return final


# --- the commands ------------------------------------------------------------------------


def train_windows(
    data: TrainingSet, *, rounds: int, seed: int, holdout: float = 0.2, num_threads: int = 0
) -> TrainedBundle:
    """:func:`train_bundle` on rows that :func:`check_training_rows` accepted."""
    from taskclf_core.training import train_bundle

    return train_bundle(
        data.windows,
        rounds=rounds,
        seed=seed,
        holdout=holdout,
        created_at=utc_stamp(),
        num_threads=num_threads,
    )


def _train(args: argparse.Namespace) -> int:
    if args.rounds < 1:
        raise TrainingError(f"--rounds: expected at least 1, got {args.rounds}")
    if not 0.0 <= args.holdout < 1.0:
        raise TrainingError(f"--holdout: expected a fraction in [0, 1), got {args.holdout}")
    data = check_training_rows(read_labelled_jsonl(args.data))
    print(
        f"training on {len(data.windows)} windows of {len(data.users)} users "
        f"({data.first.date()} to {data.last.date()}, schema {data.schema_version}), "
        f"{args.rounds} rounds, seed {args.seed}",
        flush=True,
    )
    trained = train_windows(data, rounds=args.rounds, seed=args.seed, holdout=args.holdout)
    out = install_bundle(trained, args.out)
    print(_train_summary(trained, out))
    return 0


def _train_summary(trained: TrainedBundle, out: Path) -> str:
    m: Mapping[str, Any] = trained.metrics
    md = trained.metadata
    held = m.get("holdout_rows", 0)
    scores = (
        f"macro F1 {m['macro_f1']:.4f}, weighted F1 {m['weighted_f1']:.4f}"
        if "macro_f1" in m
        else "no held-out windows (--holdout 0), no scores"
    )
    return "\n".join(
        [
            f"bundle {out.resolve().name} written to {out}",
            f"  trained on {md['train_rows']} windows ({md['train_date_from']} to "
            f"{md['train_date_to']}); held out the latest {held}",
            f"  held-out {scores}",
        ]
    )


def _opt_out_users(args: argparse.Namespace) -> tuple[str, ...]:
    if args.opt_out_users is not None:
        return tuple(u.strip() for u in args.opt_out_users.split(",") if u.strip())
    from daemon.settings import load_settings

    # the same list `run` honours: config file, then TASKCLF_OPT_OUT_USERS
    return load_settings(args.config, {}).opt_out_users


def _calibrate(args: argparse.Namespace) -> int:
    from daemon.report import calibrate_windows, format_report, parse_labelled
    from daemon.snapshots import load_store
    from taskclf_core.bundle import ModelBundle

    opt_out = _opt_out_users(args)
    bundle: ModelBundle = load_bundle(args.model)
    data = parse_labelled(read_labelled_jsonl(args.data), bundle.schema)
    outcome = calibrate_windows(
        bundle,
        data,
        method=args.method,
        holdout=args.holdout,
        min_windows=args.min_windows,
        min_days=args.min_days,
        min_labels=args.min_labels,
        opt_out=opt_out,
        created_at=utc_stamp(),
    )
    print(format_report(outcome.report), flush=True)
    where = write_store(outcome.store, args.out, check=lambda p: load_store(p, bundle))
    via = f" -> {where}" if where != args.out else ""
    print(
        f"store {outcome.store.store_id} written to {args.out}{via} "
        f"({len(outcome.store.user_ids)} per-user calibrators: "
        f"{', '.join(outcome.store.user_ids) or 'none'})"
    )
    if args.json is not None:
        doc = outcome.report.to_json() | {"written_to": {"out": str(args.out), "dir": str(where)}}
        _write_text(args.json, json.dumps(doc, indent=2) + "\n")
        print(f"report written to {args.json}")
    return 0


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # 0600 like everything else we write: the report names users
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TrainingError(f"--json {path}: cannot write ({exc.strerror or exc})") from None
