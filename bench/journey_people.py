"""People's ActivityWatch days for ``bench/journey.py``, written apart from the project.

An independent population: nothing here comes from ``taskclf_core/synthetic_aw.py`` or
``taskclf_core/synthetic.py`` (nor imports them), so the journey is checked on days the
project's authors did not shape. A person has a platform (app names), a task mix, a day shape
(start, length, lunch, short breaks), habits for breaks (lock the screen, or leave the last app
in front) and per-task window and input behaviour (aw-watcher-window, aw-watcher-afk,
aw-watcher-input events). Truth is the blocks the person did; how a person writes their labels
(rounding of span edges, share of blocks labelled) comes with them.

The random streams are those of the stand-alone generator this module was ported from: the
same person, seed and dates give the same events, draw for draw.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PLATFORMS: dict[str, dict[str, str]] = {
    "mac": {
        "ide": "Code",
        "term": "iTerm2",
        "browser": "Firefox",
        "chat": "Slack",
        "mail": "Mail",
        "meet": "zoom.us",
        "writer": "Microsoft Word",
        "notes": "Notes",
        "finder": "Finder",
        "lock": "loginwindow",
        "pdf": "Preview",
        "cal": "Calendar",
    },
    "win": {
        "ide": "Code.exe",
        "term": "WindowsTerminal.exe",
        "browser": "chrome.exe",
        "chat": "Teams.exe",
        "mail": "OUTLOOK.EXE",
        "meet": "Zoom.exe",
        "writer": "WINWORD.EXE",
        "notes": "Notepad.exe",
        "finder": "explorer.exe",
        "lock": "LockApp.exe",
        "pdf": "AcroRd32.exe",
        "cal": "OUTLOOK.EXE",
    },
}

PROJECTS = ["billing-service", "webshop", "infra-tools", "mobile-api", "data-pipeline"]
FILES = [
    "handlers.py",
    "models.py",
    "api.ts",
    "config.yaml",
    "test_orders.py",
    "Makefile",
    "README.md",
    "utils.go",
    "schema.sql",
    "index.tsx",
    "worker.rs",
    "Dockerfile",
]
DOCS = [
    "asyncio — Python 3.12 documentation",
    "PostgreSQL: Documentation: 16: CREATE INDEX",
    "Understanding React hooks - Stack Overflow",
    "Kubernetes Docs | Pods",
    "arXiv:2305.10601 Tree of Thoughts",
    "MDN Web Docs: Fetch API",
    "Rust Book - Ownership",
    "Wikipedia - Consensus (computer science)",
    "Martin Fowler - Refactoring",
    "How Raft works - The Secret Lives of Data",
    "Medium - Scaling Postgres",
    "Nature: climate model ensembles",
    "JSTOR: Labour history of the 1920s",
]
NAMES = ["Anna", "Ben", "Chen", "Dana", "Eli", "Farah", "Gus"]
CHANNELS = ["#team-backend", "#incidents", "#general", "#release", "#design", "#random"]
ARTICLES = [
    "chapter-3-draft",
    "q4-report",
    "blog-post-ownership",
    "grant-proposal",
    "onboarding-guide",
    "press-release",
    "newsletter-dec",
]

# per task: (app key, title kind, weight, mean seconds of one window event)
TASKS: dict[str, list[tuple[str, str, int, int]]] = {
    "Build": [
        ("ide", "ide_build", 6, 150),
        ("term", "term_build", 3, 45),
        ("browser", "br_docs", 1, 60),
    ],
    "Debug": [
        ("ide", "ide_debug", 4, 70),
        ("term", "term_debug", 4, 40),
        ("browser", "br_logs", 2, 50),
        ("browser", "br_search", 1, 30),
    ],
    "Review": [
        ("browser", "br_review", 8, 120),
        ("ide", "ide_build", 1, 60),
        ("chat", "chat", 1, 25),
    ],
    "Write": [
        ("writer", "write", 8, 240),
        ("browser", "br_docs", 1, 40),
        ("notes", "notes", 1, 40),
    ],
    "ReadResearch": [
        ("browser", "br_docs", 6, 150),
        ("pdf", "pdf", 2, 200),
        ("browser", "br_search", 2, 25),
    ],
    "Communicate": [("chat", "chat", 5, 50), ("mail", "mail", 4, 70), ("cal", "cal", 1, 20)],
    "Meet": [("meet", "meet", 10, 900), ("chat", "chat", 1, 20), ("notes", "notes", 1, 45)],
}
# per task, per 5 s input sample: mean key presses, clicks, mouse px, scroll ticks, P(idle)
INPUT: dict[str, tuple[float, float, float, float, float]] = {
    "Build": (14, 0.5, 120, 0.3, 0.25),
    "Debug": (7, 1.5, 400, 1.0, 0.30),
    "Review": (1.5, 1.0, 250, 4.0, 0.25),
    "Write": (18, 0.3, 60, 0.4, 0.30),
    "ReadResearch": (0.6, 0.6, 200, 6.0, 0.30),
    "Communicate": (9, 1.2, 300, 1.5, 0.35),
    "Meet": (0.4, 0.2, 60, 0.2, 0.75),
}
NO_INPUT = (0.0, 0.0, 0.0, 0.0, 1.0)
# block length in minutes: mean, sd, minimum
DURATION: dict[str, tuple[float, float, float]] = {
    "Build": (50, 25, 15),
    "Debug": (35, 15, 10),
    "Review": (25, 10, 8),
    "Write": (55, 25, 15),
    "ReadResearch": (30, 15, 10),
    "Communicate": (15, 8, 5),
    "Meet": (40, 15, 15),
}


@dataclass(frozen=True, slots=True)
class Person:
    """A kind of person: how their days look and how they label them."""

    platform: str
    mix: dict[str, int]  # task -> weight
    hours: tuple[float, float]  # day length, hours
    start: tuple[float, float]  # start of the day, UTC hour
    lock: float  # P(locks the screen on a break) (else the last app stays in front)
    rounding: int  # minutes the person rounds span edges to
    labelled: float  # share of non-break blocks they label
    glance: float  # P(an event is a glance at chat, mail or a search)
    standup: bool  # the day opens with a short meeting


PERSONS: dict[str, Person] = {
    "dev": Person(
        platform="mac",
        mix={
            "Build": 30,
            "Debug": 18,
            "Review": 12,
            "ReadResearch": 12,
            "Communicate": 12,
            "Meet": 8,
            "Write": 5,
        },
        hours=(7, 8.5),
        start=(8.5, 9.5),
        lock=0.7,
        rounding=1,
        labelled=1.0,
        glance=0.12,
        standup=True,
    ),
    "writer": Person(
        platform="win",
        mix={"Write": 45, "ReadResearch": 25, "Communicate": 15, "Meet": 6, "Review": 9},
        hours=(6, 7.5),
        start=(9, 10),
        lock=0.6,
        rounding=1,
        labelled=0.7,
        glance=0.10,
        standup=False,
    ),
    "manager": Person(
        platform="mac",
        mix={"Meet": 40, "Communicate": 28, "Review": 10, "Write": 10, "ReadResearch": 12},
        hours=(7.5, 9),
        start=(8, 9),
        lock=0.5,
        rounding=1,
        labelled=1.0,
        glance=0.15,
        standup=True,
    ),
    "parttime": Person(
        platform="mac",
        mix={"Build": 30, "Debug": 20, "ReadResearch": 25, "Communicate": 15, "Review": 10},
        hours=(3.5, 5),
        start=(13, 14),
        lock=0.5,
        rounding=5,
        labelled=1.0,
        glance=0.12,
        standup=False,
    ),
}


@dataclass(frozen=True, slots=True)
class Block:
    """What the person really did from ``start`` to ``end`` (UTC, millisecond precision)."""

    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True, slots=True)
class People:
    """A person's days: ActivityWatch's export of them, and the truth."""

    export: dict[str, Any]  # {"buckets": {id: {client, type, hostname, events}}}
    truth: list[Block]
    person: Person
    counts: dict[str, int]


Event = dict[str, Any]


@dataclass
class _Day:
    win: list[Event] = field(default_factory=list)
    afk: list[Event] = field(default_factory=list)
    inp: list[Event] = field(default_factory=list)
    truth: list[tuple[datetime, datetime, str]] = field(default_factory=list)


def iso(t: datetime) -> str:
    """``t`` as ActivityWatch's UTC timestamp, to the millisecond."""
    t = t.replace(microsecond=(t.microsecond // 1000) * 1000)
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _title(kind: str, rng: random.Random, ctx: dict[str, Any]) -> str:
    proj = ctx["project"]
    suffix = ctx["browser_suffix"]
    if kind == "ide_build":
        return f"{rng.choice(FILES)} — {proj}"
    if kind == "ide_debug":
        return f"{rng.choice(FILES)} — {proj} [Debugging]"
    if kind == "term_build":
        return rng.choice(
            [f"{proj} — zsh", f"make build — {proj}", f"git — {proj}", f"npm run dev — {proj}"]
        )
    if kind == "term_debug":
        return rng.choice(
            [
                f"pytest -x — {proj}",
                f"gdb — {proj}",
                f"tail -f app.log — {proj}",
                f"kubectl logs — {proj}",
            ]
        )
    if kind == "br_logs":
        page = rng.choice(
            [
                "Grafana - Error rate dashboard",
                "Sentry - TypeError in checkout",
                "Kibana - Discover",
            ]
        )
        return f"{page} — {suffix}"
    if kind == "br_review":
        n = ctx["pr"]
        author = rng.choice(NAMES)  # drawn before the page, whichever page it is
        page = rng.choice(
            [
                f"Pull Request #{n}: fix retry logic by {author} · Files changed",
                f"Pull Request #{n} · Conversation",
                f"Merge request !{n} · Changes",
            ]
        )
        return f"{page} — {suffix}"
    if kind == "br_docs":
        return f"{rng.choice(DOCS)} — {suffix}"
    if kind == "br_search":
        how = rng.choice(["how to", "best way to", "why does"])
        what = rng.choice(["cache", "retry", "parse", "index", "cite"])
        return f"{how} {what} - Google Search — {suffix}"
    if kind == "pdf":
        return rng.choice(["paper_smith2021.pdf", "spec-v2.pdf", "whitepaper.pdf", "survey.pdf"])
    if kind == "chat":
        return rng.choice([*CHANNELS, *(f"DM {p}" for p in NAMES)]) + " - Slack"
    if kind == "mail":
        subject = rng.choice(["Budget", "Offsite", "Release plan", "Invoice"])
        return rng.choice(["Inbox", f"Re: {subject}", "New Message", "Sent"]) + " - Mail"
    if kind == "meet":
        return rng.choice(["Zoom Meeting", "Zoom Meeting - Screen sharing", "Zoom"])
    if kind == "cal":
        return "Calendar - Week"
    if kind == "write":
        return f"{ctx['article']}.docx - Word"
    if kind == "br_gdoc":
        return f"{ctx['article']} - Google Docs — {suffix}"
    if kind == "notes":
        return rng.choice(["Meeting notes", "Todo", "Ideas"])
    if kind == "finder":
        return rng.choice(["Downloads", "Documents", proj])
    return kind


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0  # Knuth
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _input(
    rng: random.Random,
    task: str,
    t0: datetime,
    t1: datetime,
    day: _Day,
    ctx: dict[str, Any],
    *,
    idle: bool = False,
) -> None:
    """aw-watcher-input samples of 5 s for [t0, t1)."""
    presses, clicks, mouse, scroll, p_idle = INPUT.get(task, NO_INPUT)
    energy = ctx["energy"]
    t = t0
    while t < t1:
        step = min(5.0, (t1 - t).total_seconds())
        if step < 0.5:
            break
        if idle or rng.random() < p_idle:
            data = {"presses": 0, "clicks": 0, "deltaX": 0, "deltaY": 0, "scrollX": 0, "scrollY": 0}
        else:
            f = step / 5.0 * energy
            n_presses = _poisson(rng, presses * f)
            n_clicks = _poisson(rng, clicks * f)
            dx = int(abs(rng.gauss(mouse * f, mouse * 0.5)))
            dy = int(abs(rng.gauss(mouse * 0.7 * f, mouse * 0.4)))
            data = {
                "presses": n_presses,
                "clicks": n_clicks,
                "deltaX": dx,
                "deltaY": dy,
                "scrollX": 0,
                "scrollY": _poisson(rng, scroll * f),
            }
        day.inp.append({"timestamp": iso(t), "duration": round(step, 3), "data": data})
        t += timedelta(seconds=step)


def _block(
    rng: random.Random,
    person: Person,
    apps: dict[str, str],
    task: str,
    t0: datetime,
    t1: datetime,
    day: _Day,
    ctx: dict[str, Any],
) -> None:
    """Window events and input samples for one task block [t0, t1)."""
    options = TASKS[task]
    t = t0
    prev: tuple[str, str, float] | None = None
    while t < t1:
        # one draw for every task; a meeting then draws again, with its own (lower) odds
        glance = rng.random() < person.glance
        if task == "Meet":
            glance = rng.random() < 0.05
        if glance:
            key = rng.choice(["chat", "mail", "browser"])
            kind = {"chat": "chat", "mail": "mail", "browser": "br_search"}[key]
            secs = rng.uniform(5, 60)
            doing = "Communicate"
        else:
            if prev is not None and rng.random() < 0.3:  # sticks to the previous app
                key, kind, mean = prev
            else:
                key, kind, _, mean_s = rng.choices(options, weights=[o[2] for o in options])[0]
                mean = float(mean_s)
            prev = (key, kind, mean)
            secs = max(5.0, rng.lognormvariate(math.log(mean), 0.7))
            doing = task
        end = min(t + timedelta(seconds=secs), t1)
        duration = (end - t).total_seconds()
        if duration <= 0:
            break
        day.win.append(
            {
                "timestamp": iso(t),
                "duration": round(duration, 3),
                "data": {"app": apps[key], "title": _title(kind, rng, ctx)},
            }
        )
        _input(rng, doing, t, end, day, ctx)
        # aw-watcher-window: 0-1 s between two events
        t = end + timedelta(seconds=rng.choice([0, 0, 0.5, 1.0]))


def _break(
    rng: random.Random,
    person: Person,
    apps: dict[str, str],
    t0: datetime,
    t1: datetime,
    day: _Day,
    ctx: dict[str, Any],
) -> None:
    """Away: the screen locked, or the last app left in front (its event grows)."""
    seconds = round((t1 - t0).total_seconds(), 3)
    if rng.random() < person.lock or not day.win:
        day.win.append(
            {"timestamp": iso(t0), "duration": seconds, "data": {"app": apps["lock"], "title": ""}}
        )
    else:
        last = day.win[-1]
        last["duration"] = round((t1 - parse(last["timestamp"])).total_seconds(), 3)
    _input(rng, "BreakIdle", t0, t1, day, ctx, idle=True)
    day.afk.append({"timestamp": iso(t0), "duration": seconds, "data": {"status": "afk"}})


def _active(day: _Day, a: datetime, b: datetime) -> None:
    if b > a:
        day.afk.append(
            {
                "timestamp": iso(a),
                "duration": round((b - a).total_seconds(), 3),
                "data": {"status": "not-afk"},
            }
        )


def _day(rng: random.Random, person: Person, date: datetime) -> _Day:
    apps = PLATFORMS[person.platform]
    day = _Day()
    start = date + timedelta(hours=rng.uniform(*person.start))
    start = start.replace(second=rng.randrange(60), microsecond=0)
    hours = rng.uniform(*person.hours)
    end = start + timedelta(hours=hours)
    lunch_at = date + timedelta(hours=rng.uniform(12.0, 13.0)) if hours > 5.5 else None
    ctx: dict[str, Any] = {"project": rng.choice(PROJECTS)}
    ctx["browser_suffix"] = "Mozilla Firefox" if apps["browser"] == "Firefox" else "Google Chrome"
    ctx["pr"] = rng.randrange(100, 999)
    ctx["article"] = rng.choice(ARTICLES)
    ctx["energy"] = rng.uniform(0.8, 1.2)
    tasks, weights = zip(*person.mix.items(), strict=True)
    t = start
    since_break = 0.0
    active_start = t
    first = True
    while t < end:
        pause = None
        if lunch_at is not None and t >= lunch_at:
            pause = timedelta(minutes=rng.uniform(30, 60))
            lunch_at = None
        elif since_break > rng.uniform(60, 110):
            pause = timedelta(minutes=rng.uniform(5, 15))
        if pause is not None:
            _active(day, active_start, t)
            _break(rng, person, apps, t, t + pause, day, ctx)
            day.truth.append((t, t + pause, "BreakIdle"))
            t += pause
            active_start = t
            since_break = 0
            continue
        if first and person.standup:
            task, minutes = "Meet", rng.uniform(12, 20)
        else:
            task = rng.choices(tasks, weights=weights)[0]
            mean, sd, lo = DURATION[task]
            minutes = max(lo, rng.gauss(mean, sd))
        first = False
        if day.truth and day.truth[-1][2] == task:
            continue
        b_end = min(t + timedelta(minutes=minutes), end)
        if b_end == end and (b_end - t) < timedelta(minutes=5):
            break
        if task == "Review":
            ctx["pr"] = rng.randrange(100, 999)
        if rng.random() < 0.2:
            ctx["project"] = rng.choice(PROJECTS)
        if rng.random() < 0.15:
            ctx["article"] = rng.choice(ARTICLES)
        _block(rng, person, apps, task, t, b_end, day, ctx)
        day.truth.append((t, b_end, task))
        since_break += (b_end - t).total_seconds() / 60
        t = b_end
    _active(day, active_start, t)
    # end of the day: the screen locked for a moment, then shut down
    day.win.append(
        {"timestamp": iso(t), "duration": 20.0, "data": {"app": apps["lock"], "title": ""}}
    )
    return day


def people_days(name: str, seed: int, host: str, dates: list[str]) -> People:
    """Person ``name``'s days ``dates`` (UTC ``YYYY-MM-DD``) as an ActivityWatch export of
    ``host``'s window, afk and input buckets, with the truth."""
    person = PERSONS[name]
    rng = random.Random(f"{name}-{seed}")
    days = [_day(rng, person, datetime.fromisoformat(d).replace(tzinfo=UTC)) for d in dates]
    buckets: dict[str, Any] = {}
    for bucket_id, (kind, client, attr) in {
        f"aw-watcher-window_{host}": ("currentwindow", "aw-watcher-window", "win"),
        f"aw-watcher-afk_{host}": ("afkstatus", "aw-watcher-afk", "afk"),
        f"aw-watcher-input_{host}": ("os.hid.input", "aw-watcher-input", "inp"),
    }.items():
        events = [e for d in days for e in getattr(d, attr)]
        buckets[bucket_id] = {"client": client, "type": kind, "hostname": host, "events": events}
    truth = [Block(parse(iso(s)), parse(iso(e)), label) for d in days for s, e, label in d.truth]
    counts = {
        "window_events": sum(len(d.win) for d in days),
        "input_events": sum(len(d.inp) for d in days),
    }
    return People({"buckets": buckets}, truth, person, counts)
