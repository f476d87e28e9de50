"""`retrain` as a library: the model in force, the archive and the spans in; a decision out.

:func:`retrain` trains a challenger on the labelled windows of the lookback, gates it against
the model in force (taskclf_core.retrain) and, when it passes and the run is not dry,
installs it, calibrates it (a global temperature and the per-user guard) and deploys it live
through the inference policy (`rollback` undoes it). The `retrain` command prints what it
returns; the `ui` page calls it too. :func:`first_model_progress` is what `status` and
`doctor` say a first model still needs (daemon/reporting/progress.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.paths import models_dir, spans_file, stores_dir
from taskclf_core.errors import PolicyError
from taskclf_core.words import plural

if TYPE_CHECKING:
    from daemon.config.settings import Settings
    from taskclf_core.bundle import ModelBundle
    from taskclf_core.calibration import CalibratorStore
    from taskclf_core.retrain import RetrainConfig, RetrainReport
    from taskclf_core.spans import LabelSpan
    from taskclf_core.vetting import CalibrationReport

__all__ = ["RETRAINED_KEPT", "Rebuilder", "Rebuilt", "RetrainRun", "retrain", "retrain_config"]

# retrained models kept on disk (the one in force and those `rollback` can go back to); older
# ones go when a retrain deploys (~2 MB each, a deploy a week)
RETRAINED_KEPT = 5


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """Windows rebuilt from ActivityWatch for days older than the archive, and what happened."""

    windows: tuple[dict[str, Any], ...] = ()
    lines: tuple[str, ...] = ()


# days to rebuild (UTC), the schema version to build them in → the rows and a line per day
Rebuilder = Callable[[Sequence[date], str], Rebuilt]


@dataclass(frozen=True, slots=True, eq=False)
class RetrainRun:
    """One `retrain`: the core's report, and what the shell did (or, dry, would do)."""

    report: RetrainReport
    dry_run: bool
    notes: tuple[str, ...]  # where the data came from, before the report's lines
    model_path: Path | None = None  # the challenger's directory, when it was installed
    store: CalibratorStore | None = None  # the store it is (or would be) deployed with
    calibration: CalibrationReport | None = None
    reject_threshold: float | None = None
    deployed_lines: tuple[str, ...] = ()
    archive: Mapping[str, int] = field(default_factory=dict)

    @property
    def decision(self) -> str:
        return self.report.decision

    @property
    def lines(self) -> tuple[str, ...]:
        """Everything `retrain` prints, in order; a dry run says so first, as the decision it
        prints is what a real run would do."""
        dry = ("dry run: every step as `retrain` would take it, and nothing written",)
        return (
            *(dry if self.dry_run else ()),
            *self.notes,
            *self.report.lines,
            *self._calibration_lines(),
            *self.deployed_lines,
        )

    def _calibration_lines(self) -> list[str]:
        cal, store = self.calibration, self.store
        if cal is None or store is None:
            return []
        head = (
            f"calibration: global temperature {cal.global_temperature:.3f} (the one it was "
            f"scored with), reject threshold {self.reject_threshold}"
            if cal.global_temperature is not None
            else f"calibration: reject threshold {self.reject_threshold}"
        )
        users = [
            f"  {u.user_id}: per-user calibrator {u.decision}" + (f" ({u.note})" if u.note else "")
            for u in cal.users
        ]
        return [f"{head}; store {store.store_id}, per-user guard:", *users]

    def to_json(self) -> dict[str, Any]:
        """CONTRACT section 16's object plus what this run wrote."""
        cal = self.calibration
        return self.report.to_json() | {
            "dry_run": self.dry_run,
            "sources": list(self.notes),
            "archive": dict(self.archive),
            "deployed": {
                "model_dir": str(self.model_path) if self.model_path else None,
                "store_id": self.store.store_id if self.store else None,
                "reject_threshold": self.reject_threshold,
                "per_user_calibrators": list(self.store.user_ids) if self.store else [],
                "calibration": cal.to_json() if cal is not None else None,
                "lines": list(self.deployed_lines),
            }
            if self.report.decision == "deployed"
            else None,
        }


def retrain_config(settings: Settings) -> RetrainConfig:
    """The core's settings from the configuration (the gate thresholds are keys)."""
    from taskclf_core.retrain import DataRequirements, GateThresholds, RetrainConfig

    gates = GateThresholds(
        breakidle_precision=settings.retrain_min_breakidle_precision,
        min_class_precision=settings.retrain_min_class_precision,
        macro_f1=settings.retrain_min_macro_f1,
        weighted_f1=settings.retrain_min_weighted_f1,
        breakidle_recall=settings.retrain_min_breakidle_recall,
        reject_rate_min=settings.retrain_min_reject_rate,
        reject_rate_max=settings.retrain_max_reject_rate,
        regression_tolerance=settings.retrain_regression_tolerance,
        user_regression_tolerance=settings.retrain_user_regression_tolerance,
    )
    return RetrainConfig(
        cadence_days=settings.retrain_cadence_days,
        lookback_days=settings.retrain_lookback_days,
        user_id_feature=settings.retrain_user_id_feature,
        threshold_tuning=settings.retrain_reject_tuning,
        gates=gates,
        requirements=DataRequirements.for_gates(gates),
    )


def _challenger_id(settings: Settings, now: datetime) -> str:
    from daemon.fsutil import free_name

    directory = models_dir(settings.data_dir)
    return free_name(directory, f"retrain-{now.astimezone(UTC):%Y%m%d-%H%M%S}")


def _windows(
    settings: Settings,
    spans: Sequence[LabelSpan],
    since: date,
    schema_version: str,
    rebuild: Rebuilder | None,
) -> tuple[list[dict[str, Any]], list[str], dict[str, int]]:
    """The archived windows of the lookback, and windows rebuilt from ActivityWatch for the
    labelled days older than the archive's first day."""
    from daemon.archive import FeatureArchive
    from taskclf_core.spans import span_days

    archive = FeatureArchive(settings.archive_path)
    read = archive.since(since)
    windows = list(read.windows)
    days = archive.days()
    first = date.fromisoformat(days[0]) if days else None
    notes = [
        f"archive {archive.directory}: {len(windows)} windows since {since.isoformat()}"
        + (f" ({read.duplicates} archived twice, counted once)" if read.duplicates else "")
        + (f", {read.unreadable} unreadable lines skipped" if read.unreadable else "")
    ]
    counts = {"windows": len(windows), "duplicates": read.duplicates, "rebuilt": 0}
    older = sorted(d for d in span_days(spans) if d >= since and (first is None or d < first))
    if older and rebuild is not None:
        rebuilt = rebuild(older, schema_version)
        have = {(str(w.get("user_id")), str(w.get("bucket_start_ts"))) for w in windows}
        new = [
            w for w in rebuilt.windows if (str(w["user_id"]), str(w["bucket_start_ts"])) not in have
        ]
        windows.extend(new)
        counts["rebuilt"] = len(new)
        notes.extend(rebuilt.lines)
    elif older:
        notes.append(
            f"{len(older)} labelled days before the archive's first day are not rebuilt "
            "from ActivityWatch in this run"
        )
    return windows, notes, counts


def retrain(
    settings: Settings,
    *,
    dry_run: bool = False,
    force: bool = False,
    now: datetime | None = None,
    rebuild: Rebuilder | None = None,
) -> RetrainRun:
    """One `retrain` (CONTRACT 16). ``dry_run`` decides and calibrates but writes nothing.

    Raises ConfigError/PolicyError for a configuration it cannot act on (no policy file to
    deploy through, a policy that does not load) and OSError when a file cannot be read or
    written; every decision, ``not_due`` and ``not_enough_data`` included, is a return.
    """
    from daemon.artifacts import load_in_force
    from daemon.deploy import deploy, describe, policy_path_of
    from daemon.fsutil import utc_now
    from daemon.inforce import decisions_of, policy_in_force, sources_of
    from daemon.spanfile import load_spans
    from taskclf_core.retrain import calibrate_challenger, retrain_due, run_retrain

    now = now or datetime.now(UTC)
    policy_path = policy_path_of(settings) if not dry_run else settings.policy_file
    in_force = load_in_force(sources_of(settings), now=utc_now)
    champion = in_force.bundle
    config = retrain_config(settings)
    created = champion.metadata.get("created_at")
    created = created if isinstance(created, str) else None
    if force or retrain_due(created, now=now, cadence_days=config.cadence_days).due:
        spans = load_spans(spans_file(settings.data_dir))
        since = (now - timedelta(days=config.lookback_days)).date()
        windows, notes, counts = _windows(settings, spans, since, champion.schema.version, rebuild)
        notes.append(f"label spans {spans_file(settings.data_dir)}: {len(spans)}")
    else:
        # not due (the daily timer, six days of seven): the archive, the spans and
        # ActivityWatch are not read for a decision that needs none of them
        spans, windows, notes, counts = [], [], [], {}
    outcome = run_retrain(
        champion,
        windows,
        spans,
        now=now,
        champion_created_at=created,
        challenger_id=_challenger_id(settings, now),
        config=config,
        force=force,
        champion_store=in_force.store,
        champion_policy=policy_in_force(decisions_of(settings), in_force.binding),
    )
    report = outcome.report
    run = RetrainRun(report, dry_run, tuple(notes), archive=counts)
    trained, bundle = outcome.challenger, outcome.model
    if report.decision != "deployed" or trained is None or bundle is None:
        return run
    challenger_id = bundle.bundle_id
    calibrated = calibrate_challenger(
        outcome,
        bundle,
        created_at=utc_now("seconds"),
        opt_out=settings.opt_out_users,
        personalization=settings.personalization,
    )
    store, calibration = calibrated.store, calibrated.report
    run = RetrainRun(
        report,
        dry_run,
        run.notes,
        store=store,
        calibration=calibration,
        reject_threshold=outcome.reject_threshold,
        archive=counts,
    )
    if dry_run:
        return _replace_deployed(
            run,
            (
                f"dry run: nothing written; {challenger_id} would be deployed with store "
                f"{store.store_id} and reject threshold {outcome.reject_threshold}",
            ),
        )
    assert policy_path is not None  # policy_path_of raised otherwise
    # the store first (checked against the challenger in memory): a store that cannot be
    # written leaves no model behind
    store_path = _write_store(settings, store, bundle)
    model_path = _install(settings, trained, challenger_id)
    deployment, replaced, _ = deploy(
        policy_path,
        model=model_path,
        store=store_path,
        reject_threshold=outcome.reject_threshold,
        user_thresholds={},  # the old model's per-user thresholds were tuned for it
        source="retrain",
        expected=in_force.binding.policy,
    )
    lines = (
        describe(deployment, replaced, "deployed", settings=settings),
        "`taskclf-daemon rollback` puts the model before back",
        *_prune(policy_path, settings),
    )
    return RetrainRun(
        report,
        dry_run,
        run.notes,
        model_path=model_path,
        store=store,
        calibration=calibration,
        reject_threshold=outcome.reject_threshold,
        deployed_lines=lines,
        archive=counts,
    )


def _replace_deployed(run: RetrainRun, lines: tuple[str, ...]) -> RetrainRun:
    from dataclasses import replace

    return replace(run, deployed_lines=lines)


def _prune(policy_path: Path, settings: Settings) -> list[str]:
    """Older retrained models beyond :data:`RETRAINED_KEPT` go, with the stores fitted for
    them (:func:`prune_retrained`); what went, as lines. A failure leaves them and says so:
    the deploy stands."""
    from daemon.publish import prune_retrained

    try:
        pruned = prune_retrained(
            policy_path,
            models_dir(settings.data_dir),
            keep=RETRAINED_KEPT,
            stores=stores_dir(settings.data_dir),
        )
    except (OSError, PolicyError) as exc:
        return [f"older retrained models not removed: {exc}"]
    lines = [f"older retrained model or store not removed: {why}" for why in pruned.failed]
    if pruned.stores:
        lines.insert(
            0,
            f"removed {plural(len(pruned.stores), 'calibrator store')} of models no longer kept "
            f"({', '.join(pruned.stores)})",
        )
    if pruned.models:
        lines.insert(
            0,
            f"removed {plural(len(pruned.models), 'older retrained model')} "
            f"({', '.join(pruned.models)}): retrain keeps the newest {RETRAINED_KEPT} it "
            "trained",
        )
    return lines


def _install(settings: Settings, trained: Any, challenger_id: str) -> Path:
    from daemon.paths import ensure_private_dir
    from daemon.publish import install_bundle

    directory = models_dir(settings.data_dir)
    ensure_private_dir(directory)
    return install_bundle(trained, directory / challenger_id)


def _write_store(settings: Settings, store: CalibratorStore, bundle: ModelBundle) -> Path:
    from daemon.artifacts import load_store
    from daemon.fsutil import free_name
    from daemon.paths import ensure_private_dir
    from daemon.publish import write_store

    directory = stores_dir(settings.data_dir)
    ensure_private_dir(directory)
    out = directory / free_name(directory, store.store_id)
    return write_store(store, out, check=lambda path: load_store(path, bundle))
