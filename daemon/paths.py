"""Default locations (platformdirs), in one place."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = [
    "APP_NAME",
    "default_config_file",
    "default_data_dir",
    "default_state_dir",
    "ensure_private_dir",
]

APP_NAME = "taskclf"


def default_config_file() -> Path:
    """``<user config dir>/taskclf/daemon.toml``."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "daemon.toml"


def default_data_dir() -> Path:
    """Spool, label log and model live under the user data dir."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_state_dir() -> Path:
    """Lock and status file: the runtime dir when the session has one, else the state dir."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / APP_NAME
    return Path(platformdirs.user_state_dir(APP_NAME))


def ensure_private_dir(path: Path) -> bool:
    """Create ``path`` (and parents) as 0700; tighten it if it exists looser. True if tightened."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        path.chmod(mode & 0o700 | 0o700)
        return True
    return False
