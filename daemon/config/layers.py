"""The one read of the configuration: the TOML file, then ``TASKCLF_*`` variables, then flags.

Each key's value comes back with where it was set (:class:`Origin`), so every message can
name the file, the variable or the flag, and say where to fix it. Unknown keys in the file
and unknown ``TASKCLF_*`` variables are problems found here, all of them at once. Nothing is
validated beyond that: :mod:`daemon.config.settings` validates everything for the commands
that act on the configuration; :mod:`daemon.config.subsets` reads the few keys `status`,
`reload` and `report` need without pydantic.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

from daemon.config.keys import (
    ENV_PREFIX,
    KEYS,
    env_name,
    expand_path,
    flags,
    is_known_variable,
    suggest_key,
    suggest_variable,
)
from daemon.paths import default_config_file
from taskclf_core.errors import ConfigError

__all__ = [
    "Layers",
    "Origin",
    "Problem",
    "Value",
    "config_file_path",
    "read_layers",
    "warn",
]


class Origin(NamedTuple):
    """Where a value (or a problem) was set: the config file, a variable or a flag."""

    layer: Literal["file", "env", "flag"]
    name: str  # the file's path, the variable's name, or the flag as spelt

    def at(self, key: str) -> str:
        """How a message names ``key`` here: ``FILE: key``, ``TASKCLF_KEY``, ``--flag (key)``."""
        if self.layer == "file":
            return f"{self.name}: {key}"
        if self.layer == "env":
            return self.name
        return f"{self.name} ({key})"

    def fix(self) -> str:
        """Where to change it, for `doctor`'s fix."""
        if self.layer == "file":
            return f"edit {self.name}"
        if self.layer == "env":
            return f"change or unset {self.name} in the environment"
        return f"change {self.name} on the command line"


class Value(NamedTuple):
    """A key's raw value as the winning layer has it, and that layer."""

    raw: Any
    origin: Origin


class Problem(NamedTuple):
    """One thing wrong with the configuration: a line for people, and where to fix it."""

    message: str
    origin: Origin
    key: str | None = None


class Layers(NamedTuple):
    """The file read, each key's winning value (flag over variable over file), the problems."""

    config_file: Path
    values: dict[str, Value]
    problems: list[Problem]

    def raw(self, keys: Mapping[str, object] | None = None) -> dict[str, Any]:
        """``{key: raw value}`` of every key set (or of those also in ``keys``)."""
        return {k: v.raw for k, v in self.values.items() if keys is None or k in keys}


def config_file_path(config_file: Path | None) -> Path:
    """The file that is read: ``--config`` (with ``~``/``$VAR`` expanded) or the default."""
    if config_file is None:
        return default_config_file()
    try:
        return Path(expand_path(config_file))
    except ValueError as exc:
        raise ConfigError(f"--config: {exc}") from None


def _read_file(path: Path, explicit: bool) -> tuple[dict[str, Any], str | None]:
    """The TOML file's table, or ({}, why not) when it is absent, unreadable or bad TOML."""
    if not path.is_file():
        if explicit:
            return {}, f"--config: {path} does not exist"
        return {}, None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, f"{path}: not valid TOML ({exc})"


def _unknown_key(path: Path, key: str) -> str:
    guess = suggest_key(key)
    hint = (
        f"; did you mean {guess!r}?"
        if guess
        else "; `taskclf-daemon init` writes a file listing every key"
    )
    return f"{path}: unknown key {key!r}{hint}"


def _unknown_variable(name: str) -> str:
    guess = suggest_variable(name)
    hint = (
        f"; did you mean {guess}?"
        if guess
        else "; TASKCLF_<KEY> sets a key of docs/configuration.md: unset it if it is not one"
    )
    return f"{name}: unknown setting in the environment{hint}"


def read_layers(
    config_file: Path | None,
    flag_values: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    read_file: bool = True,
) -> Layers:
    """Read the file (``--config`` or the default), ``TASKCLF_*`` and ``flag_values``
    (key → value; None means not given). Never raises: what cannot be read is a problem
    (and that layer is empty), and so is every unknown key and variable. ``read_file=False``
    skips the file (`init`, which writes it)."""
    env = os.environ if environ is None else environ
    problems: list[Problem] = []
    values: dict[str, Value] = {}
    table: dict[str, Any]
    try:
        path = config_file_path(config_file)
    except ConfigError as exc:  # --config itself names an unset $VARIABLE: no file at all
        problems.append(Problem(str(exc), Origin("flag", "--config")))
        path, table = default_config_file(), {}
    else:
        table, why = _read_file(path, explicit=config_file is not None) if read_file else ({}, None)
        if why is not None:
            missing = config_file is not None and not path.is_file()
            origin = Origin("flag", "--config") if missing else Origin("file", str(path))
            problems.append(Problem(why, origin))
    file = Origin("file", str(path))
    for key, raw in table.items():
        if key in KEYS:
            values[key] = Value(raw, file)
        else:
            problems.append(Problem(_unknown_key(path, key), file, key))
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        key = name.removeprefix(ENV_PREFIX).lower()
        if key in KEYS and name == env_name(key):
            values[key] = Value(env[name], Origin("env", name))
        elif not is_known_variable(name):
            problems.append(Problem(_unknown_variable(name), Origin("env", name)))
    for key, raw in (flag_values or {}).items():
        if raw is not None:
            values[key] = Value(raw, Origin("flag", flags(key)[0]))
    return Layers(path, values, problems)


def warn(problems: Sequence[Problem]) -> None:
    """Each problem as a warning line on stderr (for the commands that carry on regardless)."""
    for problem in problems:
        print(
            f"taskclf-daemon: warning: {problem.message} (ignored here; `run` refuses it)",
            file=sys.stderr,
        )
