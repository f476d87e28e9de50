"""The few keys `status`, `reload`, `report` and `collect` need, typed, without pydantic.

A person types these commands: building :class:`daemon.config.settings.Settings` costs
~0.25 s of imports (pydantic-settings; `report`'s fallback also numpy), more than the answer.
So each reads :func:`daemon.config.layers.read_layers` and types just its keys by their kind
in the table, with the same path rule (:func:`daemon.config.keys.parse_path`) and defaults.

- :func:`locate` (`status`, `reload`): where the daemon of this configuration keeps its lock
  and status. Tolerant: a problem is reported and that key left at its default, so they
  still say whether the daemon runs.
- :func:`report_settings` (`report`) and :func:`collect_settings` (`collect`, which runs all
  day: its memory): their keys, or ``None`` when anything is wrong with the configuration or
  not plain; the caller then builds ``Settings``, which refuses it with every reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, NamedTuple

from daemon.config.keys import KEYS, POLICY_BINDS, Key, parse_path
from daemon.config.layers import Layers, Problem, read_layers
from daemon.paths import CollectorPaths, Configured, default_data_dir
from taskclf_core.ids import is_safe_user_id

__all__ = [
    "COLLECT_KEYS",
    "REPORT_KEYS",
    "CollectSettings",
    "Location",
    "ReportSettings",
    "collect_settings",
    "locate",
    "report_settings",
]

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


_INVALID: Final = object()  # a value the cheap readers leave to Settings to judge
_BOOLS: Final = {"true": True, "false": False, "1": True, "0": False}


def _number(value: object, key: Key) -> object:
    """A plain finite number within the table's bounds, typed by its kind; else _INVALID."""
    if isinstance(value, bool):
        return _INVALID
    if isinstance(value, str):  # a variable or a flag: plain decimals only, else Settings judges
        if not _DECIMAL.fullmatch(value.strip()):
            return _INVALID
        value = float(value)
    if not isinstance(value, int | float) or not math.isfinite(value):
        return _INVALID
    if key.kind == "int":
        if value != int(value):
            return _INVALID
        value = int(value)
    else:
        value = float(value)
    if (
        (key.ge is not None and value < key.ge)
        or (key.gt is not None and value <= key.gt)
        or (key.le is not None and value > key.le)
    ):
        return _INVALID
    return value


def _plain(name: str, value: object) -> object:
    """``value`` of key ``name`` typed by its kind in the table when it is plain (read the way
    Settings reads it); _INVALID for anything else, which Settings then judges."""
    key = KEYS[name]
    if key.kind == "path":
        try:
            return parse_path(value)
        except ValueError:
            return _INVALID
    if key.kind in ("float", "int"):
        return _number(value, key)
    if key.kind == "bool":
        if isinstance(value, bool):
            return value
        return _BOOLS.get(value.strip().lower(), _INVALID) if isinstance(value, str) else _INVALID
    if key.kind == "choice":
        return value if isinstance(value, str) and value in key.choices else _INVALID
    if key.kind == "str":
        return value if isinstance(value, str) else _INVALID
    return _INVALID  # users: a list, left to Settings


def _subset(layers: Layers, names: tuple[str, ...]) -> dict[str, Any] | None:
    """``{key: typed value}`` of ``names`` (set or default), or None when the configuration
    has a problem or a value these readers do not judge (Settings then refuses or takes it)."""
    values = layers.values
    if layers.problems or ("policy_file" in values and any(k in values for k in POLICY_BINDS)):
        return None
    out: dict[str, Any] = {}
    for name in names:
        key = KEYS[name]
        value = values.get(name)
        if value is None:
            out[name] = key.factory() if key.factory is not None else key.default
            continue
        typed = _plain(name, value.raw)
        if typed is _INVALID:
            return None
        out[name] = typed
    return out


def report_settings(
    config_file: Path | None, flags: Mapping[str, Any] | None = None
) -> ReportSettings | None:
    """The report's settings from the file, ``TASKCLF_*`` and ``flags`` (key → value);
    ``None`` when the full loader has to judge the configuration."""
    values = _subset(read_layers(config_file, flags), REPORT_KEYS)
    return None if values is None else ReportSettings(**values)


COLLECT_KEYS: Final = tuple(k for k, key in KEYS.items() if "collect" in key.readers)


class _CollectFields(NamedTuple):
    data_dir: Path
    spool_dir: Path | None
    policy_file: Path | None
    model_dir: Path | None
    idle_gap_seconds: float
    log_level: str
    log_format: str
    aw_url: str
    aw_hostname: str
    aw_api_key: str | None
    title_salt_file: Path | None
    collect_user_id: str | None
    collect_interval_seconds: float
    collect_settle_seconds: float
    aw_write_labels: bool


class CollectSettings(_CollectFields, Configured, CollectorPaths):
    """The settings `collect` uses, with the same names and meanings as on ``Settings``: the
    collector runs all day beside the daemon, and pydantic alone is ~25 MB of its memory."""

    __slots__ = ()


def collect_settings(
    config_file: Path | None, flags: Mapping[str, Any] | None = None
) -> CollectSettings | None:
    """The collector's settings from the file, ``TASKCLF_*`` and ``flags``; ``None`` when the
    full loader has to judge the configuration (it then refuses it with every reason)."""
    values = _subset(read_layers(config_file, flags), COLLECT_KEYS)
    if values is None:
        return None
    user = values["collect_user_id"]
    if user is not None and not is_safe_user_id(user):
        return None
    return CollectSettings(**values)
