"""Which model, store and thresholds the configuration puts in force: the one reader of that.

It reads the inference policy file when there is one and loads nothing else (no numpy: `report`
asks it for the model's age). :mod:`daemon.artifacts` loads and checks what this names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from taskclf_core.errors import PolicyError
from taskclf_core.policy import InferencePolicy, parse_policy, resolve_policy_path

if TYPE_CHECKING:
    from daemon.config.settings import Settings
    from taskclf_core.pipeline import Policy

__all__ = [
    "Binding",
    "Sources",
    "bind",
    "decisions_of",
    "model_in_force",
    "policy_in_force",
    "read_policy",
    "sources_of",
]


@dataclass(frozen=True, slots=True)
class Sources:
    """What the configuration names: a policy file, or a model, a store and a threshold."""

    policy_file: Path | None
    model_dir: Path
    store: Path | None
    reject_threshold: float


def sources_of(settings: Settings) -> Sources:
    """What the configuration names: the policy file, or the model, store and threshold."""
    return Sources(
        policy_file=settings.policy_file,
        model_dir=settings.model_path,
        store=settings.calibrator_store,
        reject_threshold=settings.reject_threshold,
    )


@dataclass(frozen=True, slots=True)
class Binding:
    """Which model, store and thresholds are meant (the policy's, or the settings')."""

    policy: InferencePolicy | None
    model_path: Path
    store_path: Path | None
    reject_threshold: float
    user_thresholds: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def watched_paths(self, sources: Sources) -> tuple[Path, ...]:
        """Everything whose change means "read it all again"."""
        paths = [self.model_path] + ([self.store_path] if self.store_path else [])
        return ((sources.policy_file,) if sources.policy_file else ()) + tuple(paths)


def read_policy(path: Path) -> InferencePolicy:
    """Read and parse ``path``; a missing or unreadable file is a PolicyError naming it."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(f"policy_file: {path} does not exist") from None
    except OSError as exc:
        raise PolicyError(f"policy_file: {path}: cannot read ({exc.strerror or exc})") from None
    return parse_policy(content, source=str(path))


def bind(sources: Sources) -> Binding:
    """Resolve ``sources``: read the policy file when there is one (PolicyError if bad)."""
    if sources.policy_file is None:
        return Binding(None, sources.model_dir, sources.store, sources.reject_threshold)
    policy = read_policy(sources.policy_file)
    store = policy.calibrator_store_dir
    return Binding(
        policy=policy,
        model_path=resolve_policy_path(sources.policy_file, policy.model_dir),
        store_path=resolve_policy_path(sources.policy_file, store) if store else None,
        reject_threshold=policy.reject_threshold,
        user_thresholds=MappingProxyType(dict(policy.per_user_reject_thresholds or {})),
    )


def model_in_force(policy_file: Path | None, model_dir: Path) -> Path:
    """The bundle the configuration puts in force: the policy's model, else ``model_dir``.

    Reads the policy file only (PolicyError if it is bad): `report` asks for the model's
    age, the collector for its schema version.
    """
    return bind(Sources(policy_file, model_dir, None, 0.0)).model_path


def decisions_of(settings: Settings) -> Policy:
    """The decision rules that come from the settings (thresholds come with what is in force)."""
    from taskclf_core.pipeline import Policy  # numpy: not on the way to `report`

    return Policy(
        reject_threshold=settings.reject_threshold,
        smooth_window=settings.smooth_window,
        idle_gap_seconds=settings.idle_gap_seconds,
        personalization=settings.personalization,
        opt_out_users=frozenset(settings.opt_out_users),
        predict_threads=settings.predict_threads,
    )


def policy_in_force(decisions: Policy, binding: Binding) -> Policy:
    """The rules a window is labelled by: the settings' ``decisions`` with the thresholds of
    what ``binding`` puts in force (the policy's, per user where it sets them)."""
    import dataclasses

    return dataclasses.replace(
        decisions,
        reject_threshold=binding.reject_threshold,
        user_thresholds=binding.user_thresholds,
    )
