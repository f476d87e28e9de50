"""Six kinds of people and their ActivityWatch days, for ``bench/journey.py --people``.

A third population, written without reading the project's other generators: it is shaped by
how ActivityWatch's own watchers record a desktop, not by what taskclf's features look at.

The six kinds (each with two seeds: other names, projects, start times, typing speed, habits):

- ``backend``: backend developer, Ubuntu GNOME on X11, a laptop (Berlin, UTC+1). VS Code,
  gnome-terminal, Firefox (Jira, GitHub, docs, Sentry), Slack, Thunderbird, Zoom stand-up.
  GNOME's locker is invisible to aw-watcher-window (the last window goes on being reported);
  closes the lid at lunch (the machine sleeps: a hole in all three buckets). Labels to the
  minute, almost everything.
- ``writer``: technical writer, macOS laptop (Lisbon, UTC+0). VS Code (Markdown), Chrome
  (Google Docs, previews, GitHub, Google Meet), Slack, Mail, Preview, Terminal. Locks by hand
  (``loginwindow``), the Mac sleeps ~12 minutes into a locked lunch. Rounds to 5 minutes.
- ``manager``: engineering manager, Windows 11 laptop (New York, UTC-5). Teams, Outlook,
  Edge (Azure DevOps, Power BI; Edge's titles carry its zero-width space), Word, Excel,
  PowerPoint, OneNote. A third of the day or more in Teams meetings, some in a room with the
  laptop (OneNote) or without it. Win+L or the 5-minute policy lock (``LockApp.exe``). Rounds
  to 15 minutes and labels about half of the blocks.
- ``datasci``: data scientist, macOS (Bangalore, UTC+5:30). JupyterLab in Chrome, PyCharm,
  Terminal (ssh to a GPU box), W&B, Preview for papers, Slack, Outlook, Zoom. Never locks:
  the screensaver (``ScreenSaverEngine``) starts after 5 idle minutes and asks for the
  password (``loginwindow``); sometimes eats at the desk watching YouTube. Rounds to 10.
- ``sre``: site reliability engineer, Windows 10 desktop with WSL (Warsaw, UTC+1, starts
  early). Windows Terminal, VS Code on WSL, Firefox (Grafana, Kibana, PagerDuty, AWS), Slack,
  Zoom; incident days. Never locks by hand, the policy locks after 15 minutes
  (``LockApp.exe``); half the lunches are at the desk reading news; leaves the desktop on at
  night (locked, then asleep 30 minutes later). Rounds to 5 and labels half of the blocks.
- ``researcher``: PhD student, Arch Linux with i3 on X11, a desktop (Zurich, UTC+1, starts
  late). Emacs with its default title (``emacs@host`` whatever the buffer), Zathura
  (full paths as titles, read with the keyboard), Firefox (arXiv, Overleaf, OpenReview),
  VS Code, Alacritty, Zotero, Element, Thunderbird. i3lock (invisible) by hand, the machine
  never sleeps by day; a weekly group meeting in a room, away from the desk. Labels to the
  minute but only about 40% of the blocks.

How a day is made. A plan of truth blocks comes first: the day starts at a local time of the
person's (their time zone, fixed offsets, converted to UTC), calendar meetings fall on :00/:15/
:30 with late joins and overruns, lunch and coffee breaks near their usual times, and the
rest is filled with work blocks drawn from the kind's mix (with follow-ups: Build to Debug,
Meet to Communicate), split by short walks away (2-5 minutes: nothing locks, or an idle
timeout does) and by short Communicate interruptions. Each block is then acted out as a
sequence of windows (app, title) with log-normal dwell times, tab and file changes, glances at
chat or mail of a few seconds that return to the same window, pre-join lobbies and screen
sharing in meetings. Breaks follow the person's lock habits: hand lock, the OS's idle lock or
screensaver (visible app, or invisible to aw-watcher-window), sleep (no events), unlock with a
password typed.

The buckets are then recorded as the watchers would: aw-watcher-window polls every second
(heartbeats merge an unchanged window; a window seen by one poll has duration 0, and a
glance shorter than a second may never be seen); aw-watcher-input (5-second samples, all-zero
samples merged by its heartbeat into one long event, the sample that spans a suspend as long
as the suspend) from a two-state (typing/pausing) process per activity profile; aw-watcher-afk
is simulated poll by poll (5 s, 180 s timeout, heartbeats with pulsetime 185 s) from the
input's times, so a meeting one only listens to, or a dense page read, goes afk, and a short
walk does not.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

LABELS = ("Build", "Debug", "Review", "Write", "ReadResearch", "Communicate", "Meet", "BreakIdle")
WORK_LABELS = ("Build", "Debug", "Review", "Write", "ReadResearch", "Communicate")
AFK_TIMEOUT = 180.0  # aw-watcher-afk's default timeout
AFK_POLL = 5.0
INPUT_POLL = 5.0


# --- the interface --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block:
    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True, slots=True)
class Person:
    kind: str
    platform: str
    where: str
    rounding: int  # minutes the person rounds a label span's edges to
    labelled: float  # share of non-break blocks the person labels
    habits: str


@dataclass(frozen=True, slots=True)
class People:
    export: dict[str, Any]
    truth: list[Block]
    person: Person
    counts: dict[str, int]


# --- input profiles -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    go: float  # P(pause -> active) per 5 s sample
    stay: float  # P(active -> active)
    presses: float  # mean key presses in an active sample
    click: float  # P(click) in an active sample
    move: float  # P(mouse moves) in an active sample
    px: float  # mean pixels moved
    scroll: float  # P(scroll) in an active sample
    notches: float  # mean scroll events when scrolling


PROFILES = {
    "code": Profile(0.45, 0.80, 11, 0.20, 0.35, 250, 0.25, 5),
    "prose": Profile(0.50, 0.85, 18, 0.10, 0.25, 200, 0.15, 4),
    "term": Profile(0.45, 0.72, 9, 0.08, 0.20, 150, 0.20, 6),
    "read": Profile(0.22, 0.55, 0.3, 0.10, 0.35, 180, 0.75, 6),
    "read_deep": Profile(0.09, 0.45, 0.2, 0.05, 0.30, 120, 0.80, 5),
    "read_keys": Profile(0.10, 0.40, 2, 0.02, 0.05, 60, 0.0, 0),
    "browse": Profile(0.45, 0.65, 1.5, 0.45, 0.85, 600, 0.45, 7),
    "chat": Profile(0.55, 0.75, 14, 0.30, 0.45, 300, 0.25, 4),
    "mail": Profile(0.40, 0.70, 8, 0.35, 0.55, 350, 0.40, 5),
    "review": Profile(0.33, 0.65, 3, 0.30, 0.55, 300, 0.65, 7),
    "sheet": Profile(0.45, 0.72, 6, 0.45, 0.65, 400, 0.30, 4),
    "notes": Profile(0.10, 0.55, 12, 0.10, 0.20, 150, 0.05, 2),
    "listen": Profile(0.035, 0.30, 0.4, 0.30, 0.80, 120, 0.20, 3),
    "present": Profile(0.22, 0.60, 3, 0.40, 0.85, 450, 0.45, 5),
    "watch": Profile(0.015, 0.25, 0.2, 0.40, 0.80, 150, 0.10, 2),
    "idle": Profile(0.0, 0.0, 0, 0, 0, 0, 0, 0),
}


# --- kinds ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    app: str
    title: str  # a template: {key} is filled from the block's context
    profile: str
    dwell: float  # median seconds per visit
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Habits:
    locker: tuple[str, str] | None  # aw-watcher-window's view of the lock screen; None: invisible
    wake_locker: bool  # the locker is seen at the day's first wake
    hand_lock: float  # P(locks by hand) when leaving for a coffee or lunch
    auto_lock: float | None  # seconds without input before the OS locks
    saver: tuple[str, str] | None = None  # screensaver window, starts after auto_lock seconds
    sleep_after_lock: float | None = None  # seconds locked before the machine sleeps
    lid_at_lunch: float = 0.0  # P(closes the laptop at lunch: sleeps at once)
    lunch_at_desk: float = 0.0  # P(lunch at the desk, browsing)
    eod_left_on: float | None = None  # leaves the machine on: it sleeps this long after leaving
    scroll: float = 1.0  # scroll events per notch (trackpads make many)


Meeting = tuple[int, int, str, str]  # local minute, minutes, title, mode (video/room/laptop)


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    platform: str
    where: str
    utc_offset: float  # hours
    start: tuple[int, int]  # local minutes of the day's first input
    hours: tuple[float, float]
    lunch: tuple[int, int, int, int]  # local start lo, hi; minutes lo, hi
    coffees: tuple[tuple[int, int], ...]  # local windows for coffee breaks
    coffee_len: tuple[int, int]
    walks: tuple[int, int]
    opening: tuple[str, int, int]
    mix: dict[str, float]
    lengths: dict[str, tuple[int, int]]
    follow: dict[str, dict[str, float]]
    places: dict[str, tuple[Place, ...]]
    glances: tuple[Place, ...]
    glance_every: float  # minutes between glances, mean
    video: Place  # the meeting window; {meeting} is the meeting's title
    lobby: Place | None
    room_notes: Place | None
    share: Place | None  # what the person shares on screen, when presenting
    meetings: Callable[[random.Random, int], list[Meeting]]
    habits: Habits
    rounding: int
    labelled: float
    vocab: dict[str, tuple[str, ...]]
    lunch_places: tuple[Place, ...] = ()
    interrupts: float = 0.3  # P(a long work block is cut by a Communicate interruption)
    incident: float = 0.0  # P(a day has an incident: a long Debug block with chat glances)
    multitask: float = 0.3  # glances per 10 minutes of meeting
    single: frozenset[str] = frozenset()
    users: tuple[str, ...] = ()
    poll: float = 1.0  # aw-watcher-window's seconds between polls, with the time a poll takes


def _meet_backend(rng: random.Random, wd: int) -> list[Meeting]:
    out: list[Meeting] = [(570, 15, "Stand-up", "video")]
    if wd == 1:
        out.append((840, 60, "Backlog refinement", "video"))
    if wd == 3:
        out.append((900, 30, "1:1 Jonas / Anna", "video"))
    if wd == 4:
        out.append((900, 45, "Sprint demo", "video"))
    if rng.random() < 0.25:
        out.append((rng.choice((660, 690, 960)), 30, "Pairing on outbox retries", "video"))
    return out


def _meet_writer(rng: random.Random, wd: int) -> list[Meeting]:
    out: list[Meeting] = []
    if wd == 0:
        out.append((600, 30, "Docs planning", "video"))
    if wd == 2:
        out.append((870, 45, "Product sync", "video"))
    if wd == 3:
        out.append((660, 30, "1:1 with Rita", "video"))
    if rng.random() < 0.35:
        out.append((rng.choice((930, 960, 990)), 30, "Review: webhooks guide", "video"))
    return out


def _meet_manager(rng: random.Random, wd: int) -> list[Meeting]:
    out: list[Meeting] = []
    if wd in (0, 2, 4):
        out.append((585, 15, "Platform stand-up", "video"))
    if wd == 0:
        out.append((600, 60, "Staff meeting", "video"))
    if wd == 1:
        out.append((780, 60, "Eng leadership", "room" if rng.random() < 0.5 else "video"))
    if wd == 2:
        out.append((900, 60, "Architecture review", "laptop"))
    if wd == 3:
        out.append((660, 60, "Interview: Senior SRE", "video"))
    if wd == 4:
        out.append((840, 30, "QBR prep", "video"))
    people = ["Sam", "Priya", "Luis", "Mei", "Tom", "Aisha", "Ben"]
    rng.shuffle(people)
    slots = [600, 630, 690, 720, 810, 840, 870, 900, 930, 960, 990, 1020]
    rng.shuffle(slots)
    n = rng.randint(2, 4)
    for who, at in zip(people[:n], slots, strict=False):
        out.append((at, 30, f"1:1 {who} / Dana", "laptop" if rng.random() < 0.15 else "video"))
    syncs = ("Sync: Q3 roadmap", "Incident 0412 review", "Hiring debrief", "Vendor call: Datadog")
    for at in slots[n : n + rng.randint(1, 3)]:
        out.append((at, rng.choice((30, 30, 45, 60)), rng.choice(syncs), "video"))
    return out


def _meet_datasci(rng: random.Random, wd: int) -> list[Meeting]:
    out: list[Meeting] = [(600, 15, "DS stand-up", "video")]
    if wd in (1, 3):
        out.append((990, 45, "Churn sync with US", "video"))
    if wd == 2:
        out.append((900, 60, "Reading group", "video"))
    if wd == 4:
        out.append((1020, 30, "Demo: uplift model", "video"))
    return out


def _meet_sre(rng: random.Random, wd: int) -> list[Meeting]:
    out: list[Meeting] = [(555, 15, "Ops stand-up", "video")]
    if wd == 2:
        out.append((660, 30, "Change advisory board", "video"))
    if wd == 4 and rng.random() < 0.6:
        out.append((780, 45, "Postmortem review", "video"))
    return out


def _meet_researcher(rng: random.Random, wd: int) -> list[Meeting]:
    out: list[Meeting] = []
    if wd == 0:
        out.append((600, 60, "Group meeting", "room"))
    if wd == 3:
        out.append((840, 30, "Supervisor 1:1", "video"))
    if wd == 2 and rng.random() < 0.5:
        out.append((960, 60, "Reading group", "room"))
    return out


def _p(app: str, title: str, profile: str, dwell: float, weight: float = 1.0) -> Place:
    return Place(app, title, profile, dwell, weight)


FF = " — Mozilla Firefox"
CH_WIN = " - Google Chrome"
EDGE = " - Work - Microsoft\u200b Edge"

BACKEND = Kind(
    name="backend",
    platform="Ubuntu 22.04, GNOME on X11, laptop",
    where="Berlin (UTC+1)",
    utc_offset=1.0,
    start=(500, 555),
    hours=(8.3, 9.2),
    lunch=(720, 780, 35, 55),
    coffees=((630, 660), (900, 960)),
    coffee_len=(6, 14),
    walks=(1, 3),
    opening=("Communicate", 8, 20),
    mix={
        "Build": 5,
        "Debug": 3,
        "Review": 1.8,
        "ReadResearch": 1.2,
        "Communicate": 1.2,
        "Write": 0.6,
    },
    lengths={
        "Build": (15, 75),
        "Debug": (8, 45),
        "Review": (10, 35),
        "ReadResearch": (6, 25),
        "Communicate": (3, 12),
        "Write": (15, 40),
    },
    follow={"Build": {"Debug": 2.0}, "Debug": {"Build": 2.5}, "Review": {"Communicate": 1.5}},
    places={
        "Build": (
            _p("Code", "{file} - {repo} - Visual Studio Code", "code", 150, 6),
            _p("Code", "● {file} - {repo} - Visual Studio Code", "code", 60, 2),
            _p("Gnome-terminal", "{user}: ~/src/{repo}", "term", 35, 3),
            _p("firefox", "{doc}" + FF, "read", 50, 1.5),
            _p("firefox", "{ticket} - Jira" + FF, "browse", 25, 0.5),
        ),
        "Debug": (
            _p("Gnome-terminal", "{user}: ~/src/{repo}", "term", 60, 4),
            _p("Code", "{file} - {repo} - Visual Studio Code", "code", 80, 4),
            _p("firefox", "{so}" + FF, "read", 45, 1.5),
            _p("firefox", "{sentry}" + FF, "browse", 40, 1.2),
            _p("firefox", "Explore - Loki - Grafana" + FF, "browse", 50, 0.7),
            _p("DBeaver", "DBeaver 24.0.2 - <billing-staging> Script-{n}", "sheet", 60, 0.6),
        ),
        "Review": (
            _p("firefox", "{pr}" + FF, "review", 120, 6),
            _p("Code", "{file} - {repo} - Visual Studio Code", "review", 60, 1.5),
            _p("Gnome-terminal", "{user}: ~/src/{repo}", "term", 30, 1),
        ),
        "ReadResearch": (
            _p("firefox", "{doc}" + FF, "read", 150, 5),
            _p("firefox", "{blog}" + FF, "read", 120, 2),
            _p("firefox", "{talk} - YouTube" + FF, "watch", 300, 0.5),
        ),
        "Write": (
            _p("Code", "{adr} - {repo} - Visual Studio Code", "prose", 180, 4),
            _p("firefox", "{design} - Engineering - Confluence" + FF, "prose", 150, 3),
            _p("firefox", "{doc}" + FF, "read", 40, 0.8),
        ),
        "Communicate": (
            _p("Slack", "{channel} - Acme - Slack", "chat", 50, 5),
            _p("thunderbird", "{mail} - Mozilla Thunderbird", "mail", 60, 2),
            _p("firefox", "{ticket} - Jira" + FF, "browse", 40, 0.7),
        ),
    },
    glances=(
        _p("Slack", "{channel} - Acme - Slack", "chat", 14, 4),
        _p("thunderbird", "Inbox - Mozilla Thunderbird", "mail", 9, 1),
    ),
    glance_every=9,
    video=_p("zoom", "Zoom Meeting", "listen", 400),
    lobby=_p("zoom", "Zoom Workplace", "browse", 12),
    room_notes=None,
    share=_p("Code", "{file} - {repo} - Visual Studio Code", "present", 300),
    meetings=_meet_backend,
    habits=Habits(
        locker=None,
        wake_locker=False,
        hand_lock=0.5,
        auto_lock=300,
        lid_at_lunch=0.8,
        scroll=1.0,
    ),
    rounding=1,
    labelled=0.9,
    vocab={
        "repo": ("billing-api", "outbox-worker", "ledger-service"),
        "file": (
            "invoices.py",
            "outbox.py",
            "ledger.py",
            "test_invoices.py",
            "conftest.py",
            "session.py",
            "retry.py",
            "payment.py",
            "2f1c_add_refunds.py",
            "Makefile",
            "docker-compose.yml",
            "pyproject.toml",
            "settings.py",
            "test_outbox.py",
        ),
        "doc": (
            "asyncio — Asynchronous I/O — Python 3.12.3 documentation",
            "Session Basics — SQLAlchemy 2.0 Documentation",
            "Transaction Isolation - PostgreSQL 16 documentation",
            "Dependencies - FastAPI",
            "How to use fixtures — pytest documentation",
            "Idempotent requests | Stripe API Reference",
            "Consumer Configurations | Confluent Documentation",
        ),
        "blog": (
            "Transactional outbox pattern - microservices.io",
            "Postgres locking revealed | Hacker News",
            "Designing robust and predictable APIs with idempotency",
        ),
        "talk": (
            "PyCon DE 2024 - Async SQLAlchemy in practice",
            "Martin Kleppmann - Transactions: myths, surprises and opportunities",
        ),
        "so": (
            "python - SQLAlchemy DetachedInstanceError after commit - Stack Overflow",
            "postgresql - could not serialize access due to concurrent update - Stack Overflow",
            "python - pytest-asyncio event loop is closed - Stack Overflow",
            "docker compose - connection refused between containers - Stack Overflow",
        ),
        "sentry": (
            "KeyError: 'currency' — billing-api — Sentry",
            "IntegrityError: duplicate key value violates unique constraint — Sentry",
            "TimeoutError: outbox publish exceeded 30s — outbox-worker — Sentry",
        ),
        "ticket": (
            "BILL-1432 Refunds for partial captures",
            "BILL-1457 Outbox retries stuck on 409",
            "BILL-1470 Ledger export to CSV",
            "BILL-1481 Flaky test_invoice_totals",
        ),
        "pr": (
            "Add refund endpoint by mfischer · Pull Request #1288 · acme/billing-api · GitHub",
            "Retry 409s with backoff by aweber · Pull Request #412 · acme/outbox-worker · GitHub",
            "Bump SQLAlchemy to 2.0.29 by renovate · Pull Request #1293 · acme/billing-api",
            "Ledger CSV export by tkoch · Pull Request #97 · acme/ledger-service · GitHub",
        ),
        "adr": ("0012-outbox-retries.md", "README.md", "runbook-refunds.md"),
        "design": ("Refunds for partial captures", "Outbox retries v2"),
        "channel": (
            "backend (Channel)",
            "payments-team (Channel)",
            "Anna Weber (DM)",
            "Threads",
            "incidents (Channel)",
            "random (Channel)",
        ),
        "mail": ("Inbox", "Re: On-call handover", "[acme/billing-api] Run failed: CI"),
        "n": ("3", "7", "12"),
    },
    single=frozenset({"repo", "pr", "ticket", "design", "adr"}),
    users=("jonas@t14", "lena@x1carbon", "mehmet@t480s"),
    poll=1.01,
)

WRITER = Kind(
    name="writer",
    platform="macOS 14, MacBook Air",
    where="Lisbon (UTC+0)",
    utc_offset=0.0,
    start=(525, 580),
    hours=(8.0, 9.0),
    lunch=(750, 810, 45, 70),
    coffees=((645, 690), (930, 990)),
    coffee_len=(8, 16),
    walks=(1, 2),
    opening=("Communicate", 10, 25),
    mix={
        "Write": 5,
        "ReadResearch": 2.5,
        "Review": 2,
        "Communicate": 1.4,
        "Build": 0.5,
        "Debug": 0.4,
    },
    lengths={
        "Write": (20, 80),
        "ReadResearch": (10, 40),
        "Review": (10, 40),
        "Communicate": (4, 15),
        "Build": (10, 30),
        "Debug": (8, 25),
    },
    follow={"ReadResearch": {"Write": 2.0}, "Build": {"Debug": 2.0}, "Debug": {"Write": 2.0}},
    places={
        "Write": (
            _p("Code", "{md} — docs-site", "prose", 200, 5),
            _p("Google Chrome", "{preview} | Acme Docs", "read", 25, 2),
            _p("Google Chrome", "{gdoc} - Google Docs", "prose", 180, 3),
            _p("Google Chrome", "{ref}", "read", 40, 1),
        ),
        "ReadResearch": (
            _p("Google Chrome", "{ref}", "read", 150, 5),
            _p("Preview", "{pdf}", "read_deep", 200, 1.5),
            _p("Google Chrome", "{video}", "watch", 300, 0.6),
            _p("Notion", "{brief}", "read", 100, 1),
        ),
        "Review": (
            _p("Google Chrome", "{pr}", "review", 120, 5),
            _p("Google Chrome", "{gdoc} - Google Docs", "review", 120, 3),
            _p("Code", "{md} — docs-site", "review", 60, 1),
        ),
        "Communicate": (
            _p("Slack", "{channel} - Acme - Slack", "chat", 50, 5),
            _p("Mail", "{mail}", "mail", 60, 2.5),
        ),
        "Build": (
            _p("Code", "{sample} — docs-site", "code", 120, 5),
            _p("Terminal", "docs-site — {cmd} — 120×34", "term", 40, 3),
            _p("Google Chrome", "{ref}", "read", 40, 1),
        ),
        "Debug": (
            _p("Terminal", "docs-site — {cmd} — 120×34", "term", 60, 4),
            _p("Google Chrome", "{netlify}", "read", 60, 2),
            _p("Code", "{md} — docs-site", "code", 60, 2),
            _p("Google Chrome", "{so}", "read", 45, 1),
        ),
    },
    glances=(
        _p("Slack", "{channel} - Acme - Slack", "chat", 12, 4),
        _p("Mail", "Inbox (1 unread) – Work", "mail", 10, 1.5),
        _p("Finder", "Downloads", "browse", 4, 0.5),
    ),
    glance_every=11,
    video=_p("Google Chrome", "Meet - {meeting}", "listen", 400),
    lobby=_p("Google Chrome", "Meet - {meeting}", "browse", 25),
    room_notes=None,
    share=_p("Google Chrome", "{preview} | Acme Docs", "present", 300),
    meetings=_meet_writer,
    habits=Habits(
        locker=("loginwindow", ""),
        wake_locker=True,
        hand_lock=0.85,
        auto_lock=600,
        sleep_after_lock=720,
        scroll=3.0,
    ),
    rounding=5,
    labelled=0.75,
    vocab={
        "md": (
            "webhooks.md",
            "authentication.md",
            "quickstart.mdx",
            "rate-limits.md",
            "changelog.md",
            "errors.md",
            "sdk-python.md",
            "sidebars.js",
        ),
        "preview": ("Webhooks", "Authentication", "Quickstart", "Rate limits", "Errors"),
        "gdoc": ("Release notes 4.2", "Webhooks v2 – draft", "Docs style guide", "Q1 docs roadmap"),
        "ref": (
            "Webhooks v2 design - Engineering - Confluence",
            "API Reference – Acme Developers",
            "Webhook endpoints | Stripe API Reference",
            "Google developer documentation style guide  |  Google for Developers",
            "Diátaxis",
            "OpenAPI Specification v3.1.0",
            "Writing for developers — Write the Docs",
        ),
        "pdf": ("OpenAPI-3.1-spec.pdf", "Webhooks v2 – PRD.pdf"),
        "video": (
            "Acme Platform walkthrough - YouTube",
            "Webhooks v2 demo (internal) - Google Drive",
        ),
        "brief": ("Product brief: Webhooks v2", "Launch checklist"),
        "pr": (
            "docs: webhooks v2 guide by rlima · Pull Request #212 · acme/docs-site · GitHub",
            "Fix broken links in auth guide by dpaiva · Pull Request #219 · acme/docs-site",
            "Add Python SDK examples by mcosta · Pull Request #221 · acme/docs-site · GitHub",
        ),
        "channel": (
            "docs (Channel)",
            "devrel (Channel)",
            "Rita Lima (DM)",
            "product-launches (Channel)",
            "Threads",
        ),
        "mail": ("Inbox (3 unread) – Work", "Re: Webhooks v2 launch date", "Drafts – Work"),
        "sample": ("webhook_handler.py", "verify_signature.ts", "quickstart.sh"),
        "cmd": ("-zsh", "npm run dev", "npm run build", "git"),
        "netlify": ("Deploy log | docs-site | Netlify", "Deploys | docs-site | Netlify"),
        "so": (
            "javascript - MDX: Could not parse expression with acorn - Stack Overflow",
            "docusaurus - Broken links found - Stack Overflow",
        ),
    },
    single=frozenset({"gdoc", "pr", "brief"}),
    users=("ines", "joao"),
    poll=1.06,
)

MANAGER = Kind(
    name="manager",
    platform="Windows 11, laptop",
    where="New York (UTC-5)",
    utc_offset=-5.0,
    start=(515, 560),
    hours=(8.5, 9.3),
    lunch=(720, 780, 25, 40),
    coffees=((930, 975),),
    coffee_len=(5, 12),
    walks=(1, 2),
    opening=("Communicate", 15, 35),
    mix={"Communicate": 4, "Write": 1.8, "Review": 1.5, "ReadResearch": 1.2},
    lengths={
        "Communicate": (5, 30),
        "Write": (15, 50),
        "Review": (10, 40),
        "ReadResearch": (8, 30),
    },
    follow={"Communicate": {"Write": 1.3}},
    places={
        "Communicate": (
            _p("ms-teams.exe", "Chat | {person} | Microsoft Teams", "chat", 60, 5),
            _p("OUTLOOK.EXE", "Inbox - dana.roberts@contoso.com - Outlook", "mail", 50, 3),
            _p("OUTLOOK.EXE", "{subject} - Message (HTML) ", "mail", 80, 3),
            _p("ms-teams.exe", "Platform Engineering | General | Microsoft Teams", "read", 40, 1),
        ),
        "Write": (
            _p("WINWORD.EXE", "{word} - Word", "prose", 240, 5),
            _p("POWERPNT.EXE", "{deck} - PowerPoint", "sheet", 180, 1.5),
            _p("EXCEL.EXE", "{sheet} - Excel", "sheet", 120, 1),
            _p("OUTLOOK.EXE", "Untitled - Message (HTML) ", "prose", 150, 1),
        ),
        "Review": (
            _p("msedge.exe", "{adopr}" + EDGE, "review", 120, 3),
            _p("WINWORD.EXE", "{design} - Word", "review", 200, 3),
            _p("msedge.exe", "{sharepoint}" + EDGE, "review", 100, 1),
        ),
        "ReadResearch": (
            _p("msedge.exe", "{article}" + EDGE, "read", 180, 3),
            _p("msedge.exe", "{powerbi}" + EDGE, "browse", 90, 2),
            _p("EXCEL.EXE", "{sheet} - Excel", "sheet", 90, 1),
        ),
    },
    glances=(
        _p("ms-teams.exe", "Chat | {person} | Microsoft Teams", "chat", 15, 4),
        _p("OUTLOOK.EXE", "Inbox - dana.roberts@contoso.com - Outlook", "mail", 10, 3),
        _p("ms-teams.exe", "Calendar | Calendar | Microsoft Teams", "browse", 6, 1),
        _p("explorer.exe", "", "browse", 2, 0.6),
    ),
    glance_every=6,
    video=_p("ms-teams.exe", "{meeting} | Microsoft Teams", "listen", 400),
    lobby=_p("ms-teams.exe", "Calendar | Calendar | Microsoft Teams", "browse", 10),
    room_notes=_p("ONENOTE.EXE", "{meeting} - OneNote", "notes", 600),
    share=_p("POWERPNT.EXE", "{deck} - PowerPoint", "present", 300),
    meetings=_meet_manager,
    habits=Habits(
        locker=("LockApp.exe", "Windows Default Lock Screen"),
        wake_locker=True,
        hand_lock=0.6,
        auto_lock=300,
        scroll=1.0,
    ),
    rounding=15,
    labelled=0.55,
    vocab={
        "person": (
            "Sam Ortiz",
            "Priya Shah",
            "Luis Gómez",
            "Mei Chen",
            "Platform leads",
            "Tom Becker",
            "Aisha Khan",
        ),
        "subject": (
            "RE: Q3 headcount plan",
            "FW: Vendor renewal – Datadog",
            "RE: Offer approval: Senior SRE",
            "Incident 0412 follow-ups",
            "RE: Roadmap review deck",
        ),
        "word": (
            "Q3 planning - platform.docx",
            "Perf review - Sam Ortiz.docx",
            "Incident review 0412.docx",
            "Hiring plan FY27.docx",
        ),
        "deck": ("Platform QBR.pptx", "All-hands update.pptx"),
        "sheet": ("Headcount FY27.xlsx", "Capacity plan Q3.xlsx", "Cloud spend Nov.xlsx"),
        "adopr": (
            "Pull request 4521: Migrate auth to OIDC - Repos",
            "Pull request 4533: Event bus retries - Repos",
            "Sprint 42 - Boards",
        ),
        "design": ("Design - Event bus v2.docx", "RFC - Multi-region failover.docx"),
        "sharepoint": ("Engineering strategy 2027.docx", "On-call policy.docx"),
        "article": (
            "How to Run a Great One-on-One - HBR",
            "DORA | Capabilities: Deployment automation",
            "The Staff Engineer's Path - O'Reilly",
            "Team Topologies - key concepts",
        ),
        "powerbi": ("DORA metrics - Power BI", "Incident trends - Power BI"),
    },
    single=frozenset({"word", "design", "deck"}),
    interrupts=0.5,
    multitask=1.6,
    users=("dana",),
    poll=1.02,
)

DATASCI = Kind(
    name="datasci",
    platform="macOS 15, MacBook Pro",
    where="Bangalore (UTC+5:30)",
    utc_offset=5.5,
    start=(555, 600),
    hours=(8.5, 9.5),
    lunch=(780, 840, 35, 55),
    coffees=((690, 720), (960, 1000)),
    coffee_len=(8, 15),
    walks=(1, 3),
    opening=("Communicate", 6, 15),
    mix={"Build": 4, "Debug": 2.2, "ReadResearch": 2, "Write": 1.2, "Review": 1, "Communicate": 1},
    lengths={
        "Build": (15, 70),
        "Debug": (10, 50),
        "ReadResearch": (10, 45),
        "Write": (15, 50),
        "Review": (10, 30),
        "Communicate": (3, 12),
    },
    follow={"Build": {"Debug": 2.0}, "Debug": {"Build": 2.0}, "ReadResearch": {"Build": 1.5}},
    places={
        "Build": (
            _p("Google Chrome", "{nb} - JupyterLab", "code", 150, 5),
            _p("PyCharm", "churn-pipeline – {py}", "code", 150, 3),
            _p("Terminal", "{term} — 140×40", "term", 40, 2),
            _p("Google Chrome", "{doc}", "read", 50, 1),
            _p("Google Chrome", "{wandb}", "browse", 60, 1),
        ),
        "Debug": (
            _p("Google Chrome", "{nb} - JupyterLab", "code", 80, 4),
            _p("Terminal", "{term} — 140×40", "term", 60, 3),
            _p("Google Chrome", "{so}", "read", 45, 2),
            _p("Google Chrome", "features_daily - Databricks", "browse", 60, 1),
            _p("PyCharm", "churn-pipeline – {py}", "code", 60, 1),
        ),
        "ReadResearch": (
            _p("Preview", "{paper}", "read_deep", 300, 4),
            _p("Google Chrome", "{doc}", "read", 150, 3),
            _p("Google Chrome", "{arxiv}", "read", 60, 1),
        ),
        "Write": (
            _p("Google Chrome", "{slides} - Google Slides", "sheet", 150, 3),
            _p("Google Chrome", "{gdoc} - Google Docs", "prose", 200, 3),
            _p("Microsoft Excel", "{xlsx}", "sheet", 90, 1),
            _p("Google Chrome", "{nb} - JupyterLab", "code", 60, 0.5),
        ),
        "Review": (
            _p("Google Chrome", "{pr}", "review", 150, 5),
            _p("PyCharm", "churn-pipeline – {py}", "review", 60, 1),
        ),
        "Communicate": (
            _p("Slack", "{channel} - Acme - Slack", "chat", 50, 5),
            _p("Microsoft Outlook", "Inbox • arjun.rao@acme.io", "mail", 60, 2),
        ),
    },
    glances=(
        _p("Slack", "{channel} - Acme - Slack", "chat", 12, 4),
        _p("Microsoft Outlook", "Inbox • arjun.rao@acme.io", "mail", 8, 1),
        _p("Google Chrome", "{wandb}", "browse", 15, 1),
    ),
    glance_every=10,
    video=_p("zoom.us", "Zoom Meeting", "listen", 400),
    lobby=_p("Google Chrome", "Launch Meeting - Zoom", "browse", 8),
    room_notes=None,
    share=_p("Google Chrome", "{slides} - Google Slides", "present", 300),
    meetings=_meet_datasci,
    habits=Habits(
        locker=("loginwindow", ""),
        wake_locker=True,
        hand_lock=0.0,
        auto_lock=300,
        saver=("ScreenSaverEngine", ""),
        lunch_at_desk=0.3,
        scroll=3.0,
    ),
    rounding=10,
    labelled=0.8,
    vocab={
        "nb": (
            "churn_features.ipynb",
            "uplift_eval.ipynb",
            "eda_sessions.ipynb",
            "forecast_backtest.ipynb",
        ),
        "py": (
            "features.py",
            "train.py",
            "evaluate.py",
            "config.yaml",
            "test_features.py",
            "dataset.py",
        ),
        "term": (
            "churn-pipeline — -zsh",
            "churn-pipeline — python train.py --cfg cfg/xgb.yaml",
            "arjun — ssh gpu-box-2",
            "churn-pipeline — pytest -q",
        ),
        "doc": (
            "sklearn.ensemble.HistGradientBoostingClassifier — scikit-learn 1.5.2 documentation",
            "XGBoost Parameters — xgboost 2.1.1 documentation",
            "User guide - Polars documentation",
            "Probability calibration — scikit-learn 1.5.2 documentation",
            "A Gentle Introduction to Uplift Modeling | Towards Data Science",
        ),
        "arxiv": (
            "[1705.07874] A Unified Approach to Interpreting Model Predictions",
            "[2301.01234] Uplift modeling with many treatments",
        ),
        "paper": ("Lundberg_2017_SHAP.pdf", "uplift_survey_2023.pdf", "2106.11959v3.pdf"),
        "wandb": ("churn-xgb-1204 | churn | Weights & Biases", "Experiments - MLflow"),
        "so": (
            "python - pandas merge creates duplicate rows - Stack Overflow",
            "python - XGBoost ValueError: feature_names mismatch - Stack Overflow",
            "pyspark - java.lang.OutOfMemoryError: Java heap space - Stack Overflow",
        ),
        "slides": ("Churn model readout", "Uplift Q4 findings"),
        "gdoc": ("Q4 uplift analysis", "Churn features spec"),
        "xlsx": ("forecast_q4.xlsx", "campaign_lift.xlsx"),
        "pr": (
            "Add tenure features by kvenkat · Pull Request #318 · acme/churn-pipeline · GitHub",
            "Fix leakage in label window by priyan · Pull Request #322 · acme/churn-pipeline",
        ),
        "channel": (
            "data-science (Channel)",
            "ml-platform (Channel)",
            "Priya Nair (DM)",
            "Threads",
            "campaigns (Channel)",
        ),
    },
    single=frozenset({"pr", "slides", "gdoc"}),
    lunch_places=(
        _p("Google Chrome", "{yt} - YouTube", "watch", 600, 3),
        _p("Google Chrome", "{news}", "read", 120, 1),
    ),
    users=("arjun", "kavya"),
    poll=1.06,
)

SRE = Kind(
    name="sre",
    platform="Windows 10 desktop with WSL",
    where="Warsaw (UTC+1)",
    utc_offset=1.0,
    start=(420, 465),
    hours=(8.2, 9.0),
    lunch=(690, 750, 25, 40),
    coffees=((600, 630), (840, 870)),
    coffee_len=(6, 12),
    walks=(1, 3),
    opening=("Communicate", 8, 20),
    mix={
        "Build": 3,
        "Debug": 3,
        "Review": 1.3,
        "Communicate": 1.6,
        "Write": 0.5,
        "ReadResearch": 0.7,
    },
    lengths={
        "Build": (15, 60),
        "Debug": (10, 50),
        "Review": (8, 30),
        "Communicate": (4, 15),
        "Write": (15, 40),
        "ReadResearch": (8, 30),
    },
    follow={"Debug": {"Communicate": 1.5, "Write": 1.3}, "Build": {"Review": 1.3}},
    places={
        "Debug": (
            _p("WindowsTerminal.exe", "{wsl}", "term", 90, 4),
            _p("firefox.exe", "{grafana} - Grafana" + FF, "browse", 90, 3),
            _p("firefox.exe", "Discover - Elastic" + FF, "read", 90, 2),
            _p("firefox.exe", "{pd} - PagerDuty" + FF, "browse", 30, 1),
            _p("Code.exe", "{tf} - infra [WSL: Ubuntu] - Visual Studio Code", "code", 60, 1),
            _p("firefox.exe", "{aws}" + FF, "browse", 60, 1),
        ),
        "Build": (
            _p("Code.exe", "{tf} - infra [WSL: Ubuntu] - Visual Studio Code", "code", 150, 5),
            _p("WindowsTerminal.exe", "{wsl}", "term", 60, 4),
            _p("firefox.exe", "{doc}" + FF, "read", 60, 1.5),
            _p("firefox.exe", "{jira} - Jira" + FF, "browse", 30, 0.5),
        ),
        "Review": (
            _p("firefox.exe", "{pr}" + FF, "review", 120, 5),
            _p("WindowsTerminal.exe", "{wsl}", "term", 40, 1),
            _p("Code.exe", "{tf} - infra [WSL: Ubuntu] - Visual Studio Code", "review", 60, 1),
        ),
        "Communicate": (
            _p("slack.exe", "{channel} - Acme - Slack", "chat", 60, 5),
            _p("OUTLOOK.EXE", "Inbox - m.kozak@acme.io - Outlook", "mail", 60, 1.5),
        ),
        "Write": (
            _p("firefox.exe", "{confluence} - SRE - Confluence" + FF, "prose", 200, 5),
            _p("firefox.exe", "{grafana} - Grafana" + FF, "browse", 40, 1),
            _p("Code.exe", "{runbook} - infra [WSL: Ubuntu] - Visual Studio Code", "prose", 120, 1),
        ),
        "ReadResearch": (
            _p("firefox.exe", "{doc}" + FF, "read", 150, 5),
            _p("firefox.exe", "{talk} - YouTube" + FF, "watch", 300, 0.5),
        ),
    },
    glances=(
        _p("slack.exe", "{channel} - Acme - Slack", "chat", 15, 5),
        _p("firefox.exe", "{grafana} - Grafana" + FF, "browse", 10, 1.5),
        _p("explorer.exe", "", "browse", 2, 0.5),
    ),
    glance_every=7,
    video=_p("Zoom.exe", "Zoom Meeting", "listen", 400),
    lobby=_p("Zoom.exe", "Zoom Workplace", "browse", 10),
    room_notes=None,
    share=_p("firefox.exe", "{grafana} - Grafana" + FF, "present", 300),
    meetings=_meet_sre,
    habits=Habits(
        locker=("LockApp.exe", "Windows Default Lock Screen"),
        wake_locker=True,
        hand_lock=0.0,
        auto_lock=900,
        lunch_at_desk=0.5,
        eod_left_on=1800,
        scroll=1.0,
    ),
    rounding=5,
    labelled=0.5,
    vocab={
        "wsl": (
            "{u}@WS-OPS-114: ~/infra/terraform/prod",
            "{u}@WS-OPS-114: ~/infra/k8s/payments",
            "{u}@WS-OPS-114: ~/runbooks",
            "{u}@bastion-1: ~",
            "Windows PowerShell",
        ),
        "tf": (
            "main.tf",
            "variables.tf",
            "values-prod.yaml",
            "alerts.rules.yml",
            "deploy.yml",
            "Chart.yaml",
            "rds.tf",
        ),
        "grafana": (
            "Payments API - Dashboards",
            "Node Exporter Full - Dashboards",
            "Explore - Loki",
            "Kafka lag - Dashboards",
        ),
        "pd": ("#2291 [FIRING:1] PaymentsLatencyHigh", "Incidents", "#2304 KubePodCrashLooping"),
        "aws": (
            "CloudWatch | eu-central-1",
            "RDS | eu-central-1 — Databases",
            "EC2 | eu-central-1 — Instances",
        ),
        "doc": (
            "aws_rds_cluster | Resources | hashicorp/aws | Terraform Registry",
            "Pod Lifecycle | Kubernetes",
            "Alerting rules | Prometheus",
            "Values Files | Helm",
            "Reliability pillar - AWS Well-Architected Framework",
        ),
        "talk": ("SREcon24 - Kafka at scale: what broke", "KubeCon EU - Cluster autoscaler"),
        "jira": (
            "OPS-1422 Rotate TLS certs on ingress",
            "OPS-1431 Upgrade EKS to 1.31",
            "OPS-1440 RDS storage alerts",
        ),
        "pr": (
            "Bump node pool to m6i.xlarge by tnowak · Pull Request #877 · acme/infra · GitHub",
            "Alert on Kafka consumer lag by mkozak · Pull Request #881 · acme/infra · GitHub",
            "RDS: enable performance insights by akowal · Pull Request #884 · acme/infra",
        ),
        "confluence": ("Postmortem: payments latency", "Runbook: RDS failover", "On-call handover"),
        "runbook": ("rds-failover.md", "kafka-lag.md"),
        "channel": (
            "incidents (Channel)",
            "sre (Channel)",
            "Tomasz Nowak (DM)",
            "deploys (Channel)",
            "payments-team (Channel)",
        ),
    },
    single=frozenset({"pr", "confluence", "jira"}),
    lunch_places=(
        _p("firefox.exe", "{news}" + FF, "read", 120, 3),
        _p("firefox.exe", "{yt} - YouTube" + FF, "watch", 400, 1),
    ),
    incident=0.35,
    multitask=0.6,
    users=("mkozak", "akowal"),
    poll=1.02,
)

RESEARCHER = Kind(
    name="researcher",
    platform="Arch Linux, i3 on X11, desktop",
    where="Zurich (UTC+1)",
    utc_offset=1.0,
    start=(555, 610),
    hours=(8.5, 9.5),
    lunch=(715, 750, 45, 70),
    coffees=((615, 660), (930, 990)),
    coffee_len=(12, 25),
    walks=(1, 3),
    opening=("Communicate", 8, 25),
    mix={
        "ReadResearch": 4,
        "Write": 3.5,
        "Build": 2,
        "Debug": 1.3,
        "Communicate": 1,
        "Review": 0.8,
    },
    lengths={
        "ReadResearch": (15, 60),
        "Write": (20, 80),
        "Build": (15, 60),
        "Debug": (10, 45),
        "Communicate": (4, 15),
        "Review": (20, 60),
    },
    follow={"Build": {"Debug": 2.0}, "Debug": {"Build": 1.5}, "ReadResearch": {"Write": 1.5}},
    places={
        "ReadResearch": (
            _p("Zathura", "/home/{u}/papers/{pdf}", "read_keys", 360, 5),
            _p("firefox", "{arxiv}" + FF, "read", 120, 3),
            _p("Zotero", "My Library - Zotero", "browse", 40, 1),
        ),
        "Write": (
            _p("Emacs", "emacs@helix", "prose", 300, 5),
            _p("firefox", "{overleaf} - Online LaTeX Editor Overleaf" + FF, "prose", 200, 2),
            _p("Zathura", "/home/{u}/thesis/build/thesis.pdf", "read_keys", 30, 1),
            _p("firefox", "{arxiv}" + FF, "read", 40, 0.5),
        ),
        "Build": (
            _p("Code", "{py} - ood-bench - Visual Studio Code", "code", 180, 5),
            _p("Alacritty", "{term}", "term", 60, 3),
            _p("firefox", "{doc}" + FF, "read", 60, 1),
        ),
        "Debug": (
            _p("Alacritty", "{term}", "term", 90, 4),
            _p("Code", "{py} - ood-bench - Visual Studio Code", "code", 80, 3),
            _p("firefox", "{so}" + FF, "read", 50, 1.5),
        ),
        "Review": (
            _p("firefox", "{openreview}" + FF, "review", 150, 3),
            _p("Zathura", "/home/{u}/Downloads/{submission}", "read_keys", 200, 3),
            _p("firefox", "{mr}" + FF, "review", 100, 1.5),
            _p("Emacs", "emacs@helix", "prose", 120, 1),
        ),
        "Communicate": (
            _p("Element", "Element | {room}", "chat", 60, 4),
            _p("thunderbird", "{mail} - Mozilla Thunderbird", "mail", 80, 3),
        ),
    },
    glances=(
        _p("Element", "Element | {room}", "chat", 10, 3),
        _p("thunderbird", "Inbox - Mozilla Thunderbird", "mail", 8, 1.5),
    ),
    glance_every=14,
    video=_p("zoom", "Zoom Meeting", "listen", 400),
    lobby=_p("firefox", "Launch Meeting - Zoom" + FF, "browse", 8),
    room_notes=None,
    share=_p("Zathura", "/home/{u}/thesis/build/slides.pdf", "present", 300),
    meetings=_meet_researcher,
    habits=Habits(locker=None, wake_locker=False, hand_lock=0.7, auto_lock=None, scroll=1.0),
    rounding=1,
    labelled=0.4,
    vocab={
        "pdf": (
            "hendrycks2017baseline.pdf",
            "liu2020energy.pdf",
            "yang2022openood.pdf",
            "sun2022knn.pdf",
            "guo2017calibration.pdf",
        ),
        "arxiv": (
            "[1610.02136] A Baseline for Detecting Misclassified and Out-of-Distribution "
            "Examples in Neural Networks",
            "[2010.03759] Energy-based Out-of-distribution Detection",
            "[2210.07242] OpenOOD: Benchmarking Generalized Out-of-Distribution Detection",
            "ood detection calibration - Google Scholar",
        ),
        "overleaf": ("ICML workshop: energy OOD", "Thesis chapter 3"),
        "py": (
            "train.py",
            "datasets.py",
            "metrics.py",
            "ood_scores.py",
            "base.yaml",
            "plots.py",
            "test_metrics.py",
        ),
        "term": (
            "{u}@helix:~/exp/ood-bench",
            "python train.py --config configs/base.yaml",
            "{u}@eu-login-21:~",
            "nvidia-smi -l 2",
            "git",
        ),
        "doc": (
            "torch.utils.data — PyTorch 2.5 documentation",
            "matplotlib.pyplot.subplots — Matplotlib 3.9 documentation",
            "Using the batch system - ScientificComputing",
        ),
        "so": (
            "pytorch - CUDA out of memory. Tried to allocate - Stack Overflow",
            "python - RuntimeError: expected scalar type Float but found Half - Stack Overflow",
            "slurm - sbatch job pending (Priority) forever - Stack Overflow",
        ),
        "openreview": (
            "ICLR 2027 Conference Submission4312 | OpenReview",
            "Reviewer console | OpenReview",
        ),
        "submission": ("ICLR2027_Submission4312.pdf",),
        "mr": ("Add energy score baseline (!42) · Merge requests · lab/ood-bench · GitLab",),
        "room": ("ML group", "ood-bench", "Anna Müller", "PhD students"),
        "mail": ("Inbox", "Re: TA schedule HS26", "[euler] Job 58213 completed"),
    },
    single=frozenset({"overleaf", "submission", "mr"}),
    users=("mkeller", "lzhou"),
    poll=1.01,
)

KINDS = {k.name: k for k in (BACKEND, WRITER, MANAGER, DATASCI, SRE, RESEARCHER)}

LUNCH_VOCAB = {
    "yt": (
        "Cricket highlights: IND v AUS 3rd ODI",
        "lofi hip hop radio",
        "Formula 1 – Abu Dhabi GP highlights",
        "Veritasium – The Most Misunderstood Concept",
    ),
    "news": (
        "Wiadomości - Onet",
        "Hacker News",
        "r/sysadmin",
        "BBC News - Home",
        "The Hindu: Breaking News",
    ),
}


# --- traits of one seed ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Traits:
    user: str
    shift: float  # minutes added to the start
    speed: float  # typing speed factor
    glance: float  # glance rate factor
    mix: dict[str, float] = field(default_factory=dict)


def traits_of(kind: Kind, seed: int) -> Traits:
    rng = random.Random(f"traits:{kind.name}:{seed}")
    users = kind.users or ("user",)
    return Traits(
        user=users[seed % len(users)],
        shift=rng.uniform(-15, 15),
        speed=rng.uniform(0.8, 1.25),
        glance=rng.uniform(0.7, 1.4),
        mix={k: v * rng.uniform(0.75, 1.3) for k, v in kind.mix.items()},
    )


# --- the plan: truth blocks -----------------------------------------------------------------


@dataclass(slots=True)
class Item:
    label: str
    start: float
    end: float
    info: dict[str, Any]


def _pick_weighted(rng: random.Random, weights: dict[str, float]) -> str:
    total = sum(weights.values())
    x = rng.random() * total
    for key, w in weights.items():
        x -= w
        if x < 0:
            return key
    return next(iter(weights))


def _context(kind: Kind, traits: Traits, rng: random.Random) -> dict[str, tuple[str, ...]]:
    ctx: dict[str, tuple[str, ...]] = {}
    for key, options in {**kind.vocab, **LUNCH_VOCAB}.items():
        k = 1 if key in kind.single else min(len(options), rng.randint(2, 4))
        ctx[key] = tuple(rng.sample(options, k))
    ctx["u"] = (traits.user.split("@")[0],)
    ctx["user"] = (traits.user,)
    return ctx


def plan_day(kind: Kind, traits: Traits, rng: random.Random, day: date) -> list[Item]:
    """The day's truth, as items in POSIX seconds."""
    base = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    off = kind.utc_offset * 3600

    def at(local_minutes: float) -> float:
        return float(round(base + local_minutes * 60 - off))

    start = at(rng.uniform(*kind.start) + traits.shift)
    end = start + round(rng.uniform(*kind.hours) * 3600)
    fixed: list[Item] = []
    for minute, length, title, mode in kind.meetings(rng, day.weekday()):
        s = at(minute) + round(rng.uniform(-60, 200))
        e = at(minute + length) + round(rng.uniform(-300, 240))
        if e - s > 300 and start + 600 < s and e < end - 300:
            fixed.append(Item("Meet", s, e, {"title": title, "mode": mode}))
    fixed.sort(key=lambda it: it.start)
    meetings: list[Item] = []
    for it in fixed:  # back to back: leaves the first one for the next, or skips the next
        if meetings and it.start < meetings[-1].end + 60:
            last = meetings[-1]
            cut = round(it.start - rng.uniform(0, 90))
            if cut - last.start < 600 or it.end - cut < 600:
                continue
            last.end = cut
            it.start = cut
        meetings.append(it)
    breaks: list[Item] = []
    ls = at(rng.uniform(kind.lunch[0], kind.lunch[1]))
    breaks.append(
        Item("BreakIdle", ls, ls + round(rng.uniform(*kind.lunch[2:]) * 60), {"break": "lunch"})
    )
    for lo, hi in kind.coffees:
        if rng.random() < 0.8:
            cs = at(rng.uniform(lo, hi))
            ce = cs + round(rng.uniform(*kind.coffee_len) * 60)
            breaks.append(Item("BreakIdle", cs, ce, {"break": "coffee"}))
    placed = list(meetings)
    for b in breaks:  # a break goes in the first free stretch at or after its usual time
        length = b.end - b.start
        s = b.start
        for it in sorted(placed, key=lambda x: x.start):
            if s < it.end + 120 and s + length > it.start - 120:
                s = it.end + round(rng.uniform(60, 420))
        if start + 900 < s and s + length < end - 600:
            placed.append(Item("BreakIdle", s, s + length, b.info))
    placed.sort(key=lambda it: it.start)

    items: list[Item] = []
    prev = kind.opening[0]
    first = start + round(rng.uniform(kind.opening[1], kind.opening[2]) * 60)
    if placed:  # a meeting or break early in the day cuts the opening short
        first = min(first, placed[0].start)
    items.append(Item(prev, start, first, {"ctx": _context(kind, traits, rng), "first": True}))
    incident_at = rng.uniform(0.2, 0.8) if rng.random() < kind.incident else None

    def fill(a: float, b: float) -> None:
        nonlocal prev, incident_at
        while b - a > 0:
            rem = b - a
            if rem < 240:
                if items and items[-1].label != "BreakIdle" and items[-1].end == a:
                    items[-1].end = b
                else:
                    items.append(Item("Communicate", a, b, {"ctx": _context(kind, traits, rng)}))
                return
            weights = {k: v for k, v in traits.mix.items() if k != prev}
            for k, boost in kind.follow.get(prev, {}).items():
                if k in weights:
                    weights[k] *= boost
            if prev == "Meet" and "Communicate" in weights:
                weights["Communicate"] *= 2.5
            label = _pick_weighted(rng, weights)
            lo, hi = kind.lengths[label]
            dur = round((lo + (hi - lo) * rng.random() ** 1.4) * 60)
            info: dict[str, Any] = {"ctx": _context(kind, traits, rng)}
            if incident_at is not None and (a - start) / (end - start) > incident_at:
                label, dur, info["incident"] = "Debug", round(rng.uniform(35, 90) * 60), True
                incident_at = None
            if rem - dur < 240:
                dur = rem
            items.append(Item(label, a, a + dur, info))
            prev = label
            a += dur

    t = first
    for it in placed:
        if it.start < t:
            if it.end - t < 300:
                continue
            it.start = t
        fill(t, it.start)
        items.append(it)
        prev = it.label if it.label == "Meet" else prev
        t = it.end
    fill(t, end)
    if kind.habits.eod_left_on:
        items.append(Item("BreakIdle", end, end + kind.habits.eod_left_on, {"break": "eod"}))

    # short walks away and Communicate interruptions cut long work blocks
    out: list[Item] = []
    walks = rng.randint(*kind.walks)
    long_ones = [
        i
        for i, it in enumerate(items)
        if it.label in WORK_LABELS and it.label != "Communicate" and it.end - it.start > 25 * 60
    ]
    walk_at = set(rng.sample(long_ones, min(walks, len(long_ones))))
    for i, it in enumerate(items):
        cut: tuple[str, float, dict[str, Any]] | None = None
        if i in walk_at:
            cut = ("BreakIdle", round(rng.uniform(2, 5.5) * 60), {"break": "walk"})
        elif (
            it.label in WORK_LABELS
            and it.label != "Communicate"
            and it.end - it.start > 30 * 60
            and rng.random() < kind.interrupts
        ):
            cut = (
                "Communicate",
                round(rng.uniform(2, 7) * 60),
                {"ctx": _context(kind, traits, rng), "interrupt": True},
            )
        if cut is None:
            out.append(it)
            continue
        x = it.start + round(rng.uniform(0.3, 0.7) * (it.end - it.start))
        label, length, info = cut
        out.append(Item(it.label, it.start, x, it.info))
        out.append(Item(label, x, x + length, info))
        out.append(Item(it.label, x + length, it.end, {**it.info, "resumed": True}))
    return out


# --- acting a block out: window segments ----------------------------------------------------


@dataclass(slots=True)
class Seg:
    start: float
    end: float
    app: str | None  # None: the machine sleeps
    title: str
    profile: str
    switch: bool  # the person brought this window forward (input at its start)


_KEY = re.compile(r"\{(\w+)\}")


def _fill(template: str, ctx: dict[str, tuple[str, ...]], rng: random.Random) -> str:
    def one(m: re.Match[str]) -> str:
        options = ctx.get(m.group(1))
        if not options:
            return m.group(0)
        i = min(int(rng.expovariate(1.2)), len(options) - 1)
        return options[i]

    out = _KEY.sub(one, template)
    return _KEY.sub(one, out) if "{" in out else out


def _dwell(rng: random.Random, median: float, lo: float = 2.0, hi: float = 1500.0) -> float:
    return min(hi, max(lo, median * math.exp(rng.gauss(0, 0.85))))


class Actor:
    """One person's windows through a day."""

    def __init__(self, kind: Kind, traits: Traits, rng: random.Random, ctx0: dict[str, Any]):
        self.kind = kind
        self.traits = traits
        self.rng = rng
        self.segs: list[Seg] = []
        self.window: tuple[str, str] = ("", "")
        self.ctx0 = ctx0
        self.locked = False

    def add(
        self, s: float, e: float, app: str | None, title: str, profile: str, switch: bool
    ) -> None:
        if e - s <= 0:
            return
        self.segs.append(Seg(s, e, app, title, profile, switch))
        if app is not None:
            self.window = (app, title)

    def visit(
        self,
        place: Place,
        ctx: dict[str, Any],
        s: float,
        e: float,
        switch: bool = True,
        title: str | None = None,
    ) -> str:
        title = title if title is not None else _fill(place.title, ctx, self.rng)
        self.add(s, e, place.app, title, place.profile, switch)
        return title

    # a work block: windows with dwell times and glances
    def work(self, it: Item) -> None:
        kind, rng = self.kind, self.rng
        ctx = it.info.get("ctx") or self.ctx0
        places = kind.places[it.label]
        weights = [p.weight for p in places]
        t = it.start
        if it.info.get("first"):
            t = self.wake(t, it.end)
        place = places[0] if rng.random() < 0.7 else rng.choices(places, weights)[0]
        glance_every = kind.glance_every * 60 / self.traits.glance
        if it.info.get("incident"):
            glance_every /= 3
        title: str | None = None
        while t < it.end - 1:
            d = _dwell(rng, place.dwell)
            e = min(it.end, t + d)
            if it.end - e < 3:
                e = it.end
            title = self.visit(place, ctx, t, e, title=title)
            t = e
            if t >= it.end:
                break
            if rng.random() < 1 - math.exp(-d / glance_every):
                g = rng.choices(kind.glances, [p.weight for p in kind.glances])[0]
                gd = _dwell(rng, g.dwell, 0.6, 90)
                if t + gd < it.end - 5:
                    self.visit(g, ctx, t, t + gd)
                    t += gd
                    if rng.random() < 0.75:
                        continue  # back to the same window
            place = rng.choices(places, weights)[0]
            title = None

    def meet(self, it: Item) -> None:
        kind, rng = self.kind, self.rng
        title = str(it.info.get("title", "Meeting"))
        ctx = {**self.ctx0, "meeting": (title,)}
        mode = it.info.get("mode", "video")
        if mode == "room" or (mode == "laptop" and kind.room_notes is None):
            self.away(it.start, it.end, "meeting")
            return
        t = it.start
        if mode == "laptop" and kind.room_notes is not None:
            t = self.wake(t, it.end) if self.locked else t
            self.visit(kind.room_notes, ctx, t, it.end)
            return
        if kind.lobby is not None and rng.random() < 0.7:
            d = _dwell(rng, kind.lobby.dwell, 2, 60)
            self.visit(kind.lobby, ctx, t, t + d)
            t += d
        sharing = kind.share is not None and rng.random() < 0.25
        share_at = rng.uniform(0.2, 0.6) if sharing else 2.0
        while t < it.end - 1:
            d = _dwell(rng, 300, 20, 1800)
            e = min(it.end, t + d)
            self.visit(
                kind.video,
                ctx,
                t,
                e,
                title=_fill(kind.video.title, ctx, rng),
                switch=rng.random() < 0.5,
            )
            t = e
            if t >= it.end - 10:
                break
            if kind.share is not None and (t - it.start) / (it.end - it.start) > share_at:
                share_at = 2.0
                d = min(it.end - t - 5, rng.uniform(180, 720))
                self.visit(kind.share, ctx, t, t + d)
                t += d
                continue
            if rng.random() < 1 - math.exp(-d * kind.multitask / 600):
                g = rng.choices(kind.glances, [p.weight for p in kind.glances])[0]
                gd = _dwell(rng, g.dwell * 2, 1, 180)
                if t + gd < it.end - 5:
                    self.visit(g, ctx, t, t + gd)
                    t += gd

    # breaks: the person walks away
    def away(self, s: float, e: float, why: str) -> None:
        """The person is away from ``s`` to ``e``; the machine does what its settings say."""
        h, rng = self.kind.habits, self.rng
        app, title = self.window
        back = 0.0  # seconds of unlocking before ``e``
        lid = why == "lunch" and rng.random() < h.lid_at_lunch
        hand = why in ("coffee", "lunch", "meeting") and rng.random() < h.hand_lock
        if lid:
            self.add(s, s + rng.uniform(2, 8), app, title, "idle", False)
            back = rng.uniform(6, 14)
            self.add(self.segs[-1].end, e - back, None, "", "idle", False)
            self.locked = True
            self._unlock(e - back, e, app, title)
            return
        lock_at: float | None = None
        if hand:
            lock_at = s + rng.uniform(1.5, 4)
        elif h.auto_lock is not None and s + h.auto_lock < e - 20:
            lock_at = s + h.auto_lock
        if lock_at is None:
            self.add(s, e, app, title, "idle", False)
            return
        back = rng.uniform(5, 12)
        self.add(s, lock_at, app, title, "idle", False)
        shown = h.saver if (h.saver is not None and not hand) else h.locker
        if shown is None:
            shown = (app, title)  # an invisible locker: the last window goes on
        sleep_at = lock_at + h.sleep_after_lock if h.sleep_after_lock else None
        if sleep_at is not None and sleep_at < e - back - 30:
            self.add(lock_at, sleep_at, shown[0], shown[1], "idle", hand)
            self.add(sleep_at, e - back, None, "", "idle", False)
        else:
            self.add(lock_at, e - back, shown[0], shown[1], "idle", hand)
        self.locked = True
        self._unlock(e - back, e, app, title)
        self.window = (app, title)  # after unlocking, the same window is in front

    def _unlock(self, s: float, e: float, app: str, title: str) -> None:
        h = self.kind.habits
        shown = h.locker if h.locker is not None else (app, title)
        self.add(s, e, shown[0], shown[1], "unlock", True)
        self.window = (app, title)
        self.locked = False

    def wake(self, t: float, limit: float) -> float:
        """The day's first seconds: the machine wakes, the person unlocks it."""
        h, rng = self.kind.habits, self.rng
        d = min(rng.uniform(5, 14), (limit - t) / 4)
        if h.wake_locker and h.locker is not None:
            self.add(t, t + d, h.locker[0], h.locker[1], "unlock", True)
        else:  # the window in front when the machine went to sleep yesterday
            place = rng.choice(self.kind.places[self.kind.opening[0]])
            self.visit(place, self.ctx0, t, t + d, switch=False)
            self.segs[-1].profile = "unlock"
        return t + d

    def lunch_at_desk(self, it: Item) -> None:
        rng, t = self.rng, it.start
        places = self.kind.lunch_places
        ctx = {**self.ctx0}
        idle = rng.uniform(60, 300)  # gets the food
        self.add(t, t + idle, self.window[0], self.window[1], "idle", False)
        t += idle
        while t < it.end - 1:
            p = rng.choices(places, [x.weight for x in places])[0]
            e = min(it.end, t + _dwell(rng, p.dwell, 10, 1500))
            self.visit(p, ctx, t, e)
            t = e

    def brk(self, it: Item) -> None:
        why = it.info.get("break", "coffee")
        h = self.kind.habits
        if why == "lunch" and self.kind.lunch_places and self.rng.random() < h.lunch_at_desk:
            self.lunch_at_desk(it)
        elif why == "eod":
            s, e, app, title = it.start, it.end, self.window[0], self.window[1]
            lock = s + (h.auto_lock or 900)
            self.add(s, lock, app, title, "idle", False)
            if h.locker is not None:
                self.add(lock, e, h.locker[0], h.locker[1], "idle", False)
            else:
                self.add(lock, e, app, title, "idle", False)
        else:
            self.away(it.start, it.end, why)


def act_day(kind: Kind, traits: Traits, rng: random.Random, items: list[Item]) -> list[Seg]:
    actor = Actor(kind, traits, rng, _context(kind, traits, rng))
    for it in items:
        if it.label == "BreakIdle":
            actor.brk(it)
        elif it.label == "Meet":
            actor.meet(it)
        else:
            actor.work(it)
    return actor.segs


# --- recording: what the watchers write -----------------------------------------------------


def _sessions(segs: list[Seg]) -> list[tuple[float, float]]:
    """Stretches with the machine awake."""
    out: list[tuple[float, float]] = []
    cur: list[float] | None = None
    for s in segs:
        if s.app is None:
            if cur is not None:
                out.append((cur[0], cur[1]))
                cur = None
            continue
        if cur is None:
            cur = [s.start, s.end]
        else:
            cur[1] = s.end
    if cur is not None:
        out.append((cur[0], cur[1]))
    return out


def window_events(
    segs: list[Seg], sessions: list[tuple[float, float]], rng: random.Random, poll: float = 1.0
) -> list[tuple[float, float, dict[str, str]]]:
    """aw-watcher-window: a poll a second; an unchanged window's heartbeats merge."""
    merged: list[list[Any]] = []
    for s in segs:
        if s.app is None:
            continue
        if (
            merged
            and merged[-1][2] == s.app
            and merged[-1][3] == s.title
            and abs(merged[-1][1] - s.start) < 1e-6
        ):
            merged[-1][1] = s.end
        else:
            merged.append([s.start, s.end, s.app, s.title])
    out = []
    si = 0
    phase = {ss: ss + rng.uniform(0.0, 1.0) for ss, _ in sessions}
    for start, end, app, title in merged:
        while si < len(sessions) - 1 and start >= sessions[si][1] - 1e-6:
            si += 1
        t0 = phase[sessions[si][0]]
        k1 = math.ceil(max(0.0, start - t0) / poll)
        k2 = math.ceil(max(0.0, end - t0) / poll) - 1
        if k2 < k1:
            continue  # shorter than a poll: never seen
        out.append((t0 + k1 * poll, (k2 - k1) * poll, {"app": app, "title": title}))
    return out


class InputSim:
    """aw-watcher-input: 5-second samples from a pause/active process per profile."""

    def __init__(self, kind: Kind, traits: Traits, rng: random.Random):
        self.h = kind.habits
        self.speed = traits.speed
        self.rng = rng
        self.active = False

    def sample(self, profile: str, forced: bool) -> dict[str, int]:
        rng = self.rng
        zero = {"presses": 0, "clicks": 0, "deltaX": 0, "deltaY": 0, "scrollX": 0, "scrollY": 0}
        if profile == "unlock":
            self.active = True
            return {
                **zero,
                "presses": rng.randint(5, 13),
                "deltaX": rng.randint(0, 40),
                "deltaY": rng.randint(0, 30),
            }
        p = PROFILES[profile]
        self.active = rng.random() < (p.stay if self.active else p.go)
        if not self.active and not forced:
            return zero
        if not self.active:  # a switch: a click, or alt-tab / cmd-tab
            if rng.random() < 0.5:
                d = {
                    **zero,
                    "clicks": 1,
                    "deltaX": rng.randint(30, 900),
                    "deltaY": rng.randint(20, 600),
                }
            else:
                d = {**zero, "presses": 2}
            return d
        d = dict(zero)
        m = p.presses * self.speed
        if m >= 2:
            d["presses"] = max(0, round(rng.gauss(m, 0.5 * m)))
        elif rng.random() < m:
            d["presses"] = 1
        if rng.random() < p.click:
            d["clicks"] = 1 if rng.random() < 0.8 else 2
        if rng.random() < p.move:
            d["deltaX"] = round(rng.expovariate(1 / p.px))
            d["deltaY"] = round(rng.expovariate(1.4 / p.px))
        if rng.random() < p.scroll:
            d["scrollY"] = 1 + round(rng.expovariate(1 / (p.notches * self.h.scroll)))
            if self.h.scroll > 1.5 and rng.random() < 0.3:
                d["scrollX"] = rng.randint(1, 4)
        if forced and d["clicks"] == 0 and d["presses"] == 0:
            d["clicks"] = 1
        if not any(d.values()):
            d["deltaX"] = rng.randint(3, 60)
            d["deltaY"] = rng.randint(2, 40)
        return d


def input_samples(
    segs: list[Seg],
    sessions: list[tuple[float, float]],
    kind: Kind,
    traits: Traits,
    rng: random.Random,
) -> list[tuple[float, float, dict[str, int]]]:
    """(start, duration, data) samples; the one running when the machine sleeps lasts until
    the watcher's next poll after waking (its sleep does not count the suspended time)."""
    sim = InputSim(kind, traits, rng)
    awake = [s for s in segs if s.app is not None]
    switches = sorted(s.start for s in awake if s.switch)
    out: list[tuple[float, float, dict[str, int]]] = []
    si = 0
    wi = 0
    t = sessions[0][0] + rng.uniform(0.0, 0.5)
    for n, (s0, s1) in enumerate(sessions):
        t = max(t, s0)
        while t < s1:
            d = INPUT_POLL + rng.uniform(0.0005, 0.004)
            mid = min(t + d / 2, s1 - 1e-3)
            while si < len(awake) - 1 and awake[si].end <= mid:
                si += 1
            while wi < len(switches) and switches[wi] < t:
                wi += 1
            forced = wi < len(switches) and switches[wi] < t + d
            profile = awake[si].profile
            if t + d > s1 and n + 1 < len(sessions):
                # suspended inside this sample: it ends after the next wake
                nxt = sessions[n + 1][0]
                data = sim.sample("unlock", True)
                d = (nxt - t) + rng.uniform(1.0, INPUT_POLL)
                out.append((t, d, data))
                t += d
                break
            out.append((t, d, sim.sample(profile, forced)))
            t += d
    return out


def input_events(samples: list[tuple[float, float, dict[str, int]]]) -> list[list[Any]]:
    """aw-watcher-input's heartbeats: all-zero samples with pulsetime 5.1 s, others 0."""
    out: list[list[Any]] = []
    for t, d, data in samples:
        pulse = 0.0 if any(data.values()) else INPUT_POLL + 0.1
        if out and out[-1][2] == data and t <= out[-1][0] + out[-1][1] + pulse + 1e-6:
            out[-1][1] = t + d - out[-1][0]
        else:
            out.append([t, d, data])
    return out


def afk_events(
    samples: list[tuple[float, float, dict[str, int]]],
    sessions: list[tuple[float, float]],
    rng: random.Random,
) -> list[list[Any]]:
    """aw-watcher-afk, poll by poll: 5 s polls, 180 s timeout, heartbeats (pulsetime 185 s) of
    ``not-afk`` at the last input, ``afk`` from it."""
    inputs: list[tuple[float, float]] = []  # (first, last) input instant of a non-zero sample
    for t, d, data in samples:
        if any(data.values()):
            tail = min(d, INPUT_POLL)
            first = t + d - tail + rng.uniform(0, tail * 0.6)
            last = max(first, t + d - rng.uniform(0, tail * 0.5))
            inputs.append((first, last))
    events: list[list[Any]] = []  # [start, end, status]
    pulsetime = AFK_TIMEOUT + AFK_POLL

    def heartbeat(ts: float, dur: float, status: str) -> None:
        if events and events[-1][2] == status and events[-1][0] <= ts <= events[-1][1] + pulsetime:
            events[-1][1] = max(events[-1][1], ts + dur)
        else:
            events.append([ts, ts + dur, status])

    afk = False
    ii = 0
    last_input = sessions[0][0]
    for s0, s1 in sessions:
        p = s0 + rng.uniform(0.5, AFK_POLL)
        while p < s1:
            while ii < len(inputs) and inputs[ii][0] <= p:
                last_input = min(p, inputs[ii][1])
                if inputs[ii][1] > p:
                    break
                ii += 1
            since = p - last_input
            if afk and since < AFK_TIMEOUT:
                heartbeat(last_input, 0, "afk")
                afk = False
                heartbeat(last_input + 0.001, 0, "not-afk")
            elif not afk and since >= AFK_TIMEOUT:
                heartbeat(last_input, 0, "not-afk")
                afk = True
                heartbeat(last_input + 0.001, since, "afk")
            elif afk:  # +1 ms, as the watcher does (so as not to go back in time)
                heartbeat(last_input + 0.001, since - 0.001, "afk")
            else:
                heartbeat(last_input, 0, "not-afk")
            p += AFK_POLL + rng.uniform(0.0005, 0.003)
    return [[s, e - s, st] for s, e, st in events]


# --- the export -----------------------------------------------------------------------------


def zulu_ms(t: float) -> str:
    dt = datetime.fromtimestamp(round(t, 3), UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _event(t: float, d: float, data: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": zulu_ms(t), "duration": round(max(0.0, d), 3), "data": data}


def people_days(name: str, seed: int, host: str, dates: list[str]) -> People:
    """``dates`` (ISO, UTC weekdays) of the person of kind ``name`` and ``seed``, recorded by
    ActivityWatch on ``host``."""
    kind = KINDS[name]
    traits = traits_of(kind, seed)
    window: list[dict[str, Any]] = []
    afk: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []
    truth: list[Block] = []
    for iso_day in dates:
        day = date.fromisoformat(iso_day)
        rng = random.Random(f"{kind.name}:{seed}:{iso_day}")
        items = plan_day(kind, traits, rng, day)
        segs = act_day(kind, traits, rng, items)
        sessions = _sessions(segs)
        if not sessions:
            continue
        for t, d, data in window_events(segs, sessions, rng, kind.poll):
            window.append(_event(t, d, data))
        samples = input_samples(segs, sessions, kind, traits, rng)
        for t, d, data in input_events(samples):
            inputs.append(_event(t, d, data))
        for t, d, status in afk_events(samples, sessions, rng):
            afk.append(_event(t, d, {"status": status}))
        for it in items:
            truth.append(
                Block(
                    datetime.fromtimestamp(it.start, UTC),
                    datetime.fromtimestamp(it.end, UTC),
                    it.label,
                )
            )
    created = (
        zulu_ms(datetime.fromisoformat(dates[0]).replace(tzinfo=UTC).timestamp() - 86400 * 40)
        if dates
        else "2026-01-01T00:00:00.000Z"
    )

    def bucket(watcher: str, kind_type: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": f"{watcher}_{host}",
            "created": created,
            "name": None,
            "type": kind_type,
            "client": watcher,
            "hostname": host,
            "events": events,
        }

    export = {
        "buckets": {
            f"aw-watcher-window_{host}": bucket("aw-watcher-window", "currentwindow", window),
            f"aw-watcher-afk_{host}": bucket("aw-watcher-afk", "afkstatus", afk),
            f"aw-watcher-input_{host}": bucket("aw-watcher-input", "os.hid.input", inputs),
        }
    }
    counts = {
        "days": len(dates),
        "window_events": len(window),
        "afk_events": len(afk),
        "input_events": len(inputs),
        "truth_blocks": len(truth),
    }
    for label in LABELS:
        counts[f"minutes_{label}"] = round(
            sum((b.end - b.start).total_seconds() for b in truth if b.label == label) / 60
        )
    person = Person(
        kind=kind.name,
        platform=kind.platform,
        where=kind.where,
        rounding=kind.rounding,
        labelled=kind.labelled,
        habits=_habits_line(kind.habits),
    )
    return People(export=export, truth=truth, person=person, counts=counts)


def _habits_line(h: Habits) -> str:
    locker = "invisible locker" if h.locker is None else f"locker {h.locker[0]}"
    parts = [locker, f"hand lock {h.hand_lock:.0%}"]
    if h.auto_lock:
        parts.append(f"{'screensaver' if h.saver else 'lock'} after {h.auto_lock / 60:.0f} min")
    if h.sleep_after_lock:
        parts.append(f"sleeps {h.sleep_after_lock / 60:.0f} min after locking")
    if h.lid_at_lunch:
        parts.append(f"lid closed at lunch {h.lid_at_lunch:.0%}")
    if h.lunch_at_desk:
        parts.append(f"lunch at the desk {h.lunch_at_desk:.0%}")
    if h.eod_left_on:
        parts.append("left on at night")
    return ", ".join(parts)


RUNS = [
    ("backend-s0", "backend", 0, "truth", "nearest"),
    ("backend-s1-floor", "backend", 1, "truth", "floor"),
    ("writer-s0-floor", "writer", 0, "truth", "floor"),
    ("writer-s1", "writer", 1, "truth", "nearest"),
    ("manager-s0", "manager", 0, "truth", "nearest"),
    ("manager-s1-floor", "manager", 1, "truth", "floor"),
    ("datasci-s0-floor", "datasci", 0, "truth", "floor"),
    ("datasci-s1", "datasci", 1, "truth", "nearest"),
    ("sre-s0", "sre", 0, "truth", "nearest"),
    ("sre-s1-floor", "sre", 1, "truth", "floor"),
    ("researcher-s0-floor", "researcher", 0, "truth", "floor"),
    ("researcher-s1", "researcher", 1, "truth", "nearest"),
    # bad labels: a model must never ship from these
    ("backend-random-s0", "backend", 0, "random", "nearest"),
    ("sre-noisy-s1-floor", "sre", 1, "noisy", "floor"),
]


if __name__ == "__main__":
    import json
    import sys

    who = sys.argv[1] if len(sys.argv) > 1 else "backend"
    ppl = people_days(who, 0, "host", ["2026-12-01", "2026-12-02"])
    print(json.dumps(ppl.counts, indent=1))
    print(ppl.person)
