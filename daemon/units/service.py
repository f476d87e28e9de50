"""Install, remove and show the per-user service (and its companions: collector, daily timer)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TextIO

from daemon.exits import OK, UNSUPPORTED
from daemon.units.unit import (
    COLLECTOR_UNIT,
    CONSOLE_SCRIPT,
    DAEMON_UNIT,
    LAUNCHD_LABEL,
    PLIST_NAME,
    UNIT_NAME,
    Platform,
    Runner,
    Session,
    SubprocessRunner,
    Unit,
    detect_platform,
    entry_point,
    guarded,
    launchd_domain,
    launchd_log_dir,
    render_launchd,
    render_systemd,
    render_unit,
    resolve_platform,
    run_command,
    service_file,
    systemctl,
    write_file,
)
from taskclf_core.errors import ServiceError

__all__ = [
    "COLLECTOR_UNIT",
    "CONSOLE_SCRIPT",
    "DAEMON_UNIT",
    "LAUNCHD_LABEL",
    "PLIST_NAME",
    "UNIT_NAME",
    "Platform",
    "Runner",
    "ServiceError",
    "SubprocessRunner",
    "Unit",
    "detect_platform",
    "entry_point",
    "launchd_log_dir",
    "personalize_daily",
    "render_launchd",
    "render_systemd",
    "run_command",
    "service_file",
    "service_install",
    "service_show",
    "service_uninstall",
]


def service_show(
    platform: Platform | None = None,
    out: TextIO | None = None,
    *,
    home: Path | None = None,
    err: TextIO | None = None,
    config: Path | None = None,
    unit: Unit = DAEMON_UNIT,
) -> int:
    """Print the file ``install`` would write; 0, 1 if it cannot be rendered, 2 if unsupported."""
    session = Session(None, out, err)
    resolved = resolve_platform(platform, session.err)
    if resolved is None:
        return UNSUPPORTED

    def show() -> int:
        session.out.write(render_unit(resolved, home, config, unit))
        session.out.flush()
        return OK

    return guarded(show, session)


def service_install(
    *,
    start: bool = True,
    platform: Platform | None = None,
    runner: Runner | None = None,
    home: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    config: Path | None = None,
    unit: Unit = DAEMON_UNIT,
) -> int:
    """Write the service file and (unless ``start=False``) enable and (re)start the service.

    ``config``: the (absolute) config file the daemon is started with (``run --config``).

    Idempotent. systemd: ``daemon-reload``, then ``enable --now`` when the unit is new or
    unchanged (so a running daemon is left alone), or ``enable`` + ``restart`` when an
    existing unit changed. launchd: ``bootout`` (failure ignored: not loaded), ``enable``
    (before bootstrap, which refuses a disabled service), ``bootstrap``; launchd cannot
    re-read a loaded plist, so a reinstall always restarts the agent.
    Returns 0, 1 if writing or a manager command failed, 2 if no supported platform.
    """
    session = Session(runner, out, err)
    resolved = resolve_platform(platform, session.err)
    if resolved is None:
        return UNSUPPORTED
    if resolved == "systemd":
        return guarded(lambda: _install_systemd(session, start, home, config, unit), session)
    return guarded(lambda: _install_launchd(session, start, home, config, unit), session)


def _fallback_note(session: Session) -> None:
    argv = entry_point()
    if len(argv) > 1:
        session.say(
            f"note: no {CONSOLE_SCRIPT} script next to {argv[0]}; the service runs "
            f"`{shlex.join(argv)}`, which needs taskclf-daemon installed in that interpreter"
        )


def _config_note(session: Session, config: Path | None) -> None:
    if config is not None:
        session.say(f"the service runs the daemon with --config {config}")


def _install_systemd(
    session: Session, start: bool, home: Path | None, config: Path | None, unit: Unit
) -> int:
    unit_name = unit.unit_name
    path = service_file("systemd", home, unit)
    state = write_file(path, render_systemd(config=config, unit=unit))
    session.say(f"{state} {path}")
    _config_note(session, config)
    _fallback_note(session)
    if not start:
        session.say(
            "not started (--no-start); to start it: systemctl --user daemon-reload && "
            f"systemctl --user enable --now {unit_name}"
        )
        return OK
    commands = [systemctl("daemon-reload")]
    if state == "updated":
        commands += [systemctl("enable", unit_name), systemctl("restart", unit_name)]
    else:
        commands += [systemctl("enable", "--now", unit_name)]
    return session.run_all(
        commands,
        "is the systemd user manager running for this session? `--no-start` only writes the unit",
    )


def _install_launchd(
    session: Session, start: bool, home: Path | None, config: Path | None, unit: Unit
) -> int:
    label = unit.launchd_label
    path = service_file("launchd", home, unit)
    logs = launchd_log_dir(home)
    state = write_file(path, render_launchd(log_dir=logs, config=config, unit=unit))
    session.say(f"{state} {path}")
    _config_note(session, config)
    if not logs.is_dir():
        # launchd does not create it, and an unopenable StandardOutPath fails the job (78)
        logs.mkdir(parents=True, exist_ok=True)
        session.say(f"created log directory {logs}")
    _fallback_note(session)
    domain = launchd_domain()
    service = f"{domain}/{label}"
    if not start:
        session.say(
            f"not started (--no-start); to start it: launchctl enable {service} && "
            f"launchctl bootstrap {domain} {shlex.quote(str(path))}"
        )
        return OK
    if session.run(["launchctl", "bootout", service]) != 0:
        session.say("  (was not loaded; nothing to stop)")
    return session.run_all(
        [["launchctl", "enable", service], ["launchctl", "bootstrap", domain, str(path)]],
        f"see `launchctl print {service}` and {logs}",
    )


def service_uninstall(
    *,
    platform: Platform | None = None,
    runner: Runner | None = None,
    home: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stop: bool = True,
    unit: Unit = DAEMON_UNIT,
) -> int:
    """Stop and disable the service and remove its file (``stop=False``: only remove it).

    Idempotent: when the file is absent it says so, runs nothing and returns 0. Logs are kept.
    Returns 0, 1 if a manager command or the removal failed, 2 if no supported platform.
    """
    session = Session(runner, out, err)
    resolved = resolve_platform(platform, session.err)
    if resolved is None:
        return UNSUPPORTED
    path = service_file(resolved, home, unit)
    if not path.exists() and not path.is_symlink():
        session.say(f"not installed: {path} does not exist; nothing to do")
        return OK
    if resolved == "systemd":
        return guarded(lambda: _uninstall_systemd(session, path, stop, unit), session)
    return guarded(lambda: _uninstall_launchd(session, path, stop, unit), session)


def _remove(session: Session, path: Path) -> None:
    path.unlink(missing_ok=True)
    session.say(f"removed {path}")


def _uninstall_systemd(session: Session, path: Path, stop: bool, unit: Unit) -> int:
    unit_name = unit.unit_name
    hint = "is the systemd user manager running? `--no-start` only removes the unit file"
    if stop:
        # the file stays when this fails, so a retry finds the service exactly as it was
        rc = session.run_all([systemctl("disable", "--now", unit_name)], hint)
        if rc != OK:
            return rc
    _remove(session, path)
    if not stop:
        # what `disable` would have removed; left behind it would dangle
        wants = path.parent / "default.target.wants" / unit_name
        if wants.is_symlink():
            _remove(session, wants)
        session.say(
            "not stopped (--no-start): a daemon already running keeps running until "
            f"`systemctl --user stop {unit_name}`"
        )
        return OK
    return session.run_all([systemctl("daemon-reload")], hint)


def _uninstall_launchd(session: Session, path: Path, stop: bool, unit: Unit) -> int:
    service = f"{launchd_domain()}/{unit.launchd_label}"
    if not stop:
        _remove(session, path)
        session.say(
            f"not stopped (--no-start): a daemon already loaded keeps running until "
            f"`launchctl bootout {service}`"
        )
        return OK
    if session.run(["launchctl", "bootout", service]) != 0:
        session.say("  (was not loaded; nothing to stop)")
    _remove(session, path)
    return OK


def personalize_daily(
    action: str,
    start: bool,
    *,
    platform: Platform | None = None,
    runner: Runner | None = None,
    home: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    config: Path | None = None,
) -> int:
    """The daily `personalize` timer beside the service (daemon/units/timer.py)."""
    from daemon.units import timer

    session = Session(runner, out, err)
    resolved = resolve_platform(platform, session.err)
    if resolved is None:
        return UNSUPPORTED
    if action == "install":
        return guarded(lambda: timer.install_timer(session, resolved, start, home, config), session)
    if action == "uninstall":
        return guarded(lambda: timer.uninstall_timer(session, resolved, start, home), session)

    def show() -> int:
        for path, text in timer.render_timer(resolved, home, config).items():
            session.out.write(f"\n# --- {path} ---\n{text}")
        session.out.flush()
        return OK

    return guarded(show, session)
