"""The report as a timesheet: one CSV row per segment, for pasting into a spreadsheet."""

from __future__ import annotations

from datetime import datetime, tzinfo

from daemon.reporting.view import ReportView
from taskclf_core.spans import csv_cell, csv_field

__all__ = ["render_csv"]


def _local(epoch: float, tz: tzinfo) -> str:
    # what a spreadsheet reads as a date and time in every locale's import
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %H:%M:%S")


def render_csv(view: ReportView) -> str:
    """``start,end,minutes,label,bucket`` (``user`` first when the report has several):
    local times, the minutes the segment counts (its away time is not), its label and its
    taxonomy bucket (the label itself without a taxonomy). RFC 4180 (CRLF, quoted where
    needed); text cells go through ``label export``'s formula rule (:func:`csv_cell`)."""
    several = len(view.users) > 1
    header = ["start", "end", "minutes", "label", "bucket"]
    rows = [["user", *header] if several else header]
    for user in view.users:
        for day in view.days:
            report = user.days.get(day)
            if report is None:
                continue
            for segment in report.segments:
                row = [
                    _local(segment.start, view.tz),
                    _local(segment.end, view.tz),
                    f"{segment.minutes:.2f}",
                    csv_cell(segment.label),
                    csv_cell(segment.bucket),
                ]
                rows.append([csv_cell(user.user_id), *row] if several else row)
    return "".join(",".join(csv_field(cell) for cell in row) + "\r\n" for row in rows)
