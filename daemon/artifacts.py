"""Load what a configuration names (a bundle, a store, an inference policy), checked together.

A read is trusted only if the files did not change under it: every loader takes the
fingerprint of what it reads before and after, and a read that raced a change (a symlink
swapped, a policy replaced, a store rewritten) is no verdict at all; the caller reads again
once the path has settled.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.inforce import Binding, Sources, bind, read_policy
from taskclf_core.bundle import Model, load_model
from taskclf_core.calibration import (
    CalibratorStore,
    check_store_matches,
    parse_calibrator_store,
    read_store_files,
)
from taskclf_core.errors import CalibrationError, PolicyError, TaskclfError
from taskclf_core.ids import is_baseline_metadata
from taskclf_core.policy import InferencePolicy, check_policy_matches, resolve_policy_path

__all__ = [
    "Deployment",
    "Fingerprint",
    "InForce",
    "Judgement",
    "StoreChanged",
    "check_policy",
    "judge",
    "judge_store",
    "lineage",
    "load_deployment",
    "load_in_force",
    "load_store",
    "refuse_store_for",
    "sources_fingerprint",
    "store_fingerprint",
]

Fingerprint = tuple[object, ...]
_MAX_HASHED = 1 << 20  # a policy is a few hundred bytes
_MODEL_FILES = ("metadata.json", "model.txt", "categorical_encoders.json")


# --- fingerprints: what changes when a file is replaced, edited or swapped --------------------


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    # ctime too: a permission or owner fix (what clears an "unreadable" refusal) and an
    # in-place rewrite that keeps size and mtime (rsync --inplace -t) change nothing else
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _stat_entry(path: str, rel: str) -> tuple[object, ...]:
    return (rel, *_identity(os.stat(os.path.join(path, rel))))


def store_fingerprint(path: Path) -> Fingerprint:
    """A store's target and its files' identities, sizes and times."""
    try:
        target = os.path.realpath(path)
        entries = [_stat_entry(target, rel) for rel in ("store.json", "global.json")]
        users = os.path.join(target, "users")
        if os.path.isdir(users):
            with os.scandir(users) as it:
                for e in it:
                    # only what a store read can read: an editor's swap file is not news
                    if e.name.endswith(".json") and not e.name.startswith("."):
                        entries.append((f"users/{e.name}", *_identity(e.stat())))
        return ("store", target, tuple(sorted(entries)))
    except OSError as exc:
        # name the target and file: two different broken stores must not look alike
        return ("unreadable", os.path.realpath(path), exc.filename, exc.errno)


def model_fingerprint(path: Path) -> Fingerprint:
    """A bundle directory's target and its files' identities, sizes and times."""
    target = os.path.realpath(path)
    entries: list[object] = []
    for rel in _MODEL_FILES:
        try:
            entries.append(_stat_entry(target, rel))
        except OSError as exc:
            entries.append((rel, exc.errno))
    return ("model", target, tuple(entries))


def file_fingerprint(path: Path) -> Fingerprint:
    """A small file's (the policy's) identity and a hash of its content: an edit in place
    within one timestamp tick, at the same size, is still news."""
    try:
        st = os.stat(path)
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read(_MAX_HASHED)).hexdigest()
    except OSError as exc:
        return ("file", str(path), exc.errno)
    return ("file", os.path.realpath(path), *_identity(st), digest)


# --- a calibrator store -----------------------------------------------------------------------


class StoreChanged(CalibrationError):
    """The store changed while it was being read: no verdict on it yet; read it again."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one read of a store: ``store`` or ``error`` for the files that
    ``fingerprint`` describes, or neither when the store changed under the read."""

    fingerprint: Fingerprint
    store: CalibratorStore | None = None
    error: TaskclfError | None = None

    @property
    def settled(self) -> bool:
        return self.store is not None or self.error is not None


def judge_store(path: Path, bundle: Model) -> Verdict:
    """Read, validate and match a store to ``bundle``, trusting only a read the store did
    not change under: a symlink swapped or a file rewritten mid-read is not a verdict."""
    before = store_fingerprint(path)
    _hold("store-read")
    failure: TaskclfError | None = None
    try:
        files = read_store_files(Path(os.path.realpath(path)))
    except TaskclfError as exc:  # a file missing mid-swap says nothing until the path settles
        failure = exc
    after = store_fingerprint(path)
    _hold("store-verdict")
    if before != after:
        return Verdict(after)
    if failure is not None:
        return Verdict(after, error=failure)
    try:
        store = parse_calibrator_store(files, source=str(path))
        check_store_matches(
            store, bundle_id=bundle.bundle_id, schema_hash=bundle.schema_hash, source=str(path)
        )
    except TaskclfError as exc:
        return Verdict(after, error=exc)
    return Verdict(after, store=store)


def load_store(
    path: Path,
    bundle: Model,
    *,
    pause: Callable[[float], object] | None = None,
    attempts: int = 5,
) -> tuple[CalibratorStore, Fingerprint]:
    """:func:`judge_store`, raising its error. With ``pause`` (a stop-aware wait), a store
    that changes under the read is read again, up to ``attempts`` times, backing off."""
    for attempt in range(attempts if pause is not None else 1):
        if attempt and pause is not None:
            pause(0.1 * 2**attempt)
        verdict = judge_store(path, bundle)
        if verdict.store is not None:
            return verdict.store, verdict.fingerprint
        if verdict.error is not None:
            raise verdict.error
    raise StoreChanged(
        f"{path}: kept changing while being read; try again once it is settled "
        "(swap a finished store in with one rename: ln -s new tmp && mv -T tmp store)"
    )


def _hold(point: str) -> None:
    """Test seam: with ``_TASKCLF_TEST_HOLD=<dir>`` set and a FIFO at ``<dir>/<point>``, the
    read waits at ``point`` until a test writes a byte to it (so a race can be staged)."""
    where = os.environ.get("_TASKCLF_TEST_HOLD")
    if not where:
        return
    try:
        fd = os.open(os.path.join(where, point), os.O_RDONLY)  # blocks until the test is there
    except OSError:
        return  # no FIFO at that point: not held
    try:
        os.read(fd, 1)
    finally:
        os.close(fd)


# --- an inference policy ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Deployment:
    """An inference policy and the bundle and store it resolves to, all checked together."""

    policy_path: Path
    policy: InferencePolicy
    model_path: Path
    store_path: Path | None
    bundle: Model
    store: CalibratorStore | None


def _policy_bundle(path: Path, policy: InferencePolicy) -> tuple[Path, Model]:
    model_path = resolve_policy_path(path, policy.model_dir)
    try:
        return model_path, load_model(model_path)
    except TaskclfError as exc:
        raise PolicyError(f"{path}: model_dir {policy.model_dir!r}: {exc}") from None


def refuse_store_for(bundle: Model, where: str) -> None:
    """A model that makes its own reject decision (the rule baseline) takes no store."""
    if bundle.fixed_reject_threshold is not None:
        raise PolicyError(
            f"{where}: {bundle.bundle_id!r} is the rule baseline, which labels by rules and "
            "takes no calibrator store; remove the store (a trained model takes one)"
        )


def check_policy(
    path: Path, policy: InferencePolicy, bundle: Model, store: CalibratorStore | None
) -> None:
    check_policy_matches(
        policy,
        bundle_id=bundle.bundle_id,
        schema_hash=bundle.schema_hash,
        label_set=bundle.label_set,
        store_method=store.method if store is not None else None,
        source=str(path),
    )


def load_deployment(path: Path, policy: InferencePolicy | None = None) -> Deployment:
    """Load the bundle and store that ``policy`` (default: the file at ``path``) names.

    Every refusal says which part failed: the policy's own fields, its model_dir, its
    calibrator_store_dir, or how they disagree.
    """
    policy = read_policy(path) if policy is None else policy
    model_path, bundle = _policy_bundle(path, policy)
    store_path: Path | None = None
    store: CalibratorStore | None = None
    if policy.calibrator_store_dir is not None:
        refuse_store_for(bundle, f"{path}: calibrator_store_dir {policy.calibrator_store_dir!r}")
        store_path = resolve_policy_path(path, policy.calibrator_store_dir)
        try:
            store, _ = load_store(store_path, bundle)
        except TaskclfError as exc:
            raise PolicyError(
                f"{path}: calibrator_store_dir {policy.calibrator_store_dir!r}: {exc}"
            ) from None
    check_policy(path, policy, bundle, store)
    return Deployment(path, policy, model_path, store_path, bundle, store)


# --- what the daemon labels with: model + store + thresholds, from a policy or the settings ---


def sources_fingerprint(sources: Sources) -> Fingerprint:
    """What changes when anything the configuration names changes (a cheap stat per file)."""
    policy: Fingerprint = ()
    try:
        binding = bind(sources)
    except PolicyError as exc:
        assert sources.policy_file is not None  # only a policy can fail to bind
        return (file_fingerprint(sources.policy_file), ("unbound", str(exc)))
    if sources.policy_file is not None:
        policy = file_fingerprint(sources.policy_file)
    store = store_fingerprint(binding.store_path) if binding.store_path else None
    return (policy, model_fingerprint(binding.model_path), store)


def lineage(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Where the model in force came from (`status`): the rule baseline; a model `retrain`
    trained (when, from which champion, on what data, which gates, at what threshold); or a
    bundle made elsewhere (when, from which dates, by what)."""
    if is_baseline_metadata(metadata):
        return {"kind": "rule_baseline", "trained_at": None}
    trained = metadata.get("retrain")
    if isinstance(trained, Mapping):
        found, listed = trained.get("dataset"), trained.get("gates")
        data: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        gates: list[Any] = listed if isinstance(listed, list) else []
        return {
            "kind": "retrain",
            "trained_at": metadata.get("created_at"),
            "champion": trained.get("champion"),
            "dataset": {
                k: data.get(k)
                for k in ("rows", "users", "days", "date_from", "date_to", "dataset_hash")
            },
            "reject_threshold": trained.get("reject_threshold"),
            "gates": [
                {k: g.get(k) for k in ("name", "value", "threshold", "passed")}
                for g in gates
                if isinstance(g, Mapping)
            ],
        }
    return {
        "kind": "bundle",
        "trained_at": metadata.get("created_at"),
        "train_date_from": metadata.get("train_date_from"),
        "train_date_to": metadata.get("train_date_to"),
        "data_provenance": metadata.get("data_provenance"),
    }


@dataclass(frozen=True, slots=True, eq=False)
class InForce:
    """A model, a store and thresholds loaded and checked together: one snapshot's making."""

    binding: Binding
    bundle: Model
    store: CalibratorStore | None
    fingerprint: Fingerprint
    loaded_at: str
    model_fingerprint: Fingerprint

    def describe(self, sources: Sources) -> dict[str, Any]:
        """The ``policy``, ``model``, ``store`` and ``thresholds`` objects of ``status``."""
        policy = self.binding.policy
        bundle, store = self.bundle, self.store
        return {
            "policy": (
                None
                if policy is None
                else {
                    "path": str(sources.policy_file),
                    "created_at": policy.created_at,
                    "source": policy.source,
                    "model_dir": policy.model_dir,
                    "calibrator_store_dir": policy.calibrator_store_dir,
                }
            ),
            "model": {
                "bundle_id": bundle.bundle_id,
                "schema_version": bundle.schema.version,
                "schema_hash": bundle.schema_hash,
                "path": str(self.binding.model_path),
                "created_at": bundle.metadata.get("created_at"),
                "lineage": lineage(bundle.metadata),
            },
            "store": {
                "path": None if self.binding.store_path is None else str(self.binding.store_path),
                "id": None if store is None else store.store_id,
                "method": None if store is None else store.method,
                "user_count": 0 if store is None else len(store.user_ids),
                "user_ids": [] if store is None else list(store.user_ids),
                "loaded_at": None if store is None else self.loaded_at,
            },
            "thresholds": {
                "reject_threshold": self.binding.reject_threshold,
                "per_user": dict(self.binding.user_thresholds),
            },
            "loaded_at": self.loaded_at,
        }


@dataclass(frozen=True, slots=True, eq=False)
class Judgement:
    """One read of everything: what is to be in force, why not, or nothing (it changed)."""

    fingerprint: Fingerprint
    in_force: InForce | None = None
    error: TaskclfError | None = None

    @property
    def settled(self) -> bool:
        return self.in_force is not None or self.error is not None


def judge(sources: Sources, *, now: str, previous: InForce | None = None) -> Judgement:
    """Read and check the model, store and thresholds ``sources`` name, all together.

    The bundle in force is reused when its files did not change (a store swap reads no
    model). A read that anything changed under is no verdict (``settled`` is False).
    """
    before = sources_fingerprint(sources)
    failure: TaskclfError | None = None
    in_force: InForce | None = None
    try:
        in_force = _load(sources, now, previous)
    except TaskclfError as exc:
        failure = exc
    after = sources_fingerprint(sources)
    raced = isinstance(failure, StoreChanged)  # swapped away and back mid-read: no verdict
    if raced or before != after or (in_force is not None and in_force.fingerprint != after):
        return Judgement(after)
    return Judgement(after, in_force=in_force, error=failure)


def _load(sources: Sources, now: str, previous: InForce | None) -> InForce:
    binding = bind(sources)
    where = sources.policy_file
    model_print = model_fingerprint(binding.model_path)
    if previous is not None and previous.model_fingerprint == model_print:
        bundle = previous.bundle
    else:
        try:
            # the target, resolved once: a link re-pointed mid-read cannot mix two bundles
            bundle = load_model(Path(os.path.realpath(binding.model_path)))
        except TaskclfError as exc:
            if where is None or binding.policy is None:
                raise
            raise PolicyError(f"{where}: model_dir {binding.policy.model_dir!r}: {exc}") from None
    store: CalibratorStore | None = None
    store_print: Fingerprint | None = None
    if binding.store_path is not None:
        refuse_store_for(
            bundle,
            f"{where}: calibrator_store_dir" if where is not None else "calibrator_store",
        )
        if where is None and not os.path.lexists(binding.store_path):
            raise CalibrationError(f"calibrator_store: {binding.store_path} does not exist")
        verdict = judge_store(binding.store_path, bundle)
        store_print = verdict.fingerprint
        if verdict.error is not None:
            if where is None or binding.policy is None:
                raise verdict.error
            raise PolicyError(
                f"{where}: calibrator_store_dir {binding.policy.calibrator_store_dir!r}: "
                f"{verdict.error}"
            ) from None
        store = verdict.store  # None: it changed under the read (caught by the fingerprints)
        if store is None:
            raise StoreChanged(f"{binding.store_path}: changed while being read")
    if binding.policy is not None and where is not None:
        check_policy(where, binding.policy, bundle, store)
    policy_print = file_fingerprint(where) if where is not None else ()
    fingerprint = (policy_print, model_print, store_print)
    return InForce(binding, bundle, store, fingerprint, now, model_print)


def load_in_force(
    sources: Sources,
    *,
    now: Callable[[], str],
    pause: Callable[[float], object] | None = None,
    attempts: int = 5,
) -> InForce:
    """:func:`judge` at start-up, raising its error; a read raced by a change is repeated
    (``pause`` is a stop-aware wait) up to ``attempts`` times."""
    for attempt in range(attempts):
        if attempt and pause is not None:
            pause(0.1 * 2**attempt)
        judgement = judge(sources, now=now())
        if judgement.in_force is not None:
            return judgement.in_force
        if judgement.error is not None:
            raise judgement.error
    raise StoreChanged(
        f"{sources.policy_file or sources.store or sources.model_dir}: kept changing while "
        "being read; start again once it is settled (replace files with one rename)"
    )
