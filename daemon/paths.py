"""Default locations (platformdirs) and every path under the data dir, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

__all__ = [
    "APP_NAME",
    "LOCK_FILE",
    "STATUS_FILE",
    "CollectorPaths",
    "Configured",
    "archive_dir",
    "calibrators_dir",
    "collector_cursor_file",
    "collector_dir",
    "collector_labels_file",
    "collector_status_file",
    "default_config_file",
    "default_data_dir",
    "default_policy_file",
    "ensure_private_dir",
    "labels_dir",
    "lock_file",
    "model_dir",
    "models_dir",
    "personalize_record",
    "report_cache_dir",
    "retrain_record",
    "spans_file",
    "spool_dir",
    "status_file",
    "stores_dir",
    "taskclf_processed_dir",
    "title_salt_file",
    "ui_asks_file",
    "ui_dir",
    "ui_server_file",
    "user_id_file",
]

APP_NAME = "taskclf"
# The lock and status file live with the data they guard, not in a per-session directory:
# any two `run` on one spool or one label log meet at the same file, whatever environment
# started them (README: "One daemon per spool and per label log"). Dot names: the spool and
# the label log ignore them.
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


def models_dir(data_dir: Path) -> Path:
    """Installed bundles (``init --model``): ``<data_dir>/models``; the policy lives there too."""
    return data_dir / "models"


def default_policy_file(data_dir: Path) -> Path:
    """Where ``init --model`` writes the inference policy: ``<data_dir>/models/...json``."""
    from taskclf_core.policy import POLICY_FILE_NAME

    return models_dir(data_dir) / POLICY_FILE_NAME


def stores_dir(data_dir: Path) -> Path:
    """Installed calibrator stores (``init --store``): ``<data_dir>/stores``."""
    return data_dir / "stores"


def calibrators_dir(data_dir: Path) -> Path:
    """Where `personalize` suggests a calibrator store of one's own: ``<data_dir>/calibrators``."""
    return data_dir / "calibrators"


def spans_file(data_dir: Path) -> Path:
    """The user's labelled time spans: ``<data_dir>/label_spans.jsonl``."""
    return data_dir / "label_spans.jsonl"


def archive_dir(data_dir: Path) -> Path:
    """The feature archive (the windows labelled, for `retrain`): ``<data_dir>/archive``."""
    return data_dir / "archive"


def retrain_record(data_dir: Path) -> Path:
    """What the latest `retrain` decided: ``<data_dir>/retrain/last.json``."""
    return data_dir / "retrain" / "last.json"


def report_cache_dir(data_dir: Path) -> Path:
    """`report`'s cached day summaries: ``<data_dir>/cache/report``."""
    return data_dir / "cache" / "report"


def personalize_record(data_dir: Path) -> Path:
    """What the latest `personalize` did: ``<data_dir>/personalize/last.json``."""
    return data_dir / "personalize" / "last.json"


def collector_dir(data_dir: Path) -> Path:
    """The collector's cursor, status file and lock: ``<data_dir>/collector``."""
    return data_dir / "collector"


def collector_status_file(data_dir: Path) -> Path:
    """The collector's status: ``<data_dir>/collector/status.json``."""
    return collector_dir(data_dir) / "status.json"


def collector_cursor_file(data_dir: Path) -> Path:
    """Where the collector resumes: ``<data_dir>/collector/cursor.json``."""
    return collector_dir(data_dir) / "cursor.json"


def collector_labels_file(data_dir: Path) -> Path:
    """What the label bucket in ActivityWatch holds: ``<data_dir>/collector/aw-labels.json``."""
    return collector_dir(data_dir) / "aw-labels.json"


def taskclf_processed_dir(data_dir: Path) -> Path:
    """taskclf's own ``data/processed`` under its home (the salt and user id files)."""
    return data_dir / "data" / "processed"


def title_salt_file(data_dir: Path) -> Path:
    """taskclf's title salt: ``<data_dir>/data/processed/.title_secret``."""
    return taskclf_processed_dir(data_dir) / ".title_secret"


def user_id_file(data_dir: Path) -> Path:
    """taskclf's user id: ``<data_dir>/data/processed/.user_id``."""
    return taskclf_processed_dir(data_dir) / ".user_id"


def ui_dir(data_dir: Path) -> Path:
    """The labelling page's files: ``<data_dir>/ui``."""
    return data_dir / "ui"


def ui_server_file(data_dir: Path) -> Path:
    """The running page's address and token (0600): ``<data_dir>/ui/server.json``."""
    return ui_dir(data_dir) / "server.json"


def ui_asks_file(data_dir: Path) -> Path:
    """What the page asked and how it was answered (0600): ``<data_dir>/ui/asks.json``."""
    return ui_dir(data_dir) / "asks.json"


def lock_file(directory: Path) -> Path:
    """The instance lock of a spool or a label-log directory."""
    return directory / LOCK_FILE


def status_file(spool: Path) -> Path:
    """The running daemon's status, beside its spool lock."""
    return spool / STATUS_FILE


class Configured:
    """The paths a configuration's ``data_dir``, ``spool_dir`` and ``model_dir`` make: the
    spool, the model, the label log, the locks and the status file. Mixed into the settings
    and the cheap readers of `status`, `reload` and `report`, so that they find the same files
    by the one rule."""

    __slots__ = ()
    if TYPE_CHECKING:

        @property
        def data_dir(self) -> Path: ...

        @property
        def spool_dir(self) -> Path | None: ...

        @property
        def model_dir(self) -> Path | None: ...

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
    def archive_path(self) -> Path:
        return archive_dir(self.data_dir)

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


class CollectorPaths:
    """The collector's files of a configuration (``data_dir``, ``title_salt_file``): mixed into
    the settings and the collector's cheap reader, so that both find them by the one rule."""

    __slots__ = ()
    if TYPE_CHECKING:

        @property
        def data_dir(self) -> Path: ...

        @property
        def title_salt_file(self) -> Path | None: ...

    @property
    def title_salt_path(self) -> Path:
        if self.title_salt_file is not None:
            return self.title_salt_file
        return title_salt_file(self.data_dir)

    @property
    def user_id_path(self) -> Path:
        return user_id_file(self.data_dir)

    @property
    def collector_dir(self) -> Path:
        """The collector's cursor, status file and lock."""
        return collector_dir(self.data_dir)


def ensure_private_dir(path: Path) -> bool:
    """Create ``path`` (and parents) as 0700; tighten it if it exists looser. True if tightened."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        path.chmod(mode & 0o700 | 0o700)
        return True
    return False
