"""User taxonomies: taskclf's bucket file (YAML/TOML), its validation, core→bucket mapping."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, NoReturn

import numpy as np
import numpy.typing as npt
import yaml

from taskclf_core.errors import TaxonomyError
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX, N_CLASSES, REJECT_LABEL
from taskclf_core.types import FloatArray

__all__ = [
    "DEFAULT_BUCKET_COLOR",
    "LABEL_SCHEMA_VERSION",
    "OTHER_BUCKET",
    "Bucket",
    "Taxonomy",
    "bucket_probs",
    "load_taxonomy",
    "map_label",
    "parse_taxonomy",
]


OTHER_BUCKET: Final = "Other"
DEFAULT_BUCKET_COLOR: Final = "#808080"
LABEL_SCHEMA_VERSION: Final = "labels_v1"
_DEFAULT_VERSION: Final = "1.0"
_HEX_COLOR: Final = re.compile(r"#[0-9A-Fa-f]{6}")

_TOP_KEYS: Final = frozenset(
    {"version", "label_schema_version", "user_id", "display", "reject", "buckets", "advanced"}
)
_DISPLAY_KEYS: Final = frozenset({"show_core_labels", "default_view", "color_theme"})
_REJECT_KEYS: Final = frozenset({"mixed_label_name", "include_rejected_in_reports"})
_BUCKET_KEYS: Final = frozenset({"name", "description", "core_labels", "color"})
_ADVANCED_KEYS: Final = frozenset(
    {"probability_aggregation", "min_confidence_for_mapping", "reweight_core_labels"}
)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One user-facing category: the core labels it aggregates and how it is drawn."""

    name: str
    description: str
    core_labels: tuple[str, ...]
    color: str


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """A validated user taxonomy; build it with :func:`parse_taxonomy` or :func:`load_taxonomy`.

    The constructor trusts its arguments: every check lives in :func:`parse_taxonomy`, so
    a hand-built instance must keep the same invariants (``reweight`` has one finite
    weight > 0 per ``CORE_LABELS`` entry, bucket names unique and distinct from
    ``reject_label`` and, when some core label is in no bucket, from ``"Other"``).

    ``min_confidence_for_mapping`` is ``None`` when the file leaves it out or sets it to
    null; see :func:`map_label` for what it does. ``ignored_keys`` lists, in file order,
    the paths of keys the file has but this format does not define: taskclf ignores
    unknown keys, so a file it accepts is accepted here too, and the caller can warn.
    """

    version: str
    label_schema_version: str
    user_id: str | None
    buckets: tuple[Bucket, ...]
    reject_label: str
    include_rejected_in_reports: bool
    aggregation: Literal["sum", "max"]
    min_confidence_for_mapping: float | None
    reweight: tuple[float, ...]
    show_core_labels: bool = False
    default_view: Literal["mapped", "core"] = "mapped"
    color_theme: str = "default"
    ignored_keys: tuple[str, ...] = ()

    @property
    def uncovered_labels(self) -> tuple[str, ...]:
        """Core labels listed by no bucket (``CORE_LABELS`` order); they form ``"Other"``."""
        covered = {label for bucket in self.buckets for label in bucket.core_labels}
        return tuple(label for label in CORE_LABELS if label not in covered)

    @property
    def bucket_names(self) -> tuple[str, ...]:
        """Bucket names in file order, then ``"Other"`` iff some core label is in no bucket.

        This is the column order of :func:`bucket_probs`.
        """
        names = tuple(bucket.name for bucket in self.buckets)
        return (*names, OTHER_BUCKET) if self.uncovered_labels else names


# --- validation ---------------------------------------------------------------------


def _fail(source: str, where: str, problem: str) -> NoReturn:
    raise TaxonomyError(f"{source}: {where}: {problem}")


def _expected(source: str, where: str, expected: str, value: object) -> NoReturn:
    _fail(source, where, f"expected {expected}, got {_describe(value)}")


def _describe(value: object) -> str:
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    return type(value).__name__


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _section(data: Mapping[str, object], key: str, source: str) -> Mapping[str, object]:
    # A YAML section whose children are all commented out loads as null; treat it as absent
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        _expected(source, key, "a mapping", value)
    return value


def _unknown_keys(data: Mapping[str, object], known: frozenset[str], prefix: str) -> list[str]:
    return [_join(prefix, str(key)) for key in data if key not in known]


def _string(data: Mapping[str, object], key: str, where: str, source: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        _expected(source, where, "a string", value)
    return value


def _name(data: Mapping[str, object], key: str, where: str, source: str, default: str) -> str:
    value = _string(data, key, where, source, default)
    if not value.strip():
        _expected(source, where, "a non-empty name", value)
    return value


def _bool(data: Mapping[str, object], key: str, where: str, source: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        _expected(source, where, "true or false", value)
    return value


def _finite(value: object, where: str, source: str, expected: str) -> float:
    # bool is an int subclass, but `true` as a weight or threshold is a mistake, not 1.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        _expected(source, where, expected, value)
    number = float(value)
    if not math.isfinite(number):
        _expected(source, where, expected, value)
    return number


def _parse_core_label(value: object, where: str, source: str) -> str:
    if isinstance(value, str) and value in LABEL_INDEX:
        return value
    problem = f"expected one of {', '.join(CORE_LABELS)}, got {_describe(value)}"
    if isinstance(value, str):
        near = [label for label in CORE_LABELS if label.lower() == value.lower()]
        if near:
            problem += f" (core labels are case-sensitive: did you mean {near[0]!r}?)"
    _fail(source, where, problem)


def _parse_version(data: Mapping[str, object], source: str) -> str:
    value = data.get("version", _DEFAULT_VERSION)
    # taskclf writes `version: 1.0` unquoted, which YAML reads as a float; taskclf keeps str()
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        _expected(source, "version", 'a version string such as "1.0"', value)
    return value


def _parse_bucket(raw: object, i: int, source: str, ignored: list[str]) -> Bucket:
    where = f"buckets[{i}]"
    if not isinstance(raw, Mapping):
        _expected(source, where, "a mapping with name, core_labels, color", raw)
    ignored.extend(_unknown_keys(raw, _BUCKET_KEYS, where))
    if "name" not in raw:
        _fail(source, f"{where}.name", "missing (expected a non-empty name)")
    name = _name(raw, "name", f"{where}.name", source, "")
    description = _string(raw, "description", f"{where}.description", source, "")
    color = _string(raw, "color", f"{where}.color", source, DEFAULT_BUCKET_COLOR)
    # fullmatch, not match with `$`: `$` would also accept a trailing newline
    if _HEX_COLOR.fullmatch(color) is None:
        _expected(source, f"{where}.color", "a hex colour #RRGGBB", color)
    labels_raw = raw.get("core_labels")
    if labels_raw is None:
        _fail(source, f"{where}.core_labels", "missing (expected a list of >= 1 core labels)")
    if isinstance(labels_raw, str | bytes) or not isinstance(labels_raw, list | tuple):
        _expected(source, f"{where}.core_labels", "a list of core labels", labels_raw)
    if not labels_raw:
        _fail(source, f"{where}.core_labels", "expected at least one core label, got []")
    labels: list[str] = []
    for j, value in enumerate(labels_raw):
        label = _parse_core_label(value, f"{where}.core_labels[{j}]", source)
        # a repeated label would be counted twice by the `sum` aggregation
        if label in labels:
            _fail(source, f"{where}.core_labels[{j}]", f"{label!r} is listed twice in this bucket")
        labels.append(label)
    return Bucket(name=name, description=description, core_labels=tuple(labels), color=color)


def _parse_buckets(data: Mapping[str, object], source: str, ignored: list[str]) -> list[Bucket]:
    raw = data.get("buckets")
    if raw is None:
        _fail(source, "buckets", "missing (expected a list of at least one bucket)")
    if isinstance(raw, str | bytes) or not isinstance(raw, list | tuple):
        _expected(source, "buckets", "a list of buckets", raw)
    if not raw:
        _fail(source, "buckets", "expected at least one bucket, got []")
    buckets: list[Bucket] = []
    first_at: dict[str, int] = {}
    for i, item in enumerate(raw):
        bucket = _parse_bucket(item, i, source, ignored)
        if bucket.name in first_at:
            _fail(
                source,
                f"buckets[{i}].name",
                f"duplicate bucket name {bucket.name!r} "
                f"(first used by buckets[{first_at[bucket.name]}])",
            )
        first_at[bucket.name] = i
        buckets.append(bucket)
    return buckets


def _parse_reweight(advanced: Mapping[str, object], source: str) -> tuple[float, ...]:
    where = "advanced.reweight_core_labels"
    raw = advanced.get("reweight_core_labels")
    if raw is None:
        return (1.0,) * N_CLASSES
    if not isinstance(raw, Mapping):
        _expected(source, where, "a mapping of core label to weight", raw)
    weights = [1.0] * N_CLASSES
    for key, value in raw.items():
        label = _parse_core_label(key, f"{where}.{key}", source)
        weight = _finite(value, f"{where}.{label}", source, "a finite weight > 0")
        if weight <= 0:
            _expected(source, f"{where}.{label}", "a finite weight > 0", value)
        weights[LABEL_INDEX[label]] = weight
    return tuple(weights)


def parse_taxonomy(data: Mapping[str, object], *, source: str) -> Taxonomy:
    """Validate a taxonomy as loaded from YAML or TOML (pure; ``data`` is not modified).

    Every refusal is a :class:`TaxonomyError` whose message is
    ``"{source}: {field path}: {what was expected, what was found}"``.

    Defaults follow taskclf: ``version`` "1.0" (a number such as YAML's unquoted ``1.0``
    becomes its ``str``), ``label_schema_version`` "labels_v1", ``display`` (false,
    "mapped", "default"), ``reject`` ("Mixed/Unknown", false), bucket ``description`` ""
    and ``color`` "#808080", ``probability_aggregation`` "sum", every reweight 1.0.
    ``min_confidence_for_mapping`` defaults to ``None`` (no gate) rather than taskclf's
    0.55, which taskclf itself never applies. A null ``display``/``reject``/``advanced``
    or ``reweight_core_labels`` counts as absent (YAML loads a section whose children
    are all commented out as null).

    Refused: a non-mapping document; ``version`` not a string or number;
    ``label_schema_version`` other than "labels_v1"; ``user_id`` not a string; missing,
    empty or non-list ``buckets``; a bucket without ``name`` or with an empty one, a
    duplicate bucket name, a bucket name equal to the reject name or to "Other" while
    some core label is in no bucket (both would make mapped labels ambiguous);
    ``core_labels`` missing, empty, repeating a label or naming anything but a core
    label (case-sensitive); a colour not matching ``#RRGGBB``; ``default_view`` other
    than mapped/core; non-boolean flags; ``probability_aggregation`` other than
    sum/max; ``min_confidence_for_mapping`` outside [0, 1] or not finite; a reweight
    key that is not a core label or a weight that is not a finite number > 0.

    Unknown keys at any level are ignored, as taskclf (pydantic's default) does; their
    paths are kept in :attr:`Taxonomy.ignored_keys`.
    """
    if not isinstance(data, Mapping):
        _expected(source, "(document)", "a mapping of taxonomy settings", data)
    ignored = _unknown_keys(data, _TOP_KEYS, "")

    version = _parse_version(data, source)
    schema = _string(data, "label_schema_version", "label_schema_version", source, "labels_v1")
    if schema != LABEL_SCHEMA_VERSION:
        _expected(source, "label_schema_version", repr(LABEL_SCHEMA_VERSION), schema)
    user_id = data.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        _expected(source, "user_id", "a string", user_id)

    display = _section(data, "display", source)
    ignored.extend(_unknown_keys(display, _DISPLAY_KEYS, "display"))
    show_core = _bool(display, "show_core_labels", "display.show_core_labels", source, False)
    default_view = _string(display, "default_view", "display.default_view", source, "mapped")
    if default_view not in ("mapped", "core"):
        _expected(source, "display.default_view", "'mapped' or 'core'", default_view)
    color_theme = _string(display, "color_theme", "display.color_theme", source, "default")

    reject = _section(data, "reject", source)
    ignored.extend(_unknown_keys(reject, _REJECT_KEYS, "reject"))
    reject_label = _name(
        reject, "mixed_label_name", "reject.mixed_label_name", source, REJECT_LABEL
    )
    include_rejected = _bool(
        reject, "include_rejected_in_reports", "reject.include_rejected_in_reports", source, False
    )

    buckets = _parse_buckets(data, source, ignored)

    advanced = _section(data, "advanced", source)
    ignored.extend(_unknown_keys(advanced, _ADVANCED_KEYS, "advanced"))
    aggregation = advanced.get("probability_aggregation", "sum")
    if aggregation not in ("sum", "max"):
        _expected(source, "advanced.probability_aggregation", "'sum' or 'max'", aggregation)
    min_conf_raw = advanced.get("min_confidence_for_mapping")
    min_conf: float | None = None
    if min_conf_raw is not None:
        where = "advanced.min_confidence_for_mapping"
        min_conf = _finite(min_conf_raw, where, source, "a number in [0, 1]")
        if not 0.0 <= min_conf <= 1.0:
            _expected(source, where, "a number in [0, 1]", min_conf_raw)
    reweight = _parse_reweight(advanced, source)

    taxonomy = Taxonomy(
        version=version,
        label_schema_version=schema,
        user_id=user_id,
        buckets=tuple(buckets),
        reject_label=reject_label,
        include_rejected_in_reports=include_rejected,
        aggregation="sum" if aggregation == "sum" else "max",
        min_confidence_for_mapping=min_conf,
        reweight=reweight,
        show_core_labels=show_core,
        default_view="mapped" if default_view == "mapped" else "core",
        color_theme=color_theme,
        ignored_keys=tuple(ignored),
    )
    # mapped labels are bucket names, "Other" or the reject name: each must mean one thing
    uncovered = taxonomy.uncovered_labels
    for i, bucket in enumerate(buckets):
        if bucket.name == reject_label:
            _fail(
                source,
                f"buckets[{i}].name",
                f"{bucket.name!r} is the reject name (reject.mixed_label_name); "
                "rename the bucket or the reject name",
            )
        if uncovered and bucket.name == OTHER_BUCKET:
            _fail(
                source,
                f"buckets[{i}].name",
                f"{OTHER_BUCKET!r} is reserved for core labels in no bucket "
                f"(here {', '.join(uncovered)}); list them in a bucket or rename this one",
            )
    if uncovered and reject_label == OTHER_BUCKET:
        _fail(
            source,
            "reject.mixed_label_name",
            f"{OTHER_BUCKET!r} is reserved for core labels in no bucket "
            f"(here {', '.join(uncovered)})",
        )
    return taxonomy


# --- files --------------------------------------------------------------------------


class _YamlLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, except that a repeated mapping key is refused.

    safe_load silently keeps the last of two equal keys, so a second ``buckets:`` would
    drop the first list without a word.
    """


def _construct_mapping(loader: _YamlLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        # merge keys (<<) may legitimately be overridden by the mapping's own keys
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # unhashable; construct_mapping reports it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
    return loader.construct_mapping(node, deep=True)


_YamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate a taxonomy file: ``.yaml``/``.yml`` (YAML) or ``.toml``.

    YAML is read as ``yaml.safe_load`` reads it (plus: a repeated key is an error), TOML
    with ``tomllib``; both with the same keys. A missing or unreadable file, bad syntax,
    another extension or an invalid taxonomy raise :class:`TaxonomyError` naming ``path``.
    """
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml"):
        raise TaxonomyError(f"{source}: expected a .yaml, .yml or .toml taxonomy file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TaxonomyError(f"{source}: cannot read ({exc.strerror or exc})") from None
    try:
        # utf-8-sig: editors on Windows like to prepend a BOM
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TaxonomyError(
            f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    data: object
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise TaxonomyError(f"{source}: not valid TOML ({exc})") from None
    else:
        try:
            # a SafeLoader subclass: builds plain data only, never arbitrary objects
            data = yaml.load(text, Loader=_YamlLoader)
        except yaml.YAMLError as exc:
            raise TaxonomyError(f"{source}: not valid YAML ({_yaml_problem(exc)})") from None
    if not isinstance(data, Mapping):
        raise TaxonomyError(
            f"{source}: expected a mapping of taxonomy settings at the top level, "
            f"got {_describe(data)}"
        )
    return parse_taxonomy(data, source=source)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    # PyYAML's own text spans several lines and names the stream "<unicode string>"
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(exc).split())


# --- mapping ------------------------------------------------------------------------


def _members(taxonomy: Taxonomy) -> list[list[int]]:
    """Core-label indices of each column of :func:`bucket_probs` (``bucket_names`` order)."""
    members = [[LABEL_INDEX[label] for label in bucket.core_labels] for bucket in taxonomy.buckets]
    uncovered = taxonomy.uncovered_labels
    if uncovered:
        members.append([LABEL_INDEX[label] for label in uncovered])
    return members


def _check_probs(core_probs: npt.ArrayLike) -> FloatArray:
    try:
        probs = np.asarray(core_probs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TaxonomyError(f"core_probs: expected an array of numbers ({exc})") from None
    if probs.ndim not in (1, 2) or probs.shape[-1] != N_CLASSES:
        raise TaxonomyError(
            f"core_probs: expected shape ({N_CLASSES},) or (n, {N_CLASSES}), got {probs.shape}"
        )
    if not np.isfinite(probs).all() or (probs < 0).any():
        raise TaxonomyError("core_probs: expected finite probabilities >= 0")
    with np.errstate(over="ignore"):  # an overflowing sum is reported just below
        totals = probs.sum(axis=-1)
    if not (np.isfinite(totals) & (totals > 0)).all():
        raise TaxonomyError("core_probs: expected every row to have a positive, finite sum")
    return probs


def _reweighted(probs: FloatArray, weights: tuple[float, ...]) -> FloatArray:
    w = np.asarray(weights, dtype=np.float64)
    if (w == w[0]).all():
        # equal weights cancel in the renormalisation; skipping them keeps results exact
        normalised: FloatArray = probs / probs.sum(axis=-1, keepdims=True)
        return normalised
    # In log space so that extreme (but valid) weights neither overflow nor underflow
    # a row to all zeros: the largest weighted entry becomes exactly 1 before normalising.
    with np.errstate(divide="ignore"):
        logs = np.log(probs) + np.log(w)
    logs -= logs.max(axis=-1, keepdims=True)
    out: FloatArray = np.exp(logs)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def bucket_probs(taxonomy: Taxonomy, core_probs: npt.ArrayLike) -> FloatArray:
    """Bucket probabilities, columns in ``taxonomy.bucket_names`` order.

    ``core_probs`` is one row ``(8,)`` or a batch ``(n, 8)`` of calibrated core
    probabilities in ``CORE_LABELS`` order; the result is ``(B,)`` or ``(n, B)``, each row
    in [0, 1] summing to 1. Steps, as taskclf: multiply by the reweights and renormalise;
    score each bucket by the sum (or max, per ``aggregation``) of its labels'
    probabilities, with labels in no bucket scored together as ``"Other"``; renormalise.
    A label listed by two buckets counts in both before the final renormalisation.

    Only ratios within a row matter, so rows need not sum to 1 exactly; they must be
    finite, non-negative and have a positive sum, or :class:`TaxonomyError` is raised.
    The input is never modified and the result is a new array.
    """
    probs = _check_probs(core_probs)
    weighted = _reweighted(probs, taxonomy.reweight)
    members = _members(taxonomy)
    out = np.empty((*probs.shape[:-1], len(members)), dtype=np.float64)
    for j, indices in enumerate(members):
        scores = weighted[..., indices]
        out[..., j] = scores.sum(axis=-1) if taxonomy.aggregation == "sum" else scores.max(axis=-1)
    # positive: every label belongs to some column and each row has a positive entry
    out /= out.sum(axis=-1, keepdims=True)
    return out


def map_label(taxonomy: Taxonomy, smoothed_label: str) -> str:
    """The user-facing label of a window whose smoothed core label is ``smoothed_label``.

    - ``"Mixed/Unknown"`` (the reject label) maps to ``taxonomy.reject_label``.
    - Otherwise the first bucket in file order that lists the label, or ``"Other"``.

    ``min_confidence_for_mapping`` is parsed but not applied: docs/windows.md defines
    ``mapped_label`` from ``smoothed_label`` alone, and taskclf's resolver never reads it.
    A label that is neither a core label (case-sensitive) nor ``"Mixed/Unknown"`` raises
    :class:`TaxonomyError`.
    """
    if smoothed_label == REJECT_LABEL:
        return taxonomy.reject_label
    if smoothed_label not in LABEL_INDEX:
        raise TaxonomyError(
            f"smoothed_label: expected one of {', '.join(CORE_LABELS)} or {REJECT_LABEL!r}, "
            f"got {smoothed_label!r}"
        )
    for bucket in taxonomy.buckets:
        if smoothed_label in bucket.core_labels:
            return bucket.name
    return OTHER_BUCKET
