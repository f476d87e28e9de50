"""The few keys `status`, `reload` and `report` need, typed, from the one read, without pydantic.

A person types these commands: building :class:`daemon.config.settings.Settings` costs
~0.25 s of imports (pydantic-settings; `report`'s fallback also numpy), more than the answer.
So each reads :func:`daemon.config.layers.read_layers` and types just its keys by their kind
in the table, with the same path rule (:func:`daemon.config.keys.parse_path`) and defaults.

- :func:`locate` (`status`, `reload`): where the daemon of this configuration keeps its lock
  and status. Tolerant: a problem is reported and that key left at its default, so they
  still say whether the daemon runs.
- :func:`report_settings` (`report`): its five keys, or ``None`` when anything is wrong with
  the configuration; the caller then builds ``Settings``, which refuses it with every reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, NamedTuple

from daemon.config.keys import KEYS, POLICY_BINDS, default_number, parse_path
from daemon.config.layers import Problem, read_layers
from daemon.paths import Configured, default_data_dir

__all__ = ["REPORT_KEYS", "Location", "ReportSettings", "locate", "report_settings"]

REPORT_KEYS: Final = tuple(k for k, key in KEYS.items() if "report" in key.readers)
_DECIMAL: Final = re.compile(r"\d+(\.\d+)?")


class _LocationFields(NamedTuple):
    config_file: Path
    data_dir: Path
    spool_dir: Path | None
    model_dir: Path | None = None  # not read here


class Location(_LocationFields, Configured):
    """Where one configuration's daemon keeps its locks and status (a NamedTuple: no
    dataclasses import on the way to an answer)."""

    __slots__ = ()


def locate(
    config_file: Path | None, flags: Mapping[str, Any] | None = None
) -> tuple[Location, list[Problem]]:
    """Resolve ``data_dir`` and ``spool_dir`` as Settings would, tolerantly: the location,
    and every problem found on the way (a bad value is dropped: its default applies)."""
    layers = read_layers(config_file, flags)
    problems = list(layers.problems)

    def path(key: str) -> Path | None:
        value = layers.values.get(key)
        if value is None:
            return None
        try:
            return parse_path(value.raw)
        except ValueError as exc:
            problems.append(Problem(f"{value.origin.at(key)}: {exc}", value.origin, key))
            return None

    data = path("data_dir") or default_data_dir()
    return Location(layers.config_file, data, path("spool_dir")), problems


class _ReportFields(NamedTuple):
    data_dir: Path
    policy_file: Path | None
    model_dir: Path | None
    taxonomy: Path | None
    idle_gap_seconds: float
    spool_dir: Path | None = None  # not read here


class ReportSettings(_ReportFields, Configured):
    """The settings `report` uses, with the same names and meanings as on ``Settings``."""

    __slots__ = ()


def _seconds(value: object, key: str) -> float | None:
    """A plain positive number (what the table's bound says); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):  # a variable or a flag: plain decimals only, else Settings judges
        if not _DECIMAL.fullmatch(value.strip()):
            return None
        value = float(value)
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    bound = KEYS[key].gt
    return float(value) if bound is None or value > bound else None


def report_settings(
    config_file: Path | None, flags: Mapping[str, Any] | None = None
) -> ReportSettings | None:
    """The report's settings from the file, ``TASKCLF_*`` and ``flags`` (key → value);
    ``None`` when the full loader has to judge the configuration."""
    layers = read_layers(config_file, flags)
    values = layers.values
    if layers.problems or ("policy_file" in values and any(k in values for k in POLICY_BINDS)):
        return None
    paths: dict[str, Path | None] = {}
    for key in ("data_dir", "policy_file", "model_dir", "taxonomy"):
        value = values.get(key)
        try:
            paths[key] = None if value is None else parse_path(value.raw)
        except ValueError:
            return None
    gap = values.get("idle_gap_seconds")
    seconds = (
        default_number("idle_gap_seconds") if gap is None else _seconds(gap.raw, "idle_gap_seconds")
    )
    if seconds is None:
        return None
    return ReportSettings(
        data_dir=paths["data_dir"] or default_data_dir(),
        policy_file=paths["policy_file"],
        model_dir=paths["model_dir"],
        taxonomy=paths["taxonomy"],
        idle_gap_seconds=seconds,
    )
