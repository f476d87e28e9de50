"""Settings: one frozen object from the TOML file, then TASKCLF_* variables, then CLI flags."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from daemon.paths import default_config_file, default_data_dir, default_state_dir
from taskclf_core.errors import ConfigError
from taskclf_core.schema import is_safe_user_id

__all__ = ["Settings", "load_settings"]


_POLICY_BINDS = ("model_dir", "calibrator_store", "reject_threshold")


class Settings(BaseSettings):
    """Everything the daemon and its commands are configured with (CONTRACT section 8)."""

    model_config = SettingsConfigDict(env_prefix="TASKCLF_", extra="forbid", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    spool_dir: Path | None = Field(None, description="default: <data_dir>/spool")
    model_dir: Path | None = Field(None, description="default: <data_dir>/model")
    calibrator_store: Path | None = Field(None, description="unset: no calibration")
    taxonomy: Path | None = None
    policy_file: Path | None = Field(
        None,
        description="taskclf inference policy (model + store + thresholds); "
        "excludes model_dir, calibrator_store and reject_threshold",
    )
    state_dir: Path = Field(default_factory=default_state_dir, description="lock and status")

    reject_threshold: float = Field(0.55, ge=0.0, le=1.0)
    smooth_window: int = Field(3, ge=1, le=1000)
    idle_gap_seconds: float = Field(300.0, gt=0)
    personalization: bool = True
    opt_out_users: tuple[str, ...] = ()

    retention_days: float = Field(7.0, ge=0, description="done/ files are pruned after this")
    label_retention_days: float | None = Field(None, gt=0, description="unset: keep forever")
    max_file_bytes: int = Field(16 * 1024 * 1024, gt=0)

    batch_max_windows: int = Field(1024, ge=1, le=100_000)
    predict_threads: int = Field(0, ge=0, description="0: LightGBM's default (all cores)")
    rescan_interval_seconds: float = Field(5.0, gt=0)
    reload_debounce_seconds: float = Field(0.25, ge=0)
    heartbeat_seconds: float = Field(5.0, gt=0)
    observer: Literal["auto", "polling", "none"] = Field(
        "auto", description="file events: native (inotify/FSEvents), polling, or none (rescan only)"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("opt_out_users", mode="before")
    @classmethod
    def _split_users(cls, value: Any) -> Any:
        # a comma-separated string is friendlier on the command line than JSON
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @model_validator(mode="after")
    def _check_users(self) -> Settings:
        for user_id in self.opt_out_users:
            if not is_safe_user_id(user_id):
                raise ValueError(f"opt_out_users: {user_id!r} is not a valid user id")
        if self.policy_file is not None:
            both = [k for k in _POLICY_BINDS if k in self.model_fields_set]
            if both:
                raise ValueError(
                    f"policy_file and {', '.join(both)} are both set: the inference policy "
                    f"names the model, store and reject threshold; remove {', '.join(both)}"
                )
        return self

    @property
    def spool_path(self) -> Path:
        return self.spool_dir if self.spool_dir is not None else self.data_dir / "spool"

    @property
    def model_path(self) -> Path:
        return self.model_dir if self.model_dir is not None else self.data_dir / "model"

    @property
    def labels_path(self) -> Path:
        return self.data_dir / "labels"

    @property
    def status_path(self) -> Path:
        return self.state_dir / "status.json"

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "daemon.lock"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def _describe(error: Mapping[str, Any], config_file: Path) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "settings"
    if error.get("type") == "extra_forbidden":
        return f"{config_file}: unknown key {where!r} (or TASKCLF_{where.upper()})"
    if not error.get("loc"):  # a check across keys: its message names them
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        return f"{config_file}: {message}"
    return f"{where}: {error.get('msg', 'invalid')} (got {error.get('input')!r})"


def load_settings(
    config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build the settings; any problem is one :class:`ConfigError` line naming the key."""
    path = config_file if config_file is not None else default_config_file()
    if config_file is not None and not path.is_file():
        raise ConfigError(f"--config: {path} does not exist")
    if path.is_file():
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None

    class _FromFile(Settings):
        model_config = SettingsConfigDict(toml_file=path if path.is_file() else None)

    try:
        return _FromFile(**dict(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0], path)) from None
