"""`taskclf-daemon`: parse, run the typed command's module, map what it raises to an exit status."""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from daemon.commands import COMMANDS
from daemon.exits import FAILED, INTERRUPTED, OK, exit_code_for
from taskclf_core.errors import TaskclfError

__all__ = ["main"]

_ENTRIES = {c.name: c for c in COMMANDS}
_MODULES = {c.name: c.module for c in COMMANDS}


class _Version(argparse.Action):
    """``--version``, looked up only when asked for: the package metadata costs ~20 ms of
    imports that `status` and `report` must not pay."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        import daemon

        parser.exit(message=f"taskclf-daemon {daemon.package_version()}\n")


class _Parser(argparse.ArgumentParser):
    """A parser whose every argument error is one line naming the command, then the way to
    its help, exit 2: argparse's own error prints the whole usage first (thirty lines for
    `report`), and an argument a subcommand does not know was blamed on the top-level one."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\nhint: run '{self.prog} --help'\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self.prog != _PROG:
            # a command's (or a label action's) parser: the words are its own to refuse
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


_PROG = "taskclf-daemon"


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``command`` alone, its module imported to add its arguments (a module's
    imports, and each subparser argparse builds, are start-up that `status` would pay); every
    command, none of them imported, when ``command`` is none of them (``--help``, a typo)."""
    parser = _Parser(
        prog=_PROG,
        description="Local, private, always-on task-type classification of feature windows.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for entry in COMMANDS if command not in _MODULES else [_ENTRIES[command]]:
        made = sub.add_parser(entry.name, help=entry.help, description=entry.help)
        if entry.name != command:
            continue
        from daemon.config.flags import add_config_flag, add_setting_flags
        from daemon.config.keys import FLAG_COMMANDS

        if entry.config and not entry.actions:
            add_config_flag(made)
        importlib.import_module(entry.module).add_arguments(made)
        if entry.name in FLAG_COMMANDS and not entry.actions:
            add_setting_flags(made, entry.name)
    return parser


class _Stdout(io.RawIOBase):
    """Standard output's descriptor, where a reader that went away is not an error.

    ``status --json | head -c 10`` closes the pipe early: the Python docs' SIGPIPE recipe
    points stdout at /dev/null on the first EPIPE, and the command carries on to its own
    exit status instead of dying with "Broken pipe". Any other failure (a full disk under
    ``> file``) goes the same way, but is kept for :func:`main` to report once.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self.error: OSError | None = None

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: Any) -> int:
        view = memoryview(data)
        try:
            return os.write(self._fd, view)
        except OSError as exc:
            if not isinstance(exc, BrokenPipeError) and self.error is None:
                self.error = exc
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._fd)
            os.close(devnull)
            return len(view)


@contextmanager
def _own_stdout() -> Iterator[_Stdout | None]:
    """The process's own stdout over :class:`_Stdout` for the command's run (not a stream a
    test put there: then None), flushed and put back after it."""
    real = sys.stdout
    ours = real is sys.__stdout__  # a test's capture is left alone
    if real is None or not ours:
        yield None
        return
    try:
        fd = real.fileno()
        real.flush()
    except (OSError, ValueError):  # no descriptor, or already closed
        yield None
        return
    raw = _Stdout(fd)
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=real.encoding,
        errors=real.errors,
        line_buffering=bool(getattr(real, "line_buffering", False)),
    )
    try:
        yield raw
    finally:
        sys.stdout.flush()  # cannot fail: _Stdout takes every write
        sys.stdout = real


def main(argv: Sequence[str] | None = None) -> int:
    with _own_stdout() as stdout:
        code = _main(argv)
        sys.stdout.flush()
    if stdout is not None and stdout.error is not None:
        # the command ran, but what it said is lost: the environment failed (exit 1)
        error = stdout.error
        print(f"taskclf-daemon: standard output: {error.strerror or error}", file=sys.stderr)
        return code or FAILED
    return code


def _main(argv: Sequence[str] | None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments == ["--version"]:
        # a person types it: answer without building the parser
        import daemon

        print(f"taskclf-daemon {daemon.package_version()}")
        return OK
    # the command is the first word (global options are only --version and --help)
    command = arguments[0] if arguments and not arguments[0].startswith("-") else None
    entry = _ENTRIES.get(command or "")
    option = arguments[1] if entry is not None and entry.actions and arguments[1:] else ""
    if option.startswith("-") and option not in ("-h", "--help"):
        # `label --config F list` would take F for the action
        _Parser(prog=f"{_PROG} {command}").error(
            f"{option}: options go after the action, e.g. `{_PROG} {command} list {option} ...`"
        )
    args = _parser(command).parse_args(arguments)
    # before LightGBM's OpenMP runtime loads: idle worker threads must sleep, not spin
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        module = importlib.import_module(_MODULES[args.command])
        code: int = module.run(args)
        return code
    except TaskclfError as exc:
        # bad model, store, taxonomy, config or input data (2), or the environment (1)
        print(f"taskclf-daemon: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except OSError as exc:
        # the environment failed a command (a full disk, a read-only or missing directory, a
        # file where a directory should be): name the file and the cause, exit 1, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"taskclf-daemon: {where}{exc.strerror or exc}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        return INTERRUPTED
