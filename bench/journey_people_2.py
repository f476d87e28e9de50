# ruff: noqa: E501 (window titles and app tables read best one to a line)
"""A second population for ``bench/journey.py --people bench/journey_people_2.py``.

Written by a second author from a description of the data shapes only: it imports nothing of
the project and did not look at ``journey_people.py`` or the project's generators.

Six kinds of people, none of them the stereotypical developer/writer/manager:

  linuxdev   Linux (GNOME), Go backend dev: code, gnome-terminal-server, firefox, Slack,
             thunderbird, zoom. Locking the screen leaves a *gap* in aw-watcher-window.
  jupyter    macOS data scientist: almost everything in "Google Chrome" (JupyterLab, docs,
             GitHub, Google Docs, Gmail); task visible only in tab titles. Lock: loginwindow.
  support    Windows support engineer (Asia, early UTC): Zendesk/Kibana in msedge.exe, Teams,
             Outlook; many short Communicate blocks, frequent switches. Lock: LockApp.exe.
  walkaway   macOS researcher (Word, Safari, Preview, Zotero, RStudio, Mail, Teams) who never
             locks the screen: on a break the last window stays in front; afk only.
  meetheavy  Linux (US East, late UTC) eng manager in Google Meet tabs in firefox, Gmail,
             Google Docs, Jira, GitHub; lock screen seen as app "unknown".
  sparse     Windows .NET dev (Visual Studio, Azure DevOps in Edge, Teams, Outlook) who labels
             only ~45 % of blocks and rounds label edges to 15 minutes.

Input (aw-watcher-input, 5 s samples) follows a two-state (active/pause) chain per kind of
activity; aw-watcher-afk is derived from it with the watcher's 180 s timeout, so long silent
stretches in meetings or while reading do show up as afk, as they do on a real machine.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

AFK_TIMEOUT = 180.0
SAMPLE = 5.0


# --------------------------------------------------------------------------------------
# data shapes


@dataclass(frozen=True, slots=True)
class Block:
    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True)
class Act:
    """One thing a person does inside a task: app, title maker, input kind, dwell seconds."""

    weight: float
    app: str
    title: Callable[[random.Random, dict[str, Any]], str]
    kind: str
    dwell: tuple[float, float]


@dataclass(frozen=True)
class Person:
    name: str
    platform: str
    mix: dict[str, float]
    dur: dict[str, tuple[float, float]]  # minutes per block
    acts: dict[str, list[Act]]
    glances: list[Act]
    glance_p: float  # P(a glance after an activity segment)
    hours: tuple[float, float]
    start: tuple[float, float]  # UTC hour of the first block
    lock_p: float  # P(locks the screen on a break)
    lock: tuple[str, str] | None  # (app, title) of the lock screen, None: no window event
    rounding: int
    labelled: float
    meet_align: bool = True
    short_breaks: tuple[int, int] = (1, 3)
    ctx: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class People:
    export: dict[str, Any]
    truth: list[Block]
    person: Person
    counts: dict[str, int]


def iso(t: datetime) -> str:
    t = t.replace(microsecond=(t.microsecond // 1000) * 1000)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def ms(t: datetime) -> datetime:
    return t.replace(microsecond=(t.microsecond // 1000) * 1000)


# --------------------------------------------------------------------------------------
# input profiles: (p_pause->active, p_active->pause, presses, clicks, mouse px, scroll)

INPUT = {
    "code": (0.35, 0.20, (2, 22), (0, 1), (0, 300), (0, 4)),
    "term": (0.30, 0.30, (1, 16), (0, 1), (0, 150), (0, 3)),
    "debugger": (0.30, 0.30, (0, 6), (0, 4), (40, 900), (0, 10)),
    "notebook": (0.35, 0.25, (1, 18), (0, 3), (0, 600), (0, 12)),
    "read": (0.18, 0.35, (0, 2), (0, 2), (10, 500), (2, 25)),
    "review": (0.25, 0.30, (0, 4), (0, 3), (20, 700), (3, 30)),
    "write": (0.40, 0.15, (8, 32), (0, 1), (0, 200), (0, 4)),
    "chat": (0.30, 0.30, (0, 24), (0, 3), (0, 500), (0, 8)),
    "mail": (0.30, 0.30, (0, 18), (0, 3), (40, 700), (0, 12)),
    "call": (0.05, 0.50, (0, 3), (0, 2), (0, 500), (0, 3)),
    "ticket": (0.35, 0.25, (0, 20), (0, 4), (30, 800), (0, 10)),
}


def pick(rng: random.Random, xs: list[str]) -> str:
    return xs[rng.randrange(len(xs))]


# --------------------------------------------------------------------------------------
# linuxdev: Linux, Go backend

GO_FILES = [
    "handler.go",
    "store.go",
    "main.go",
    "worker.go",
    "config.go",
    "retry.go",
    "server.go",
    "invoice.go",
    "Makefile",
    "docker-compose.yml",
    "go.mod",
    "queries.sql",
]
GO_TESTS = ["store_test.go", "worker_test.go", "handler_test.go", "retry_test.go"]
GH_PRS = [
    "Add idempotency keys to invoice POST",
    "Bump pgx to v5.6",
    "Fix flaky TestWorkerDrain",
    "Batch ledger writes",
    "Remove legacy v1 routes",
    "Retry budget for outbound webhooks",
    "Move config to envconfig",
    "Trace spans around store calls",
]
DEV_PEOPLE = ["alice", "bkowalski", "cmendes", "dnguyen", "eolsen", "fpatel"]


def ff(t: str) -> str:
    return f"{t} — Mozilla Firefox"


def _ld_code(rng, c):
    return f"{pick(rng, GO_FILES)} - {c['repo']} - Visual Studio Code"


def _ld_test(rng, c):
    return f"{pick(rng, GO_TESTS + GO_FILES[:5])} - {c['repo']} - Visual Studio Code"


def _ld_term(rng, c):
    return pick(
        rng,
        [
            f"marek@thinkpad: ~/src/{c['repo']}",
            f"marek@thinkpad: ~/src/{c['repo']}/internal/store",
            "marek@thinkpad: ~",
        ],
    )


def _ld_term_dbg(rng, c):
    return pick(
        rng,
        [
            f"marek@thinkpad: ~/src/{c['repo']}",
            f"ssh marek@{c['svc']}-prod-2",
            f"marek@{c['svc']}-prod-2: /var/log/{c['svc']}",
            "docker logs -f billing-db",
        ],
    )


def _ld_docs(rng, c):
    return ff(
        pick(
            rng,
            [
                "net/http package - net/http - Go Packages",
                "context package - context - Go Packages",
                "pgx package - github.com/jackc/pgx/v5 - Go Packages",
                "Effective Go - The Go Programming Language",
            ],
        )
    )


def _ld_dbg_web(rng, c):
    return ff(
        pick(
            rng,
            [
                "go - panic: runtime error: invalid memory address or nil pointer dereference - Stack Overflow",
                f"{c['svc']} - p99 latency - Dashboards - Grafana",
                f"ERROR: deadlock detected · Issue #{rng.randint(200, 900)} · {c['org']}/{c['repo']} · Sentry",
                "Explore - Loki - Grafana",
                "localhost:8080/api/v1/invoices",
                "postgres deadlock detected ShareLock on transaction - Google Search",
            ],
        )
    )


def _ld_pr(rng, c):
    n = rng.randint(1100, 1400)
    return ff(
        f"{pick(rng, GH_PRS)} by {pick(rng, DEV_PEOPLE)} · Pull Request #{n} · {c['org']}/{c['repo']}"
    )


def _ld_pr_files(rng, c):
    return ff(f"Files changed · Pull Request #{rng.randint(1100, 1400)} · {c['org']}/{c['repo']}")


def _ld_read(rng, c):
    return ff(
        pick(
            rng,
            [
                "PostgreSQL: Documentation: 16: 13.3. Explicit Locking",
                "RFC 9110: HTTP Semantics",
                "Designing Data-Intensive Applications - O'Reilly Media",
                "The Go Memory Model - The Go Programming Language",
                "ADR-014: Outbox pattern for ledger events - Confluence",
                "How we scaled our billing pipeline | Engineering Blog",
                "Idempotency Keys - Stripe API Reference",
            ],
        )
    )


def _ld_slack(rng, c):
    return pick(
        rng,
        [
            "backend (Channel) - Norhaven - Slack",
            "incidents (Channel) - Norhaven - Slack",
            "Alice Chen (DM) - Norhaven - Slack",
            "billing-team (Channel) - Norhaven - Slack",
            "Threads - Norhaven - Slack",
        ],
    )


def _ld_mail(rng, c):
    return pick(
        rng,
        [
            "Inbox - marek@norhaven.io - Mozilla Thunderbird",
            "Re: On-call rotation Q1 - Mozilla Thunderbird",
            "[norhaven/billing-api] CI failed on main (#1234) - Mozilla Thunderbird",
        ],
    )


def _ld_zoom(rng, c):
    return pick(rng, ["Zoom Meeting", "Zoom Meeting", "Zoom Workplace"])


def _ld_meet_tab(rng, c):
    return ff(pick(rng, ["Meet – Billing standup", "Meet - xqd-rkvn-ftp"]))


def _ld_write_md(rng, c):
    return f"{pick(rng, ['design-retry-budget.md', 'RUNBOOK.md', 'README.md', 'CHANGELOG.md'])} - {c['repo']} - Visual Studio Code"


def _ld_write_web(rng, c):
    return ff(
        pick(
            rng,
            [
                "Editing RFC: Retry budget for webhooks - Confluence",
                "Postmortem 2026-11-20: ledger lag - Google Docs",
            ],
        )
    )


LINUXDEV = Person(
    name="linuxdev",
    platform="linux",
    mix={
        "Build": 34,
        "Debug": 20,
        "Review": 14,
        "ReadResearch": 10,
        "Communicate": 12,
        "Meet": 6,
        "Write": 4,
    },
    dur={
        "Build": (20, 80),
        "Debug": (10, 50),
        "Review": (8, 35),
        "ReadResearch": (6, 30),
        "Communicate": (4, 16),
        "Meet": (15, 45),
        "Write": (15, 40),
    },
    acts={
        "Build": [
            Act(7, "code", _ld_code, "code", (40, 480)),
            Act(2.5, "gnome-terminal-server", _ld_term, "term", (10, 120)),
            Act(1, "firefox", _ld_docs, "read", (15, 120)),
        ],
        "Debug": [
            Act(4, "code", _ld_test, "debugger", (20, 300)),
            Act(3, "gnome-terminal-server", _ld_term_dbg, "term", (15, 200)),
            Act(2.5, "firefox", _ld_dbg_web, "debugger", (15, 180)),
        ],
        "Review": [
            Act(6, "firefox", _ld_pr, "review", (30, 400)),
            Act(3, "firefox", _ld_pr_files, "review", (30, 300)),
            Act(1.2, "code", _ld_code, "read", (20, 200)),
            Act(0.6, "gnome-terminal-server", _ld_term, "term", (10, 60)),
        ],
        "ReadResearch": [
            Act(6, "firefox", _ld_read, "read", (40, 500)),
            Act(1, "firefox", _ld_docs, "read", (20, 200)),
        ],
        "Communicate": [
            Act(5, "Slack", _ld_slack, "chat", (15, 240)),
            Act(3, "thunderbird", _ld_mail, "mail", (20, 240)),
        ],
        "Meet": [
            Act(6, "zoom", _ld_zoom, "call", (120, 1500)),
            Act(2, "firefox", _ld_meet_tab, "call", (300, 1500)),
            Act(0.5, "Slack", _ld_slack, "chat", (10, 60)),
        ],
        "Write": [
            Act(4, "code", _ld_write_md, "write", (60, 600)),
            Act(3, "firefox", _ld_write_web, "write", (60, 600)),
        ],
    },
    glances=[
        Act(3, "Slack", _ld_slack, "chat", (5, 45)),
        Act(1, "thunderbird", _ld_mail, "mail", (5, 30)),
    ],
    glance_p=0.12,
    hours=(6.5, 9.0),
    start=(7.0, 9.0),
    lock_p=0.75,
    lock=None,
    rounding=1,
    labelled=0.8,
    ctx={"repo": "billing-api", "org": "norhaven", "svc": "billing"},
)


# --------------------------------------------------------------------------------------
# jupyter: macOS data scientist in Chrome

NOTEBOOKS = [
    "churn_features",
    "eda_sessions",
    "train_gbm",
    "cohort_retention",
    "uplift_model",
    "label_audit",
]


def _j_nb(rng, c):
    return f"{pick(rng, NOTEBOOKS)}.ipynb - JupyterLab"


def _j_nb_dbg(rng, c):
    return pick(
        rng,
        [
            f"{pick(rng, NOTEBOOKS[:3])}.ipynb - JupyterLab",
            "JupyterLab",
            "Log Console - JupyterLab",
        ],
    )


def _j_py(rng, c):
    return (
        f"{pick(rng, ['features.py', 'train.py', 'io_utils.py', 'pyproject.toml'])} — churn-model"
    )


def _j_term(rng, c):
    return pick(
        rng, ["ana — -zsh — 120×34", "ana — python — 120×34", "ana — ssh gpu-box-3 — 120×34"]
    )


def _j_dbg_web(rng, c):
    return pick(
        rng,
        [
            "python - pandas merge raises MergeError: incompatible merge keys - Stack Overflow",
            "ValueError: Input X contains NaN - Google Search",
            "Kernel Restarting: The kernel appears to have died - Google Search",
            "Spark Jobs - Spark UI",
            "lightgbm early stopping not working - GitHub Issues",
        ],
    )


def _j_read(rng, c):
    return pick(
        rng,
        [
            "sklearn.ensemble.HistGradientBoostingClassifier — scikit-learn 1.5.2 documentation",
            "[2106.11959] Revisiting Deep Learning Models for Tabular Data",
            "pandas.DataFrame.merge — pandas 2.2.3 documentation",
            "Survival Analysis for Churn Prediction | Towards Data Science",
            "Calibration curves — scikit-learn 1.5.2 documentation",
            "Uplift modeling: a review - ScienceDirect",
        ],
    )


def _j_pdf(rng, c):
    return pick(rng, ["gorishniy2021.pdf", "Kuhn_FeatureEngineering_ch5.pdf"])


def _j_pr(rng, c):
    return pick(
        rng,
        [
            f"Add target encoding for plan_tier by {pick(rng, DEV_PEOPLE)} · Pull Request #{rng.randint(300, 420)} · brightloop/churn-model",
            f"notebooks/eda_sessions.ipynb at {pick(rng, ['main', 'feat/cohorts'])} · brightloop/churn-model",
            f"Files changed · Pull Request #{rng.randint(300, 420)} · brightloop/churn-model",
        ],
    )


def _j_doc(rng, c):
    return pick(
        rng,
        [
            "Q4 churn model — results - Google Docs",
            "Experiment log: uplift v2 - Google Docs",
            "Methodology note: cohort definitions - Google Docs",
        ],
    )


def _j_slides(rng, c):
    return "Churn review for Growth - Google Slides"


def _j_slack(rng, c):
    return pick(
        rng,
        [
            "data-science (Channel) - Brightloop - Slack",
            "growth-analytics (Channel) - Brightloop - Slack",
            "Priya Raman (DM) - Brightloop - Slack",
        ],
    )


def _j_mail(rng, c):
    return pick(
        rng,
        [
            "Inbox (14) - ana@brightloop.com - Brightloop Mail",
            "Re: churn numbers for board deck - ana@brightloop.com - Brightloop Mail",
        ],
    )


def _j_zoom(rng, c):
    return pick(rng, ["Zoom Meeting", "Zoom"])


JUPYTER = Person(
    name="jupyter",
    platform="macos",
    mix={
        "Build": 32,
        "ReadResearch": 20,
        "Debug": 12,
        "Communicate": 12,
        "Write": 10,
        "Meet": 8,
        "Review": 6,
    },
    dur={
        "Build": (20, 90),
        "ReadResearch": (10, 45),
        "Debug": (8, 40),
        "Communicate": (4, 18),
        "Write": (15, 50),
        "Meet": (25, 55),
        "Review": (10, 30),
    },
    acts={
        "Build": [
            Act(8, "Google Chrome", _j_nb, "notebook", (60, 600)),
            Act(1.5, "Code", _j_py, "code", (30, 300)),
            Act(1, "Terminal", _j_term, "term", (10, 90)),
            Act(0.8, "Google Chrome", _j_read, "read", (15, 90)),
        ],
        "Debug": [
            Act(5, "Google Chrome", _j_nb_dbg, "debugger", (30, 300)),
            Act(3, "Google Chrome", _j_dbg_web, "read", (15, 150)),
            Act(1, "Terminal", _j_term, "term", (10, 120)),
        ],
        "ReadResearch": [
            Act(6, "Google Chrome", _j_read, "read", (60, 600)),
            Act(2, "Preview", _j_pdf, "read", (120, 900)),
            Act(0.7, "Google Chrome", _j_nb, "notebook", (20, 120)),
        ],
        "Review": [
            Act(6, "Google Chrome", _j_pr, "review", (40, 400)),
            Act(1, "Google Chrome", _j_nb, "read", (20, 150)),
        ],
        "Write": [
            Act(6, "Google Chrome", _j_doc, "write", (60, 700)),
            Act(2, "Google Chrome", _j_slides, "write", (60, 400)),
            Act(1.2, "Google Chrome", _j_nb, "read", (15, 90)),
        ],
        "Communicate": [
            Act(5, "Slack", _j_slack, "chat", (15, 240)),
            Act(3, "Google Chrome", _j_mail, "mail", (20, 300)),
        ],
        "Meet": [
            Act(8, "zoom.us", _j_zoom, "call", (300, 1800)),
            Act(0.8, "Google Chrome", _j_doc, "write", (20, 120)),
        ],
    },
    glances=[
        Act(3, "Slack", _j_slack, "chat", (5, 40)),
        Act(1, "Google Chrome", _j_mail, "mail", (5, 30)),
    ],
    glance_p=0.10,
    hours=(6.0, 8.5),
    start=(8.0, 10.0),
    lock_p=0.6,
    lock=("loginwindow", ""),
    rounding=5,
    labelled=0.7,
)


# --------------------------------------------------------------------------------------
# support: Windows support engineer


def edge(t: str) -> str:
    return f"{t} - Work - Microsoft\u200b Edge"


SUBJECTS = [
    "Can't sync calendar on iOS",
    "SSO login loops back to sign-in",
    "Invoice PDF missing VAT ID",
    "Webhook deliveries delayed",
    "User locked out after MFA reset",
    "Export to CSV times out",
    "Duplicate notifications",
    "API 429 rate limit questions",
]


def _s_ticket(rng, c):
    return edge(f"Ticket #{rng.randint(48100, 48999)}: {pick(rng, SUBJECTS)} – Zendesk")


def _s_views(rng, c):
    return edge(
        pick(rng, ["Views - My open tickets – Zendesk", "Views - Unassigned (Tier 2) – Zendesk"])
    )


def _s_teams_chat(rng, c):
    return pick(
        rng,
        [
            "Chat | Wei Lin | Microsoft Teams",
            "Support Tier 2 | General | Microsoft Teams",
            "Chat | Dev on-call | Microsoft Teams",
        ],
    )


def _s_outlook(rng, c):
    return pick(
        rng,
        [
            "Inbox - sam.tan@kestrelsoft.com - Outlook",
            "RE: Escalation: Acme Corp SSO - Message (HTML) ",
            "Sent Items - sam.tan@kestrelsoft.com - Outlook",
        ],
    )


def _s_kibana(rng, c):
    return edge(
        pick(
            rng,
            ["Discover - Elastic", "Logs - prod-eu - Kibana", "Dashboard - API errors - Kibana"],
        )
    )


def _s_admin(rng, c):
    return edge(
        pick(
            rng,
            [
                f"Customer {rng.randint(10000, 99999)} - Admin Console",
                "Audit log - Admin Console",
                "Webhook attempts - Admin Console",
            ],
        )
    )


def _s_shell(rng, c):
    return pick(
        rng, ["Windows PowerShell", "support@jump-01: ~", "Administrator: Windows PowerShell"]
    )


def _s_postman(rng, c):
    return "Postman"


def _s_kb(rng, c):
    return edge(
        pick(
            rng,
            [
                "How to reset MFA for a user - Support KB - Confluence",
                "Known issue: iOS 18 calendar sync - Support KB - Confluence",
                "Rate limits - API Reference - Kestrel Docs",
                "Configure SAML SSO with Entra ID | Microsoft Learn",
            ],
        )
    )


def _s_kb_edit(rng, c):
    return edge(
        pick(
            rng,
            [
                "Editing How to rotate webhook secrets - Confluence",
                "Editing Troubleshooting SSO loops - Confluence",
            ],
        )
    )


def _s_word(rng, c):
    return "Incident summary - Acme SSO outage.docx - Word"


def _s_review(rng, c):
    return edge(
        pick(
            rng,
            [
                "Macro: Refund request (draft) – Zendesk",
                "QA review - Tier 1 replies - Klaus",
                "Page history - Troubleshooting SSO loops - Confluence",
            ],
        )
    )


def _s_meet(rng, c):
    return pick(
        rng,
        [
            "Support daily | Microsoft Teams",
            "Meeting with Acme Corp | Microsoft Teams",
            "Tier 2 handover | Microsoft Teams",
        ],
    )


SUPPORT = Person(
    name="support",
    platform="windows",
    mix={"Communicate": 44, "Debug": 24, "ReadResearch": 13, "Write": 8, "Meet": 6, "Review": 5},
    dur={
        "Communicate": (3, 14),
        "Debug": (5, 25),
        "ReadResearch": (3, 12),
        "Write": (10, 30),
        "Meet": (15, 30),
        "Review": (6, 18),
    },
    acts={
        "Communicate": [
            Act(6, "msedge.exe", _s_ticket, "ticket", (20, 240)),
            Act(2, "msedge.exe", _s_views, "read", (5, 40)),
            Act(3, "ms-teams.exe", _s_teams_chat, "chat", (10, 150)),
            Act(2, "OUTLOOK.EXE", _s_outlook, "mail", (15, 200)),
        ],
        "Debug": [
            Act(4, "msedge.exe", _s_kibana, "debugger", (30, 300)),
            Act(3, "msedge.exe", _s_admin, "debugger", (20, 200)),
            Act(2, "WindowsTerminal.exe", _s_shell, "term", (20, 200)),
            Act(1, "Postman.exe", _s_postman, "debugger", (20, 200)),
            Act(1.2, "msedge.exe", _s_ticket, "ticket", (10, 60)),
        ],
        "ReadResearch": [
            Act(6, "msedge.exe", _s_kb, "read", (30, 300)),
            Act(1, "msedge.exe", _s_ticket, "read", (10, 60)),
        ],
        "Write": [
            Act(5, "msedge.exe", _s_kb_edit, "write", (60, 500)),
            Act(2, "WINWORD.EXE", _s_word, "write", (60, 500)),
        ],
        "Meet": [
            Act(8, "ms-teams.exe", _s_meet, "call", (300, 1800)),
            Act(1, "msedge.exe", _s_ticket, "read", (10, 60)),
        ],
        "Review": [
            Act(6, "msedge.exe", _s_review, "review", (30, 300)),
            Act(1, "msedge.exe", _s_ticket, "read", (10, 90)),
        ],
    },
    glances=[
        Act(3, "ms-teams.exe", _s_teams_chat, "chat", (5, 30)),
        Act(2, "msedge.exe", _s_views, "read", (5, 20)),
        Act(1, "OUTLOOK.EXE", _s_outlook, "mail", (5, 25)),
    ],
    glance_p=0.28,
    hours=(7.0, 9.0),
    start=(1.0, 2.5),
    lock_p=0.85,
    lock=("LockApp.exe", "Windows Default Lock Screen"),
    rounding=1,
    labelled=0.85,
    meet_align=True,
    short_breaks=(2, 4),
)


# --------------------------------------------------------------------------------------
# walkaway: macOS researcher who never locks


def _w_word(rng, c):
    return pick(
        rng,
        ["Chapter3_Methods_v7.docx", "Grant_Renewal_Narrative.docx", "Chapter3_Methods_v7.docx"],
    )


def _w_review_word(rng, c):
    return pick(rng, ["Draft_Lit_Review_JM_comments.docx", "Manuscript_Ruiz_et_al_REVIEW.docx"])


def _w_acrobat(rng, c):
    return pick(rng, ["Reviewer_Report_MS-2026-0412.pdf", "Thesis_draft_KLee.pdf"])


def _w_safari(rng, c):
    return pick(
        rng,
        [
            "Social capital and neighbourhood trust: a multilevel analysis | Journal of Urban Affairs",
            "Google Scholar",
            "JSTOR: Search Results",
            "lme4: Mixed-effects models in R - CRAN",
            "Survey weighting in practice - PMC",
        ],
    )


def _w_pdf(rng, c):
    return pick(
        rng, ["Putnam2000_BowlingAlone_ch2.pdf", "Sampson1997.pdf", "Wilkinson_2024_trust.pdf"]
    )


def _w_zotero(rng, c):
    return "Zotero"


def _w_rstudio(rng, c):
    return pick(
        rng,
        [
            "survey2026 - RStudio",
            "models.R - survey2026 - RStudio",
            "clean_waves.R - survey2026 - RStudio",
        ],
    )


def _w_mail(rng, c):
    return pick(
        rng, ["Inbox – University (4 messages, 2 unread)", "Re: Ethics amendment – University"]
    )


def _w_slack(rng, c):
    return pick(
        rng, ["lab-general (Channel) - Urban Lab - Slack", "Joana Mendes (DM) - Urban Lab - Slack"]
    )


def _w_teams(rng, c):
    return pick(
        rng,
        [
            "Meeting | Microsoft Teams",
            "Lab meeting | Microsoft Teams",
            "Supervision: K. Lee | Microsoft Teams",
        ],
    )


WALKAWAY = Person(
    name="walkaway",
    platform="macos",
    mix={"Write": 30, "ReadResearch": 26, "Communicate": 14, "Review": 10, "Build": 10, "Meet": 10},
    dur={
        "Write": (25, 90),
        "ReadResearch": (15, 60),
        "Communicate": (5, 20),
        "Review": (20, 50),
        "Build": (20, 60),
        "Meet": (30, 60),
    },
    acts={
        "Write": [
            Act(8, "Microsoft Word", _w_word, "write", (120, 1200)),
            Act(1, "Zotero", _w_zotero, "read", (15, 90)),
            Act(0.8, "Safari", _w_safari, "read", (20, 120)),
        ],
        "ReadResearch": [
            Act(5, "Safari", _w_safari, "read", (60, 600)),
            Act(4, "Preview", _w_pdf, "read", (180, 1200)),
            Act(1, "Zotero", _w_zotero, "read", (20, 120)),
        ],
        "Review": [
            Act(5, "Microsoft Word", _w_review_word, "review", (120, 900)),
            Act(3, "Adobe Acrobat Reader", _w_acrobat, "review", (120, 900)),
        ],
        "Build": [
            Act(8, "RStudio", _w_rstudio, "code", (60, 900)),
            Act(1, "Safari", _w_safari, "read", (20, 120)),
        ],
        "Communicate": [
            Act(5, "Mail", _w_mail, "mail", (30, 400)),
            Act(3, "Slack", _w_slack, "chat", (15, 200)),
        ],
        "Meet": [
            Act(8, "Microsoft Teams", _w_teams, "call", (600, 3600)),
            Act(0.6, "Microsoft Word", _w_word, "write", (30, 180)),
        ],
    },
    glances=[Act(2, "Mail", _w_mail, "mail", (5, 40)), Act(1, "Slack", _w_slack, "chat", (5, 30))],
    glance_p=0.06,
    hours=(5.0, 8.0),
    start=(8.5, 11.0),
    lock_p=0.0,
    lock=None,
    rounding=1,
    labelled=0.9,
    short_breaks=(1, 3),
)


# --------------------------------------------------------------------------------------
# meetheavy: Linux eng manager, Google Meet in firefox

MEETINGS = [
    "Sprint planning",
    "1:1 Dana / Chris",
    "Platform sync",
    "Hiring debrief",
    "Roadmap review",
    "Incident review",
    "1:1 Chris / Omar",
    "Staff meeting",
]


def _m_meet(rng, c):
    return ff(f"Meet – {pick(rng, MEETINGS)}")


def _m_meet_code(rng, c):
    return ff(f"Meet - {pick(rng, ['zvb-qmtd-kpe', 'hwa-ouyp-rzx', 'fjc-nnsk-wto'])}")


def _m_gdoc(rng, c):
    return ff(
        pick(
            rng,
            [
                "Q1 planning – Platform - Google Docs",
                "1:1 notes – Omar - Google Docs",
                "Hiring rubric – Senior SRE - Google Docs",
                "Perf review draft – Dana - Google Docs",
            ],
        )
    )


def _m_review_doc(rng, c):
    return ff(
        pick(
            rng,
            [
                "RFC: Multi-region failover (comments) - Google Docs",
                "Design: quota service v2 - Google Docs",
            ],
        )
    )


def _m_pr(rng, c):
    return ff(
        f"{pick(rng, GH_PRS)} by {pick(rng, DEV_PEOPLE)} · Pull Request #{rng.randint(2000, 2300)} · tallgrass/platform"
    )


def _m_gmail(rng, c):
    return ff(
        pick(
            rng,
            [
                "Inbox (37) - chris@tallgrass.dev - Tallgrass Mail",
                "Re: Offer approval - chris@tallgrass.dev - Tallgrass Mail",
            ],
        )
    )


def _m_cal(rng, c):
    return ff("Tallgrass - Calendar - Week of December 1, 2026")


def _m_slack(rng, c):
    return pick(
        rng,
        [
            "platform-leads (Channel) - Tallgrass - Slack",
            "Omar Haddad (DM) - Tallgrass - Slack",
            "eng-managers (Channel) - Tallgrass - Slack",
        ],
    )


def _m_jira(rng, c):
    return ff(
        pick(
            rng,
            [
                f"[PLAT-{rng.randint(1000, 1999)}] Quota service rollout - Jira",
                "Platform board - Jira",
                "Sprint report - Jira",
                "Engineering metrics - Looker",
            ],
        )
    )


def _m_read(rng, c):
    return ff(
        pick(
            rng,
            [
                "Accelerate metrics: the four keys | Google Cloud Blog",
                "Postmortem: Dec 2 API outage - Confluence",
                "Staff Engineer: Leadership beyond the management track",
                "Engineering ladder - Confluence",
            ],
        )
    )


MEETHEAVY = Person(
    name="meetheavy",
    platform="linux",
    mix={"Meet": 36, "Communicate": 22, "Write": 14, "Review": 12, "ReadResearch": 12},
    dur={
        "Meet": (25, 55),
        "Communicate": (5, 20),
        "Write": (15, 45),
        "Review": (10, 35),
        "ReadResearch": (8, 30),
    },
    acts={
        "Meet": [
            Act(6, "firefox", _m_meet, "call", (300, 3000)),
            Act(2, "firefox", _m_meet_code, "call", (300, 3000)),
            Act(1.5, "firefox", _m_gdoc, "write", (30, 300)),
            Act(0.5, "firefox", _m_jira, "read", (20, 120)),
        ],
        "Communicate": [
            Act(5, "firefox", _m_gmail, "mail", (20, 300)),
            Act(4, "Slack", _m_slack, "chat", (15, 200)),
            Act(1, "firefox", _m_cal, "mail", (10, 60)),
        ],
        "Write": [
            Act(8, "firefox", _m_gdoc, "write", (60, 900)),
            Act(0.8, "Slack", _m_slack, "chat", (10, 40)),
        ],
        "Review": [
            Act(5, "firefox", _m_review_doc, "review", (60, 600)),
            Act(4, "firefox", _m_pr, "review", (40, 400)),
        ],
        "ReadResearch": [
            Act(4, "firefox", _m_jira, "read", (30, 300)),
            Act(4, "firefox", _m_read, "read", (60, 600)),
        ],
    },
    glances=[
        Act(3, "Slack", _m_slack, "chat", (5, 40)),
        Act(2, "firefox", _m_gmail, "mail", (5, 30)),
    ],
    glance_p=0.15,
    hours=(7.0, 9.0),
    start=(13.0, 14.5),
    lock_p=0.6,
    lock=("unknown", "unknown"),
    rounding=5,
    labelled=0.75,
    short_breaks=(1, 2),
)


# --------------------------------------------------------------------------------------
# sparse: Windows .NET dev who labels little and rounds to 15 minutes

CS_FILES = [
    "OrderService.cs",
    "PaymentClient.cs",
    "OrdersController.cs",
    "Program.cs",
    "appsettings.json",
    "OrderRepository.cs",
    "OrderServiceTests.cs",
]


def _v_code(rng, c):
    return (
        f"Contoso.Orders - {pick(rng, CS_FILES)} - Microsoft Visual Studio"
        if rng.random() < 0.3
        else "Contoso.Orders - Microsoft Visual Studio"
    )


def _v_debug(rng, c):
    return pick(
        rng,
        [
            "Contoso.Orders (Debugging) - Microsoft Visual Studio",
            "Contoso.Orders (Debugging) - Microsoft Visual Studio",
            "Contoso.Orders - Microsoft Visual Studio",
        ],
    )


def _v_swagger(rng, c):
    return edge(pick(rng, ["Swagger UI", "localhost:7071/api/orders/83921"]))


def _v_ai(rng, c):
    return edge(
        pick(
            rng,
            [
                "Failures - contoso-orders-prod - Microsoft Azure",
                "Transaction search - Application Insights - Microsoft Azure",
                "System.InvalidOperationException: Sequence contains no elements - Stack Overflow",
            ],
        )
    )


def _v_term(rng, c):
    return pick(rng, ["Developer PowerShell for VS 2022", "Windows PowerShell"])


def _v_pr(rng, c):
    return edge(f"Pull request {rng.randint(4700, 4900)}: {pick(rng, GH_PRS)} - Repos")


def _v_read(rng, c):
    return edge(
        pick(
            rng,
            [
                "Task-based asynchronous pattern (TAP) in .NET - .NET | Microsoft Learn",
                "Resilience with Polly v8 - Polly documentation",
                "EF Core performance tips | Microsoft Learn",
                "ADR 22 - Outbox for order events - Wiki - Azure DevOps",
            ],
        )
    )


def _v_word(rng, c):
    return pick(rng, ["Order pipeline v2 - design.docx - Word", "Release notes 4.12.docx - Word"])


def _v_teams(rng, c):
    return pick(
        rng, ["Chat | Lena Fischer | Microsoft Teams", "Orders Team | General | Microsoft Teams"]
    )


def _v_outlook(rng, c):
    return "Inbox - j.meyer@contoso.com - Outlook"


def _v_meet(rng, c):
    return pick(
        rng,
        [
            "Orders daily | Microsoft Teams",
            "Sprint review | Microsoft Teams",
            "Meeting with Lena Fischer | Microsoft Teams",
        ],
    )


SPARSE = Person(
    name="sparse",
    platform="windows",
    mix={
        "Build": 36,
        "Debug": 22,
        "Review": 10,
        "ReadResearch": 8,
        "Communicate": 10,
        "Meet": 9,
        "Write": 5,
    },
    dur={
        "Build": (30, 100),
        "Debug": (20, 70),
        "Review": (15, 40),
        "ReadResearch": (15, 40),
        "Communicate": (10, 25),
        "Meet": (25, 55),
        "Write": (20, 50),
    },
    acts={
        "Build": [
            Act(8, "devenv.exe", _v_code, "code", (60, 900)),
            Act(1.5, "WindowsTerminal.exe", _v_term, "term", (10, 120)),
            Act(1, "msedge.exe", _v_read, "read", (20, 150)),
        ],
        "Debug": [
            Act(6, "devenv.exe", _v_debug, "debugger", (30, 600)),
            Act(2, "msedge.exe", _v_swagger, "debugger", (10, 120)),
            Act(2, "msedge.exe", _v_ai, "read", (20, 200)),
        ],
        "Review": [
            Act(7, "msedge.exe", _v_pr, "review", (60, 600)),
            Act(1.5, "devenv.exe", _v_code, "read", (30, 200)),
        ],
        "ReadResearch": [Act(7, "msedge.exe", _v_read, "read", (60, 700))],
        "Communicate": [
            Act(5, "ms-teams.exe", _v_teams, "chat", (20, 300)),
            Act(4, "OUTLOOK.EXE", _v_outlook, "mail", (30, 300)),
        ],
        "Meet": [
            Act(8, "ms-teams.exe", _v_meet, "call", (300, 2400)),
            Act(0.6, "devenv.exe", _v_code, "read", (30, 300)),
        ],
        "Write": [Act(8, "WINWORD.EXE", _v_word, "write", (120, 900))],
    },
    glances=[
        Act(3, "ms-teams.exe", _v_teams, "chat", (5, 40)),
        Act(1, "OUTLOOK.EXE", _v_outlook, "mail", (5, 30)),
    ],
    glance_p=0.10,
    hours=(7.0, 8.5),
    start=(7.0, 8.5),
    lock_p=0.9,
    lock=("LockApp.exe", "Windows Default Lock Screen"),
    rounding=15,
    labelled=0.45,
)


KINDS = {p.name: p for p in (LINUXDEV, JUPYTER, SUPPORT, WALKAWAY, MEETHEAVY, SPARSE)}


# --------------------------------------------------------------------------------------
# days


def _choose(rng: random.Random, weights: dict[str, float], avoid: str | None) -> str:
    items = [(k, w) for k, w in weights.items() if k != avoid]
    total = sum(w for _, w in items)
    x = rng.random() * total
    for k, w in items:
        x -= w
        if x <= 0:
            return k
    return items[-1][0]


def _day_blocks(p: Person, rng: random.Random, day: str) -> list[Block]:
    d0 = datetime.fromisoformat(day).replace(tzinfo=UTC)
    start = d0 + timedelta(hours=rng.uniform(*p.start), milliseconds=rng.randint(0, 999))
    end = start + timedelta(hours=rng.uniform(*p.hours))
    end = min(end, d0 + timedelta(hours=23, minutes=50))
    lunch_at = start + timedelta(hours=rng.uniform(3.0, 4.5))
    lunch_len = timedelta(minutes=rng.uniform(30, 60))
    n_breaks = rng.randint(*p.short_breaks)
    breaks = sorted(
        start + timedelta(hours=rng.uniform(0.8, (end - start).total_seconds() / 3600 - 0.5))
        for _ in range(n_breaks)
    )
    blocks: list[Block] = []
    t = start
    lunch_done = False
    prev: str | None = None
    while t < end - timedelta(minutes=3):
        if not lunch_done and t >= lunch_at and prev != "BreakIdle":
            label, length = "BreakIdle", lunch_len
            lunch_done = True
        elif breaks and t >= breaks[0] and prev != "BreakIdle":
            breaks.pop(0)
            label, length = "BreakIdle", timedelta(minutes=rng.uniform(5, 20))
        else:
            while breaks and t >= breaks[0]:
                breaks.pop(0)
            label = _choose(rng, p.mix, prev)
            length = timedelta(minutes=rng.uniform(*p.dur[label]))
            if label == "Meet" and p.meet_align and blocks:
                # meetings start on the half hour: stretch what came before to it
                b = t.replace(minute=0, second=0, microsecond=0)
                while b <= t:
                    b += timedelta(minutes=30)
                if b - t <= timedelta(minutes=20):
                    new = ms(b + timedelta(seconds=rng.uniform(-60, 150)))
                    if new > t:
                        last = blocks[-1]
                        blocks[-1] = Block(last.start, new, last.label)
                        t = new
                minutes = rng.choice([25, 30, 30, 45, 50, 55, 60])
                length = timedelta(minutes=minutes, seconds=rng.uniform(-120, 240))
        e = ms(min(t + length + timedelta(milliseconds=rng.randint(0, 999)), end))
        if e - t < timedelta(minutes=1):
            break
        blocks.append(Block(ms(t), e, label))
        prev = label
        t = e
    # never end the day on a break
    while blocks and blocks[-1].label == "BreakIdle":
        blocks.pop()
    return blocks


@dataclass
class Seg:
    start: datetime
    end: datetime
    app: str | None  # None: no window event (locked screen on some Linux)
    title: str
    kind: str | None  # input kind; None: nobody at the keyboard
    locked: bool = False


def _weighted(rng: random.Random, acts: list[Act]) -> Act:
    total = sum(a.weight for a in acts)
    x = rng.random() * total
    for a in acts:
        x -= a.weight
        if x <= 0:
            return a
    return acts[-1]


def _segments(p: Person, rng: random.Random, blocks: list[Block], ctx: dict[str, Any]) -> list[Seg]:
    segs: list[Seg] = []
    for b in blocks:
        if b.label == "BreakIdle":
            if p.lock is not None and rng.random() < p.lock_p:
                segs.append(Seg(b.start, b.end, p.lock[0], p.lock[1], None, locked=True))
            elif p.lock is None and rng.random() < p.lock_p:
                segs.append(Seg(b.start, b.end, None, "", None, locked=True))
            else:  # walked away: whatever was in front stays there
                app, title = (
                    (segs[-1].app, segs[-1].title) if segs and segs[-1].app else ("Finder", "")
                )
                segs.append(Seg(b.start, b.end, app, title, None))
            continue
        t = b.start
        while t < b.end:
            a = _weighted(rng, p.acts[b.label])
            e = min(b.end, t + timedelta(seconds=rng.uniform(*a.dwell)))
            e = ms(e + timedelta(milliseconds=rng.randint(0, 999))) if e < b.end else b.end
            e = min(e, b.end)
            segs.append(Seg(t, e, a.app, a.title(rng, ctx), a.kind))
            t = e
            if t < b.end and rng.random() < p.glance_p:
                g = _weighted(rng, p.glances)
                ge = min(b.end, ms(t + timedelta(seconds=rng.uniform(*g.dwell))))
                segs.append(Seg(t, ge, g.app, g.title(rng, ctx), g.kind))
                t = ge
    return segs


def _window_events(segs: list[Seg]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cur: list[Any] | None = None  # [start, end, app, title]
    for s in segs:
        if s.app is None:
            if cur:
                out.append(cur)
            cur = None
            continue
        if cur and cur[2] == s.app and cur[3] == s.title and cur[1] == s.start:
            cur[1] = s.end
            continue
        if cur:
            out.append(cur)
        cur = [s.start, s.end, s.app, s.title]
    if cur:
        out.append(cur)
    return [
        {
            "timestamp": iso(a),
            "duration": round((b - a).total_seconds(), 3),
            "data": {"app": app, "title": title},
        }
        for a, b, app, title in out
        if b > a
    ]


def _input_events(
    segs: list[Seg], rng: random.Random
) -> tuple[list[dict[str, Any]], list[tuple[datetime, datetime]]]:
    """5 s samples while the screen is not locked; and the spans with input (for afk)."""
    out: list[dict[str, Any]] = []
    active_spans: list[tuple[datetime, datetime]] = []
    if not segs:
        return out, active_spans
    t = segs[0].start
    end = segs[-1].end
    i = 0
    active = True
    step = timedelta(seconds=SAMPLE)
    while t + step <= end:
        mid = t + step / 2
        while i < len(segs) - 1 and segs[i].end <= mid:
            i += 1
        s = segs[i]
        if s.locked:
            t += step
            active = False
            continue
        data = {"presses": 0, "clicks": 0, "deltaX": 0, "deltaY": 0, "scrollX": 0, "scrollY": 0}
        if s.kind is not None:
            go_active, go_pause, presses, clicks, mouse, scroll = INPUT[s.kind]
            active = rng.random() < (1 - go_pause if active else go_active)
            if active:
                data["presses"] = rng.randint(*presses)
                data["clicks"] = rng.randint(*clicks)
                dx = rng.randint(*mouse)
                data["deltaX"] = int(dx * rng.uniform(0.3, 1.0))
                data["deltaY"] = int(dx * rng.uniform(0.2, 0.8))
                data["scrollY"] = rng.randint(*scroll)
                data["scrollX"] = rng.randint(0, 2) if rng.random() < 0.05 else 0
                if not any(data.values()):
                    data["deltaX"] = rng.randint(3, 60)
                active_spans.append((t, t + step))
        else:
            active = False
        out.append({"timestamp": iso(t), "duration": SAMPLE, "data": data})
        t += step
    return out, active_spans


def _afk_events(
    day_start: datetime, day_end: datetime, active: list[tuple[datetime, datetime]]
) -> list[dict[str, Any]]:
    """aw-watcher-afk: afk from the last input once nothing happened for 180 s."""
    spans: list[tuple[datetime, datetime, str]] = []
    timeout = timedelta(seconds=AFK_TIMEOUT)
    cur_s = day_start
    last = day_start
    for a, b in active:
        if a - last > timeout:
            if last > cur_s:
                spans.append((cur_s, last, "not-afk"))
            spans.append((last, a, "afk"))
            cur_s = a
        last = b
    if day_end - last > timeout:
        spans.append((cur_s, last, "not-afk"))
        spans.append((last, day_end, "afk"))
    else:
        spans.append((cur_s, day_end, "not-afk"))
    return [
        {"timestamp": iso(a), "duration": round((b - a).total_seconds(), 3), "data": {"status": st}}
        for a, b, st in spans
        if b > a
    ]


def people_days(name: str, seed: int, host: str, dates: list[str]) -> People:
    p = KINDS[name]
    windows: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []
    afks: list[dict[str, Any]] = []
    truth: list[Block] = []
    for day in dates:
        rng = random.Random(f"{name}:{seed}:{day}")
        blocks = _day_blocks(p, rng, day)
        if not blocks:
            continue
        segs = _segments(p, rng, blocks, p.ctx)
        windows += _window_events(segs)
        ins, active = _input_events(segs, rng)
        inputs += ins
        afks += _afk_events(blocks[0].start, blocks[-1].end, active)
        truth += blocks
    export = {
        "buckets": {
            f"aw-watcher-window_{host}": {
                "client": "aw-watcher-window",
                "type": "currentwindow",
                "hostname": host,
                "events": windows,
            },
            f"aw-watcher-afk_{host}": {
                "client": "aw-watcher-afk",
                "type": "afkstatus",
                "hostname": host,
                "events": afks,
            },
            f"aw-watcher-input_{host}": {
                "client": "aw-watcher-input",
                "type": "os.hid.input",
                "hostname": host,
                "events": inputs,
            },
        }
    }
    counts = {"window_events": len(windows), "input_events": len(inputs), "afk_events": len(afks)}
    return People(export, truth, p, counts)


RUNS = [
    ("lx-dev-s0", "linuxdev", 0, "truth", "nearest"),
    ("lx-dev-s1-floor", "linuxdev", 1, "truth", "floor"),
    ("jupyter-s0", "jupyter", 0, "truth", "nearest"),
    ("jupyter-s1-floor", "jupyter", 1, "truth", "floor"),
    ("support-s0", "support", 0, "truth", "nearest"),
    ("support-s1-floor", "support", 1, "truth", "floor"),
    ("walkaway-s0", "walkaway", 0, "truth", "nearest"),
    ("walkaway-s1-floor", "walkaway", 1, "truth", "floor"),
    ("meetheavy-s0", "meetheavy", 0, "truth", "nearest"),
    ("meetheavy-s1-floor", "meetheavy", 1, "truth", "floor"),
    ("sparse-s0-floor", "sparse", 0, "truth", "floor"),
    ("sparse-s1", "sparse", 1, "truth", "nearest"),
    ("support-random-s0", "support", 0, "random", "floor"),
    ("jupyter-noisy-s0", "jupyter", 0, "noisy", "nearest"),
]
