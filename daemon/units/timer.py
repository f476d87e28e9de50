"""The daily `personalize` run: a systemd user timer + service, or a launchd calendar agent."""

from __future__ import annotations

import plistlib
from collections.abc import Sequence
from pathlib import Path
from xml.parsers.expat import ExpatError

from daemon.units.unit import (
    Platform,
    Session,
    check_placeholders,
    fill_plist,
    launchd_domain,
    launchd_log_dir,
    read_template,
    run_command,
    service_file,
    systemctl,
    systemd_word,
    write_file,
)
from taskclf_core.errors import ServiceError

__all__ = [
    "TIMER_LABEL",
    "TIMER_PLIST",
    "TIMER_SERVICE",
    "TIMER_UNIT",
    "install_timer",
    "render_timer_launchd",
    "render_timer_systemd",
    "timer_files",
    "uninstall_timer",
]

TIMER_SERVICE = "taskclf-personalize.service"
TIMER_UNIT = "taskclf-personalize.timer"
TIMER_LABEL = "io.github.taskclf.personalize"
TIMER_PLIST = f"{TIMER_LABEL}.plist"


def render_timer_systemd(
    exec_argv: Sequence[str] | None = None, config: Path | None = None
) -> dict[str, str]:
    """``{file name: text}`` of the oneshot service running ``personalize`` and its timer."""
    argv = run_command(exec_argv, config, "personalize")
    if not argv:
        raise ServiceError("ExecStart= needs a program: exec_argv is empty")
    service = read_template(TIMER_SERVICE, "systemd")
    check_placeholders(service, {"@EXEC_START@"}, TIMER_SERVICE)
    exec_start = " ".join(systemd_word(w, executable=i == 0) for i, w in enumerate(argv))
    timer = read_template(TIMER_UNIT, "systemd")
    check_placeholders(timer, set(), TIMER_UNIT)
    return {TIMER_SERVICE: service.replace("@EXEC_START@", exec_start), TIMER_UNIT: timer}


def render_timer_launchd(
    exec_argv: Sequence[str] | None = None,
    log_dir: str | Path | None = None,
    config: Path | None = None,
) -> str:
    """The calendar agent's plist (``StartCalendarInterval``: daily at 03:30)."""
    argv = run_command(exec_argv, config, "personalize")
    if not argv or not Path(argv[0]).is_absolute():
        raise ServiceError(f"ProgramArguments needs an absolute program path, got {argv!r}")
    logs = str(log_dir) if log_dir is not None else str(launchd_log_dir())
    if not Path(logs).is_absolute():
        raise ServiceError(f"launchd needs an absolute log directory, got {logs!r}")
    text = read_template(TIMER_PLIST, "launchd")
    check_placeholders(text, {"@EXEC_START@", "@LOG_DIR@"}, TIMER_PLIST)
    try:
        filled = fill_plist(plistlib.loads(text.encode("utf-8")), argv, logs)
        if not isinstance(filled, dict):
            raise ServiceError(f"service template {TIMER_PLIST} must hold a <dict>")
        return plistlib.dumps(filled, sort_keys=False).decode("utf-8")
    except (plistlib.InvalidFileException, ExpatError, ValueError, TypeError) as exc:
        raise ServiceError(f"cannot render {TIMER_PLIST}: {exc}") from exc


def timer_files(platform: Platform, home: Path | None = None) -> list[Path]:
    """Where the timer's files go (beside the daemon's unit or agent)."""
    where = service_file(platform, home).parent
    if platform == "systemd":
        return [where / TIMER_SERVICE, where / TIMER_UNIT]
    return [where / TIMER_PLIST]


def render_timer(
    platform: Platform, home: Path | None = None, config: Path | None = None
) -> dict[Path, str]:
    paths = timer_files(platform, home)
    if platform == "systemd":
        texts = render_timer_systemd(config=config)
        return {p: texts[p.name] for p in paths}
    return {paths[0]: render_timer_launchd(log_dir=launchd_log_dir(home), config=config)}


def install_timer(
    session: Session,
    platform: Platform,
    start: bool,
    home: Path | None,
    config: Path | None = None,
) -> int:
    """Write the timer's files and (unless ``start`` is false) enable it; 0 or 1."""
    for path, text in render_timer(platform, home, config).items():
        session.say(f"{write_file(path, text)} {path}")
    if platform == "systemd":
        if not start:
            session.say(
                "not started (--no-start); to start the daily run: systemctl --user "
                f"daemon-reload && systemctl --user enable --now {TIMER_UNIT}"
            )
            return 0
        return session.run_all(
            [systemctl("daemon-reload"), systemctl("enable", "--now", TIMER_UNIT)],
            "is the systemd user manager running for this session?",
        )
    logs = launchd_log_dir(home)
    if not logs.is_dir():
        logs.mkdir(parents=True, exist_ok=True)
        session.say(f"created log directory {logs}")
    domain = launchd_domain()
    agent = f"{domain}/{TIMER_LABEL}"
    (path,) = timer_files(platform, home)
    if not start:
        session.say(
            f"not started (--no-start); to start the daily run: launchctl enable {agent} && "
            f"launchctl bootstrap {domain} {path}"
        )
        return 0
    if session.run(["launchctl", "bootout", agent]) != 0:
        session.say("  (was not loaded; nothing to stop)")
    return session.run_all(
        [["launchctl", "enable", agent], ["launchctl", "bootstrap", domain, str(path)]],
        f"see `launchctl print {agent}`",
    )


def uninstall_timer(session: Session, platform: Platform, stop: bool, home: Path | None) -> int:
    """Disable the daily run and remove its files; nothing to do (0) when it is not installed."""
    paths = [p for p in timer_files(platform, home) if p.exists() or p.is_symlink()]
    if not paths:
        return 0
    if stop:
        if platform == "systemd":
            rc = session.run_all(
                [systemctl("disable", "--now", TIMER_UNIT)],
                "is the systemd user manager running?",
            )
            if rc != 0:
                return rc
        elif session.run(["launchctl", "bootout", f"{launchd_domain()}/{TIMER_LABEL}"]) != 0:
            session.say("  (was not loaded; nothing to stop)")
    for path in paths:
        path.unlink(missing_ok=True)
        session.say(f"removed {path}")
    if platform == "systemd":
        wants = service_file(platform, home).parent / "timers.target.wants" / TIMER_UNIT
        if wants.is_symlink():  # what `disable` removes; --no-start must not leave it dangling
            wants.unlink()
            session.say(f"removed {wants}")
        if stop:
            return session.run_all([systemctl("daemon-reload")], "is the user manager running?")
    return 0
