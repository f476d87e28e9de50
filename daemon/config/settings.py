"""Settings: the key table's values from the one layered read, validated (one frozen object).

`run` and every command that acts on the configuration build this; every problem is one line
naming the key and where it was set (:class:`daemon.config.layers.Origin`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from daemon.config.keys import ENV_PREFIX, KEYS, POLICY_BINDS, Key, parse_path
from daemon.config.layers import Layers, Origin, Problem, read_layers
from daemon.paths import CollectorPaths, Configured
from taskclf_core.errors import ConfigError
from taskclf_core.ids import is_safe_user_id

__all__ = ["Settings", "load_settings", "load_settings_tolerant"]


def _field(name: str) -> Any:
    """The pydantic field of key ``name``: its default, bounds and meaning from the table."""
    key = KEYS[name]
    kwargs: dict[str, Any] = {
        "description": key.description,
        "ge": key.ge,
        "gt": key.gt,
        "le": key.le,
    }
    if key.factory is not None:
        return Field(default_factory=key.factory, **kwargs)
    return Field(key.default, **kwargs)


class Settings(BaseSettings, Configured, CollectorPaths):
    """Every key of :data:`daemon.config.keys.KEYS`, typed and checked (docs/configuration.md).

    The fields are the table's keys in its order, each typed as its kind says (an import-time
    check below holds them to it); defaults, bounds and meanings come from the table.
    """

    # a setting of NaN or infinity is a typo, never a meaning: refused like any bad value
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, allow_inf_nan=False
    )

    data_dir: Path = _field("data_dir")
    spool_dir: Path | None = _field("spool_dir")
    policy_file: Path | None = _field("policy_file")
    model_dir: Path | None = _field("model_dir")
    calibrator_store: Path | None = _field("calibrator_store")
    taxonomy: Path | None = _field("taxonomy")
    state_dir: Path | None = _field("state_dir")
    reject_threshold: float = _field("reject_threshold")
    smooth_window: int = _field("smooth_window")
    idle_gap_seconds: float = _field("idle_gap_seconds")
    personalization: bool = _field("personalization")
    opt_out_users: tuple[str, ...] = _field("opt_out_users")
    retention_days: float = _field("retention_days")
    label_retention_days: float | None = _field("label_retention_days")
    max_file_bytes: int = _field("max_file_bytes")
    batch_max_windows: int = _field("batch_max_windows")
    predict_threads: int = _field("predict_threads")
    rescan_interval_seconds: float = _field("rescan_interval_seconds")
    reload_debounce_seconds: float = _field("reload_debounce_seconds")
    heartbeat_seconds: float = _field("heartbeat_seconds")
    observer: Literal["auto", "polling", "none"] = _field("observer")
    log_level: Literal["debug", "info", "warning", "error"] = _field("log_level")
    log_format: Literal["auto", "console", "json"] = _field("log_format")
    retrain_lookback_days: int = _field("retrain_lookback_days")
    archive_max_bytes: int = _field("archive_max_bytes")
    retrain_cadence_days: int = _field("retrain_cadence_days")
    retrain_user_id_feature: bool = _field("retrain_user_id_feature")
    retrain_reject_tuning: Literal["final", "taskclf"] = _field("retrain_reject_tuning")
    retrain_min_breakidle_precision: float = _field("retrain_min_breakidle_precision")
    retrain_min_class_precision: float = _field("retrain_min_class_precision")
    retrain_min_macro_f1: float = _field("retrain_min_macro_f1")
    retrain_min_weighted_f1: float = _field("retrain_min_weighted_f1")
    retrain_min_breakidle_recall: float = _field("retrain_min_breakidle_recall")
    retrain_min_reject_rate: float = _field("retrain_min_reject_rate")
    retrain_max_reject_rate: float = _field("retrain_max_reject_rate")
    retrain_regression_tolerance: float = _field("retrain_regression_tolerance")
    retrain_user_regression_tolerance: float = _field("retrain_user_regression_tolerance")
    aw_url: str = _field("aw_url")
    aw_hostname: str = _field("aw_hostname")
    aw_api_key: str | None = _field("aw_api_key")
    title_salt_file: Path | None = _field("title_salt_file")
    collect_user_id: str | None = _field("collect_user_id")
    collect_interval_seconds: float = _field("collect_interval_seconds")
    collect_settle_seconds: float = _field("collect_settle_seconds")
    aw_write_labels: bool = _field("aw_write_labels")
    ui_port: int = _field("ui_port")
    label_max_asks_per_day: int = _field("label_max_asks_per_day")

    @field_validator("*", mode="before")
    @classmethod
    def _expand_paths(cls, value: Any, info: ValidationInfo) -> Any:
        # every path key, from every source: the one rule the cheap readers use too
        key = KEYS.get(info.field_name or "")
        if key is not None and key.kind == "path" and value is not None:
            return parse_path(value)
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
    def _check_reject_bounds(self) -> Settings:
        if self.retrain_min_reject_rate > self.retrain_max_reject_rate:
            raise ValueError(
                f"retrain_min_reject_rate ({self.retrain_min_reject_rate}) is above "
                f"retrain_max_reject_rate ({self.retrain_max_reject_rate}): no reject rate "
                "could pass; lower the first or raise the second"
            )
        return self

    @model_validator(mode="after")
    def _check_policy(self) -> Settings:
        if self.policy_file is not None:
            both = [k for k in POLICY_BINDS if k in self.model_fields_set]
            if both:
                raise ValueError(
                    f"policy_file and {', '.join(both)} are both set: the inference policy "
                    f"names the model, store and reject threshold; remove {', '.join(both)}"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # daemon.config.layers reads the file, TASKCLF_* and the flags, so that every
        # message can say which of them a bad value came from
        return (init_settings,)


# --- the fields are the table's ------------------------------------------------------------

_TYPES: dict[str, Any] = {
    "path": Path,
    "float": float,
    "int": int,
    "bool": bool,
    "str": str,
    "users": tuple[str, ...],
}


def _annotation(key: Key) -> Any:
    typ = Literal[key.choices] if key.kind == "choice" else _TYPES[key.kind]
    return typ | None if key.optional else typ


def _check_fields() -> None:
    """A key added to the table and not here (or typed otherwise) fails every import."""
    fields = Settings.model_fields
    if list(fields) != list(KEYS):
        raise RuntimeError(
            f"daemon/config/settings.py: Settings has {list(fields)}; the key table "
            f"(daemon/config/keys.py) has {list(KEYS)}"
        )
    for name, info in fields.items():
        if info.annotation != _annotation(KEYS[name]):
            raise RuntimeError(
                f"daemon/config/settings.py: {name} is typed {info.annotation}, its kind in "
                f"daemon/config/keys.py is {KEYS[name].kind}"
            )


_check_fields()


# --- loading -------------------------------------------------------------------------------


def _origins(key: str, layers: Layers) -> str:
    value = layers.values.get(key)
    if value is None:
        return ""
    origin = value.origin
    return f"{key} in {origin.name}" if origin.layer == "file" else f"{key} by {origin.at(key)}"


def _describe(error: Mapping[str, Any], layers: Layers) -> Problem:
    """One problem for a pydantic error, naming where the value came from."""
    loc = error.get("loc", ())
    key = str(loc[0]) if loc else None
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    fallback = Origin("file", str(layers.config_file))
    if key is None:  # a check across keys: its message names them; say where each is set
        named = [k for k in KEYS if re.search(rf"\b{k}\b", message) and k in layers.values]
        where = "; ".join(_origins(k, layers) for k in named) or str(layers.config_file)
        # the keys to remove come after the first one named
        origin = layers.values[named[-1]].origin if named else fallback
        return Problem(f"{message} ({where})", origin)
    value = layers.values.get(key)
    origin = value.origin if value is not None else fallback
    shown = repr(error.get("input"))
    got = "" if shown in message else f" (got {shown})"
    return Problem(f"{origin.at(key)}: {message}{got}", origin, key)


def _build(values: Mapping[str, Any]) -> Settings:
    return Settings(**values)


def load_settings(
    config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build the settings, or one :class:`ConfigError` listing every problem, a line each.

    ``run`` and every command that acts on the configuration use this: a typo in the file
    or in a ``TASKCLF_*`` variable is refused.
    """
    layers = read_layers(config_file, overrides)
    problems = list(layers.problems)
    settings: Settings | None = None
    try:
        settings = _build(layers.raw())
    except ValidationError as exc:
        problems += [_describe(error, layers) for error in exc.errors()]
    if problems or settings is None:
        raise ConfigError("\n".join(p.message for p in problems))
    return settings


def load_settings_tolerant(
    config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> tuple[Settings, list[Problem]]:
    """The settings with every bad value left at its default, and every problem.

    For `doctor`: it must say what is wrong and still check the rest (`run` refuses it all).
    """
    layers = read_layers(config_file, overrides)
    problems = list(layers.problems)
    values = layers.raw()
    for _ in range(len(KEYS) + 2):
        try:
            return _build(values), problems
        except ValidationError as exc:
            dropped = False
            for error in exc.errors():
                problem = _describe(error, layers)
                problems.append(problem)
                keys = [problem.key] if problem.key is not None else list(POLICY_BINDS)
                for k in keys:
                    dropped = values.pop(k, None) is not None or dropped
            if not dropped:
                break
    # nothing left to drop and still invalid: the defaults alone
    return _build({}), problems
