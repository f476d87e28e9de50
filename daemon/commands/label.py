"""`taskclf-daemon label`: your own labelled time (add, list, remove, import, export, suggest)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.config.flags import add_config_flag, add_setting_flags, setting_overrides
from daemon.localtz import LocalClock
from daemon.paths import spans_file
from daemon.spanfile import load_spans, locked, save_spans
from taskclf_core.errors import SpanError
from taskclf_core.words import plural

if TYPE_CHECKING:
    from daemon.config.settings import Settings
    from taskclf_core.spans import LabelSpan
    from taskclf_core.suggest import UncertainRun

__all__ = ["add_arguments", "check_ended", "run"]

_OPEN_SPAN = "open 'label from now' span"


# --- commands ----------------------------------------------------------------------------


def _range(args: argparse.Namespace, clock: LocalClock) -> tuple[datetime | None, datetime | None]:
    start = clock.when(args.start, "--from") if args.start is not None else None
    end = clock.when(args.end, "--to") if args.end is not None else None
    if start is not None and end is not None and end <= start:
        raise SpanError(
            f"--to: {args.end!r} ({clock.show(end)}) is not after --from {args.start!r} "
            f"({clock.show(start)})"
        )
    return start, end


def check_ended(start: datetime, end: datetime, texts: tuple[str, str], clock: LocalClock) -> None:
    """Refuse a span that ends after now, saying what ``texts`` (--from, --to) resolved to.

    "23:00" is today's 23:00: typed at 00:55 for last night, it is a span 22 hours ahead,
    which labels no window and would label the evening's windows once they exist. Refused
    rather than asked about, so a script gets the same answer as a person; the message says
    how to name yesterday.
    """
    if end <= clock.now:
        return
    from taskclf_core.wallclock import yesterday_form, zone_name

    ahead = round((end - clock.now).total_seconds() / 60)
    hours, minutes = divmod(ahead, 60)
    lead = f"{hours} h {minutes} min" if hours else f"{max(minutes, 1)} min"
    said = (
        f"--from {texts[0]!r} --to {texts[1]!r} is {clock.show(start)} – {clock.show(end)} "
        f"{zone_name(clock.tz)}, which ends {lead} from now "
        f"({clock.show(clock.now.replace(second=0, microsecond=0))}): only "
        "time that is over can be labelled"
    )
    before = [yesterday_form(t) for t in texts]
    if start > clock.now and before[0] and before[1]:
        fix = f"; for yesterday's: --from {before[0]!r} --to {before[1]!r}"
    else:
        fix = "; give times up to now (`--to now` is one)"
    raise SpanError(said + fix)


def _span_range(args: argparse.Namespace, clock: LocalClock) -> tuple[datetime, datetime]:
    """--from and --to, both required here."""
    start, end = _range(args, clock)
    if start is None or end is None:
        raise SpanError("--from and --to: both are needed to name a span")
    return start, end


def _minutes(span: LabelSpan) -> float:
    return (span.end_ts - span.start_ts).total_seconds() / 60.0


def _line(span: LabelSpan, clock: LocalClock) -> str:
    who = span.user_id if span.user_id is not None else "(any user)"
    return (
        f"{span.id}  {clock.show(span.start_ts):<19} {clock.show(span.end_ts):<19} "
        f"{_minutes(span):>7.1f}  {span.label:<12} {who:<16} {span.provenance}"
    )


def _header(clock: LocalClock) -> str:
    from taskclf_core.wallclock import zone_name

    return (
        f"{'id':<10}  {'from (' + zone_name(clock.tz) + ')':<19} {'to':<19} {'minutes':>7}  "
        f"{'label':<12} {'user':<16} provenance"
    )


def _cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.collector.identity import default_user
    from daemon.spanfile import add_span
    from taskclf_core.labels import CORE_LABELS
    from taskclf_core.spans import LabelSpan

    if args.label not in CORE_LABELS:
        raise SpanError(f"LABEL: {args.label!r} is not a core label ({', '.join(CORE_LABELS)})")
    clock = LocalClock()
    start, end = _span_range(args, clock)
    check_ended(start, end, (args.start, args.end), clock)
    if args.user is not None:
        user, source = args.user, "--user"
    else:
        user, source = default_user(settings)
    confidence = args.confidence
    span = LabelSpan(start, end, args.label, args.provenance, user, confidence)
    try:
        added = add_span(spans_file(settings.data_dir), span)
    except SpanError as exc:
        raise SpanError(
            f"{exc}; remove one with `taskclf-daemon label remove ID` and add it again"
        ) from None
    merged = added.spans
    verb = "replaced" if added.replaced is not None else "added"
    print(
        f"{verb} {span.id}: {span.label} for {user} ({source}), "
        f"{clock.show(start)} – {clock.show(end)} ({plural(round(_minutes(span)), 'minute')})"
    )
    mine = [s for s in merged if s.applies_to(user)]  # spans without a user are anyone's
    print(
        f"{user} now has {plural(len(mine), 'span')}, "
        f"{plural(round(sum(_minutes(s) for s in mine)), 'minute')} labelled"
    )
    return 0


def _cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    clock = LocalClock()
    start, end = _range(args, clock)
    spans = [
        s
        for s in load_spans(spans_file(settings.data_dir))
        if (args.user is None or s.applies_to(args.user))
        and (start is None or s.end_ts > start)
        and (end is None or s.start_ts < end)
    ]
    if not spans:
        who = f" for {args.user}" if args.user else ""
        print(f"no label spans{who} in {spans_file(settings.data_dir)}")
        return 0
    print(_header(clock))
    for s in spans:
        print(_line(s, clock))
    totals: dict[str, tuple[int, float]] = {}
    for s in spans:
        n, m = totals.get(s.user_id or "(any user)", (0, 0.0))
        totals[s.user_id or "(any user)"] = (n + 1, m + _minutes(s))
    for user, (n, m) in sorted(totals.items()):
        print(f"{user}: {plural(n, 'span')}, {plural(round(m), 'minute')}")
    return 0


def _cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    clock = LocalClock()
    if args.ids and (args.start is not None or args.end is not None):
        raise SpanError("label remove: give span ids or --from/--to, not both")
    path = spans_file(settings.data_dir)
    with locked(path):
        spans = load_spans(path)
        if args.ids:
            doomed = set()
            for ident in args.ids:
                matches = (
                    [s for s in spans if s.id.startswith(ident.lower())] if len(ident) >= 4 else []
                )
                if len(matches) != 1:
                    why = "no span has it" if not matches else f"{len(matches)} spans start with it"
                    raise SpanError(
                        f"ID: {ident!r} names no single span ({why}; ids are 10 hex digits, "
                        "at least 4 of them; see `taskclf-daemon label list`)"
                    )
                doomed.add(matches[0].key)
        else:
            if args.start is None or args.end is None:
                raise SpanError("label remove: give span ids, or --from and --to of the exact span")
            start, end = _span_range(args, clock)
            doomed = {
                s.key
                for s in spans
                if s.start_ts == start
                and s.end_ts == end
                and (args.user is None or s.user_id == args.user)
            }
            if not doomed:
                raise SpanError(
                    f"--from/--to: no span is exactly {clock.show(start)} – {clock.show(end)}"
                    f"{' for ' + args.user if args.user else ''}; see `taskclf-daemon label list`"
                )
        gone = [s for s in spans if s.key in doomed]
        save_spans(path, [s for s in spans if s.key not in doomed])
    for s in gone:
        print(f"removed {_line(s, clock)}")
    return 0


def _read_import(path: Path, fmt: str | None) -> tuple[list[LabelSpan], int]:
    from taskclf_core.spans import read_spans_csv, read_spans_jsonl

    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is not a column name
    except FileNotFoundError:
        raise SpanError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise SpanError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise SpanError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if fmt is None:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            fmt = "csv"
        elif suffix in (".jsonl", ".json", ".ndjson"):
            fmt = "jsonl"
        else:
            fmt = "jsonl" if text.lstrip().startswith("{") else "csv"
    parsed = (read_spans_csv if fmt == "csv" else read_spans_jsonl)(text, source=str(path))
    return list(parsed.spans), parsed.skipped_open


def _cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses

    from taskclf_core.spans import merge_spans

    spans, skipped = _read_import(args.file, args.format)
    if args.user is not None:
        spans = [
            s if s.user_id is not None else dataclasses.replace(s, user_id=args.user) for s in spans
        ]
    path = spans_file(settings.data_dir)
    with locked(path):
        existing = load_spans(path)
        keys = {s.key for s in existing}
        try:
            merged = merge_spans(existing, spans)
        except SpanError as exc:
            raise SpanError(f"{args.file}: nothing imported: {exc}") from None
        save_spans(path, merged)
    replaced = sum(s.key in keys for s in {s.key: s for s in spans}.values())
    added = len({s.key for s in spans}) - replaced
    print(
        f"imported {plural(len(spans), 'span')} from {args.file}: {added} new, {replaced} "
        f"replaced; {plural(len(merged), 'span')} in {path}"
    )
    if skipped:
        print(
            f"skipped {plural(skipped, _OPEN_SPAN)} (extend_forward, end_ts = start_ts): "
            "they label no window until they have an end"
        )
    anyone = sum(s.user_id is None for s in spans)
    if anyone:
        one = anyone == 1
        print(
            f"{plural(anyone, 'span')} {'has' if one else 'have'} no user_id: "
            f"{'it applies' if one else 'they apply'} to every user (give --user to assign "
            f"{'it' if one else 'them'})"
        )
    return 0


def _cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.fsutil import atomic_write_text
    from taskclf_core.spans import spans_to_csv

    spans = [
        s
        for s in load_spans(spans_file(settings.data_dir))
        if args.user is None or s.user_id == args.user
    ]
    text = spans_to_csv(spans)
    if args.file is None:
        sys.stdout.write(text)
        return 0
    try:
        atomic_write_text(args.file, text)
    except OSError as exc:
        raise SpanError(f"{args.file}: cannot write ({exc.strerror or exc})") from None
    print(f"exported {plural(len(spans), 'span')} to {args.file}", file=sys.stderr)
    return 0


def _thresholds(values: Sequence[float]) -> str:
    """``0.89``, or ``0.55 to 0.89`` when windows were decided with different thresholds."""
    return f"{values[0]:g}" if len(values) == 1 else f"{values[0]:g} to {values[-1]:g}"


def _run_time(seconds: float) -> str:
    """The time a run stands for, never "0 min": a window whose events lasted seconds stands
    for those seconds (not a minute), one away throughout for no active time."""
    from daemon.reporting.view import fmt_minutes

    if round(seconds / 60) >= 1:  # as fmt_minutes rounds (30 s rounds to 0)
        return fmt_minutes(seconds / 60)
    if seconds >= 0.5:
        return f"under a minute ({seconds:.0f} s)"
    return "under a second" if seconds > 0 else "no active time (away throughout)"


def _suggest_header(runs: Sequence[UncertainRun], below: float, days: str) -> str:
    """What the runs listed are: rejected by the reject threshold their records were decided
    with (the policy's or a user's own, not a configured default), or below ``below``."""
    used = sorted({t for r in runs for t in r.reject_thresholds})
    if not used:
        rejected = "rejected"
    elif len(used) == 1:
        rejected = (
            f"rejected (confidence < {used[0]:g}, the reject threshold they were labelled with)"
        )
    else:
        rejected = (
            f"rejected (confidence below the reject threshold each was labelled with: "
            f"{_thresholds(used)}, shown per run)"
        )
    # every window under ``below`` is also rejected when no threshold is lower: not an extra kind
    known = used and all(r.reject_thresholds for r in runs)
    low = "" if known and used[0] >= below else f" or have low confidence (< {below:g})"
    return (
        f"the longest runs of windows without a label that were {rejected}{low}, last {days}; "
        "label one with the command under it:"
    )


def _suggest_json(
    runs: Sequence[UncertainRun], since: datetime, below: float, clock: LocalClock
) -> dict[str, Any]:
    """``label suggest --json``: the runs as listed, times in UTC (ISO-8601), each with the
    ``label add`` command that labels it (local times, as the text prints them)."""
    from taskclf_core.timerange import format_ts

    return {
        "since": format_ts(since),
        "below": below,
        "runs": [
            {
                "user_id": r.user_id,
                "start": format_ts(r.start),
                "end": format_ts(r.end),
                "seconds": round(r.seconds, 3),
                "windows": r.windows,
                "rejected": r.rejected,
                "mean_confidence": round(r.mean_confidence, 4),
                "guess": r.guess,
                "reject_thresholds": list(r.reject_thresholds),
                "command": [
                    "taskclf-daemon",
                    "label",
                    "add",
                    "--from",
                    clock.show(r.start),
                    "--to",
                    clock.show(r.end),
                    "--user",
                    r.user_id,
                    "LABEL",
                ],
            }
            for r in runs
        ],
    }


def _cmd_suggest(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.runtime.labellog import LabelLog
    from taskclf_core.suggest import uncertain_runs
    from taskclf_core.timerange import EARLIEST

    if not args.days > 0:  # NaN too
        raise SpanError(f"--days: expected a number of days > 0, got {args.days}")
    if not 0.0 < args.below <= 1.0:
        raise SpanError(f"--below: expected a confidence in (0, 1], got {args.below}")
    if args.limit < 1:
        raise SpanError(f"--limit: expected at least 1, got {args.limit}")
    clock = LocalClock()
    try:
        since = max(clock.now - timedelta(days=args.days), EARLIEST)
    except OverflowError:  # more days than the calendar has: all of the log
        since = EARLIEST
    log = LabelLog(settings.labels_path)
    first_day = since.date().isoformat()
    days = [d for d in log.day_files() if d >= first_day]
    runs = uncertain_runs(
        log.iter_records(days),
        since=since,
        spans=load_spans(spans_file(settings.data_dir)),
        below=args.below,
        gap_seconds=settings.idle_gap_seconds,
        users=None if args.user is None else [args.user],
    )[: args.limit]
    period = f"{args.days:g} {'day' if args.days == 1 else 'days'}"
    if args.json:
        print(json.dumps(_suggest_json(runs, since, args.below, clock), indent=2))
        return 0
    if not runs:
        print(
            "nothing to ask about: no windows without a label that were rejected or have low "
            f"confidence (< {args.below:g}) in the last {period}"
        )
        return 0
    print(_suggest_header(runs, args.below, period))
    per_run = len({t for r in runs for t in r.reject_thresholds}) > 1
    for r in runs:
        rejected = f"{r.rejected} rejected"
        if per_run and r.reject_thresholds:
            rejected += f" (< {_thresholds(r.reject_thresholds)})"
        print(
            f"  {r.user_id}  {clock.show(r.start)} – {clock.show(r.end)}  "
            f"{_run_time(r.seconds)} in {plural(r.windows, 'window')}, "
            f"{rejected}, mean confidence {r.mean_confidence:.2f}, "
            + (f"model guessed {r.guess}" if r.guess else "the rule baseline: no rule fired")
        )
        print(
            f"    taskclf-daemon label add --from '{clock.show(r.start)}' "
            f"--to '{clock.show(r.end)}' --user {r.user_id} LABEL"
        )
    return 0


_COMMANDS = {
    "add": _cmd_add,
    "list": _cmd_list,
    "remove": _cmd_remove,
    "import": _cmd_import,
    "export": _cmd_export,
    "suggest": _cmd_suggest,
}


def run(args: argparse.Namespace) -> int:
    from daemon.config.settings import load_settings

    return _COMMANDS[args.label_command](args, load_settings(args.config, setting_overrides(args)))


# --- arguments ---------------------------------------------------------------------------

_TIMES = (
    'local time: "09:00", "yesterday 14:00", "2026-11-30 09:00", "now", or ISO-8601 with an offset'
)


def add_arguments(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The ``label`` actions (each with ``--config``); returns their parsers."""
    from taskclf_core.labels import CORE_LABELS  # light: no numpy

    common = argparse.ArgumentParser(add_help=False)
    add_config_flag(common)
    # the keys label reads (data_dir, ...), as report takes them: `label suggest --data-dir`
    add_setting_flags(common, "label")
    parents = [common]

    sub = parser.add_subparsers(dest="label_command", required=True, metavar="ACTION")
    made = []

    add = sub.add_parser("add", parents=parents, help="label a span of your time")
    add.add_argument("--from", dest="start", required=True, metavar="TIME", help=_TIMES)
    add.add_argument(
        "--to", dest="end", required=True, metavar="TIME", help=_TIMES + " (exclusive)"
    )
    add.add_argument("label", metavar="LABEL", help=f"one of {', '.join(CORE_LABELS)}")
    add.add_argument(
        "--user",
        default=None,
        help="whose time (default: collect_user_id, taskclf's .user_id, else the log's only user)",
    )
    add.add_argument(
        "--provenance", default="manual", help="where the label comes from (default manual)"
    )
    add.add_argument("--confidence", type=float, default=None, help="how sure you are, 0–1")
    made.append(add)

    lst = sub.add_parser("list", parents=parents, help="list your label spans (local times)")
    lst.add_argument("--user", default=None)
    lst.add_argument("--from", dest="start", default=None, metavar="TIME", help=_TIMES)
    lst.add_argument("--to", dest="end", default=None, metavar="TIME", help=_TIMES)
    made.append(lst)

    rm = sub.add_parser("remove", parents=parents, help="remove spans by id or by exact span")
    rm.add_argument(
        "ids", nargs="*", metavar="ID", help="span ids from `label list` (or a unique prefix)"
    )
    rm.add_argument("--from", dest="start", default=None, metavar="TIME", help=_TIMES)
    rm.add_argument("--to", dest="end", default=None, metavar="TIME", help=_TIMES)
    rm.add_argument("--user", default=None)
    made.append(rm)

    imp = sub.add_parser(
        "import",
        parents=parents,
        help="import spans: taskclf's label CSV or JSONL (all or nothing)",
    )
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument(
        "--format", choices=("csv", "jsonl"), default=None, help="default: by extension"
    )
    imp.add_argument("--user", default=None, help="give spans without user_id to this user")
    made.append(imp)

    exp = sub.add_parser("export", parents=parents, help="write the spans as taskclf's label CSV")
    exp.add_argument(
        "file", type=Path, nargs="?", default=None, metavar="FILE", help="default: stdout"
    )
    exp.add_argument("--user", default=None)
    made.append(exp)

    sug = sub.add_parser("suggest", parents=parents, help="what to label next: long uncertain runs")
    sug.add_argument("--days", type=float, default=7.0, help="look this far back (default 7)")
    sug.add_argument("--user", default=None)
    sug.add_argument(
        "--below", type=float, default=0.55, help="low confidence means below this (0.55)"
    )
    sug.add_argument("--limit", type=int, default=10, help="at most this many runs (10)")
    sug.add_argument(
        "--json", action="store_true", help="the runs as JSON (times in UTC), for scripts"
    )
    made.append(sug)
    return made
