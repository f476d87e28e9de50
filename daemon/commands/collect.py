"""`taskclf-daemon collect`: ActivityWatch → feature windows in the spool (docs/collector.md)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.collector.client import AWClient, check_loopback_url
from daemon.collector.collector import Collector, CollectorLock, collector_lock
from daemon.collector.cursor import read_cursor
from daemon.collector.identity import Identity, load_identity, model_schema_version
from daemon.collector.source import ExportSource, RestSource
from daemon.collector.status import format_collector_status, read_collector_status, status_path
from daemon.config.flags import setting_overrides
from daemon.exits import FAILED, OK
from daemon.localtz import LocalClock
from daemon.logs import configure_lines, get_logger
from daemon.paths import collector_cursor_file, collector_labels_file, report_cache_dir
from taskclf_core.activity import DAY_US, MINUTE_US, RowSpec, day_start_us, floor_minute, format_us
from taskclf_core.errors import ConfigError, UnreachableError

if TYPE_CHECKING:
    from daemon.collector.awlabels import LabelWriter
    from daemon.config.settings import Settings
    from daemon.config.subsets import CollectSettings

    # the keys `collect` reads without pydantic, or (a configuration they do not judge) all
    AnySettings = Settings | CollectSettings

__all__ = ["add_arguments", "add_collect_arguments", "run", "run_collect"]
_log = get_logger("taskclf.collector")


def add_collect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--once", action="store_true", help="emit every final minute in [--from, --to) and exit"
    )
    parser.add_argument(
        "--export",
        metavar="FILE",
        default=None,
        help="back-fill from an ActivityWatch export file instead of the server (implies --once)",
    )
    parser.add_argument(
        "--from",
        dest="from_ts",
        metavar="TIME",
        default=None,
        help='first minute, local time: "08:00", "yesterday 08:00", "2026-03-02", '
        '"2026-03-02T08:00", or with an offset ("...Z"); default: the cursor, else today '
        "00:00 UTC (the collector's days are UTC days); with --export: the export's first day",
    )
    parser.add_argument(
        "--to",
        dest="to_ts",
        metavar="TIME",
        default=None,
        help="end, exclusive, local time as --from (default: what is final now; needs --once "
        "or --export)",
    )
    parser.add_argument(
        "--status", action="store_true", help="print the collector's status file and exit"
    )


def _parse_ts(value: str, flag: str, clock: LocalClock) -> int:
    """A typed time as POSIX µs: local unless it has an offset, as every command reads one."""
    return (clock.when(value, flag) - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _span(args: argparse.Namespace) -> tuple[int | None, int | None]:
    """``--from`` and ``--to`` (µs, None when not given); an empty range is refused."""
    clock = LocalClock()
    from_us = None if args.from_ts is None else _parse_ts(args.from_ts, "--from", clock)
    end_us = None if args.to_ts is None else _parse_ts(args.to_ts, "--to", clock)
    if from_us is not None and end_us is not None and end_us <= from_us:
        raise ConfigError(
            f"--from/--to: expected --to after --from, got --from {args.from_ts} "
            f"and --to {args.to_ts}"
        )
    return from_us, end_us


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for signum in previous:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def run_collect(args: argparse.Namespace, settings: AnySettings) -> int:
    """The whole command; returns the exit status (0, 1 ActivityWatch unreachable, 2 config)."""
    if args.status:
        print(format_collector_status(read_collector_status(settings.data_dir)))
        return OK
    configure_lines(settings.log_level, fmt=settings.log_format)
    once = bool(args.once or args.export)
    if args.to_ts is not None and not once:
        raise ConfigError("--to: needs --once or --export (a live collector has no end)")
    span = _span(args)
    identity = load_identity(settings)
    version = model_schema_version(settings)
    spec = RowSpec(
        user_id=identity.user_id,
        schema_version=version,
        idle_gap_seconds=300.0,  # taskclf's feature sessions, not the daemon's smoothing gap
    )
    cursor_path = collector_cursor_file(settings.data_dir)
    mode = "export" if args.export else ("once" if once else "live")
    stop = threading.Event()  # SIGTERM sets it: it ends the wait between polls and any request
    waits = _stop_on_signals(stop) if mode == "live" else contextlib.nullcontext()
    with waits, _turn(settings.collector_dir, mode, stop) as owner:
        if owner is None:
            return OK  # stopped while waiting for a one-off run to finish
        return _collect(args, settings, identity, spec, cursor_path, span, stop, owner=owner)


@contextmanager
def _turn(directory: Path, mode: str, stop: threading.Event) -> Iterator[bool | None]:
    """Whose the cursor, the status file and the label bucket are (docs/collector.md, "Beside
    a running collector"): True, this run holds the collector lock; False, a one-off run
    (``--once``, ``--export``) beside the collector that holds it, which writes windows
    only; None, a live collector stopped while it waited for a one-off run to finish. A
    second live collector is refused (CollectorLock, exit 1): two would race on the cursor."""
    waited = unknown = 0
    while True:
        with collector_lock(directory, mode) as holder:
            if holder is None:
                yield True
                return
            if mode != "live":
                _log.info(
                    "collector_beside",
                    holder_pid=holder.pid,
                    holder_mode=holder.mode,
                    note="a back-fill beside a running collector: it writes windows; the "
                    "cursor, the status file and the labels in ActivityWatch stay the running "
                    "collector's",
                )
                yield False
                return
            unknown = unknown + 1 if holder.mode == "?" else 0
            if holder.mode == "live" or unknown > 5:  # "?" for long: an older version's lock
                raise CollectorLock(
                    f"another collector (pid {holder.pid}) is running for {directory}: one "
                    "live collector per data dir (it owns the cursor); a back-fill runs beside "
                    "it: taskclf-daemon collect --once --from TIME --to TIME"
                )
            if not waited:
                _log.info(
                    "collector_waiting",
                    holder_pid=holder.pid,
                    holder_mode=holder.mode,
                    note="a one-off run holds the cursor; polling starts when it ends",
                )
            waited += 1
        if stop.wait(0.2 if unknown else 1.0):
            yield None
            return


def _collect(
    args: argparse.Namespace,
    settings: AnySettings,
    identity: Identity,
    spec: RowSpec,
    cursor_path: Path,
    span: tuple[int | None, int | None],
    stop: threading.Event,
    *,
    owner: bool,
) -> int:
    once = bool(args.once or args.export)
    sketches = spec.schema_version == "v3"
    version = spec.schema_version
    source: ExportSource | RestSource
    # aw_write_labels: not by an export (it reads no server), nor beside the owner (its job)
    labels: LabelWriter | None = None
    if args.export:
        source = ExportSource.load(
            _export_path(args.export),
            hostname=settings.aw_hostname,
            salt=identity.salt,
            sketches=sketches,
        )
    else:
        check_loopback_url(settings.aw_url)
        client = AWClient(settings.aw_url, stop=stop, api_key=settings.aw_api_key)
        source = RestSource(
            client=client,
            hostname=settings.aw_hostname,
            salt=identity.salt,
            sketches=sketches,
        )
        if settings.aw_write_labels and owner:  # beside a running collector: its to write
            labels = _label_writer(settings, client, identity.user_id)
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000)
    from_us, end_us = span
    position, began = _start(from_us, settings, source, cursor_path, identity.user_id, now_us)
    to_us = None
    if end_us is not None:
        to_us = -(-end_us // MINUTE_US) * MINUTE_US  # a minute that starts before --to is in
    elif isinstance(source, ExportSource):
        to_us = _export_end(source, now_us)
    # else: up to what is final by ActivityWatch's clock (--once: the system clock's too, for
    # the newest event's minute only; never "now" by the system clock)
    if end_us is not None and to_us is not None and to_us <= position:
        start, hint = {
            "cursor": (
                "the cursor",
                "the minutes before it were collected already; to collect them again, give "
                "both ends (--once --from TIME --to TIME)",
            ),
            "export": ("the export's first day", "the export has no events before it"),
            "today": ("today: no cursor yet", "for earlier minutes give --from too"),
        }.get(began, (began, "give a --to after it"))
        print(
            f"taskclf-daemon: nothing to collect: --to {format_us(to_us)} is not after "
            f"{format_us(position)}, where collecting starts ({start}): {hint}",
            file=sys.stderr,
        )
        return OK
    collector = Collector(
        source=source,
        spec=spec,
        spool=settings.spool_path,
        cursor_path=cursor_path,
        status_path=status_path(settings),
        hostname=settings.aw_hostname,
        position=position,
        settle_us=int(settings.collect_settle_seconds * 1_000_000),
        mode="export" if args.export else ("once" if once else "live"),
        to_us=to_us,
        cursor_default_us=day_start_us(now_us),
        owner=owner,
        labels=labels,
    )
    _log.info(
        "collector_started",
        source=source.description,
        aw_hostname=settings.aw_hostname,
        user_id=identity.user_id,
        schema_version=version,
        salt_file=str(identity.salt_path),
        start=format_us(position),
        mode=collector.mode,
    )
    try:
        if once:
            try:
                written = collector.step()
            except UnreachableError as exc:
                collector.record_error(str(exc))
                print(f"taskclf-daemon: {exc}", file=sys.stderr)
                return FAILED
            # where this run ended, and the cursor (the live collector's beside one; unmoved
            # by a back-fill that did not reach it): what the next run starts from
            cursor = read_cursor(cursor_path)
            _log.info(
                "collector_finished",
                windows=written,
                until=format_us(collector.position),
                cursor=format_us(cursor.next_us) if cursor is not None else None,
            )
            if collector.labels_error is not None:
                print(
                    f"taskclf-daemon: the windows were written, the labels not: "
                    f"{collector.labels_error}",
                    file=sys.stderr,
                )
                return FAILED
            return OK
        with _stop_on_signals(stop):
            collector.run(stop, settings.collect_interval_seconds)
        _log.info("collector_stopped", windows=collector.windows_emitted)
        return OK
    finally:
        collector.stopped()


def _label_writer(settings: AnySettings, client: AWClient, user_id: str) -> LabelWriter:
    """aw_write_labels: the report's segments of ``user_id`` into ActivityWatch (imported only
    then: the report's day model is not in the memory of a collector that does not write)."""
    from daemon.collector.awlabels import LabelWriter
    from daemon.collector.segments import ReportSegments
    from daemon.localtz import local_timezone

    segments = ReportSegments(
        settings.labels_path,
        local_timezone(),
        cache_dir=report_cache_dir(settings.data_dir),
        idle_gap=settings.idle_gap_seconds,
    )
    return LabelWriter(
        client=client,
        hostname=settings.aw_hostname,
        user_id=user_id,
        segments=segments,
        state_path=collector_labels_file(settings.data_dir),
    )


def _export_path(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"--export: {path} is not a file")
    return path


def _export_end(source: ExportSource, now_us: int) -> int:
    """Where an export's back-fill stops by default: the end of its last day when that day is
    over, else before its last minute (the export may have caught that event still growing;
    the live collector or a later export emits it)."""
    last = source.last_us()
    if last is None:
        return day_start_us(now_us)
    if day_start_us(last) < day_start_us(now_us):
        return day_start_us(last) + DAY_US
    return floor_minute(last)


def _start(
    from_us: int | None,
    settings: AnySettings,
    source: ExportSource | RestSource,
    cursor_path: Path,
    user_id: str,
    now_us: int,
) -> tuple[int, str]:
    """Where emission starts: --from, else the cursor, else today (export: its first day);
    and which of those it is ("from", "export", "cursor", "today")."""
    if from_us is not None:
        return floor_minute(from_us), "from"
    if isinstance(source, ExportSource):
        first = source.first_us()
        return (
            (day_start_us(first), "export")
            if first is not None
            else (day_start_us(now_us), "today")
        )
    cursor = read_cursor(cursor_path)
    if cursor is not None:
        if cursor.user_id == user_id and cursor.hostname == settings.aw_hostname:
            return cursor.next_us, "cursor"
        _log.warning(
            "cursor_ignored",
            reason="the cursor was written for another user id or host",
            cursor_user_id=cursor.user_id,
            cursor_aw_hostname=cursor.hostname,
        )
    return day_start_us(now_us), "today"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_collect_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """The collector's keys without pydantic when the configuration is plain (it runs all day:
    memory); else the full Settings, which refuse what is wrong with it."""
    from daemon.config.subsets import collect_settings

    flags = setting_overrides(args)
    settings: AnySettings | None = collect_settings(args.config, flags)
    if settings is None:
        from daemon.config.settings import load_settings

        settings = load_settings(args.config, flags)
    return run_collect(args, settings)
