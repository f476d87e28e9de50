"""taskclf's feature-schema registries and a bundle's declared schema, without numpy.

The collector writes the rows of the schema version the daemon's bundle declares and needs
nothing else of the model: this module is all it reads (``schema.py`` re-exports the names
and adds window validation, which needs numpy).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from taskclf_core.errors import BundleError

__all__ = [
    "DeclaredSchema",
    "Registry",
    "declared_schema",
    "known_versions",
    "registry",
    "schema_hash",
]


def schema_hash(columns: Sequence[Sequence[str]]) -> str:
    """taskclf's schema hash: first 12 hex of SHA-256 of the compact JSON of ``[[name, type]]``."""
    payload = json.dumps([list(c) for c in columns], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Registry:
    """One taskclf feature-schema version: all columns with types, model inputs, categoricals."""

    version: str
    schema_hash: str
    columns: tuple[tuple[str, str], ...]
    feature_columns: tuple[str, ...]
    categorical_columns: tuple[str, ...]

    @property
    def column_types(self) -> dict[str, str]:
        return dict(self.columns)


@cache
def _registries() -> dict[str, Registry]:
    # beside this module (importlib.resources would cost the collector ~1 MB to find it)
    raw = json.loads(Path(__file__).with_name("schemas.json").read_text(encoding="utf-8"))
    out: dict[str, Registry] = {}
    for version, spec in raw["versions"].items():
        columns = tuple((str(n), str(t)) for n, t in spec["columns"])
        # the shipped file is data, so prove it agrees with the hash rule it documents
        if schema_hash(columns) != spec["schema_hash"]:
            raise BundleError(
                f"taskclf_core/schemas.json: {version}: schema_hash {spec['schema_hash']!r} does "
                "not match its columns; the installation is damaged (reinstall taskclf-daemon)"
            )
        out[version] = Registry(
            version=version,
            schema_hash=spec["schema_hash"],
            columns=columns,
            feature_columns=tuple(spec["feature_columns"]),
            categorical_columns=tuple(spec["categorical_columns"]),
        )
    return out


def registry(version: str) -> Registry | None:
    """taskclf's registry for ``version`` ("v1", "v2", "v3"), or None if unknown."""
    return _registries().get(version)


def known_versions() -> tuple[str, ...]:
    return tuple(_registries())


@dataclass(frozen=True, slots=True)
class DeclaredSchema:
    """What a bundle's ``metadata.json`` says of its schema, checked against the registry."""

    version: str
    schema_hash: str | None  # as declared (None: not declared)
    registry: Registry | None  # taskclf's registry of ``version``; None: not a registry version


def declared_schema(metadata: Mapping[str, Any], *, source: str) -> DeclaredSchema:
    """``schema_version`` and ``schema_hash`` of a bundle's metadata: a version must be a
    string, and a declared hash must be the registry's for that version (BundleError)."""
    version = metadata.get("schema_version")
    if not isinstance(version, str) or not version:
        raise BundleError(f"{source}: schema_version: expected a string like 'v1'")
    declared_hash = metadata.get("schema_hash")
    if declared_hash is not None and not isinstance(declared_hash, str):
        raise BundleError(f"{source}: schema_hash: expected a string")
    reg = registry(version)
    if reg is not None and declared_hash is not None and declared_hash != reg.schema_hash:
        raise BundleError(
            f"{source}: schema_hash {declared_hash!r} does not match schema_version "
            f"{version!r} (expected {reg.schema_hash!r})"
        )
    return DeclaredSchema(version, declared_hash, reg)
