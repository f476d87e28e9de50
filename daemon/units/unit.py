"""Service units: templates rendered, files written, systemd or launchd driven (shared parts)."""

from __future__ import annotations

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
from daemon.exits import FAILED, OK
from daemon.paths import APP_NAME
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
    "Session",
    "SubprocessRunner",
    "Unit",
    "check_placeholders",
    "detect_platform",
    "entry_point",
    "fill_plist",
    "guarded",
    "launchd_domain",
    "launchd_log_dir",
    "read_template",
    "render_launchd",
    "render_systemd",
    "render_unit",
    "render_unit_files",
    "resolve_platform",
    "run_command",
    "service_file",
    "systemctl",
    "systemd_word",
    "unit_files",
    "write_file",
]

Platform = Literal["systemd", "launchd"]

UNIT_NAME = "taskclf-daemon.service"
LAUNCHD_LABEL = "io.github.taskclf.daemon"
PLIST_NAME = f"{LAUNCHD_LABEL}.plist"
CONSOLE_SCRIPT = "taskclf-daemon"

_PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")
_EXEC_START = "@EXEC_START@"
_LOG_DIR = "@LOG_DIR@"
_TEMPLATE_DIRS: Mapping[Platform, str] = {"systemd": "systemd", "launchd": "launchd"}


@dataclass(frozen=True, slots=True)
class Unit:
    """One thing `service` installs: its systemd unit (and the timer that starts it, for a
    scheduled run), its launchd agent, the subcommand it runs, the flag that names it in
    `service install|show|uninstall`, and what it is, for people."""

    unit_name: str
    launchd_label: str
    command: str
    flag: str = ""
    what: str = ""
    timer: str | None = None  # a systemd .timer starts it (launchd: a calendar agent)

    @property
    def plist_name(self) -> str:
        return f"{self.launchd_label}.plist"

    def template_name(self, platform: Platform) -> str:
        return self.unit_name if platform == "systemd" else self.plist_name

    @property
    def started(self) -> str:
        """The systemd unit enabled and started: the timer of a scheduled run, else itself."""
        return self.timer or self.unit_name

    @property
    def wanted_by(self) -> str:
        """The target whose .wants/ directory `enable` links it into ([Install] WantedBy=)."""
        return "timers.target" if self.timer else "default.target"


DAEMON_UNIT = Unit(UNIT_NAME, LAUNCHD_LABEL, "run", "daemon", "the daemon")
# the ActivityWatch collector: its own unit, ordered after the daemon's (see README)
COLLECTOR_UNIT = Unit(
    "taskclf-collector.service",
    "io.github.taskclf.collector",
    "collect",
    "collector",
    "the ActivityWatch collector",
)
PERSONALIZE_TIMER = Unit(
    "taskclf-personalize.service",
    "io.github.taskclf.personalize",
    "personalize",
    "personalize-daily",
    "the daily personalize run (03:30)",
    timer="taskclf-personalize.timer",
)
RETRAIN_TIMER = Unit(
    "taskclf-retrain.service",
    "io.github.taskclf.retrain",
    "retrain",
    "retrain-weekly",
    "the retrain run (daily at 04:30; it retrains when a model is due)",
    timer="taskclf-retrain.timer",
)
# everything `service` installs, in the order it installs them (uninstall: the reverse)
UNITS: tuple[Unit, ...] = (DAEMON_UNIT, COLLECTOR_UNIT, PERSONALIZE_TIMER, RETRAIN_TIMER)


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


def unit_files(
    platform: Platform, home: Path | None = None, unit: Unit = DAEMON_UNIT
) -> list[Path]:
    """Every file ``install`` writes for ``unit``: the unit (and its timer) or the plist."""
    path = service_file(platform, home, unit)
    if platform == "systemd" and unit.timer is not None:
        return [path, path.parent / unit.timer]
    return [path]


def _template(platform: Platform, unit: Unit = DAEMON_UNIT) -> str:
    return read_template(unit.template_name(platform), platform)


def read_template(name: str, platform: Platform) -> str:
    """A template as shipped in the wheel (daemon/_templates), else the checkout's packaging/."""
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


def check_placeholders(text: str, expected: set[str], name: str) -> None:
    found = {f"@{m}@" for m in _PLACEHOLDER.findall(text)}
    if found != expected:
        raise ServiceError(
            f"service template {name} has placeholders {sorted(found)}, expected {sorted(expected)}"
        )


# --- rendering -------------------------------------------------------------------------


def _has_control_chars(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def systemd_word(word: str, *, executable: bool) -> str:
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
    check_placeholders(text, {_EXEC_START}, unit.unit_name)
    exec_start = " ".join(systemd_word(w, executable=i == 0) for i, w in enumerate(argv))
    return text.replace(_EXEC_START, exec_start)


def fill_plist(node: object, argv: Sequence[str], log_dir: str, name: str = PLIST_NAME) -> object:
    if isinstance(node, dict):
        return {key: fill_plist(value, argv, log_dir, name) for key, value in node.items()}
    if isinstance(node, list):
        filled: list[object] = []
        for item in node:
            if item == _EXEC_START:
                filled.extend(argv)
            else:
                filled.append(fill_plist(item, argv, log_dir, name))
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
    check_placeholders(text, {_EXEC_START, _LOG_DIR}, name)
    try:
        filled = fill_plist(plistlib.loads(text.encode("utf-8")), argv, logs, name)
        if not isinstance(filled, dict):
            raise ServiceError(f"service template {name} must hold a <dict>")
        # sort_keys=False keeps the template's order, which is the documented one
        return plistlib.dumps(filled, sort_keys=False).decode("utf-8")
    except (plistlib.InvalidFileException, ValueError, TypeError) as exc:
        raise ServiceError(f"cannot render {name}: {exc}") from exc


def render_unit(
    platform: Platform, home: Path | None, config: Path | None, unit: Unit = DAEMON_UNIT
) -> str:
    if platform == "systemd":
        return render_systemd(config=config, unit=unit)
    return render_launchd(log_dir=launchd_log_dir(home), config=config, unit=unit)


def render_unit_files(
    platform: Platform, home: Path | None, config: Path | None, unit: Unit = DAEMON_UNIT
) -> dict[Path, str]:
    """``{file: text}`` of every file ``install`` writes for ``unit`` (see :func:`unit_files`);
    a timer has no placeholder: it is written as shipped."""
    paths = unit_files(platform, home, unit)
    texts = [render_unit(platform, home, config, unit)]
    if len(paths) > 1 and unit.timer is not None:
        timer = read_template(unit.timer, platform)
        check_placeholders(timer, set(), unit.timer)
        texts.append(timer)
    return dict(zip(paths, texts, strict=True))


# --- install / uninstall ---------------------------------------------------------------


def resolve_platform(platform: Platform | None, err: TextIO) -> Platform | None:
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


def write_file(path: Path, content: str) -> Literal["created", "updated", "unchanged"]:
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


class Session:
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
        return FAILED

    def run(self, argv: Sequence[str]) -> int:
        self.say(f"running: {shlex.join(argv)}")
        return self.runner(argv)

    def run_all(self, commands: Sequence[Sequence[str]], hint: str) -> int:
        for argv in commands:
            rc = self.run(argv)
            if rc != 0:
                return self.fail(f"`{shlex.join(argv)}` failed with exit code {rc}; {hint}")
        return OK


def systemctl(*args: str) -> list[str]:
    return ["systemctl", "--user", *args]


def launchd_domain() -> str:
    return f"gui/{os.getuid()}"


def guarded(action: Callable[[], int], session: Session) -> int:
    try:
        return action()
    except ServiceError as exc:
        return session.fail(str(exc))
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        return session.fail(f"cannot update{where}: {exc.strerror or exc}")
