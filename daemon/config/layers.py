"""Find a daemon's spool and label log from the config file, TASKCLF_* and flags, cheaply.

`status` and `reload` are typed by a person: they resolve just the path keys the way
:mod:`daemon.config.settings` does (flags over environment over file, ``~`` and ``$VARS``
expanded, defaults from :mod:`daemon.paths`) without importing pydantic, numpy or LightGBM.
The pieces both need (the config file, variable names, path expansion) live here.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from daemon.paths import (
    default_config_file,
    default_data_dir,
    labels_dir,
    lock_file,
    spool_dir,
    status_file,
)
from taskclf_core.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "LOCATING_KEYS",
    "SETTING_KEYS",
    "Location",
    "config_file_path",
    "env_name",
    "expand_path",
    "locate",
    "read_config_file",
]

ENV_PREFIX = "TASKCLF_"
# what `status` and `reload` read to find the running daemon (state_dir: accepted, ignored)
LOCATING_KEYS = ("data_dir", "spool_dir", "state_dir")
# the collector's own keys (setting one means this user runs the collector)
COLLECTOR_KEYS = (
    "aw_url",
    "aw_hostname",
    "title_salt_file",
    "collect_user_id",
    "collect_interval_seconds",
    "collect_settle_seconds",
)
# every key Settings has, so a typo can be named without building Settings;
# tests/test_locate.py fails until a key added to Settings is added here too
SETTING_KEYS = (
    "data_dir",
    "spool_dir",
    "policy_file",
    "model_dir",
    "calibrator_store",
    "taxonomy",
    "state_dir",
    "reject_threshold",
    "smooth_window",
    "idle_gap_seconds",
    "personalization",
    "opt_out_users",
    "retention_days",
    "label_retention_days",
    "max_file_bytes",
    "batch_max_windows",
    "predict_threads",
    "rescan_interval_seconds",
    "reload_debounce_seconds",
    "heartbeat_seconds",
    "observer",
    "log_level",
    "log_format",
    *COLLECTOR_KEYS,
)
_VAR = re.compile(r"\$(?:\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def env_name(key: str) -> str:
    """``spool_dir`` → ``TASKCLF_SPOOL_DIR``."""
    return ENV_PREFIX + key.upper()


def expand_path(value: str | Path) -> str:
    """``~`` and ``$VAR``/``${VAR}`` expanded; a variable that is not set is an error."""
    text = os.fspath(value)
    missing = [a or b for a, b in _VAR.findall(text) if (a or b) not in os.environ]
    if missing:
        raise ValueError(
            f"${missing[0]} is not set in the environment (in {text!r}); set it, or write "
            "the path out"
        )
    return os.path.expanduser(os.path.expandvars(text))


def config_file_path(config_file: Path | None) -> Path:
    """The file that is read: ``--config`` (with ``~``/``$VAR`` expanded) or the default."""
    if config_file is None:
        return default_config_file()
    try:
        return Path(expand_path(config_file))
    except ValueError as exc:
        raise ConfigError(f"--config: {exc}") from None


def read_config_file(path: Path, explicit: bool) -> tuple[dict[str, Any], str | None]:
    """The TOML file's table, or ({}, why not) when it is absent, unreadable or bad TOML."""
    if not path.is_file():
        if explicit:
            return {}, f"--config: {path} does not exist"
        return {}, None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, f"{path}: not valid TOML ({exc})"


class Location(NamedTuple):
    """Where one configuration's daemon keeps its locks and status (a NamedTuple: no
    dataclasses import on the way to an answer)."""

    config_file: Path
    spool: Path
    labels: Path
    data_dir: Path

    @property
    def lock_path(self) -> Path:
        return lock_file(self.spool)

    @property
    def labels_lock_path(self) -> Path:
        return lock_file(self.labels)

    @property
    def status_path(self) -> Path:
        return status_file(self.spool)


def locate(
    config_file: Path | None, flags: Mapping[str, Any] | None = None
) -> tuple[Location, list[str]]:
    """Resolve ``data_dir`` and ``spool_dir`` as Settings would, tolerantly: the location,
    and one line per problem found on the way (a bad value is dropped, as
    ``load_settings_tolerant`` drops it, so the default applies)."""
    problems: list[str] = []
    try:
        path = config_file_path(config_file)
        table, problem = read_config_file(path, explicit=config_file is not None)
    except ConfigError as exc:  # --config itself names an unset $VARIABLE: no file at all
        path, table, problem = default_config_file(), {}, str(exc)
    if problem is not None:
        problems.append(problem)
    for key in table:
        if key not in SETTING_KEYS:
            import difflib  # only when there is a typo to name

            close = difflib.get_close_matches(key.lower(), SETTING_KEYS, n=1, cutoff=0.6)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else "; `taskclf-daemon init` writes a file listing every key"
            )
            problems.append(f"{path}: unknown key {key!r}{hint}")
    flags = flags or {}

    def value(key: str) -> Path | None:
        layers = [
            (flags.get(key), f"--{key.replace('_', '-')} ({key})"),
            (os.environ.get(env_name(key)), env_name(key)),
            (table.get(key), f"{path}: {key}"),
        ]
        raw, where = next(((v, w) for v, w in layers if v is not None), (None, ""))
        if raw is None:
            return None
        if not isinstance(raw, str | Path):
            problems.append(f"{where}: expected a path (got {raw!r})")
            return None
        try:
            return Path(expand_path(raw))
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            return None

    data = value("data_dir")
    data = data if data is not None else default_data_dir()
    return Location(path, spool_dir(data, value("spool_dir")), labels_dir(data), data), problems
