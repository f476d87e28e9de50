"""`taskclf-daemon report`: where the day went, from the label log (text, JSON or a page)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from daemon.config.flags import setting_overrides
from daemon.fsutil import atomic_write_text
from daemon.localtz import LocalClock, local_timezone, zone_key
from daemon.paths import report_cache_dir
from daemon.reporting.summaries import DaySummaries
from daemon.reporting.view import ReportView, report_json
from taskclf_core.errors import ConfigError
from taskclf_core.timerange import day_in_range, day_out_of_range
from taskclf_core.words import plural

if TYPE_CHECKING:
    from daemon.config.settings import Settings
    from daemon.config.subsets import ReportSettings

    # the full settings, or the five keys report reads resolved without pydantic
    AnySettings = Settings | ReportSettings

__all__ = ["MAX_DAYS", "add_arguments", "parse_day", "resolve_days", "run", "show"]

MAX_DAYS: Final = 366
_STDOUT: Final = Path("-")


def parse_day(text: str) -> date:
    """``YYYY-MM-DD``, ``today`` or ``yesterday``, a local day (argparse ``type``: a bad one
    exits 2), read as every command reads a typed day (daemon.localtz.LocalClock)."""
    from taskclf_core.errors import TimeError

    try:
        return LocalClock().day(text, "day")
    except TimeError as exc:
        # argparse names the flag: the reason after the field is the message
        raise argparse.ArgumentTypeError(str(exc).removeprefix("day: ")) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--date",
        type=parse_day,
        default=None,
        metavar="D",
        help="one local day: YYYY-MM-DD, today or yesterday (default: today)",
    )
    parser.add_argument(
        "--from",
        dest="from_day",
        type=parse_day,
        default=None,
        metavar="D",
        help="first local day, as --date",
    )
    parser.add_argument(
        "--to",
        dest="to_day",
        type=parse_day,
        default=None,
        metavar="D",
        help="last local day, as --date (default: today)",
    )
    parser.add_argument("--user", default=None, metavar="U", help="only this user (default: all)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument(
        "--json", action="store_true", help="taskclf DailyReport JSON per user and day"
    )
    out.add_argument(
        "--html",
        type=Path,
        default=None,
        metavar="FILE",
        help="write a self-contained timeline page",
    )
    out.add_argument(
        "--csv",
        nargs="?",
        type=Path,
        const=_STDOUT,
        default=None,
        metavar="FILE",
        help="a timesheet, one row per segment (to FILE, or stdout without one or with -)",
    )


def resolve_days(
    day: date | None, from_day: date | None, to_day: date | None, today: date
) -> list[date]:
    """The local days asked for; a contradictory request is a ConfigError naming the flags."""
    if day is not None and (from_day is not None or to_day is not None):
        raise ConfigError("--date and --from/--to: expected one or the other, not both")
    for flag, given in (("--date", day), ("--from", from_day), ("--to", to_day)):
        if given is not None and not day_in_range(given):
            raise ConfigError(day_out_of_range(flag, str(given)))
    if day is not None:
        return [day]
    if from_day is None and to_day is None:
        return [today]
    if from_day is None:
        raise ConfigError("--to: expected --from as well (the first day of the range)")
    last = today if to_day is None else to_day
    if from_day > last:
        raise ConfigError(
            f"--from/--to: expected --from on or before --to, got {from_day} after {last}"
        )
    n = (last - from_day).days + 1
    if n > MAX_DAYS:
        raise ConfigError(f"--from/--to: expected at most {MAX_DAYS} days, got {n}")
    return [from_day + timedelta(days=i) for i in range(n)]


def _model_path(settings: AnySettings) -> Path | None:
    """The bundle in force (the policy's, else ``model_dir``); None if the policy is bad."""
    from daemon.inforce import model_in_force
    from taskclf_core.errors import PolicyError

    try:  # reads the policy file only: all this serves is the model's age
        return model_in_force(settings.policy_file, settings.model_path)
    except PolicyError:
        return None


def _model_created_at(settings: AnySettings) -> dict[str, str]:
    """``created_at`` of the bundle in force, by bundle id (for the model's age)."""
    path = _model_path(settings)
    if path is None:
        return {}  # a policy the daemon would refuse: `status`/`doctor` say why; no age here
    try:
        meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    made = meta.get("created_at") if isinstance(meta, dict) else None
    if not isinstance(made, str):
        return {}
    return {path.name: made, path.resolve().name: made}


def _bucket_colours(settings: AnySettings) -> dict[str, str]:
    if settings.taxonomy is None:
        return {}
    from taskclf_core.errors import TaxonomyError
    from taskclf_core.taxonomy import load_taxonomy

    try:
        taxonomy = load_taxonomy(settings.taxonomy)
    except TaxonomyError:
        return {}  # the daemon refuses it at start; the report just uses its own colours
    return {bucket.name: bucket.color for bucket in taxonomy.buckets}


def _drift(
    summaries: DaySummaries, users: Sequence[str], now: datetime, settings: AnySettings
) -> dict[str, dict[str, Any]]:
    from taskclf_core.drift import DriftTracker

    tracker = DriftTracker()
    wanted = set(users)
    for record in summaries.recent_records(now):
        if record.get("user_id") in wanted:
            tracker.observe(record, now)
    tracker.transitions(now)  # a one-off look: every active alert counts as started now
    return tracker.status(now, model_created_at=_model_created_at(settings))


def _colour_wanted(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _unicode_ok(stream: TextIO) -> bool:
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return encoding in ("utf8", "utf8sig")


def build_view(
    settings: AnySettings,
    days: Sequence[date],
    *,
    user: str | None,
    tz: tzinfo,
    now: datetime,
    with_drift: bool,
) -> ReportView:
    summaries = DaySummaries(
        settings.labels_path,
        tz,
        cache_dir=report_cache_dir(settings.data_dir),
        idle_gap=settings.idle_gap_seconds,
    )
    data = summaries.load(days, users=None if user is None else [user])
    if user is not None:
        users = [user]
        if not data.reports:
            known = summaries.users()
            if user not in known:
                listed = ", ".join(known) if known else "none: the log is empty"
                raise ConfigError(
                    f"--user: expected a user in the label log {settings.labels_path}, "
                    f"got {user!r} (users there: {listed})"
                )
    else:
        users = sorted({r.user_id for r in data.reports})
    drift = _drift(summaries, users, now, settings) if with_drift and users else None
    return ReportView.build(
        days=days,
        tz=tz,
        zone_name=zone_key(tz) or str(tz),
        users=users,
        reports=data.reports,
        skipped=data.skipped,
        label_log=settings.labels_path,
        generated_at=now,
        drift=drift,
        bucket_colours=_bucket_colours(settings),
    )


def run(args: argparse.Namespace) -> int:
    """The five keys report reads, without pydantic when the configuration is plain; else the
    full Settings, which refuse what is wrong with it."""
    from daemon.config.subsets import report_settings

    flags = setting_overrides(args)
    settings = report_settings(args.config, flags)
    if settings is None:
        from daemon.config.settings import load_settings

        return show(args, load_settings(args.config, flags))
    return show(args, settings)


def show(
    args: argparse.Namespace,
    settings: AnySettings,
    *,
    out: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """The report for ``args`` from the label log ``settings`` name, on ``out`` (stdout),
    as of ``now`` (the clock's time: what "today" is, and the drift's last 24 hours)."""
    stream = out if out is not None else sys.stdout
    tz = local_timezone()
    now = datetime.now(UTC) if now is None else now.astimezone(UTC)
    today = now.astimezone(tz).date()
    days = resolve_days(args.date, args.from_day, args.to_day, today)
    for flag, path in (("--html", args.html), ("--csv", args.csv)):
        if path is not None and path != _STDOUT and not path.parent.is_dir():
            raise ConfigError(f"{flag}: expected a file in an existing directory, got {path}")
    view = build_view(settings, days, user=args.user, tz=tz, now=now, with_drift=days[-1] >= today)
    if args.json:
        stream.write(json.dumps(report_json(view), indent=2, allow_nan=False) + "\n")
        return 0
    if args.csv is not None:
        from daemon.reporting.timesheet import render_csv

        sheet = render_csv(view)
        if args.csv == _STDOUT:
            stream.write(sheet)
        else:
            atomic_write_text(args.csv, sheet, mode=0o600)
            stream.write(f"wrote {args.csv} ({_describe(view)})\n")
        return 0
    if args.html is not None:
        from daemon.reporting.html import render_html

        atomic_write_text(args.html, render_html(view), mode=0o600)
        stream.write(f"wrote {args.html} ({_describe(view)})\n")
        return 0
    from daemon.reporting.text import render_text

    if not view.users:
        when = str(days[0]) if len(days) == 1 else f"{days[0]} to {days[-1]}"
        stream.write(f"no windows labelled {when} (label log: {settings.labels_path})\n")
        return 0
    stream.write(render_text(view, colour=_colour_wanted(stream), unicode=_unicode_ok(stream)))
    return 0


def _describe(view: ReportView) -> str:
    users = len(view.users)
    days = len(view.days)
    return f"{plural(users, 'user')}, {plural(days, 'day')}"
