"""Load what a configuration names (a bundle, a store, an inference policy), checked together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from daemon.runtime.reloader import load_store
from taskclf_core.bundle import ModelBundle, load_bundle
from taskclf_core.calibration import CalibratorStore
from taskclf_core.errors import PolicyError, TaskclfError
from taskclf_core.policy import (
    InferencePolicy,
    check_policy_matches,
    parse_policy,
    resolve_policy_path,
)

__all__ = ["Deployment", "load_deployment", "read_policy"]


@dataclass(frozen=True, slots=True, eq=False)
class Deployment:
    """An inference policy and the bundle and store it resolves to, all checked together."""

    policy_path: Path
    policy: InferencePolicy
    model_path: Path
    store_path: Path | None
    bundle: ModelBundle
    store: CalibratorStore | None


def read_policy(path: Path) -> InferencePolicy:
    """Read and parse ``path``; a missing or unreadable file is a PolicyError naming it."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(f"policy_file: {path} does not exist") from None
    except OSError as exc:
        raise PolicyError(f"policy_file: {path}: cannot read ({exc.strerror or exc})") from None
    return parse_policy(content, source=str(path))


def load_deployment(path: Path, policy: InferencePolicy | None = None) -> Deployment:
    """Load the bundle and store that ``policy`` (default: the file at ``path``) names.

    Every refusal says which part failed: the policy's own fields, its model_dir, its
    calibrator_store_dir, or how they disagree.
    """
    policy = read_policy(path) if policy is None else policy
    model_path = resolve_policy_path(path, policy.model_dir)
    try:
        bundle = load_bundle(model_path)
    except TaskclfError as exc:
        raise PolicyError(f"{path}: model_dir {policy.model_dir!r}: {exc}") from None
    store_path: Path | None = None
    store: CalibratorStore | None = None
    if policy.calibrator_store_dir is not None:
        store_path = resolve_policy_path(path, policy.calibrator_store_dir)
        try:
            store, _ = load_store(store_path, bundle)
        except TaskclfError as exc:
            raise PolicyError(
                f"{path}: calibrator_store_dir {policy.calibrator_store_dir!r}: {exc}"
            ) from None
    check_policy_matches(
        policy,
        bundle_id=bundle.bundle_id,
        schema_hash=bundle.schema_hash,
        label_set=bundle.label_set,
        store_method=store.method if store is not None else None,
        source=str(path),
    )
    return Deployment(path, policy, model_path, store_path, bundle, store)
