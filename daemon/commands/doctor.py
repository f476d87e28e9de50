"""`taskclf-daemon doctor`: check the setup, one line per check, each problem with its fix."""

from __future__ import annotations

import argparse
import os
import plistlib
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from daemon.config.flags import setting_overrides
from daemon.config.layers import Problem, config_file_path
from daemon.config.settings import Settings, load_settings_tolerant
from daemon.exits import FAILED, HEALTHY, OK
from taskclf_core.errors import ConfigError, TaskclfError
from taskclf_core.words import plural

if TYPE_CHECKING:
    from taskclf_core.bundle import Model
    from taskclf_core.calibration import CalibratorStore

__all__ = [
    "Check",
    "Probe",
    "add_arguments",
    "check_activitywatch",
    "check_daemon",
    "check_service",
    "check_writable",
    "diagnose",
    "format_check",
    "run",
    "run_probe",
]

State = Literal["ok", "warn", "FAIL"]
# runs a service-manager command: (exit status, or None if it cannot be run; its output)
Probe = Callable[[Sequence[str]], tuple[int | None, str]]
PROBE_TIMEOUT = 5.0
AW_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: what was checked, how it went and, unless ok, what to do."""

    name: str
    state: State
    detail: str
    fix: str = ""


def format_check(check: Check, width: int = 10) -> str:
    """One line: state, the check's name padded to ``width`` (the longest name of the
    report, so every detail starts in one column), detail, and the fix unless ok."""
    fix = f" — fix: {check.fix}" if check.fix and check.state != "ok" else ""
    return f"{check.state:<5} {check.name:<{width}} {check.detail}{fix}"


def run_probe(argv: Sequence[str]) -> tuple[int | None, str]:
    """The real :data:`Probe`: output captured, never waits more than a few seconds."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


# --- configuration and artifacts ---------------------------------------------------------


def _config_checks(config: Path, problems: Sequence[Problem]) -> Iterator[Check]:
    if not problems:
        if config.is_file():
            yield Check("config", "ok", f"{config}")
        else:
            yield Check(
                "config",
                "ok",
                f"{config} does not exist: the defaults are used "
                "(`taskclf-daemon init` writes one listing every key)",
            )
        return
    for problem in problems:
        # the layer it was set in: the file, the environment or a flag
        yield Check(
            "config",
            "FAIL",
            problem.message,
            f"{problem.origin.fix()}: `taskclf-daemon run` refuses it until then "
            "(status, reload and doctor carry on with the default for that key)",
        )


def _model_checks(settings: Settings, config: Path) -> Iterator[Check]:
    from daemon.artifacts import load_store
    from taskclf_core.bundle import load_model

    if settings.policy_file is not None:
        yield from _policy_checks(settings, settings.policy_file)
        return
    model = settings.model_path
    if settings.model_dir is None and not model.exists():
        yield Check(
            "model",
            "FAIL",
            f"no model: neither policy_file nor model_dir is set in {config}, and there is no "
            f"bundle at {model} (the default model_dir)",
            f"taskclf-daemon init{' --force' if config.exists() else ''} --model DIR "
            "[--store DIR] installs a bundle and its store; `taskclf-daemon demo` shows it "
            "working on generated data",
        )
        return
    bundle: Model | None = None
    try:
        bundle = load_model(model)
    except TaskclfError as exc:
        yield Check(
            "model",
            "FAIL",
            f"model_dir: {exc}",
            "point model_dir at a taskclf bundle directory (model.txt, metadata.json), or "
            "use `taskclf-daemon init --force --model DIR`",
        )
    else:
        yield _model_ok(bundle)
    store = settings.calibrator_store
    if store is None:
        yield Check(
            "store", "ok", "none configured: the model's probabilities are used as they are"
        )
    elif not os.path.exists(store):
        yield Check(
            "store",
            "FAIL",
            f"calibrator_store: {store} does not exist",
            "point calibrator_store at a CalibratorStore directory, or remove the key",
        )
    elif bundle is not None:
        try:
            loaded, _ = load_store(store, bundle)
        except TaskclfError as exc:
            yield Check("store", "FAIL", f"calibrator_store: {exc}", _store_fix(str(exc)))
        else:
            yield _store_ok(loaded, store, bundle.bundle_id)


def _model_ok(bundle: Model) -> Check:
    path = getattr(bundle, "path", None)
    if bundle.fixed_reject_threshold is not None:
        return Check(
            "model",
            "ok",
            f"{bundle.bundle_id}: taskclf's rule baseline (schema {bundle.schema.version} "
            f"{bundle.schema_hash}) at {path}, until `taskclf-daemon retrain` trains a model "
            "from your labels",
        )
    return Check(
        "model",
        "ok",
        f"{bundle.bundle_id} (schema {bundle.schema.version} {bundle.schema_hash}, "
        f"{plural(len(bundle.schema.feature_columns), 'feature')}) at {path}",
    )


def _first_model_checks(settings: Settings) -> Iterator[Check]:
    """With the rule baseline in force: what a first model still needs, and how to get it."""
    from datetime import UTC, datetime

    from daemon.inforce import bind, sources_of
    from daemon.reporting.progress import first_model_progress
    from taskclf_core.bundle import load_model

    try:
        model = load_model(bind(sources_of(settings)).model_path)
    except TaskclfError:
        return  # the model check said why
    if model.fixed_reject_threshold is None:
        return
    try:
        progress = first_model_progress(
            settings, now=datetime.now(UTC), schema_version=model.schema.version
        )
    except (TaskclfError, OSError) as exc:
        yield Check("labels", "warn", f"cannot count your labelled windows: {exc}")
        return
    head = progress.head
    gone = progress.not_archived()
    if gone is not None:
        # said before what is missing: the counts leave those days out
        head += f"; {gone[0]}: " + "; ".join(gone[1])
    if progress.enough:
        caution = f"; {progress.caution}" if progress.caution else ""
        yield Check(
            "labels", "ok", f"{head}; run `taskclf-daemon retrain` for a first model{caution}"
        )
        return
    needed = "; ".join(progress.missing)
    yield Check(
        "labels",
        "warn",
        f"{head}; a first model needs: {needed}",
        (
            "first bring the labelled days the archive lacks into it (`taskclf-daemon "
            "retrain` or `collect --once`, above); then, for what is still needed, "
            if gone is not None
            else ""
        )
        + "label your time: `taskclf-daemon label add --from HH:MM --to HH:MM LABEL` (breaks "
        "too: BreakIdle), then `taskclf-daemon retrain`",
    )


def _store_ok(store: CalibratorStore, path: Path, bundle_id: str) -> Check:
    return Check(
        "store",
        "ok",
        f"{store.store_id} ({store.method}, "
        f"{plural(len(store.user_ids), 'per-user calibrator')}) at {path}: fits model {bundle_id}",
    )


def _store_fix(message: str) -> str:
    if "model_bundle_id" in message or "model_schema_hash" in message:
        return "as the message says; `taskclf-daemon check-store DIR --model DIR` re-checks a pair"
    return "fix or refit the store (taskclf-daemon calibrate), or point the setting elsewhere"


def _policy_checks(settings: Settings, policy_file: Path) -> Iterator[Check]:
    from daemon.artifacts import check_policy, load_store
    from daemon.inforce import bind, sources_of
    from taskclf_core.bundle import load_model

    redeploy = (
        "taskclf-daemon deploy --model DIR [--store DIR] writes a valid policy; "
        "taskclf-daemon rollback restores the previous one"
    )
    try:
        binding = bind(sources_of(settings))  # the daemon's own reading of the policy
    except TaskclfError as exc:
        fix = (
            "taskclf-daemon init --force --model DIR [--store DIR] installs a bundle and writes it"
            if not policy_file.exists()
            else redeploy
        )
        yield Check("policy", "FAIL", str(exc), fix)
        return
    policy = binding.policy
    assert policy is not None  # bind read the policy file
    try:
        bundle = load_model(binding.model_path)
    except TaskclfError as exc:
        yield Check("policy", "ok", f"{policy_file} ({policy.source}, {policy.created_at})")
        yield Check("model", "FAIL", f"policy model_dir {policy.model_dir!r}: {exc}", redeploy)
        return
    store = None
    store_path = binding.store_path
    try:
        if store_path is not None:
            try:
                store, _ = load_store(store_path, bundle)
            except TaskclfError as exc:
                raise type(exc)(
                    f"policy calibrator_store_dir {policy.calibrator_store_dir!r}: {exc}"
                ) from None
        check_policy(policy_file, policy, bundle, store)
    except TaskclfError as exc:
        yield Check("policy", "ok", f"{policy_file} ({policy.source}, {policy.created_at})")
        yield _model_ok(bundle)
        yield Check("store", "FAIL", str(exc), _store_fix(str(exc)) + "; or " + redeploy)
        return
    per_user = policy.per_user_reject_thresholds or {}
    yield Check(
        "policy",
        "ok",
        f"{policy_file} (threshold {policy.reject_threshold}"
        + (f", {len(per_user)} per-user" if per_user else "")
        + f"; {policy.source}, {policy.created_at})",
    )
    yield _model_ok(bundle)
    if bundle.fixed_reject_threshold is not None:
        yield Check("store", "ok", "none: the rule baseline's answers are not probabilities")
    elif store is None or store_path is None:
        yield Check("store", "ok", "none in the policy: the model's probabilities are used")
    else:
        yield _store_ok(store, store_path, bundle.bundle_id)


def _taxonomy_check(settings: Settings) -> Iterator[Check]:
    if settings.taxonomy is None:
        return
    from taskclf_core.taxonomy import load_taxonomy

    try:
        load_taxonomy(settings.taxonomy)
    except TaskclfError as exc:
        yield Check("taxonomy", "FAIL", str(exc), "fix the file, or remove the taxonomy key")
    else:
        yield Check("taxonomy", "ok", str(settings.taxonomy))


# --- directories -------------------------------------------------------------------------


def check_writable(name: str, directory: Path, what: str, key: str) -> Check:
    """Really create and remove a file in ``directory`` (or where it would be created)."""
    probe_in = directory
    if not directory.exists():
        probe_in = next((p for p in directory.parents if p.exists()), Path("/"))
    if not probe_in.is_dir():
        return Check(name, "FAIL", f"{probe_in} is not a directory", f"change {key}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".taskclf-doctor.", suffix=".tmp", dir=probe_in)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return Check(
            name,
            "FAIL",
            f"{probe_in}: cannot create a file there ({exc.strerror or exc})",
            f"make {probe_in} writable for you (chmod u+rwx), or change {key}",
        )
    if probe_in != directory:
        return Check(
            name,
            "warn",
            f"{directory} does not exist yet (the daemon creates it at start)",
            "taskclf-daemon init creates it now",
        )
    return Check(name, "ok", f"{directory}: writable; {what}")


def _spool_check(settings: Settings) -> Check:
    spool = settings.spool_path
    tmp, new = spool / "tmp", spool / "new"
    check = check_writable(
        "spool", tmp if tmp.is_dir() else spool, "collectors write here", "spool_dir"
    )
    if check.state != "ok":
        return check
    if tmp.is_dir() and new.is_dir() and os.stat(tmp).st_dev != os.stat(new).st_dev:
        return Check(
            "spool",
            "FAIL",
            f"{tmp} and {new} are on different filesystems: a rename between them is not atomic",
            "keep the whole spool on one filesystem",
        )
    return Check(
        "spool", "ok", f"{spool}: writable; collectors write into tmp/, then rename into new/"
    )


# --- the daemon and its service ------------------------------------------------------------


def check_daemon(settings: Settings) -> Check:
    """Is a daemon running on this configuration, and healthy (its lock and status file)?"""
    from daemon.lock import running_pid
    from daemon.runtime.status import evaluate, read_status

    try:
        pid = running_pid(settings.lock_path)
    except OSError as exc:
        return Check(
            "daemon",
            "FAIL",
            f"cannot read the lock {settings.lock_path} ({exc.strerror or exc})",
            "make it readable for you, or remove it if no daemon runs",
        )
    code, doc = evaluate(read_status(settings.status_path), pid)
    problems = "; ".join(doc.get("problems", []))
    if pid is None:
        if problems:
            return Check(
                "daemon",
                "FAIL",
                f"not running; {problems}",
                "fix the cause, then start it again (taskclf-daemon run, or restart the service)",
            )
        return Check(
            "daemon",
            "ok",
            "not running (start it at login: taskclf-daemon service install; "
            "or in the foreground: taskclf-daemon run)",
        )
    shown = doc.get("pid") or pid
    if code != HEALTHY:
        return Check(
            "daemon",
            "FAIL",
            f"running (pid {shown}) but degraded: {problems}",
            "taskclf-daemon status shows the details",
        )
    return Check("daemon", "ok", f"running (pid {shown}), healthy")


def _unit_command(text: str) -> list[str] | None:
    for line in text.splitlines():
        if line.strip().startswith("ExecStart="):
            try:
                # systemd's quoting is shell-like for the paths we write (%% and $$ aside)
                return [w.replace("%%", "%") for w in shlex.split(line.split("=", 1)[1])]
            except ValueError:
                return None
    return None


def _plist_command(data: bytes) -> list[str] | None:
    try:
        args = plistlib.loads(data).get("ProgramArguments")
    except (plistlib.InvalidFileException, ValueError, AttributeError):
        return None
    return [str(a) for a in args] if isinstance(args, list) else None


def _installed_command_check(command: list[str] | None, path: Path, config: Path) -> Check | None:
    """A problem with what an installed service file runs, or None."""
    if not command:
        return Check(
            "service",
            "FAIL",
            f"{path}: cannot read the command it runs",
            "taskclf-daemon service install rewrites it",
        )
    program = command[0]
    if not (os.path.isfile(program) and os.access(program, os.X_OK)):
        return Check(
            "service",
            "FAIL",
            f"{path} runs {program}, which does not exist (moved or deleted virtualenv?)",
            "run `taskclf-daemon service install` again from the installation to use",
        )
    if "--config" in command:
        used = command[command.index("--config") + 1 :][:1]
        if used and Path(used[0]) != config:
            return Check(
                "service",
                "warn",
                f"{path} runs the daemon with --config {used[0]}; this check read {config}",
                f"taskclf-daemon service install --config {config}, or doctor --config {used[0]}",
            )
    return None


def check_service(config: Path, *, probe: Probe = run_probe, home: Path | None = None) -> Check:
    """Is a service manager reachable, and is the service installed and sound?"""
    from daemon.units import unit
    from daemon.units.unit import LAUNCHD_LABEL, UNIT_NAME, service_file

    platform = unit.detect_platform()
    if platform is None:
        return Check(
            "service",
            "warn",
            "neither systemd (systemctl) nor launchd here: `service install` cannot be used",
            "run the daemon yourself: taskclf-daemon run",
        )
    path = service_file(platform, home)
    installed = path.is_file()
    if platform == "systemd":
        rc, out = probe(["systemctl", "--user", "show", "--property=Version", "--value"])
        reachable = rc == 0
        manager = "systemctl --user"
    else:
        rc, out = probe(["launchctl", "print", f"gui/{os.getuid()}"])
        reachable = rc == 0
        manager = "launchctl"
    if installed:
        content = path.read_bytes()
        command = (
            _unit_command(content.decode("utf-8", "replace"))
            if platform == "systemd"
            else _plist_command(content)
        )
        problem = _installed_command_check(command, path, config)
        if problem is not None:
            return problem
    why = out.splitlines()[0] if out else "no answer"
    if not reachable:
        return Check(
            "service",
            "warn",
            f"{manager} cannot reach the service manager ({why})"
            + (f"; {path} is installed" if installed else ""),
            "from a login session it works; without one: `service install --no-start` and "
            "`loginctl enable-linger`, or run the daemon yourself (taskclf-daemon run)",
        )
    if not installed:
        return Check(
            "service",
            "ok",
            f"{manager} reachable; not installed (to start it at login: "
            "taskclf-daemon service install)",
        )
    if platform == "systemd":
        _, active = probe(["systemctl", "--user", "is-active", UNIT_NAME])
        _, enabled = probe(["systemctl", "--user", "is-enabled", UNIT_NAME])
        state = f"{enabled or '?'}, {active or '?'}"
        if active == "failed":
            return Check(
                "service",
                "FAIL",
                f"{path} installed ({state})",
                f"journalctl --user -u {UNIT_NAME} -e shows why; then systemctl --user "
                f"restart {UNIT_NAME}",
            )
        return Check("service", "ok", f"{path} installed ({state})")
    rc, _ = probe(["launchctl", "print", f"gui/{os.getuid()}/{LAUNCHD_LABEL}"])
    loaded = "loaded" if rc == 0 else "not loaded"
    return Check("service", "ok", f"{path} installed ({loaded})")


# --- the collector's source --------------------------------------------------------------


# what a host without aw-watcher-input costs, and the fix (docs/collector.md)
NO_INPUT_FIX: Final = (
    "install aw-watcher-input, start it and keep it running: aw-qt starts it with "
    "ActivityWatch once it is in autostart_modules in aw-qt.toml (ActivityWatch's default "
    "install has only the window and afk watchers; aw-watcher-input counts key presses and "
    "clicks, never which keys): without it taskclf's rule baseline calls every minute "
    "BreakIdle, and a model of your own is refused far more often, as tasks done in the same "
    "apps look alike"
)


def check_activitywatch(settings: Settings, *, timeout: float = AW_TIMEOUT) -> Check:
    """ActivityWatch answers at ``aw_url`` with this host's buckets, asked through the
    collector's own client (loopback only, no proxy, no redirect)."""
    from daemon.collector.health import check_aw_reachable

    ok, message, input_ok = check_aw_reachable(settings, timeout=timeout)
    if ok and not input_ok:
        return Check("collector", "warn", message, NO_INPUT_FIX)
    if ok:
        return Check("collector", "ok", message)
    return Check(
        "collector",
        "FAIL",
        message,
        "start ActivityWatch (aw-qt or aw-server) with its window watcher, or set aw_url to "
        'where it listens on this machine (e.g. aw_url = "http://127.0.0.1:5600")',
    )


def _collector_identity_check(settings: Settings) -> Check:
    """The collector's title salt and user id (taskclf's files by default) are there."""
    from daemon.collector.identity import load_identity

    try:
        identity = load_identity(settings)
    except ConfigError as exc:
        return Check(
            "collector identity",
            "FAIL",
            str(exc),
            "set title_salt_file / collect_user_id, or data_dir to taskclf's home",
        )
    return Check(
        "collector identity",
        "ok",
        f"title salt at {identity.salt_path}; windows for user {identity.user_id}",
    )


def check_label_days(labels: Path) -> Check | None:
    """Day files outside the supported times (an older version logged 9999-12-31): no command
    reads them, which deserves a word; None when there are none."""
    from daemon.runtime.labellog import LabelLog
    from taskclf_core.timerange import RANGE

    log = LabelLog(labels)
    ignored = sorted(set(log.all_day_files()) - set(log.day_files()))
    if not ignored:
        return None
    return Check(
        "label log",
        "warn",
        f"{plural(len(ignored), 'day file')} outside the supported times {RANGE} "
        f"{'is' if len(ignored) == 1 else 'are'} ignored: "
        + ", ".join(f"{day}.jsonl" for day in ignored),
        f"an older version logged them from a wrong clock; move them out of {labels}",
    )


# --- all of it -----------------------------------------------------------------------------


def diagnose(
    config_file: Path | None,
    overrides: Mapping[str, Any] | None = None,
    *,
    probe: Probe | None = None,
) -> list[Check]:
    """Every check, in the order a first run meets them (``probe``: default :func:`run_probe`)."""
    config = config_file_path(config_file)
    settings, problems = load_settings_tolerant(config_file, overrides)
    checks = list(_config_checks(config, problems))
    checks += _model_checks(settings, config)
    checks += _first_model_checks(settings)
    checks += _taxonomy_check(settings)
    checks.append(_spool_check(settings))
    checks.append(
        check_writable(
            "label log",
            settings.labels_path,
            "one JSON Lines file per UTC day",
            "data_dir",
        )
    )
    days = check_label_days(settings.labels_path)
    if days is not None:
        checks.append(days)
    checks.append(check_daemon(settings))
    checks.append(check_service(config, probe=probe if probe is not None else run_probe))
    from daemon.collector.health import collector_in_use

    if collector_in_use(settings):  # only for people who run the ActivityWatch collector
        checks.append(check_activitywatch(settings))
        checks.append(_collector_identity_check(settings))
    return checks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Nothing of its own: ``--config`` (and its setting flags) come from daemon/cli.py."""


def run(args: argparse.Namespace) -> int:
    checks = diagnose(args.config, setting_overrides(args))
    width = max(10, *(len(check.name) for check in checks))
    for check in checks:
        print(format_check(check, width))
    failed = [c for c in checks if c.state == "FAIL"]
    if failed:
        print(
            f"{plural(len(failed), 'problem')}; fix {'it' if len(failed) == 1 else 'them'}, "
            "then run taskclf-daemon doctor again"
        )
        return FAILED
    print(
        "all fine" + (" (see the warnings above)" if any(c.state == "warn" for c in checks) else "")
    )
    return OK
