"""taskclf's inference policy (models/inference_policy.json): model, store and thresholds, bound."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from taskclf_core.errors import PolicyError
from taskclf_core.ids import is_safe_user_id
from taskclf_core.labels import CORE_LABELS

__all__ = [
    "POLICY_FILE_NAME",
    "InferencePolicy",
    "check_policy_matches",
    "parse_policy",
    "policy_home",
    "policy_to_dict",
    "policy_to_json",
    "resolve_policy_path",
]

POLICY_FILE_NAME = "inference_policy.json"
_METHODS = ("temperature", "isotonic")


@dataclass(frozen=True, slots=True)
class InferencePolicy:
    """One deployment: which bundle, which calibrator store, which reject thresholds.

    Paths are as taskclf writes them: relative to the parent of the ``models/`` directory
    that holds the policy file (taskclf's home); an absolute path stays absolute.
    """

    model_dir: str
    model_schema_hash: str
    model_label_set: tuple[str, ...]
    reject_threshold: float
    calibrator_store_dir: str | None = None
    calibration_method: str | None = None
    per_user_reject_thresholds: Mapping[str, float] | None = None
    created_at: str = ""
    source: str = "manual"
    git_commit: str = ""
    policy_version: str = "v1"
    # keys a newer taskclf may add (e.g. "_help"): kept so a rewrite loses nothing
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def threshold_for(self, user_id: str) -> float:
        """The reject threshold of ``user_id``: their own if the policy has one."""
        own = self.per_user_reject_thresholds
        return own.get(user_id, self.reject_threshold) if own else self.reject_threshold

    def with_provenance(self, *, created_at: str, source: str) -> InferencePolicy:
        return replace(self, created_at=created_at, source=source)


def policy_home(policy_path: Path) -> Path:
    """taskclf's home for a policy file: the parent of the directory holding it."""
    return policy_path.parent.parent


def resolve_policy_path(policy_path: Path, value: str) -> Path:
    """A path from the policy, resolved as taskclf does (``home / value``)."""
    return policy_home(policy_path) / value


def _fail(source: str, key: str, expected: str, value: object) -> PolicyError:
    shown = (
        json.dumps(value)
        if isinstance(value, str | int | float | bool | None)
        else type(value).__name__
    )
    return PolicyError(f"{source}: {key}: expected {expected}, got {shown}")


def _string(data: Mapping[str, Any], key: str, source: str, *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, key, "a non-empty string", value)
    return value


def _threshold(value: object, where: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, where, "a number in [0, 1]", value)
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise _fail(source, where, "a number in [0, 1]", value)
    return number


_KNOWN = frozenset(
    {
        "policy_version",
        "model_dir",
        "model_schema_hash",
        "model_label_set",
        "calibrator_store_dir",
        "calibration_method",
        "reject_threshold",
        "per_user_reject_thresholds",
        "created_at",
        "source",
        "git_commit",
    }
)


def parse_policy(content: bytes, *, source: str) -> InferencePolicy:
    """Parse and check a policy file's bytes; every refusal names ``source`` and the key."""
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: expected a JSON object, got {type(data).__name__}")
    version = data.get("policy_version", "v1")
    if version != "v1":
        raise _fail(source, "policy_version", '"v1"', version)
    labels = data.get("model_label_set")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise _fail(source, "model_label_set", "a list of label names", labels)
    if tuple(sorted(labels)) != CORE_LABELS:
        raise PolicyError(
            f"{source}: model_label_set: {sorted(labels)} is not the core label set "
            f"{list(CORE_LABELS)}"
        )
    store = _string(data, "calibrator_store_dir", source, optional=True)
    method = data.get("calibration_method")
    if method is not None and method not in _METHODS:
        raise _fail(source, "calibration_method", "temperature, isotonic or null", method)
    per_user_raw = data.get("per_user_reject_thresholds")
    per_user: Mapping[str, float] | None = None
    if per_user_raw is not None:
        if not isinstance(per_user_raw, dict):
            raise _fail(source, "per_user_reject_thresholds", "an object or null", per_user_raw)
        checked: dict[str, float] = {}
        for user, value in per_user_raw.items():
            if not is_safe_user_id(user):
                raise PolicyError(
                    f"{source}: per_user_reject_thresholds: {user!r} is not a valid user id"
                )
            checked[user] = _threshold(value, f"per_user_reject_thresholds.{user}", source)
        per_user = MappingProxyType(dict(sorted(checked.items())))
    if "reject_threshold" not in data:
        raise PolicyError(f"{source}: reject_threshold: missing (expected a number in [0, 1])")
    for key in ("created_at", "source", "git_commit"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise _fail(source, key, "a string", data[key])
    return InferencePolicy(
        model_dir=_string(data, "model_dir", source),
        model_schema_hash=_string(data, "model_schema_hash", source),
        model_label_set=tuple(labels),
        reject_threshold=_threshold(data["reject_threshold"], "reject_threshold", source),
        calibrator_store_dir=store,
        calibration_method=method,
        per_user_reject_thresholds=per_user,
        created_at=data.get("created_at") or "",
        source=data.get("source") or "manual",
        git_commit=data.get("git_commit") or "",
        policy_version="v1",
        extra=MappingProxyType({k: v for k, v in data.items() if k not in _KNOWN}),
    )


def policy_to_dict(policy: InferencePolicy) -> dict[str, Any]:
    """The policy as taskclf writes it (its field order), then any extra keys it came with."""
    return {
        "policy_version": policy.policy_version,
        "model_dir": policy.model_dir,
        "model_schema_hash": policy.model_schema_hash,
        "model_label_set": list(policy.model_label_set),
        "calibrator_store_dir": policy.calibrator_store_dir,
        "calibration_method": policy.calibration_method,
        "reject_threshold": policy.reject_threshold,
        "per_user_reject_thresholds": (
            dict(policy.per_user_reject_thresholds)
            if policy.per_user_reject_thresholds is not None
            else None
        ),
        "created_at": policy.created_at,
        "source": policy.source,
        "git_commit": policy.git_commit,
        **policy.extra,
    }


def policy_to_json(policy: InferencePolicy) -> bytes:
    """The file's bytes: 2-space JSON and a final newline, as taskclf's ``policy create``."""
    return (json.dumps(policy_to_dict(policy), indent=2, ensure_ascii=False) + "\n").encode()


def check_policy_matches(
    policy: InferencePolicy,
    *,
    bundle_id: str,
    schema_hash: str | None,
    label_set: tuple[str, ...],
    store_method: str | None,
    source: str,
) -> None:
    """Refuse a policy whose model or store is not the one it was written for."""
    if schema_hash != policy.model_schema_hash:
        raise PolicyError(
            f"{source}: model_schema_hash is {policy.model_schema_hash!r}, but the bundle "
            f"{bundle_id!r} at model_dir {policy.model_dir!r} has schema hash {schema_hash!r}"
        )
    if tuple(sorted(label_set)) != tuple(sorted(policy.model_label_set)):
        raise PolicyError(
            f"{source}: model_label_set {sorted(policy.model_label_set)} differs from the "
            f"bundle's label_set {sorted(label_set)}"
        )
    if policy.calibrator_store_dir is None:
        return
    if policy.calibration_method is not None and store_method != policy.calibration_method:
        raise PolicyError(
            f"{source}: calibration_method is {policy.calibration_method!r}, but the store at "
            f"calibrator_store_dir {policy.calibrator_store_dir!r} is {store_method!r}"
        )
