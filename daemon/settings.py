"""Settings: one frozen object from the TOML file, then TASKCLF_* variables, then CLI flags."""

from __future__ import annotations

import difflib
import json
import os
import re
import socket
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from daemon.locate import (
    ENV_PREFIX,
    config_file_path,
    env_name,
    expand_path,
    read_config_file,
)
from daemon.paths import default_data_dir, labels_dir, lock_file, model_dir, spool_dir, status_file
from taskclf_core.errors import ConfigError
from taskclf_core.ids import is_safe_user_id

__all__ = [
    "ENV_PREFIX",
    "Settings",
    "config_file_path",
    "env_name",
    "expand_path",
    "flags",
    "is_path_key",
    "load_settings",
    "load_settings_tolerant",
    "suggest_key",
]

_POLICY_BINDS = ("model_dir", "calibrator_store", "reject_threshold")
# the spellings every other command uses for a bundle and a store (the long ones stay valid)
_FLAG_SPELLINGS = {"model_dir": "--model", "calibrator_store": "--store"}


class Settings(BaseSettings):
    """Everything the daemon and its commands are configured with (CONTRACT section 8).

    Every field has a description: the commented config file that ``init`` writes and
    docs/configuration.md are generated from them.
    """

    # a setting of NaN or infinity is a typo, never a meaning: refused like any bad value
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, allow_inf_nan=False
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        json_schema_extra={
            "default_text": "the user data dir: ~/.local/share/taskclf (Linux), "
            "~/Library/Application Support/taskclf (macOS)"
        },
        description="holds the spool, the label log (labels/) and, by default, the model",
    )
    spool_dir: Path | None = Field(
        None,
        description="where collectors drop feature windows (tmp/ then new/); "
        "unset: <data_dir>/spool",
        examples=["~/.local/share/taskclf/spool"],
    )
    policy_file: Path | None = Field(
        None,
        description="taskclf inference policy binding the model, the calibrator store and the "
        "reject thresholds (what `init --model` and `deploy` write); when set, model_dir, "
        "calibrator_store and reject_threshold must not be",
        examples=["~/.local/share/taskclf/models/inference_policy.json"],
    )
    model_dir: Path | None = Field(
        None,
        description="the model bundle directory (taskclf layout; its name is the bundle id); "
        "unset: <data_dir>/model",
        examples=["~/models/bundle_v1"],
    )
    calibrator_store: Path | None = Field(
        None,
        description="the CalibratorStore directory, or a symlink to one; unset: no calibration",
        examples=["~/stores/current"],
    )
    taxonomy: Path | None = Field(
        None,
        description="taskclf taxonomy file (.yaml, .yml or .toml) mapping labels to your "
        "buckets; unset: no mapping",
        examples=["~/.config/taskclf/taxonomy.yaml"],
    )
    state_dir: Path | None = Field(
        None,
        json_schema_extra={"default_text": "unset (deprecated: ignored)"},
        description="deprecated and ignored: the lock and status file now live with the data "
        "they guard (.daemon.lock and .daemon-status.json in the spool, .daemon.lock in the "
        "label directory); still accepted so older config files load",
    )

    reject_threshold: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description="a window whose calibrated confidence is below this is labelled Mixed/Unknown",
    )
    smooth_window: int = Field(
        3, ge=1, le=1000, description="windows in the rolling majority behind smoothed_label"
    )
    idle_gap_seconds: float = Field(
        300.0, gt=0, description="a longer gap between a user's windows starts a fresh smoothing"
    )
    personalization: bool = Field(
        True, description="false: the global calibrator for everyone, never a per-user one"
    )
    opt_out_users: tuple[str, ...] = Field(
        (),
        description="users never given a per-user calibrator "
        '(environment and flags: "a,b" or a JSON list)',
        examples=[["u-alice"]],
    )

    retention_days: float = Field(
        7.0, ge=0, description="processed spool files (done/) are deleted after this many days"
    )
    label_retention_days: float | None = Field(
        None,
        gt=0,
        description="label-log days older than this are deleted; unset: keep forever",
        examples=[365],
    )
    max_file_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="a larger spool file is rejected unread"
    )

    batch_max_windows: int = Field(
        1024, ge=1, le=100_000, description="windows per LightGBM call when draining a backlog"
    )
    predict_threads: int = Field(
        0, ge=0, description="threads for batch prediction; 0: LightGBM's default (all cores)"
    )
    rescan_interval_seconds: float = Field(
        5.0, gt=0, description="the safety-net rescan of the spool (file events can be lost)"
    )
    reload_debounce_seconds: float = Field(
        0.25, ge=0, description="quiet time after a store change before it is reloaded"
    )
    heartbeat_seconds: float = Field(
        5.0, gt=0, description="how often the status file is refreshed"
    )
    observer: Literal["auto", "polling", "none"] = Field(
        "auto",
        description="how new spool files are noticed: auto (inotify on Linux, FSEvents on "
        "macOS, polling if those fail), polling, or none (the periodic rescan only)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="the least severe log lines written"
    )
    log_format: Literal["auto", "console", "json"] = Field(
        "auto",
        description="log lines as JSON (for journald and files read by programs) or for "
        "people; auto: console on a terminal, JSON otherwise",
    )

    # the ActivityWatch collector (`taskclf-daemon collect`, CONTRACT section 11)
    aw_url: str = Field(
        "http://127.0.0.1:5600",
        description="the ActivityWatch server the collector reads (a loopback host only)",
    )
    aw_hostname: str = Field(
        default_factory=socket.gethostname,
        json_schema_extra={"default_text": "this machine's hostname"},
        description="the collector reads the window and input buckets of this host",
    )
    title_salt_file: Path | None = Field(
        None,
        examples=["~/.taskclf/data/processed/.title_secret"],
        description="taskclf's title salt, which window-title features are keyed by; "
        "unset: <data_dir>/data/processed/.title_secret (taskclf's own file)",
    )
    collect_user_id: str | None = Field(
        None,
        examples=["6f1c2a9e-8b7d-4c3e-9a21-0d5e4f3b2a10"],
        description="the user id the collector writes windows for; "
        "unset: the contents of <data_dir>/data/processed/.user_id (taskclf's)",
    )
    collect_interval_seconds: float = Field(
        30.0, gt=0, description="how often the collector polls ActivityWatch"
    )
    collect_settle_seconds: float = Field(
        60.0,
        ge=0,
        description="the collector writes a minute once the events that start in it "
        "ended this long ago",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _expand_paths(cls, value: Any, info: ValidationInfo) -> Any:
        # every path key, from every source: `~` and $VARS as a shell would expand them
        if isinstance(value, str | Path) and is_path_key(info.field_name or ""):
            return expand_path(value)
        return value

    @field_validator("opt_out_users", mode="before")
    @classmethod
    def _split_users(cls, value: Any) -> Any:
        # a comma-separated string is friendlier on the command line than JSON
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                try:
                    return json.loads(value)
                except json.JSONDecodeError:
                    raise ValueError(f"not a JSON list of user ids: {value!r}") from None
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @field_validator("opt_out_users", mode="after")
    @classmethod
    def _check_users(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for user_id in value:
            if not is_safe_user_id(user_id):
                raise ValueError(f"{user_id!r} is not a valid user id")
        return value

    @field_validator("collect_user_id", mode="after")
    @classmethod
    def _check_collect_user(cls, value: str | None) -> str | None:
        if value is not None and not is_safe_user_id(value):
            raise ValueError(
                f"{value!r} is not a valid user id (letters, digits and . _ @ + = -, "
                "not starting with a dot)"
            )
        return value

    @model_validator(mode="after")
    def _check_policy(self) -> Settings:
        if self.policy_file is not None:
            both = [k for k in _POLICY_BINDS if k in self.model_fields_set]
            if both:
                raise ValueError(
                    f"policy_file and {', '.join(both)} are both set: the inference policy "
                    f"names the model, store and reject threshold; remove {', '.join(both)}"
                )
        return self

    @property
    def title_salt_path(self) -> Path:
        if self.title_salt_file is not None:
            return self.title_salt_file
        return self.data_dir / "data" / "processed" / ".title_secret"

    @property
    def user_id_path(self) -> Path:
        return self.data_dir / "data" / "processed" / ".user_id"

    @property
    def collector_dir(self) -> Path:
        """The collector's cursor, status file and lock."""
        return self.data_dir / "collector"

    @property
    def spool_path(self) -> Path:
        return spool_dir(self.data_dir, self.spool_dir)

    @property
    def model_path(self) -> Path:
        return model_dir(self.data_dir, self.model_dir)

    @property
    def labels_path(self) -> Path:
        return labels_dir(self.data_dir)

    @property
    def status_path(self) -> Path:
        return status_file(self.spool_path)

    @property
    def lock_path(self) -> Path:
        """The spool's lock: the one `status` and `reload` look at."""
        return lock_file(self.spool_path)

    @property
    def labels_lock_path(self) -> Path:
        return lock_file(self.labels_path)

    @property
    def lock_paths(self) -> tuple[Path, Path]:
        """The spool's lock, then the label log's: a daemon holds both."""
        return self.lock_path, self.labels_lock_path

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings merges the file, TASKCLF_* and the flags itself, so that every
        # message can say which of them a bad value came from
        return (init_settings,)


# --- keys ------------------------------------------------------------------------------


def _mentions_path(annotation: object) -> bool:
    if annotation is Path:
        return True
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return any(_mentions_path(a) for a in get_args(annotation))
    return False


def is_path_key(key: str) -> bool:
    """Whether ``key`` holds a path (and so gets ``~`` and ``$VAR`` expansion)."""
    info = Settings.model_fields.get(key)
    return info is not None and _mentions_path(info.annotation)


def flags(key: str) -> tuple[str, ...]:
    """The command-line spellings of ``key``, the preferred one first (``--model``)."""
    plain = "--" + key.replace("_", "-")
    short = _FLAG_SPELLINGS.get(key)
    return (short, plain) if short else (plain,)


def suggest_key(key: str) -> str | None:
    """The setting ``key`` was probably meant to be (difflib), or None."""
    close = difflib.get_close_matches(key.lower(), list(Settings.model_fields), n=1, cutoff=0.6)
    return close[0] if close else None


# --- loading ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layer:
    """One source of values and how a message names it."""

    kind: Literal["file", "env", "flag"]
    values: dict[str, Any]
    path: Path | None = None

    def where(self, key: str) -> str:
        if self.kind == "file":
            return f"{self.path}: {key}"
        if self.kind == "env":
            return env_name(key)
        return f"{flags(key)[0]} ({key})"


def _layers(
    config_file: Path | None, overrides: Mapping[str, Any] | None
) -> tuple[list[_Layer], str | None]:
    """The file, TASKCLF_* and flag layers; and why the file could not be read, if so."""
    path = config_file_path(config_file)
    values, problem = read_config_file(path, explicit=config_file is not None)
    env = {
        key: os.environ[env_name(key)]
        for key in Settings.model_fields
        if env_name(key) in os.environ
    }
    layers = [
        _Layer("file", values, path),
        _Layer("env", env),
        _Layer("flag", dict(overrides or {})),
    ]
    return layers, problem


def _describe(error: Mapping[str, Any], layers: list[_Layer]) -> tuple[str, str | None]:
    """One line for a pydantic error, naming where the value came from; and the key."""
    loc = error.get("loc", ())
    key = str(loc[0]) if loc else None
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    file_layer = layers[0]
    if key is None:  # a check across keys: its message names them; say where each is set
        named = [k for k in Settings.model_fields if re.search(rf"\b{k}\b", message)]
        origins = [
            f"{k} {'in ' + str(lay.path) if lay.kind == 'file' else 'by ' + lay.where(k)}"
            for k in named
            for lay in layers
            if k in lay.values
        ]
        return f"{message} ({'; '.join(origins) or file_layer.path})", None
    layer = next((lay for lay in reversed(layers) if key in lay.values), file_layer)
    if error.get("type") == "extra_forbidden":
        guess = suggest_key(key)
        hint = (
            f"; did you mean {guess!r}?"
            if guess
            else "; `taskclf-daemon init` writes a file listing every key"
        )
        return f"{layer.path}: unknown key {key!r}{hint}", key
    shown = repr(error.get("input"))
    got = "" if shown in message else f" (got {shown})"
    return f"{layer.where(key)}: {message}{got}", key


def _build(layers: list[_Layer]) -> Settings:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer.values)
    return Settings(**merged)


def load_settings(
    config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build the settings; any problem is one :class:`ConfigError` line naming the key.

    ``run`` and every command that acts on the configuration use this: a typo is refused.
    """
    layers, problem = _layers(config_file, overrides)
    if problem is not None:
        raise ConfigError(problem)
    try:
        return _build(layers)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0], layers)[0]) from None


def load_settings_tolerant(
    config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> tuple[Settings, list[str]]:
    """The settings with every bad value left at its default, and one line per problem.

    For `status`, `reload` and `doctor`: they must say whether the daemon runs even when
    the file has a typo in it (`run` itself refuses such a file).
    """
    problems: list[str] = []
    try:
        layers, problem = _layers(config_file, overrides)
    except ConfigError as exc:  # --config itself names an unset $VARIABLE: no file at all
        problems.append(str(exc))
        layers, _ = _layers(None, overrides)
        layers[0], problem = _Layer("file", {}, layers[0].path), None
    if problem is not None:
        problems.append(problem)
    for _ in range(len(Settings.model_fields) + 2):
        try:
            return _build(layers), problems
        except ValidationError as exc:
            dropped = False
            for error in exc.errors():
                line, key = _describe(error, layers)
                problems.append(line)
                keys = [key] if key is not None else list(_POLICY_BINDS)
                for layer in layers:
                    for k in keys:
                        dropped = layer.values.pop(k, None) is not None or dropped
            if not dropped:
                break
    # nothing left to drop and still invalid: the defaults alone
    return _build([]), problems
