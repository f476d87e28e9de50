"""Who the windows are for and in which schema: salt, user id and the bundle's schema version."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from daemon.config.settings import Settings
from taskclf_core.bundle import build_schema
from taskclf_core.errors import BundleError, ConfigError, TaskclfError
from taskclf_core.ids import is_safe_user_id
from taskclf_core.policy import parse_policy, resolve_policy_path
from taskclf_core.schema import registry

__all__ = ["Identity", "load_identity", "model_schema_version"]


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


def load_identity(settings: Settings) -> Identity:
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
    user_id = settings.collect_user_id
    if user_id is None:
        user_id = _read_secret_file(settings.user_id_path, "the user id", "collect_user_id")
        if user_id is None:
            raise ConfigError(
                f"collect_user_id: not set, and no user id at {settings.user_id_path}; set "
                "collect_user_id to your taskclf user id (taskclf keeps it in that file)"
            )
        if not is_safe_user_id(user_id):
            raise ConfigError(
                f"{settings.user_id_path}: {user_id[:40]!r} is not a valid user id "
                "(letters, digits and . _ @ + = -)"
            )
    return Identity(user_id=user_id, salt_path=salt_path, salt=salt)


def _model_dir(settings: Settings) -> Path:
    if settings.policy_file is None:
        return settings.model_path
    try:
        content = settings.policy_file.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"policy_file: cannot read {settings.policy_file} ({exc.strerror or exc})"
        ) from None
    policy = parse_policy(content, source=str(settings.policy_file))
    return resolve_policy_path(settings.policy_file, policy.model_dir)


def model_schema_version(settings: Settings) -> str:
    """The schema version of the bundle in force, read from its metadata.json only.

    The collector writes the windows that model takes; it never loads the model itself.
    """
    model = _model_dir(settings)
    path = model / "metadata.json"
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
        schema = build_schema(metadata, {}, source=str(path))
    except (BundleError, TaskclfError) as exc:
        raise ConfigError(str(exc)) from None
    if registry(schema.version) is None:
        raise ConfigError(
            f"{path}: schema_version {schema.version!r}: the collector builds taskclf's "
            "v1, v2 and v3 rows only"
        )
    return schema.version
