"""Identifiers that become file names (user ids), and the rule baseline's: importable without
numpy."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["BASELINE_ID", "BASELINE_MODEL_TYPE", "is_baseline_metadata", "is_safe_user_id"]

# the rule baseline's bundle id: its directory name and every record's model_bundle_id
BASELINE_ID: Final = "baseline"
# metadata.json's "model_type" of a baseline directory: the rules in force instead of a model
BASELINE_MODEL_TYPE: Final = "rule_baseline"

_SAFE_USER_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+=-]{0,127}")


def is_safe_user_id(user_id: str) -> bool:
    """True when ``user_id`` can be used as a file name on every platform we run on."""
    return _SAFE_USER_ID.fullmatch(user_id) is not None and user_id not in {".", ".."}


def is_baseline_metadata(metadata: Mapping[str, Any]) -> bool:
    """Whether a bundle directory's ``metadata.json`` describes the rule baseline."""
    return metadata.get("model_type") == BASELINE_MODEL_TYPE
