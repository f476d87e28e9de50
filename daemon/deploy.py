"""Deploy a model (+ store, thresholds) as the inference policy in force, and say what it did.

Everything is named one way in what `init`, `deploy`, `rollback` (and `status`, `doctor`)
print: a model by its bundle id (its directory name), a store by its store id (a hash of its
files), each followed by where it is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.artifacts import Deployment, load_deployment
from daemon.config.keys import default_number

if TYPE_CHECKING:
    from daemon.config.settings import Settings
from daemon.fsutil import utc_now
from daemon.inforce import read_policy
from daemon.install import install_artifacts, install_baseline
from daemon.paths import default_policy_file
from daemon.publish import deploy_policy, policy_history_path, rollback_policy
from taskclf_core.bundle import ModelBundle, load_model
from taskclf_core.calibration import CalibratorStore
from taskclf_core.errors import ConfigError, PolicyError
from taskclf_core.policy import InferencePolicy, policy_home, resolve_policy_path
from taskclf_core.words import plural

__all__ = [
    "deploy",
    "deploy_and_report",
    "deploy_baseline",
    "describe",
    "install_and_deploy",
    "parse_user_thresholds",
    "policy_path_of",
    "publish_store",
    "rollback_and_report",
]


def policy_path_of(settings: Settings) -> Path:
    """The configured policy file; deploy and rollback need one to write."""
    if settings.policy_file is None:
        raise ConfigError(
            "policy_file is not set: deploy and rollback write the inference policy the daemon "
            "follows. Set `policy_file` in the config (e.g. "
            f'policy_file = "{default_policy_file(settings.data_dir)}") and '
            "remove model_dir, calibrator_store and reject_threshold, or run `taskclf-daemon "
            "init --model DIR`, which sets it up"
        )
    return settings.policy_file


def _relative_to_home(path: Path, policy_path: Path) -> str:
    """As taskclf writes paths: relative to its home when inside it, else absolute."""
    home = policy_home(policy_path).resolve()
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(home))
    except ValueError:
        return str(absolute)


def parse_user_thresholds(values: Sequence[str]) -> dict[str, float]:
    """``USER=X`` flags → ``{user: threshold}``; a bad one names itself."""
    out: dict[str, float] = {}
    for value in values:
        user, sep, number = value.partition("=")
        try:
            threshold = float(number)
        except ValueError:
            threshold = float("nan")
        if not sep or not user or not 0.0 <= threshold <= 1.0:
            raise PolicyError(f"--user-threshold: expected USER=X with X in [0, 1], got {value!r}")
        out[user] = threshold
    return out


def _current(policy_path: Path) -> InferencePolicy | None:
    if not policy_path.exists():
        return None
    try:
        return read_policy(policy_path)
    except PolicyError:
        return None


def deploy(
    policy_path: Path,
    *,
    model: Path,
    store: Path | None,
    reject_threshold: float | None,
    user_thresholds: Mapping[str, float] | None,
    source: str,
    expected: InferencePolicy | None = None,
) -> tuple[Deployment, InferencePolicy | None, bool]:
    """Validate model + store + thresholds together, then make them the policy in force.

    Thresholds not given carry over from the policy in force (else 0.55, no per-user ones).
    Returns the new deployment, the policy it replaced (or None) and whether anything
    changed (deploying what is already in force writes nothing). With ``expected`` (the
    policy a long computation started from), a policy replaced meanwhile is not overwritten.
    """
    bundle = load_model(model)  # the bundle's own errors name its files
    current = _current(policy_path)
    threshold = reject_threshold
    if threshold is None:
        threshold = current.reject_threshold if current else default_number("reject_threshold")
    per_user = user_thresholds
    if per_user is None and current is not None:
        per_user = current.per_user_reject_thresholds
    store_method: str | None = None
    if store is not None:
        from daemon.artifacts import load_store

        loaded, _ = load_store(store, bundle)
        store_method = loaded.method
    policy = InferencePolicy(
        model_dir=_relative_to_home(model, policy_path),
        model_schema_hash=bundle.schema_hash or "",
        model_label_set=bundle.label_set,
        reject_threshold=threshold,
        calibrator_store_dir=_relative_to_home(store, policy_path) if store else None,
        calibration_method=store_method,
        per_user_reject_thresholds=dict(sorted(per_user.items())) if per_user else None,
        created_at=utc_now(),
        source=source,
        git_commit="",
    )
    if current is not None and replace(current, created_at="", source="", git_commit="") == replace(
        policy, created_at="", source="", git_commit=""
    ):
        return load_deployment(policy_path, current), None, False
    # exactly what the daemon will load: never write a policy it would refuse
    deployment = load_deployment(policy_path, policy)

    def still_there() -> None:
        for flag, path in (("--model", model), ("--store", store)):
            if path is not None and not path.is_dir():
                raise PolicyError(
                    f"{flag} {path}: removed while this ran (a retrain deletes older retrained "
                    "models and their stores); nothing was written"
                )

    changed, replaced = deploy_policy(
        policy_path, policy, replaced_at=utc_now(), expected=expected, still=still_there
    )
    return deployment, replaced, changed


def describe(
    deployment: Deployment,
    replaced: InferencePolicy | None,
    verb: str,
    *,
    settings: Settings | None = None,
    history: Sequence[str] | None = None,
) -> str:
    """What is now in force, for people (and, given ``settings``, what the daemon will do).

    ``replaced`` (the policy this replaced) is said to be kept in the history, as `deploy`
    keeps it; ``history`` instead: the lines saying what became of it (`rollback`).
    """
    policy, bundle, store = deployment.policy, deployment.bundle, deployment.store
    per_user = policy.per_user_reject_thresholds or {}
    rules = bundle.fixed_reject_threshold is not None
    lines = [
        f"{verb} {deployment.policy_path}",
        f"  model      {bundle.bundle_id} (schema {bundle.schema_hash})  {deployment.model_path}",
        "  store      "
        + (
            f"{store.store_id} ({store.method}, "
            f"{plural(len(store.user_ids), 'per-user calibrator')})  {deployment.store_path}"
            if store is not None
            else "none (rule answers: nothing to calibrate)"
            if rules
            else "none (uncalibrated model probabilities)"
        ),
        f"  threshold  {policy.reject_threshold}"
        + (
            " (per user: " + ", ".join(f"{u} {t}" for u, t in per_user.items()) + ")"
            if per_user
            else ""
        )
        + (" (the rule baseline rejects by its rules instead)" if rules else ""),
        f"  created    {policy.created_at} ({policy.source})",
    ]
    if replaced is not None:
        old_store = replaced.calibrator_store_dir
        store_named = (
            _store_id_at(resolve_policy_path(deployment.policy_path, old_store))
            if old_store
            else "none"
        )
        line = (
            f"  replaced   model {Path(replaced.model_dir).name}, store {store_named}, threshold "
            f"{replaced.reject_threshold}"
        )
        if history is None:
            line += f" (kept in {policy_history_path(deployment.policy_path)})"
        lines.append(line)
    lines.extend(history or ())
    if settings is not None:
        lines.append(_daemon_line(settings))
    return "\n".join(lines)


def _store_id_at(path: Path) -> str:
    """A store's id as the daemon names it (a hash of its files), read off the disk; its
    directory, saying so, when it cannot be read any more."""
    from taskclf_core.calibration import read_store_files, store_id_of
    from taskclf_core.errors import CalibrationError

    try:
        return store_id_of(read_store_files(Path(os.path.realpath(path))))
    except CalibrationError:
        return f"at {path} (unreadable now)"


def _daemon_line(settings: Settings) -> str:
    from daemon.lock import running_pid

    try:
        pid = running_pid(settings.lock_path)
    except OSError:
        pid = None
    if pid is None:
        return (
            "  daemon     none running on this spool: `taskclf-daemon run` (or the service) "
            "starts with this policy"
        )
    return (
        f"  daemon     pid {pid} follows this policy_file: it swaps to it between two windows "
        "within a second; `taskclf-daemon status` shows it"
    )


def deploy_and_report(
    settings: Settings,
    *,
    model: Path,
    store: Path | None,
    reject_threshold: float | None,
    user_thresholds: Mapping[str, float] | None,
    source: str,
) -> Deployment:
    """Install copies of ``model`` and ``store`` under the policy's home, the data dir (as
    `init` does), then :func:`deploy` them into the configured policy file and print what is
    now in force: a policy naming the folder a bundle was downloaded to broke when that
    folder went."""
    notes, deployment, replaced, changed = install_and_deploy(
        policy_path_of(settings),
        model=model,
        store=store,
        reject_threshold=reject_threshold,
        user_thresholds=user_thresholds,
        source=source,
    )
    verb = "deployed" if changed else "unchanged, already in force:"
    print("\n".join([*notes, describe(deployment, replaced, verb, settings=settings)]))
    rules = deployment.bundle.fixed_reject_threshold is not None  # takes no store anyway
    if (
        replaced is not None
        and replaced.calibrator_store_dir
        and deployment.store is None
        and not rules
    ):
        print(
            f"note: no --store, so calibration is off now (the policy before used "
            f"{replaced.calibrator_store_dir}); `taskclf-daemon rollback` restores it"
        )
    return deployment


def install_and_deploy(
    policy_path: Path,
    *,
    model: Path,
    store: Path | None,
    reject_threshold: float | None,
    user_thresholds: Mapping[str, float] | None,
    source: str,
) -> tuple[tuple[str, ...], Deployment, InferencePolicy | None, bool]:
    """Copies of ``model`` and ``store`` under the policy's home (daemon/install.py), then
    :func:`deploy` them (`init --model`, `deploy`, `calibrate --deploy`); returns what the
    install did, a line each, and what :func:`deploy` returns."""
    installed = install_artifacts(policy_home(policy_path), model, store)
    deployment, replaced, changed = deploy(
        policy_path,
        model=installed.model,
        store=installed.store,
        reject_threshold=reject_threshold,
        user_thresholds=user_thresholds,
        source=source,
    )
    return installed.notes, deployment, replaced, changed


def deploy_baseline(data_dir: Path) -> tuple[str, Deployment]:
    """Put taskclf's rule baseline in force until a model is trained (a standalone `init`);
    what was done, for people, and what is in force now (the baseline, or the model kept).

    Deployed as any model is: the policy names it, `retrain` replaces it, `rollback` brings
    it back. A policy already in force (a model, or the baseline from an earlier `init`) is
    kept as it is.
    """
    dest, note = install_baseline(data_dir)
    policy_path = default_policy_file(data_dir)
    if policy_path.exists():
        deployment = load_deployment(policy_path)
        return f"{note}\n{describe(deployment, None, 'policy already in force, kept:')}", deployment
    deployment, replaced, _ = deploy(
        policy_path,
        model=dest,
        store=None,
        reject_threshold=None,
        user_thresholds=None,
        source="init",
    )
    return f"{note}\n{describe(deployment, replaced, 'policy in force:')}", deployment


def rollback_and_report(settings: Settings, *, config: Path | None = None) -> Deployment:
    """Restore the previous policy (checked as the daemon would load it); print what is in
    force, what became of the policy rolled back from, and whether a next rollback has
    anything to go back to. ``config``: the ``--config`` file these settings came from, named
    in the `deploy` command printed."""
    policy_path = policy_path_of(settings)
    loaded: list[Deployment] = []

    def check(policy: InferencePolicy) -> None:
        loaded.append(load_deployment(policy_path, policy))

    rolled = rollback_policy(policy_path, check=check)
    history = [
        *_rolled_back_from(loaded[-1], rolled.replaced, config),
        _steps_left(policy_path, rolled.left),
    ]
    print(
        describe(loaded[-1], rolled.replaced, "rolled back to", settings=settings, history=history)
    )
    return loaded[-1]


def _rolled_back_from(
    now: Deployment, replaced: InferencePolicy | None, config: Path | None
) -> list[str]:
    """What became of the policy a rollback replaced: not in the history (a rollback drops it
    and its later entries), but its model and store stay installed, and `deploy` puts them
    back; the command that does, when they are still there."""
    if replaced is None:
        return []
    import shlex

    model = resolve_policy_path(now.policy_path, replaced.model_dir)
    store = (
        resolve_policy_path(now.policy_path, replaced.calibrator_store_dir)
        if replaced.calibrator_store_dir
        else None
    )
    gone = [str(p) for p in (model, store) if p is not None and not p.is_dir()]
    if gone:
        return [
            "             not kept in the history (a rollback drops it), and no longer installed: "
            + ", ".join(gone)
        ]
    command = ["taskclf-daemon", "deploy", *(["--config", str(config)] if config else [])]
    command += ["--model", str(model)]
    if store is not None:
        command += ["--store", str(store)]
    if replaced.reject_threshold != now.policy.reject_threshold:
        command += ["--reject-threshold", str(replaced.reject_threshold)]
    # deploy carries the per-user thresholds in force over: name the replaced policy's own
    theirs = replaced.per_user_reject_thresholds or {}
    if theirs != (now.policy.per_user_reject_thresholds or {}):
        command += [f"--user-threshold={u}={x}" for u, x in sorted(theirs.items())] or [
            "--no-user-thresholds"
        ]
    return [
        "             not kept in the history (a rollback drops it); still installed: "
        f"`{shlex.join(command)}` deploys it again"
    ]


def _steps_left(policy_path: Path, left: int) -> str:
    """Whether a next `rollback` has anything to go back to."""
    history = policy_history_path(policy_path)
    if left:
        return (
            f"  history    {plural(left, 'earlier policy', 'earlier policies')} left in {history}: "
            "`taskclf-daemon rollback` goes back again"
        )
    return (
        f"  history    nothing earlier left in {history}: this was the last step back "
        "(`taskclf-daemon deploy --model DIR` puts an installed model, or the rule "
        "baseline's directory, in force)"
    )


def publish_store(
    store: CalibratorStore,
    *,
    bundle: ModelBundle,
    store_path: Path,
    policy_file: Path | None,
    model_path: Path,
    expected: InferencePolicy | None,
) -> Path:
    """Make ``store`` (fitted for ``bundle``) the one in force; returns the directory it is in.

    Without a policy: written at ``store_path`` (a directory replaced, or a symlink swapped,
    as `calibrate` does). With one: a new directory beside the old store, deployed with the
    model and thresholds unchanged (so `rollback` undoes it); ``expected`` is the policy the
    caller started from, and one deployed meanwhile is not overwritten. The daemon watches
    either and swaps the new store in between two windows.
    """
    from daemon.artifacts import load_store
    from daemon.fsutil import free_name
    from daemon.publish import write_store

    def check(path: Path) -> None:
        # the same validation the daemon applies before it swaps: never publish one it refuses
        load_store(path, bundle)

    if policy_file is None:
        return write_store(store, store_path, check=check)
    # a policy names store directories, so a new store gets a new one beside the old
    parent = Path(os.path.realpath(store_path)).parent
    fresh = parent / free_name(parent, store.store_id)
    write_store(store, fresh, check=check)
    deploy(
        policy_file,
        model=model_path,
        store=fresh,
        reject_threshold=None,
        user_thresholds=None,
        source="personalize",
        expected=expected,
    )
    return fresh
