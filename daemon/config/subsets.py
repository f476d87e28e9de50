"""What `report` reads of the configuration, resolved without pydantic (a person types it).

`report` needs five keys: where the label log is (``data_dir``), how long a gap ends a
segment (``idle_gap_seconds``), the bundle in force for the model's age (``policy_file`` or
``model_dir``) and the taxonomy's bucket colours (``taxonomy``). Building
:class:`daemon.config.settings.Settings` for them costs ~0.25 s of imports (pydantic-settings,
numpy), more than the report itself on a warm cache. So, like ``status`` (see
:mod:`daemon.config.layers`), these keys are resolved here with the same layering (flags over
``TASKCLF_*`` over the file), expansion and defaults. Anything this cannot judge as the full
loader would (an unknown key, a value of the wrong type, ``policy_file`` together with what
it binds, a file that does not parse) returns ``None``: the caller then builds ``Settings``,
which refuses it with its usual message. The keys `report` does not read are not checked here.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, NamedTuple

from daemon.config.layers import (
    SETTING_KEYS,
    config_file_path,
    env_name,
    expand_path,
    read_config_file,
)
from daemon.paths import default_data_dir, labels_dir, model_dir
from taskclf_core.errors import ConfigError

__all__ = ["DEFAULT_IDLE_GAP_SECONDS", "REPORT_KEYS", "ReportSettings", "quick_report_settings"]

# = Settings.model_fields["idle_gap_seconds"].default (tests/test_report_config.py checks)
DEFAULT_IDLE_GAP_SECONDS: Final = 300.0
REPORT_KEYS: Final = ("data_dir", "policy_file", "model_dir", "taxonomy", "idle_gap_seconds")
_PATH_KEYS: Final = ("data_dir", "policy_file", "model_dir", "taxonomy")
# what a policy_file binds (daemon.config.settings._POLICY_BINDS): setting both is refused
_POLICY_BINDS: Final = ("model_dir", "calibrator_store", "reject_threshold")
_DECIMAL: Final = re.compile(r"\d+(\.\d+)?")


class ReportSettings(NamedTuple):
    """The settings `report` uses, with the same names and meanings as on ``Settings``."""

    data_dir: Path
    policy_file: Path | None
    model_dir: Path | None
    taxonomy: Path | None
    idle_gap_seconds: float

    @property
    def labels_path(self) -> Path:
        return labels_dir(self.data_dir)

    @property
    def model_path(self) -> Path:
        return model_dir(self.data_dir, self.model_dir)


def _path(value: object) -> Path | None:
    if not isinstance(value, str | Path) or not os.fspath(value).strip():
        return None
    try:
        return Path(expand_path(value))
    except ValueError:
        return None


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):  # from TASKCLF_IDLE_GAP_SECONDS or a flag: plain decimals only
        if not _DECIMAL.fullmatch(value.strip()):
            return None
        value = float(value)
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def quick_report_settings(
    config_file: Path | None, flags: Mapping[str, Any] | None = None
) -> ReportSettings | None:
    """The report's settings from ``--config`` (or the default file), ``TASKCLF_*`` and
    ``flags`` (key → value); ``None`` when the full loader has to judge the configuration."""
    try:
        path = config_file_path(config_file)
    except ConfigError:
        return None
    table, problem = read_config_file(path, explicit=config_file is not None)
    if problem is not None or any(key not in SETTING_KEYS for key in table):
        return None
    env = {key: os.environ[env_name(key)] for key in SETTING_KEYS if env_name(key) in os.environ}
    merged: dict[str, Any] = {**table, **env, **dict(flags or {})}
    if merged.get("policy_file") is not None and any(k in merged for k in _POLICY_BINDS):
        return None
    paths: dict[str, Path | None] = {}
    for key in _PATH_KEYS:
        raw = merged.get(key)
        paths[key] = None if raw is None else _path(raw)
        if raw is not None and paths[key] is None:
            return None
    gap = merged.get("idle_gap_seconds")
    seconds = DEFAULT_IDLE_GAP_SECONDS if gap is None else _seconds(gap)
    if seconds is None:
        return None
    return ReportSettings(
        data_dir=paths["data_dir"] or default_data_dir(),
        policy_file=paths["policy_file"],
        model_dir=paths["model_dir"],
        taxonomy=paths["taxonomy"],
        idle_gap_seconds=seconds,
    )
