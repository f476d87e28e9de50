"""Install, remove and show the per-user service: a systemd user unit or a launchd agent."""

from __future__ import annotations

import argparse
import importlib.resources
import os
import platform as pyplatform
import plistlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TextIO, get_args

from platformdirs.macos import MacOS

import daemon
from daemon.paths import APP_NAME
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
    "add_service_arguments",
    "detect_platform",
    "entry_point",
    "launchd_log_dir",
    "personalize_daily",
    "render_launchd",
    "render_systemd",
    "run_command",
    "run_service_command",
    "service_config",
    "service_file",
    "service_install",
    "service_show",
    "service_uninstall",
]

Platform = Literal["systemd", "launchd"]

UNIT_NAME = "taskclf-daemon.service"
LAUNCHD_LABEL = "io.github.taskclf.daemon"
PLIST_NAME = f"{LAUNCHD_LABEL}.plist"
CONSOLE_SCRIPT = "taskclf-daemon"

_EXIT_OK = 0
_EXIT_FAILED = 1
_EXIT_UNSUPPORTED = 2
_EXIT_BAD_INPUT = 2

_PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")
_EXEC_START = "@EXEC_START@"
_LOG_DIR = "@LOG_DIR@"
_TEMPLATE_DIRS: Mapping[Platform, str] = {"systemd": "systemd", "launchd": "launchd"}


@dataclass(frozen=True, slots=True)
class Unit:
    """One installable service: systemd unit name, launchd label, and the subcommand it runs."""

    unit_name: str
    launchd_label: str
    command: str

    @property
    def plist_name(self) -> str:
        return f"{self.launchd_label}.plist"

    def template_name(self, platform: Platform) -> str:
        return self.unit_name if platform == "systemd" else self.plist_name


DAEMON_UNIT = Unit(UNIT_NAME, LAUNCHD_LABEL, "run")
# the ActivityWatch collector: its own unit, ordered after the daemon's (see README)
COLLECTOR_UNIT = Unit("taskclf-collector.service", "io.github.taskclf.collector", "collect")


class Runner(Protocol):
    """Runs one service-manager command and returns its exit status."""

    def __call__(self, argv: Sequence[str]) -> int: ...


class SubprocessRunner:
    """The real :class:`Runner`: inherits stdio so systemctl/launchctl explain their own errors."""

    def __init__(self, err: TextIO | None = None) -> None:
        self._err = err

    def __call__(self, argv: Sequence[str]) -> int:
        try:
            return subprocess.run(list(argv), check=False).returncode
        except OSError as exc:
            err = self._err if self._err is not None else sys.stderr
            print(f"error: cannot run {argv[0]}: {exc.strerror or exc}", file=err)
            # what a shell reports for a command it cannot run
            return 127


# --- locating things -------------------------------------------------------------------


def entry_point() -> list[str]:
    """Absolute argv prefix that starts this installation's daemon (append ``run``)."""
    if not sys.executable:
        raise ServiceError("cannot locate the Python interpreter: sys.executable is empty")
    # abspath, not resolve(): a venv's python is a symlink to the base interpreter, and
    # following it would start the daemon outside the venv that has its dependencies
    python = Path(os.path.abspath(sys.executable))
    script = python.parent / CONSOLE_SCRIPT
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [str(python), "-m", "daemon"]


def detect_platform() -> Platform | None:
    """``"systemd"`` on Linux with systemctl on PATH, ``"launchd"`` on macOS, else ``None``."""
    system = pyplatform.system()
    if system == "Linux" and shutil.which("systemctl"):
        return "systemd"
    if system == "Darwin":
        return "launchd"
    return None


def launchd_log_dir(home: Path | None = None) -> Path:
    """``~/Library/Logs/taskclf``, where the agent's stdout and stderr go."""
    if home is not None:
        return home / "Library" / "Logs" / APP_NAME
    # the macOS class explicitly, so `show` and tests render the same file on any host
    return Path(MacOS(APP_NAME).user_log_dir)


def service_file(platform: Platform, home: Path | None = None, unit: Unit = DAEMON_UNIT) -> Path:
    """Where ``install`` writes the unit (systemd) or the agent plist (launchd)."""
    base = home if home is not None else Path.home()
    if platform == "systemd":
        xdg = os.environ.get("XDG_CONFIG_HOME", "")
        # the XDG spec says a relative value is invalid and must be ignored
        config = Path(xdg) if os.path.isabs(xdg) else base / ".config"
        return config / "systemd" / "user" / unit.unit_name
    return base / "Library" / "LaunchAgents" / unit.plist_name


def _template(platform: Platform, unit: Unit = DAEMON_UNIT) -> str:
    name = unit.template_name(platform)
    packaged = importlib.resources.files("daemon") / "_templates" / name
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    source = Path(daemon.__file__).parents[1] / "packaging" / _TEMPLATE_DIRS[platform] / name
    try:
        return source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ServiceError(
            f"service template {name} is missing: looked in the installed package "
            f"(daemon/_templates) and at {source} ({exc.strerror or exc})"
        ) from exc


def _check_placeholders(text: str, expected: set[str], name: str) -> None:
    found = {f"@{m}@" for m in _PLACEHOLDER.findall(text)}
    if found != expected:
        raise ServiceError(
            f"service template {name} has placeholders {sorted(found)}, expected {sorted(expected)}"
        )


# --- rendering -------------------------------------------------------------------------


def _has_control_chars(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _systemd_word(word: str, *, executable: bool) -> str:
    """Quote one ExecStart= word so systemd reads it back unchanged (systemd.syntax(7))."""
    if _has_control_chars(word):
        raise ServiceError(f"cannot put {word!r} in a systemd unit: it contains control characters")
    if executable:
        if not os.path.isabs(word):
            raise ServiceError(f"ExecStart= needs an absolute path, got {word!r}")
        # systemd refuses these in the program path however they are escaped
        if any(c in word for c in "\"'\\"):
            raise ServiceError(
                f"systemd cannot run a program whose path contains quotes or backslashes: "
                f"{word!r}; install taskclf-daemon under a path without them"
            )
        # the program path gets %-specifier expansion but no $VARIABLE expansion
        escaped = word.replace("%", "%%")
    else:
        escaped = (
            word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
        )
        if escaped == ";":
            # a lone ';' separates command lines, even when quoted
            return "\\;"
    if escaped == "" or any(c.isspace() or c in "\"'\\" for c in escaped):
        return f'"{escaped}"'
    return escaped


def run_command(
    exec_argv: Sequence[str] | None = None, config: Path | None = None, command: str = "run"
) -> list[str]:
    """``exec_argv`` (default :func:`entry_point`) + ``command`` [+ ``--config FILE``]."""
    argv = list(exec_argv) if exec_argv is not None else entry_point()
    if config is not None and not os.path.isabs(config):
        raise ServiceError(f"--config: the service needs an absolute path, got {str(config)!r}")
    return [*argv, command, *(["--config", os.fspath(config)] if config is not None else [])]


def render_systemd(
    exec_argv: Sequence[str] | None = None, *, config: Path | None = None, unit: Unit = DAEMON_UNIT
) -> str:
    """The user unit; ExecStart= runs ``exec_argv`` (default :func:`entry_point`) ``run``.

    With ``config``, the daemon is started with ``--config`` naming that (absolute) file.
    """
    if exec_argv is not None and not list(exec_argv):
        raise ServiceError("ExecStart= needs a program: exec_argv is empty")
    argv = run_command(exec_argv, config, unit.command)
    text = _template("systemd", unit)
    _check_placeholders(text, {_EXEC_START}, unit.unit_name)
    exec_start = " ".join(_systemd_word(w, executable=i == 0) for i, w in enumerate(argv))
    return text.replace(_EXEC_START, exec_start)


def _fill_plist(node: object, argv: Sequence[str], log_dir: str, name: str = PLIST_NAME) -> object:
    if isinstance(node, dict):
        return {key: _fill_plist(value, argv, log_dir, name) for key, value in node.items()}
    if isinstance(node, list):
        filled: list[object] = []
        for item in node:
            if item == _EXEC_START:
                filled.extend(argv)
            else:
                filled.append(_fill_plist(item, argv, log_dir, name))
        return filled
    if isinstance(node, str):
        if _EXEC_START in node:
            raise ServiceError(f"{name}: {_EXEC_START} must be a whole array element")
        return node.replace(_LOG_DIR, log_dir)
    return node


def render_launchd(
    exec_argv: Sequence[str] | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    *,
    config: Path | None = None,
    unit: Unit = DAEMON_UNIT,
) -> str:
    """The agent plist; ``log_dir`` (default :func:`launchd_log_dir`) must be absolute.

    ProgramArguments runs ``exec_argv`` (default :func:`entry_point`) ``run`` [``--config``].
    """
    if exec_argv is not None and not list(exec_argv):
        raise ServiceError(f"ProgramArguments needs an absolute program path, got {exec_argv!r}")
    argv = run_command(exec_argv, config, unit.command)
    if not os.path.isabs(argv[0]):
        raise ServiceError(f"ProgramArguments needs an absolute program path, got {argv!r}")
    logs = os.fspath(log_dir) if log_dir is not None else str(launchd_log_dir())
    if not os.path.isabs(logs):
        raise ServiceError(f"launchd needs an absolute log directory, got {logs!r}")
    name = unit.plist_name
    text = _template("launchd", unit)
    _check_placeholders(text, {_EXEC_START, _LOG_DIR}, name)
    try:
        filled = _fill_plist(plistlib.loads(text.encode("utf-8")), argv, logs, name)
        if not isinstance(filled, dict):
            raise ServiceError(f"service template {name} must hold a <dict>")
        # sort_keys=False keeps the template's order, which is the documented one
        return plistlib.dumps(filled, sort_keys=False).decode("utf-8")
    except (plistlib.InvalidFileException, ValueError, TypeError) as exc:
        raise ServiceError(f"cannot render {name}: {exc}") from exc


def _render(
    platform: Platform, home: Path | None, config: Path | None, unit: Unit = DAEMON_UNIT
) -> str:
    if platform == "systemd":
        return render_systemd(config=config, unit=unit)
    return render_launchd(log_dir=launchd_log_dir(home), config=config, unit=unit)


# --- install / uninstall ---------------------------------------------------------------


def _resolve_platform(platform: Platform | None, err: TextIO) -> Platform | None:
    if platform is not None:
        if platform not in get_args(Platform):
            raise ValueError(f"platform must be one of {get_args(Platform)}, got {platform!r}")
        return platform
    detected = detect_platform()
    if detected is None:
        print(
            f"error: no supported service manager on {pyplatform.system() or 'this system'}: "
            "`taskclf-daemon service` needs systemd (Linux, systemctl on PATH) or launchd (macOS)",
            file=err,
        )
    return detected


def _write_file(path: Path, content: str) -> Literal["created", "updated", "unchanged"]:
    data = content.encode("utf-8")
    try:
        # bytes: an existing file need not be valid UTF-8 to be replaced
        old: bytes | None = path.read_bytes()
    except FileNotFoundError:
        old = None
    if old == data:
        # still enforce the mode: launchd ignores agents that are group- or world-writable
        path.chmod(0o644)
        return "unchanged"
    path.parent.mkdir(parents=True, exist_ok=True)
    # write-then-rename so a crash never leaves the manager a half-written file
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return "created" if old is None else "updated"


class _Session:
    """Prints what is done, runs manager commands, and turns a failure into exit status 1."""

    def __init__(self, runner: Runner | None, out: TextIO | None, err: TextIO | None) -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.runner: Runner = runner if runner is not None else SubprocessRunner(self.err)

    def say(self, text: str) -> None:
        # flushed so our lines and the child's inherited-stdio output stay in order
        print(text, file=self.out, flush=True)

    def fail(self, text: str) -> int:
        print(f"error: {text}", file=self.err, flush=True)
        return _EXIT_FAILED

    def run(self, argv: Sequence[str]) -> int:
        self.say(f"running: {shlex.join(argv)}")
        return self.runner(argv)

    def run_all(self, commands: Sequence[Sequence[str]], hint: str) -> int:
        for argv in commands:
            rc = self.run(argv)
            if rc != 0:
                return self.fail(f"`{shlex.join(argv)}` failed with exit code {rc}; {hint}")
        return _EXIT_OK


def _systemctl(*args: str) -> list[str]:
    return ["systemctl", "--user", *args]


def _launchd_domain() -> str:
    return f"gui/{os.getuid()}"


def _guarded(action: Callable[[], int], session: _Session) -> int:
    try:
        return action()
    except ServiceError as exc:
        return session.fail(str(exc))
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        return session.fail(f"cannot update{where}: {exc.strerror or exc}")


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
    session = _Session(None, out, err)
    resolved = _resolve_platform(platform, session.err)
    if resolved is None:
        return _EXIT_UNSUPPORTED

    def show() -> int:
        session.out.write(_render(resolved, home, config, unit))
        session.out.flush()
        return _EXIT_OK

    return _guarded(show, session)


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
    session = _Session(runner, out, err)
    resolved = _resolve_platform(platform, session.err)
    if resolved is None:
        return _EXIT_UNSUPPORTED
    if resolved == "systemd":
        return _guarded(lambda: _install_systemd(session, start, home, config, unit), session)
    return _guarded(lambda: _install_launchd(session, start, home, config, unit), session)


def _fallback_note(session: _Session) -> None:
    argv = entry_point()
    if len(argv) > 1:
        session.say(
            f"note: no {CONSOLE_SCRIPT} script next to {argv[0]}; the service runs "
            f"`{shlex.join(argv)}`, which needs taskclf-daemon installed in that interpreter"
        )


def _config_note(session: _Session, config: Path | None) -> None:
    if config is not None:
        session.say(f"the service runs the daemon with --config {config}")


def _install_systemd(
    session: _Session, start: bool, home: Path | None, config: Path | None, unit: Unit
) -> int:
    unit_name = unit.unit_name
    path = service_file("systemd", home, unit)
    state = _write_file(path, render_systemd(config=config, unit=unit))
    session.say(f"{state} {path}")
    _config_note(session, config)
    _fallback_note(session)
    if not start:
        session.say(
            "not started (--no-start); to start it: systemctl --user daemon-reload && "
            f"systemctl --user enable --now {unit_name}"
        )
        return _EXIT_OK
    commands = [_systemctl("daemon-reload")]
    if state == "updated":
        commands += [_systemctl("enable", unit_name), _systemctl("restart", unit_name)]
    else:
        commands += [_systemctl("enable", "--now", unit_name)]
    return session.run_all(
        commands,
        "is the systemd user manager running for this session? `--no-start` only writes the unit",
    )


def _install_launchd(
    session: _Session, start: bool, home: Path | None, config: Path | None, unit: Unit
) -> int:
    label = unit.launchd_label
    path = service_file("launchd", home, unit)
    logs = launchd_log_dir(home)
    state = _write_file(path, render_launchd(log_dir=logs, config=config, unit=unit))
    session.say(f"{state} {path}")
    _config_note(session, config)
    if not logs.is_dir():
        # launchd does not create it, and an unopenable StandardOutPath fails the job (78)
        logs.mkdir(parents=True, exist_ok=True)
        session.say(f"created log directory {logs}")
    _fallback_note(session)
    domain = _launchd_domain()
    service = f"{domain}/{label}"
    if not start:
        session.say(
            f"not started (--no-start); to start it: launchctl enable {service} && "
            f"launchctl bootstrap {domain} {shlex.quote(str(path))}"
        )
        return _EXIT_OK
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
    session = _Session(runner, out, err)
    resolved = _resolve_platform(platform, session.err)
    if resolved is None:
        return _EXIT_UNSUPPORTED
    path = service_file(resolved, home, unit)
    if not path.exists() and not path.is_symlink():
        session.say(f"not installed: {path} does not exist; nothing to do")
        return _EXIT_OK
    if resolved == "systemd":
        return _guarded(lambda: _uninstall_systemd(session, path, stop, unit), session)
    return _guarded(lambda: _uninstall_launchd(session, path, stop, unit), session)


def _remove(session: _Session, path: Path) -> None:
    path.unlink(missing_ok=True)
    session.say(f"removed {path}")


def _uninstall_systemd(session: _Session, path: Path, stop: bool, unit: Unit) -> int:
    unit_name = unit.unit_name
    hint = "is the systemd user manager running? `--no-start` only removes the unit file"
    if stop:
        # the file stays when this fails, so a retry finds the service exactly as it was
        rc = session.run_all([_systemctl("disable", "--now", unit_name)], hint)
        if rc != _EXIT_OK:
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
        return _EXIT_OK
    return session.run_all([_systemctl("daemon-reload")], hint)


def _uninstall_launchd(session: _Session, path: Path, stop: bool, unit: Unit) -> int:
    service = f"{_launchd_domain()}/{unit.launchd_label}"
    if not stop:
        _remove(session, path)
        session.say(
            f"not stopped (--no-start): a daemon already loaded keeps running until "
            f"`launchctl bootout {service}`"
        )
        return _EXIT_OK
    if session.run(["launchctl", "bootout", service]) != 0:
        session.say("  (was not loaded; nothing to stop)")
    _remove(session, path)
    return _EXIT_OK


# --- CLI wiring ------------------------------------------------------------------------


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``action`` {install, uninstall, show} and ``--no-start`` to a ``service`` subparser."""
    parser.add_argument(
        "action",
        choices=("install", "uninstall", "show"),
        help="install: write the systemd user unit / launchd agent, enable and start it; "
        "uninstall: stop, disable and remove it; show: print the file install would write",
    )
    parser.add_argument(
        "--no-start",
        action="store_true",
        help="only write (install) or remove (uninstall) the file; run no systemctl/launchctl",
    )
    parser.add_argument(
        "--collector",
        action="store_true",
        help="act on the ActivityWatch collector's service (taskclf-daemon collect) instead "
        "of the daemon's; install both for labels from ActivityWatch",
    )
    parser.add_argument(
        "--personalize-daily",
        action="store_true",
        help="install (show): also a daily run of `personalize` (systemd timer / launchd "
        "calendar agent); uninstall always removes it",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="install/show: the config file the service runs with (default: the default "
        "config file, <user config dir>/taskclf/daemon.toml, when it exists)",
    )


def service_config(given: Path | None) -> Path | None:
    """The config file the service is started with: ``given``, else the default if it exists.

    Named explicitly in the unit so the service reads the file you checked, whatever
    environment (XDG_CONFIG_HOME) the service manager starts it in.
    """
    from daemon.paths import default_config_file

    if given is None:
        default = default_config_file()
        return Path(os.path.abspath(default)) if default.is_file() else None
    path = Path(os.path.abspath(os.path.expandvars(os.path.expanduser(given))))
    if not path.is_file():
        raise ServiceError(
            f"--config: {path} does not exist; write one with `taskclf-daemon init --config "
            f"{shlex.quote(str(path))}`"
        )
    return path


def run_service_command(args: argparse.Namespace) -> int:
    """Carry out a parsed ``service`` command; returns the process exit status."""
    action: str = args.action
    daily = bool(getattr(args, "personalize_daily", False))
    given: Path | None = getattr(args, "config", None)
    if action in ("install", "show"):
        try:
            config = service_config(given)
        except ServiceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return _EXIT_BAD_INPUT
        if getattr(args, "collector", False):
            # the collector's own unit only; the daemon's (and its daily timer) stay as they are
            if action == "install":
                return service_install(start=not args.no_start, config=config, unit=COLLECTOR_UNIT)
            return service_show(config=config, unit=COLLECTOR_UNIT)
        if action == "install":
            rc = service_install(start=not args.no_start, config=config)
            return personalize_daily("install", not args.no_start) if rc == 0 and daily else rc
        rc = service_show(config=config)
        return personalize_daily("show", False) if rc == 0 and daily else rc
    if action == "uninstall" and getattr(args, "collector", False):
        return service_uninstall(stop=not args.no_start, unit=COLLECTOR_UNIT)
    if action == "uninstall":
        rc = personalize_daily("uninstall", not args.no_start)
        return service_uninstall(stop=not args.no_start) if rc == 0 else rc
    raise ValueError(f"unknown service action {action!r}")


def personalize_daily(
    action: str,
    start: bool,
    *,
    platform: Platform | None = None,
    runner: Runner | None = None,
    home: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The daily `personalize` timer beside the service (daemon/commands/personalize_timer.py)."""
    from daemon.commands import personalize_timer as timer

    session = _Session(runner, out, err)
    resolved = _resolve_platform(platform, session.err)
    if resolved is None:
        return _EXIT_UNSUPPORTED
    if action == "install":
        return _guarded(lambda: timer.install_timer(session, resolved, start, home), session)
    if action == "uninstall":
        return _guarded(lambda: timer.uninstall_timer(session, resolved, start, home), session)

    def show() -> int:
        for path, text in timer.render_timer(resolved, home).items():
            session.out.write(f"\n# --- {path} ---\n{text}")
        session.out.flush()
        return _EXIT_OK

    return _guarded(show, session)
