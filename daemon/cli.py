"""`taskclf-daemon`: the command line (the only place that exits the process)."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from taskclf_core.errors import ConfigError, OperationalError, TaskclfError

if TYPE_CHECKING:
    from daemon.locate import Location
    from daemon.reporting.config import ReportSettings
    from daemon.settings import Settings

__all__ = ["EXIT_CODES", "exit_code_for", "main"]

EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3

# The one exit-code table, keyed by the error tree of taskclf_core.errors: the first class
# an error is an instance of decides. The environment failed us → 1; the input is wrong → 2.
EXIT_CODES: tuple[tuple[type[TaskclfError], int], ...] = (
    (OperationalError, EXIT_FATAL),
    (TaskclfError, EXIT_USAGE),
)

# what `status` and `reload` read to find the running daemon: the only settings they take
LOCATING_KEYS = ("data_dir", "spool_dir", "state_dir")  # = daemon.locate.LOCATING_KEYS


def exit_code_for(exc: TaskclfError) -> int:
    """The process exit status for an error (see :data:`EXIT_CODES`)."""
    return next(code for cls, code in EXIT_CODES if isinstance(exc, cls))


def _setting_flags(parser: argparse.ArgumentParser, keys: Iterable[str] | None = None) -> None:
    """One ``--key-name`` flag per setting, so flags override the file and environment."""
    from daemon.settings import Settings, flags

    group = parser.add_argument_group("settings (override the config file and TASKCLF_* vars)")
    wanted = set(keys) if keys is not None else None
    for name, info in Settings.model_fields.items():
        if wanted is not None and name not in wanted:
            continue
        choices = get_args(info.annotation) if get_origin(info.annotation) is Literal else None
        group.add_argument(
            *flags(name),
            dest=f"set_{name}",
            metavar=None if choices else name.upper(),
            choices=choices,
            default=None,
            help=info.description or "",
        )


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        key[4:]: value
        for key, value in vars(args).items()
        if key.startswith("set_") and value is not None
    }


def _settings(args: argparse.Namespace) -> Settings:
    from daemon.settings import load_settings

    return load_settings(args.config, _overrides(args))


def _quick_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """``status``/``reload``/``report`` parsed without building Settings (its flags need
    pydantic).

    A person types these, so they must answer in a blink; anything the quick parser does
    not know (``-h``, a typo, a setting flag the command does not read) goes to the full
    parser, which says so or takes it.
    """
    if not argv or argv[0] not in ("status", "reload", "report"):
        return None
    quick = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    quick.add_argument("--config", type=Path, default=None)
    if argv[0] == "report":
        from daemon.commands.report import add_report_arguments
        from daemon.reporting.config import REPORT_KEYS

        add_report_arguments(quick)
        keys: Sequence[str] = REPORT_KEYS
    else:
        keys = LOCATING_KEYS
    for key in keys:
        spellings = ("--model", "--model-dir") if key == "model_dir" else ()
        quick.add_argument(
            *(spellings or ("--" + key.replace("_", "-"),)), dest=f"set_{key}", default=None
        )
    if argv[0] == "status":
        quick.add_argument("--json", action="store_true")
    try:
        args, rest = quick.parse_known_args(argv[1:])
    except argparse.ArgumentError:
        return None
    if rest:
        return None
    args.command = argv[0]
    args.quick = True
    return args


def _locate(args: argparse.Namespace) -> Location:
    """Where the daemon of this configuration is; a bad key is reported, not fatal."""
    from daemon.locate import locate

    where, problems = locate(args.config, _overrides(args))
    for problem in problems:
        print(
            f"taskclf-daemon: warning: {problem} (ignored here; `run` refuses it)", file=sys.stderr
        )
    return where


def _report_settings(args: argparse.Namespace) -> Settings | ReportSettings:
    """The five keys `report` reads, without pydantic when the quick parser took the line
    and the configuration is plain; else the full Settings (and its refusals)."""
    if getattr(args, "quick", False):
        from daemon.reporting.config import quick_report_settings

        found = quick_report_settings(args.config, _overrides(args))
        if found is not None:
            return found
    return _settings(args)


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``command``, the arguments of the other commands that live in
    their own modules are left out (importing those modules costs ~70 ms of ``run``'s
    start-up: the collector's HTTP client, the report's and label's code). Every command is
    still listed, so ``--help`` and a misspelt command read as before."""
    import daemon

    def wanted(name: str) -> bool:
        return command is None or command == name

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="TOML settings file (default: <user config dir>/taskclf/daemon.toml)",
    )
    parser = argparse.ArgumentParser(
        prog="taskclf-daemon",
        description="Local, private, always-on task-type classification of feature windows.",
    )
    parser.add_argument(
        "--version", action="version", version=f"taskclf-daemon {daemon.package_version()}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run the daemon in the foreground")
    run.add_argument("--once", action="store_true", help="drain the spool backlog and exit")
    _setting_flags(run)

    status = sub.add_parser("status", parents=[common], help="what the running daemon is doing")
    status.add_argument("--json", action="store_true", help="machine-readable status")
    _setting_flags(status, LOCATING_KEYS)

    reload = sub.add_parser("reload", parents=[common], help="reload the calibrator store now")
    _setting_flags(reload, LOCATING_KEYS)

    init = sub.add_parser(
        "init",
        parents=[common],
        help="write a commented config file, create the spool, optionally install a model",
        description="Writes the config file (--config, default <user config dir>/taskclf/"
        "daemon.toml) listing every key with its default and meaning, and creates the spool. "
        "With --model, installs the bundle (and --store) under the data dir keeping their "
        "ids and makes them the inference policy in force.",
    )
    init.add_argument(
        "--model",
        "--model-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="a model bundle to install and use",
    )
    init.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="DIR",
        help="the calibrator store fitted for that bundle",
    )
    init.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="where the spool, label log, models and stores live (default: the user data dir)",
    )
    init.add_argument("--force", action="store_true", help="replace an existing config file")

    doctor = sub.add_parser(
        "doctor",
        parents=[common],
        help="check the setup, one line per check with the fix; exit 1 on a problem",
    )
    _setting_flags(doctor)

    demo = sub.add_parser("demo", help="the whole product end to end on generated data")
    demo.add_argument(
        "--dir", type=Path, default=None, help="work here and keep it (default: a temp dir)"
    )
    demo.add_argument("--quick", action="store_true", help="fewer windows (for tests)")

    train = sub.add_parser("train", help="train a LightGBM bundle from labelled JSONL windows")
    train.add_argument("--data", type=Path, nargs="+", required=True, metavar="FILE")
    train.add_argument("--out", type=Path, required=True, metavar="DIR")
    train.add_argument("--rounds", type=int, default=100, help="boosting rounds (default 100)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--holdout",
        type=float,
        default=0.2,
        help="latest fraction of windows held out for metrics.json (default 0.2)",
    )

    cal = sub.add_parser(
        "calibrate", parents=[common], help="fit a CalibratorStore and print the calibration report"
    )
    cal.add_argument("--model", "--model-dir", type=Path, required=True, metavar="DIR")
    cal.add_argument("--data", type=Path, nargs="+", required=True, metavar="FILE")
    cal.add_argument("--method", choices=("temperature", "isotonic"), default="temperature")
    cal.add_argument("--out", type=Path, required=True, metavar="DIR")
    cal.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="also write the report as JSON"
    )
    cal.add_argument("--min-windows", type=int, default=200)
    cal.add_argument("--min-days", type=int, default=3)
    cal.add_argument("--min-labels", type=int, default=3)
    cal.add_argument(
        "--holdout",
        type=float,
        default=0.2,
        help="latest fraction of each user's windows used to vet per-user calibrators",
    )
    cal.add_argument(
        "--opt-out-users",
        default=None,
        help="comma-separated users never given a per-user calibrator "
        "(default: opt_out_users from the config)",
    )

    check = sub.add_parser(
        "check-store",
        parents=[common],
        help="validate a CalibratorStore exactly as the daemon would",
    )
    check.add_argument("store", type=Path, metavar="DIR")
    check.add_argument(
        "--model",
        "--model-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="also check it matches this bundle (default: the configured model)",
    )

    cal.add_argument(
        "--deploy",
        action="store_true",
        help="also make --model with the new store the inference policy in force (policy_file)",
    )

    dep = sub.add_parser(
        "deploy",
        parents=[common],
        help="make a model (+ store, thresholds) the inference policy in force, live",
    )
    dep.add_argument(
        "--model", "--model-dir", type=Path, required=True, metavar="DIR", help="model bundle"
    )
    dep.add_argument("--store", type=Path, default=None, metavar="DIR", help="CalibratorStore")
    dep.add_argument(
        "--no-store", action="store_true", help="no calibration (the model's probabilities)"
    )
    dep.add_argument(
        "--reject-threshold",
        type=float,
        default=None,
        metavar="X",
        help="default: the threshold in force (0.55 if none)",
    )
    dep.add_argument(
        "--user-threshold",
        action="append",
        default=[],
        metavar="USER=X",
        help="a per-user reject threshold (repeat; default: those in force)",
    )
    sub.add_parser(
        "rollback",
        parents=[common],
        help="restore the inference policy in force before the last deploy, live",
    )

    label = sub.add_parser("label", help="your own labelled time spans (for personalize)")
    if wanted("label"):
        from daemon.commands.label import add_label_arguments

        # --config (and TASKCLF_* variables) only: forty setting flags would bury the actions
        add_label_arguments(label, [common])

    personalize = sub.add_parser(
        "personalize",
        parents=[common],
        help="fit per-user calibrators from your spans and the label log; ship them live",
    )
    if wanted("personalize"):
        from daemon.commands.personalize import add_personalize_arguments

        add_personalize_arguments(personalize)
        _setting_flags(personalize)

    report = sub.add_parser(
        "report", parents=[common], help="time per label from the label log (text, JSON, a page)"
    )
    if wanted("report"):
        from daemon.commands.report import add_report_arguments

        add_report_arguments(report)
        _setting_flags(report)

    collect = sub.add_parser(
        "collect", parents=[common], help="ActivityWatch → feature windows into the spool"
    )
    if wanted("collect"):
        from daemon.commands.collect import add_collect_arguments

        add_collect_arguments(collect)
        _setting_flags(collect)

    service = sub.add_parser("service", help="install/uninstall/show the login service")
    if wanted("service"):
        from daemon.commands.service import add_service_arguments

        add_service_arguments(service)
    return parser


def _nothing_configured(args: argparse.Namespace, settings: Settings) -> str | None:
    """The first-run message when there is no model to run at all, else None."""
    if settings.policy_file is not None or settings.model_dir is not None:
        return None
    if settings.model_path.exists():
        return None
    from daemon.commands.init import next_steps_without_model
    from daemon.settings import config_file_path

    config = config_file_path(args.config)
    found = "sets neither policy_file nor model_dir" if config.exists() else "does not exist"
    return (
        f"no model to run: the config file {config} {found}, and there is no model bundle "
        f"at {settings.model_path} (where model_dir points by default).\n"
        + next_steps_without_model(config)
    )


def _cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    unconfigured = _nothing_configured(args, settings)
    if unconfigured is not None:
        raise ConfigError(unconfigured)
    # before LightGBM's OpenMP runtime loads: idle worker threads must sleep, not spin
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from daemon.logs import configure_logging
    from daemon.runtime.runtime import Daemon

    configure_logging(settings.log_level, fmt=settings.log_format)
    # another daemon on this spool or label log: AlreadyRunning, exit 1 by EXIT_CODES
    return Daemon(settings, once=args.once).run()


def _running_pid(lock: Path) -> int | None:
    from daemon.runtime.lock import running_pid

    try:
        return running_pid(lock)
    except OSError as exc:  # not ours to read: saying "not running" could be false
        raise OperationalError(
            f"cannot read the lock {lock} ({exc.strerror or exc}); run this as the user the "
            "daemon runs as"
        ) from exc


def _cmd_status(args: argparse.Namespace) -> int:
    from daemon.runtime.status import evaluate, format_status, read_status

    where = _locate(args)
    code, doc = evaluate(read_status(where.status_path), _running_pid(where.lock_path))
    if not doc["running"]:
        # say where we looked: another config (or XDG_DATA_HOME) means another spool
        doc["lock"] = str(where.lock_path)
        # this spool has no daemon; its label log may still be another spool's daemon's
        holder = _running_pid(where.labels_lock_path)
        if holder is not None:
            doc["label_log_held_by"] = {"pid": holder, "label_log": str(where.labels)}
    # the processes beside the daemon: the collector and the daily personalize run
    from daemon.collector.status import format_collector_status, read_collector_status
    from daemon.commands.personalize import describe_last, read_last

    collector = read_collector_status(where.data_dir)
    personalize = read_last(where.data_dir)
    doc["collector"] = collector
    doc["personalize"] = personalize
    if args.json:
        print(json.dumps(doc, indent=2))
        return code
    lines = [format_status(doc, code)]
    if collector is not None:
        lines.append(format_collector_status(collector))
    if personalize is not None:
        lines.append(describe_last(personalize))
    print("\n".join(lines))
    return code


def _cmd_reload(args: argparse.Namespace) -> int:
    pid = _running_pid(_locate(args).lock_path)
    if pid is None or pid <= 0:
        print("taskclf-daemon: not running", file=sys.stderr)
        return EXIT_NOT_RUNNING
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        print("taskclf-daemon: not running", file=sys.stderr)
        return EXIT_NOT_RUNNING
    print(f"reload requested (pid {pid}); see `taskclf-daemon status` for the result")
    return EXIT_OK


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
        return code or EXIT_FATAL
    return code


def _main(argv: Sequence[str] | None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments == ["--version"]:
        # a person types it: answer without building the parser (which imports pydantic)
        import daemon

        print(f"taskclf-daemon {daemon.package_version()}")
        return EXIT_OK
    # the command is the first word (global options are only --version and --help)
    command = arguments[0] if arguments and not arguments[0].startswith("-") else None
    args = _quick_args(arguments) or _parser(command).parse_args(arguments)
    try:
        return _dispatch(args)
    except TaskclfError as exc:
        # bad model, store, taxonomy, config or input data (2), or the environment (1)
        print(f"taskclf-daemon: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except OSError as exc:
        # the environment failed a command (a full disk, a read-only or missing directory, a
        # file where a directory should be): name the file and the cause, exit 1, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"taskclf-daemon: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FATAL
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "status":
        return _cmd_status(args)
    if args.command == "reload":
        return _cmd_reload(args)
    if args.command == "report":
        from daemon.commands import report

        return report.run(args, _report_settings(args))
    if args.command == "collect":
        from daemon.commands.collect import run_collect

        return run_collect(args, _settings(args))
    if args.command == "service":
        from daemon.commands.service import run_service_command

        return run_service_command(args)
    if args.command == "init":
        from daemon.commands.init import run_init

        return run_init(args)
    # before LightGBM's OpenMP runtime loads: idle worker threads must sleep, not spin
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.command == "doctor":
        from daemon.commands.doctor import run_doctor

        return run_doctor(args, _overrides(args))
    if args.command == "check-store":
        from daemon.commands.calibrate import run_check

        return run_check(args)
    if args.command == "train":
        from daemon.commands import train

        return train.run(args)
    if args.command == "calibrate":
        from daemon.commands import calibrate

        return calibrate.run(args)
    if args.command in ("deploy", "rollback"):
        from daemon.commands import deploy

        return deploy.run_deploy(args) if args.command == "deploy" else deploy.run_rollback(args)
    if args.command == "label":
        from daemon.commands import label

        return label.run(args, _settings(args))
    if args.command == "personalize":
        from daemon.commands import personalize

        return personalize.run(args, _settings(args))
    if args.command == "demo":
        from daemon.commands.demo import run_demo

        return run_demo(args.dir, quick=args.quick)
    raise ConfigError(f"unknown command {args.command!r}")
