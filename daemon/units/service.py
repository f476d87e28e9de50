"""Install, remove and show what `service` manages: the daemon, the collector, the timers.

Each of :data:`daemon.units.unit.UNITS` is installed, shown and removed by the same code;
a call names the units it acts on, and ``uninstall`` without a name removes every one that
is installed.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TextIO

from daemon.exits import OK, UNSUPPORTED
from daemon.units.unit import (
    COLLECTOR_UNIT,
    CONSOLE_SCRIPT,
    DAEMON_UNIT,
    LAUNCHD_LABEL,
    PERSONALIZE_TIMER,
    PLIST_NAME,
    RETRAIN_TIMER,
    UNIT_NAME,
    UNITS,
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
    render_unit_files,
    resolve_platform,
    run_command,
    service_file,
    systemctl,
    unit_files,
    write_file,
)
from taskclf_core.errors import ServiceError

__all__ = [
    "COLLECTOR_UNIT",
    "CONSOLE_SCRIPT",
    "DAEMON_UNIT",
    "LAUNCHD_LABEL",
    "PERSONALIZE_TIMER",
    "PLIST_NAME",
    "RETRAIN_TIMER",
    "UNITS",
    "UNIT_NAME",
    "Platform",
    "Runner",
    "ServiceError",
    "SubprocessRunner",
    "Unit",
    "detect_platform",
    "entry_point",
    "installed_units",
    "launchd_log_dir",
    "render_launchd",
    "render_systemd",
    "run_command",
    "service_file",
    "service_install",
    "service_show",
    "service_uninstall",
]

State = Literal["created", "updated", "unchanged"]


def installed_units(platform: Platform, home: Path | None = None) -> list[Unit]:
    """The units whose files are there (any of them: a half-removed unit counts)."""
    return [
        unit
        for unit in UNITS
        if any(p.exists() or p.is_symlink() for p in unit_files(platform, home, unit))
    ]


def service_show(
    platform: Platform | None = None,
    out: TextIO | None = None,
    *,
    home: Path | None = None,
    err: TextIO | None = None,
    config: Path | None = None,
    units: Sequence[Unit] = (DAEMON_UNIT,),
) -> int:
    """Print the files ``install`` would write for ``units``: one file as it is (so it can be
    redirected), several each under a ``# --- path ---`` line; 0, 1 if one cannot be
    rendered, 2 if unsupported."""
    session = Session(None, out, err)
    resolved = resolve_platform(platform, session.err)
    if resolved is None:
        return UNSUPPORTED

    def show() -> int:
        files = {
            path: text
            for unit in units
            for path, text in render_unit_files(resolved, home, config, unit).items()
        }
        for path, text in files.items():
            session.out.write(text if len(files) == 1 else f"# --- {path} ---\n{text}\n")
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
    units: Sequence[Unit] = (DAEMON_UNIT,),
) -> int:
    """Write the files of ``units`` and (unless ``start=False``) enable and (re)start them.

    ``config``: the (absolute) config file each unit's command is started with
    (``--config``). Idempotent. systemd: one ``daemon-reload``, then per unit ``enable
    --now`` when its files are new or unchanged (a running daemon is left alone), or
    ``enable`` + ``restart`` when one changed; a scheduled run's timer is what is enabled.
    launchd: per agent ``bootout`` (failure ignored: not loaded), ``enable`` (before
    bootstrap, which refuses a disabled service), ``bootstrap``; launchd cannot re-read a
    loaded plist, so a reinstall always restarts the agent.
    Returns 0, 1 if writing or a manager command failed, 2 if no supported platform.
    """
    session = Session(runner, out, err)
    resolved = resolve_platform(platform, session.err)
    if resolved is None:
        return UNSUPPORTED

    def install() -> int:
        states = {unit: _write(session, resolved, home, config, unit) for unit in units}
        _fallback_note(session)
        if resolved == "systemd":
            return _start_systemd(session, start, states)
        return _start_launchd(session, start, home, list(units))

    return guarded(install, session)


def _write(
    session: Session, platform: Platform, home: Path | None, config: Path | None, unit: Unit
) -> list[State]:
    """Write ``unit``'s files, saying for each what happened and what the unit runs."""
    states: list[State] = []
    for path, text in render_unit_files(platform, home, config, unit).items():
        state = write_file(path, text)
        states.append(state)
        session.say(f"{state} {path}")
    name = unit.started if platform == "systemd" else unit.launchd_label
    command = shlex.join(run_command(None, config, unit.command))
    session.say(f"  {name}: {unit.what}, runs {command}")
    return states


def _fallback_note(session: Session) -> None:
    argv = entry_point()
    if len(argv) > 1:
        session.say(
            f"note: no {CONSOLE_SCRIPT} script next to {argv[0]}; the service runs "
            f"`{shlex.join(argv)}`, which needs taskclf-daemon installed in that interpreter"
        )


def _start_systemd(session: Session, start: bool, states: dict[Unit, list[State]]) -> int:
    names = [unit.started for unit in states]
    if not start:
        session.say(
            "not started (--no-start); to start: systemctl --user daemon-reload && "
            f"systemctl --user enable --now {' '.join(names)}"
        )
        return OK
    commands = [systemctl("daemon-reload")]
    for unit, written in states.items():
        if "updated" in written:
            commands += [systemctl("enable", unit.started), systemctl("restart", unit.started)]
        else:
            commands += [systemctl("enable", "--now", unit.started)]
    return session.run_all(
        commands,
        "is the systemd user manager running for this session? `--no-start` only writes the files",
    )


def _start_launchd(session: Session, start: bool, home: Path | None, units: list[Unit]) -> int:
    logs = launchd_log_dir(home)
    if not logs.is_dir():
        # launchd does not create it, and an unopenable StandardOutPath fails the job (78)
        logs.mkdir(parents=True, exist_ok=True)
        session.say(f"created log directory {logs}")
    domain = launchd_domain()
    if not start:
        for unit in units:
            path = service_file("launchd", home, unit)
            session.say(
                f"not started (--no-start); to start {unit.launchd_label}: launchctl enable "
                f"{domain}/{unit.launchd_label} && launchctl bootstrap {domain} "
                f"{shlex.quote(str(path))}"
            )
        return OK
    for unit in units:
        service = f"{domain}/{unit.launchd_label}"
        path = service_file("launchd", home, unit)
        if session.run(["launchctl", "bootout", service]) != 0:
            session.say("  (was not loaded; nothing to stop)")
        rc = session.run_all(
            [["launchctl", "enable", service], ["launchctl", "bootstrap", domain, str(path)]],
            f"see `launchctl print {service}` and {logs}",
        )
        if rc != OK:
            return rc
    return OK


def service_uninstall(
    *,
    platform: Platform | None = None,
    runner: Runner | None = None,
    home: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stop: bool = True,
    units: Sequence[Unit] | None = None,
) -> int:
    """Stop and disable ``units`` and remove their files (``stop=False``: only remove them);
    ``units=None``: every unit that is installed (the daemon, the collector, the timers).

    Idempotent: a unit whose files are absent is said to be so, and nothing is run for it.
    A unit is stopped before its files go, and the files stay when stopping fails, so a
    retry finds it exactly as it was. Logs, configuration, models and labels are kept.
    Returns 0, 1 if a manager command or a removal failed, 2 if no supported platform.
    """
    session = Session(runner, out, err)
    resolved = resolve_platform(platform, session.err)
    if resolved is None:
        return UNSUPPORTED

    def uninstall() -> int:
        present = installed_units(resolved, home)
        wanted = UNITS if units is None else units
        for unit in wanted:
            if unit not in present and units is not None:
                session.say(f"not installed: {service_file(resolved, home, unit)} does not exist")
        doomed = [u for u in reversed(UNITS) if u in wanted and u in present]
        if not doomed:
            if units is None:
                session.say("not installed: no unit or agent of taskclf-daemon here; nothing to do")
            return OK
        if resolved == "systemd":
            rc = _uninstall_systemd(session, home, stop, doomed)
        else:
            rc = _uninstall_launchd(session, home, stop, doomed)
        if rc == OK:
            session.say("kept: your configuration, models, labels and logs")
        return rc

    return guarded(uninstall, session)


def _remove(session: Session, paths: Sequence[Path]) -> None:
    for path in paths:
        if path.exists() or path.is_symlink():
            path.unlink(missing_ok=True)
            session.say(f"removed {path}")


def _uninstall_systemd(session: Session, home: Path | None, stop: bool, units: list[Unit]) -> int:
    hint = "is the systemd user manager running? `--no-start` only removes the files"
    for unit in units:
        if stop and session.run_all([systemctl("disable", "--now", unit.started)], hint) != OK:
            return 1
        files = unit_files("systemd", home, unit)
        # what `disable` removes; left behind by --no-start it would dangle
        wants = files[0].parent / f"{unit.wanted_by}.wants" / unit.started
        _remove(session, [*files, wants])
    if not stop:
        session.say(
            "not stopped (--no-start): what runs keeps running until `systemctl --user stop "
            f"{' '.join(u.started for u in units)}`"
        )
        return OK
    return session.run_all([systemctl("daemon-reload")], hint)


def _uninstall_launchd(session: Session, home: Path | None, stop: bool, units: list[Unit]) -> int:
    domain = launchd_domain()
    for unit in units:
        service = f"{domain}/{unit.launchd_label}"
        if stop and session.run(["launchctl", "bootout", service]) != 0:
            session.say("  (was not loaded; nothing to stop)")
        _remove(session, unit_files("launchd", home, unit))
    if not stop:
        session.say(
            "not stopped (--no-start): what is loaded keeps running until "
            + " and ".join(f"`launchctl bootout {domain}/{u.launchd_label}`" for u in units)
        )
    return OK
