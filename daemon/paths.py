"""Default locations (platformdirs) and where the daemon's files sit, in one place."""

from __future__ import annotations

from pathlib import Path

import platformdirs

__all__ = [
    "APP_NAME",
    "LOCK_FILE",
    "STATUS_FILE",
    "default_config_file",
    "default_data_dir",
    "ensure_private_dir",
    "labels_dir",
    "lock_file",
    "model_dir",
    "spool_dir",
    "status_file",
]

APP_NAME = "taskclf"
# The lock and status file live with the data they guard, not in a per-session directory:
# any two `run` on one spool or one label log meet at the same file, whatever environment
# started them (CONTRACT section 9). Dot names: the spool and the label log ignore them.
LOCK_FILE = ".daemon.lock"
STATUS_FILE = ".daemon-status.json"


def default_config_file() -> Path:
    """``<user config dir>/taskclf/daemon.toml``."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "daemon.toml"


def default_data_dir() -> Path:
    """Spool, label log and model live under the user data dir."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def spool_dir(data_dir: Path, configured: Path | None) -> Path:
    """``spool_dir`` if set, else ``<data_dir>/spool``."""
    return configured if configured is not None else data_dir / "spool"


def model_dir(data_dir: Path, configured: Path | None) -> Path:
    """``model_dir`` if set, else ``<data_dir>/model``."""
    return configured if configured is not None else data_dir / "model"


def labels_dir(data_dir: Path) -> Path:
    """The label log: ``<data_dir>/labels``."""
    return data_dir / "labels"


def lock_file(directory: Path) -> Path:
    """The instance lock of a spool or a label-log directory."""
    return directory / LOCK_FILE


def status_file(spool: Path) -> Path:
    """The running daemon's status, beside its spool lock."""
    return spool / STATUS_FILE


def ensure_private_dir(path: Path) -> bool:
    """Create ``path`` (and parents) as 0700; tighten it if it exists looser. True if tightened."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        path.chmod(mode & 0o700 | 0o700)
        return True
    return False
