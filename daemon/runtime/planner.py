"""One batch, decided without side effects: parsed files + what is logged → records and outcomes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from daemon.runtime.intake import ParsedFile
from taskclf_core.pipeline import Snapshot, label_window, label_windows
from taskclf_core.record import LabelRecord
from taskclf_core.schema import FeatureWindow
from taskclf_core.smoothing import SmoothingState

__all__ = ["BatchPlan", "FileOutcome", "plan_batch"]


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What the batch decided for one spool file's windows."""

    name: str
    parsed: ParsedFile
    labelled: int
    duplicates: tuple[tuple[str, str], ...]  # window ids already logged (or earlier in the batch)


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Records to append (in order), the smoothing state once they are logged, per-file outcomes.

    Nothing here has happened yet: the caller appends ``records`` durably, then adopts
    ``state`` and acknowledges the files. A failed append leaves the old state in force, so a
    retry plans the same records again.
    """

    records: tuple[LabelRecord, ...]
    state: SmoothingState
    files: tuple[FileOutcome, ...]


def plan_batch(
    files: Sequence[tuple[str, ParsedFile]],
    *,
    is_logged: Callable[[tuple[str, str]], bool],
    snapshot: Snapshot,
    state: SmoothingState,
    processed_at: str,
) -> BatchPlan:
    """Label every window of ``files`` that is not logged yet, once, in file order.

    A window id seen twice (in the log, or earlier in this batch) is a duplicate and gets
    no record. One LightGBM call for the batch; a lone window takes the single-row path.
    """
    todo: list[FeatureWindow] = []
    sources: list[str] = []
    seen: set[tuple[str, str]] = set()
    counts: list[tuple[int, list[tuple[str, str]]]] = []
    for name, parsed in files:
        labelled = 0
        duplicates: list[tuple[str, str]] = []
        for window in parsed.windows:
            key = window.key
            if key in seen or is_logged(key):
                duplicates.append(key)
                continue
            seen.add(key)
            todo.append(window)
            sources.append(name)
            labelled += 1
        counts.append((labelled, duplicates))
    records: list[LabelRecord]
    if len(todo) == 1:
        state, record = label_window(
            snapshot, state, todo[0], source=sources[0], processed_at=processed_at
        )
        records = [record]
    else:
        state, records = label_windows(
            snapshot, state, todo, sources=sources, processed_at=processed_at
        )
    outcomes = tuple(
        FileOutcome(name, parsed, labelled, tuple(dups))
        for (name, parsed), (labelled, dups) in zip(files, counts, strict=True)
    )
    return BatchPlan(tuple(records), state, outcomes)
