"""Who the windows are for and in which schema: salt, user id and the bundle's schema version."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.inforce import model_in_force
from taskclf_core.errors import BundleError, ConfigError, SpanError, TaskclfError
from taskclf_core.ids import is_safe_user_id
from taskclf_core.registries import declared_schema

if TYPE_CHECKING:
    from daemon.config.settings import Settings
    from daemon.config.subsets import CollectSettings

    # the full settings (`label`, `doctor`), or the keys `collect` reads, without pydantic
    CollectorConfig = Settings | CollectSettings

__all__ = [
    "Identity",
    "configured_user",
    "default_user",
    "load_identity",
    "log_users",
    "model_schema_version",
]

_USER_FIELD = re.compile(rb'^\{"user_id":("(?:[^"\\]|\\.)*")', re.MULTILINE)
_RECENT_DAYS = 30  # how far back "the single user in the log" looks


@dataclass(frozen=True, slots=True)
class Identity:
    """The user's id and title salt (the salt is a secret: never logged, never in a repr)."""

    user_id: str
    salt_path: Path
    salt: str = field(repr=False)


def _read_secret_file(path: Path, what: str, key: str) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{key}: cannot read {what} at {path} ({exc})") from None
    return text or None


def load_identity(settings: CollectorConfig) -> Identity:
    """Read the salt and the user id, or a ConfigError saying where they were looked for."""
    salt_path = settings.title_salt_path
    salt = _read_secret_file(salt_path, "the title salt", "title_salt_file")
    if salt is None:
        raise ConfigError(
            f"title_salt_file: no title salt at {salt_path} (missing or empty). Window-title "
            "features must be keyed by the salt your taskclf model was trained with: point "
            "title_salt_file at taskclf's data/processed/.title_secret (or set data_dir to "
            "taskclf's home)"
        )
    configured = configured_user(settings)
    if configured is None:
        raise ConfigError(
            f"collect_user_id: not set, and no user id at {settings.user_id_path}; set "
            "collect_user_id to your taskclf user id (taskclf keeps it in that file)"
        )
    return Identity(user_id=configured[0], salt_path=salt_path, salt=salt)


def configured_user(settings: CollectorConfig) -> tuple[str, str] | None:
    """This machine's user id and where it came from: ``collect_user_id``, else taskclf's
    ``.user_id`` file; None when neither is there (`label` asks the log then)."""
    if settings.collect_user_id is not None:
        return settings.collect_user_id, "collect_user_id"
    user_id = _read_secret_file(settings.user_id_path, "the user id", "collect_user_id")
    if user_id is None:
        return None
    if not is_safe_user_id(user_id):
        raise ConfigError(
            f"{settings.user_id_path}: {user_id[:40]!r} is not a valid user id "
            "(letters, digits and . _ @ + = -)"
        )
    return user_id, str(settings.user_id_path)


def model_schema_version(settings: CollectorConfig) -> str:
    """The schema version of the bundle in force, read from its metadata.json only.

    The collector writes the windows that model takes; it never loads the model itself (nor
    numpy: :mod:`taskclf_core.registries` checks the version and hash).
    """
    path = model_in_force(settings.policy_file, settings.model_path) / "metadata.json"
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"model_dir: {path} is missing; the collector writes windows in the schema of "
            "the model the daemon runs, so it needs the model bundle"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    if not isinstance(metadata, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    try:
        schema = declared_schema(metadata, source=str(path))
    except (BundleError, TaskclfError) as exc:
        raise ConfigError(str(exc)) from None
    if schema.registry is None:
        raise ConfigError(
            f"{path}: schema_version {schema.version!r}: the collector builds taskclf's "
            "v1, v2 and v3 rows only"
        )
    return schema.version


# --- whose time a span is, when nobody says (`label add`, the page) -----------------------


def log_users(settings: Settings, days: int = _RECENT_DAYS) -> set[str]:
    """User ids in the label log's most recent ``days`` day files (records start with it)."""
    from daemon.runtime.labellog import LabelLog

    log = LabelLog(settings.labels_path)
    users: set[str] = set()
    for day in log.day_files()[-days:]:
        try:
            data = log.path_for(day).read_bytes()
        except OSError:
            continue
        for match in _USER_FIELD.finditer(data):
            try:
                users.add(json.loads(match.group(1)))
            except ValueError:
                continue
    return users


def default_user(settings: Settings) -> tuple[str, str]:
    """The user ``label add`` (and the page) labels when none is named, and where it came from.

    This machine's identity first, as the collector reads it (``collect_user_id``, then
    taskclf's ``<data_dir>/data/processed/.user_id``): it is what the collector stamps on
    new windows. Else the only user in the recent label log. Else ``--user`` is required.
    """
    configured = configured_user(settings)
    if configured is not None:
        return configured
    users = log_users(settings)
    if len(users) == 1:
        return users.pop(), f"the only user in {settings.labels_path}"
    found = (
        f"the label log has users {', '.join(sorted(users))}" if users else "the label log is empty"
    )
    raise SpanError(
        f"--user: required: no collect_user_id is configured, no {settings.user_id_path} "
        f"exists and {found}"
    )
