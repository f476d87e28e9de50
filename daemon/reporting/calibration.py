"""Calibration reports for people: eligibility per user, held-out scores before and after."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from taskclf_core.metrics import CalibrationMetrics
from taskclf_core.vetting import ECE_BINS, CalibrationReport, UserReport
from taskclf_core.words import plural

if TYPE_CHECKING:
    from taskclf_core.personalize import PersonalizeOutcome

__all__ = ["format_outcome", "format_report"]


def _f(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _decision_text(u: UserReport) -> str:
    if u.decision == "n.a.":
        return "n.a."
    if u.guard_user_nll is None:
        return f"{u.decision} (unvetted)"
    return (
        f"{u.decision} (NLL {_f(u.guard_user_nll, 3)}/{_f(u.guard_global_nll, 3)}, "
        f"acc {_f(u.guard_user_accuracy, 3)}/{_f(u.guard_global_accuracy, 3)})"
    )


def _eligibility_table(report: CalibrationReport) -> list[str]:
    head = (
        f"  {'user':<16} {'windows':>7} {'fit':>5} {'held':>5} {'days':>4} {'labels':>6}  "
        f"{'eligible':<8}  {'per-user calibrator':<38} reason"
    )
    lines = [head]
    for u in report.users:
        e = u.eligibility
        lines.append(
            f"  {e.user_id:<16} {u.windows:>7} {u.fit_windows:>5} {u.held_out:>5} {e.days:>4} "
            f"{e.labels:>6}  {'yes' if e.eligible else 'no':<8}  {_decision_text(u):<38} "
            f"{e.reason or u.note}"
        )
    return lines


def _score_row(scope: str, before: CalibrationMetrics, after: CalibrationMetrics) -> str:
    pairs = ((before.nll, after.nll), (before.brier, after.brier), (before.ece, after.ece))
    cells = "  ".join(f"{_f(b):>7} -> {_f(a):<7}" for b, a in pairs)
    return f"  {scope:<16} {before.n:>5}  {cells}"


def format_report(report: CalibrationReport) -> str:
    """The human-readable report: eligibility table, then held-out scores before and after."""
    t = report.thresholds
    share = round(report.holdout * 100)
    temperature = (
        f", global T = {report.global_temperature:.3f}"
        if report.global_temperature is not None
        else ""
    )
    lines = [
        f"calibration of model {report.bundle_id} (schema {report.schema_hash}): "
        f"{report.method}{temperature}",
        f"  {plural(report.windows, 'window')} of {plural(len(report.users), 'user')}; per "
        "user, the earliest "
        f"{100 - share}% ({report.fit_windows}) fit the calibrators and the latest {share}% "
        f"({report.held_out_windows}) are held out",
        f"eligibility for a per-user calibrator, counted on all of the user's windows (windows "
        f">= {t['min_windows']}, days >= {t['min_days']}, labels >= {t['min_labels']}); kept only "
        "if on the held-out windows its NLL (user/global) is not worse than the global "
        f"calibrator's and its accuracy at the reject threshold {report.reject_threshold} "
        "(user/global) is not lower:",
        *_eligibility_table(report),
        f"held-out scores, uncalibrated -> calibrated as the daemon will apply it "
        f"(ECE: top-label, {ECE_BINS} equal-width bins):",
        f"  {'scope':<16} {'n':>5}  {'NLL':^18}  {'Brier':^18}  {'ECE':^18}",
        _score_row("all users", report.before, report.after),
        *(_score_row(u.user_id, u.before, u.after) for u in report.users),
    ]
    if report.opted_out:
        lines.append(f"opted out (never a per-user calibrator): {', '.join(report.opted_out)}")
    return "\n".join(lines)


def format_outcome(outcome: PersonalizeOutcome, thresholds: Mapping[str, int]) -> list[str]:
    """The per-user table and the held-out scores, global vs personal."""
    share = 20
    lines = [
        f"per user (eligible: windows >= {thresholds['min_windows']}, days >= "
        f"{thresholds['min_days']}, labels >= {thresholds['min_labels']}, counted on all of "
        f"the user's labelled windows; a calibrator is fitted on the earliest {100 - share}% "
        f"and one, new or previous, is kept only if on the latest {share}% its NLL is better "
        "than global's beyond noise (the lower 95% bound of a paired bootstrap of the "
        "windows above 0) and its accuracy at the reject threshold is not lower there nor "
        "on all the user's labelled windows):",
        f"  {'user':<16} {'windows':>7} {'fit':>5} {'held':>5} {'days':>4} {'labels':>6}  "
        f"{'eligible':<8}  {'per-user calibrator':<19} why",
    ]
    for u in outcome.users:
        e = u.eligibility
        decision = {"n.a.": "none", "previous": "kept previous"}.get(u.decision, u.decision)
        why = (e.reason or u.note) if u.decision == "n.a." else u.note
        if u.guard_user_nll is not None:
            why = (
                f"{why} (NLL {_f(u.guard_user_nll)} vs global {_f(u.guard_global_nll)}, "
                f"accuracy at {u.reject_threshold} {_f(u.guard_user_accuracy)} vs "
                f"{_f(u.guard_global_accuracy)})"
            )
        lines.append(
            f"  {e.user_id:<16} {u.windows:>7} {u.fit_windows:>5} {u.held_out:>5} {e.days:>4} "
            f"{e.labels:>6}  {'yes' if e.eligible else 'no':<8}  {decision:<19} {why}"
        )
    lines += [
        "held-out scores, global -> personal (ECE: top-label, 15 bins):",
        f"  {'user':<16} {'n':>5}  {'NLL':^18}  {'Brier':^18}  {'ECE':^18}",
    ]
    for u in outcome.users:
        g, p = u.global_scores, u.user_scores
        if g is None:
            continue
        cells = []
        for name in ("nll", "brier", "ece"):
            mine = getattr(p, name) if p is not None else None
            cells.append(f"{_f(getattr(g, name)):>7} -> {_f(mine):<7}")
        lines.append(f"  {u.user_id:<16} {g.n:>5}  {'  '.join(cells)}")
    return lines
