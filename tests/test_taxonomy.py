"""Tests for taskclf_core.taxonomy: file format, refusals, label mapping, bucket probabilities."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskclf_core.errors import TaxonomyError
from taskclf_core.labels import CORE_LABELS, LABEL_INDEX, N_CLASSES, REJECT_LABEL
from taskclf_core.taxonomy import (
    DEFAULT_BUCKET_COLOR,
    OTHER_BUCKET,
    Bucket,
    Taxonomy,
    bucket_probs,
    load_taxonomy,
    map_label,
    parse_taxonomy,
)

SAMPLE_YAML = Path(__file__).parent / "data" / "taxonomy_sample.yaml"

# The same settings as tests/data/taxonomy_sample.yaml, written as TOML
SAMPLE_TOML = """\
version = "1.0"
label_schema_version = "labels_v1"
user_id = "sample-user"

[display]
show_core_labels = true
default_view = "core"
color_theme = "dark"

[reject]
mixed_label_name = "Unclear"
include_rejected_in_reports = true

[[buckets]]
name = "Focus"
description = "Making things"
core_labels = ["Build", "Debug", "Write"]
color = "#1F77B4"

[[buckets]]
name = "Reading"
description = "Taking things in"
core_labels = ["ReadResearch", "Review"]
color = "#ff7f0e"

[[buckets]]
name = "Checking"
core_labels = ["Review"]
color = "#2CA02C"

[[buckets]]
name = "People"
description = "Talking to others"
core_labels = ["Communicate", "Meet"]
color = "#D62728"

[advanced]
probability_aggregation = "max"
min_confidence_for_mapping = 0.55

[advanced.reweight_core_labels]
Build = 2.0
Meet = 0.5
"""


def base() -> dict[str, Any]:
    """A valid taxonomy covering every core label; tests mutate their own copy."""
    return {
        "version": "1.0",
        "label_schema_version": "labels_v1",
        "buckets": [
            {"name": "Deep", "core_labels": ["Build", "Debug", "Review", "Write"]},
            {"name": "Research", "core_labels": ["ReadResearch"], "color": "#9B59B6"},
            {"name": "Talk", "core_labels": ["Communicate", "Meet"], "color": "#27ae60"},
            {"name": "Break", "core_labels": ["BreakIdle"], "color": "#7F8C8D"},
        ],
    }


def parse(data: dict[str, Any]) -> Taxonomy:
    return parse_taxonomy(data, source="tax.yaml")


def probs(**by_label: float) -> npt.NDArray[np.float64]:
    row = np.zeros(N_CLASSES)
    for label, p in by_label.items():
        row[LABEL_INDEX[label]] = p
    return row


# --- loading ------------------------------------------------------------------------


def test_sample_yaml_loads_with_every_field() -> None:
    tax = load_taxonomy(SAMPLE_YAML)
    assert tax.version == "1.0"  # unquoted 1.0 is a YAML float; kept as taskclf's str()
    assert tax.label_schema_version == "labels_v1"
    assert tax.user_id == "sample-user"
    assert (tax.show_core_labels, tax.default_view, tax.color_theme) == (True, "core", "dark")
    assert tax.reject_label == "Unclear"
    assert tax.include_rejected_in_reports is True
    assert tax.aggregation == "max"
    assert tax.min_confidence_for_mapping == 0.55
    expected_weights = [1.0] * N_CLASSES
    expected_weights[LABEL_INDEX["Build"]] = 2.0
    expected_weights[LABEL_INDEX["Meet"]] = 0.5
    assert tax.reweight == tuple(expected_weights)
    assert tax.buckets[0] == Bucket(
        "Focus", "Making things", ("Build", "Debug", "Write"), "#1F77B4"
    )
    assert tax.buckets[2] == Bucket("Checking", "", ("Review",), "#2CA02C")
    assert tax.uncovered_labels == ("BreakIdle",)
    assert tax.bucket_names == ("Focus", "Reading", "Checking", "People", OTHER_BUCKET)
    assert tax.ignored_keys == ()


def test_yaml_and_toml_load_equal(tmp_path: Path) -> None:
    toml_path = tmp_path / "taxonomy.toml"
    toml_path.write_text(SAMPLE_TOML, encoding="utf-8")
    assert load_taxonomy(toml_path) == load_taxonomy(SAMPLE_YAML)


def test_yml_suffix_and_bom_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.YML"
    path.write_bytes(b"\xef\xbb\xbf" + SAMPLE_YAML.read_bytes())
    assert load_taxonomy(path) == load_taxonomy(SAMPLE_YAML)


def test_defaults_follow_taskclf() -> None:
    data = base()
    del data["version"], data["label_schema_version"]
    tax = parse(data)
    assert tax.version == "1.0"
    assert tax.label_schema_version == "labels_v1"
    assert tax.user_id is None
    assert (tax.show_core_labels, tax.default_view, tax.color_theme) == (False, "mapped", "default")
    assert tax.reject_label == REJECT_LABEL
    assert tax.include_rejected_in_reports is False
    assert tax.aggregation == "sum"
    assert tax.min_confidence_for_mapping is None
    assert tax.reweight == (1.0,) * N_CLASSES
    assert tax.buckets[0].color == DEFAULT_BUCKET_COLOR
    assert tax.buckets[0].description == ""
    assert tax.bucket_names == ("Deep", "Research", "Talk", "Break")  # every label covered


def test_null_sections_count_as_absent() -> None:
    data = base()
    data.update(display=None, reject=None, advanced=None, user_id=None)
    assert parse(data) == parse(base())
    data = base()
    data["advanced"] = {"reweight_core_labels": None, "min_confidence_for_mapping": None}
    assert parse(data) == parse(base())


@pytest.mark.parametrize(("raw", "expected"), [(1.0, "1.0"), (2, "2"), ("1.0", "1.0")])
def test_version_numbers_become_strings(raw: object, expected: str) -> None:
    data = base()
    data["version"] = raw
    assert parse(data).version == expected


def test_unknown_keys_are_ignored_and_recorded() -> None:
    data = base()
    data["theme"] = "x"
    data["display"] = {"colour_theme": "dark"}
    data["buckets"][1]["icon"] = "book"
    data["advanced"] = {"probabilty_aggregation": "max"}
    tax = parse(data)
    assert tax.ignored_keys == (
        "theme",
        "display.colour_theme",
        "buckets[1].icon",
        "advanced.probabilty_aggregation",
    )
    assert tax.aggregation == "sum"  # the misspelt key changed nothing
    assert dataclasses.replace(tax, ignored_keys=()) == parse(base())


def test_parse_does_not_modify_its_input() -> None:
    data = base()
    data["advanced"] = {"reweight_core_labels": {"Build": 2}}
    snapshot = copy.deepcopy(data)
    parse(data)
    assert data == snapshot


def test_taxonomy_is_immutable() -> None:
    tax = parse(base())
    with pytest.raises(dataclasses.FrozenInstanceError):
        tax.aggregation = "max"  # type: ignore[misc]
    assert isinstance(tax.buckets, tuple)
    assert isinstance(tax.buckets[0].core_labels, tuple)


def test_bucket_named_other_is_fine_when_every_label_is_covered() -> None:
    data = base()
    data["buckets"][3]["name"] = OTHER_BUCKET
    assert parse(data).bucket_names == ("Deep", "Research", "Talk", OTHER_BUCKET)


# --- refusals -----------------------------------------------------------------------


def _set(path: tuple[Any, ...], value: object) -> dict[str, Any]:
    data = base()
    target: Any = data
    for key in path[:-1]:
        if isinstance(target, dict) and key not in target:
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    return data


def _drop(path: tuple[Any, ...]) -> dict[str, Any]:
    data = base()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return data


def _duplicate_bucket() -> dict[str, Any]:
    data = base()
    data["buckets"][2]["name"] = "Deep"
    return data


def _reject_named_like_bucket() -> dict[str, Any]:
    data = base()
    data["reject"] = {"mixed_label_name": "Break"}
    return data


def _other_while_uncovered() -> dict[str, Any]:
    data = base()
    data["buckets"][3] = {"name": OTHER_BUCKET, "core_labels": ["Meet"]}
    data["buckets"][2]["core_labels"] = ["Communicate"]  # BreakIdle now in no bucket
    return data


def _reject_other_while_uncovered() -> dict[str, Any]:
    data = base()
    del data["buckets"][3]
    data["reject"] = {"mixed_label_name": OTHER_BUCKET}
    return data


REFUSALS: list[tuple[str, dict[str, Any], str, str]] = [
    # (id, data, field path in the message, other text in the message)
    (
        "unknown label",
        _set(("buckets", 1, "core_labels"), ["Bild"]),
        "buckets[1].core_labels[0]",
        "'Bild'",
    ),
    (
        "label case",
        _set(("buckets", 1, "core_labels"), ["build"]),
        "buckets[1].core_labels[0]",
        "did you mean 'Build'",
    ),
    (
        "label not a string",
        _set(("buckets", 1, "core_labels"), [3]),
        "buckets[1].core_labels[0]",
        "got 3",
    ),
    (
        "label twice in bucket",
        _set(("buckets", 1, "core_labels"), ["Write", "Write"]),
        "buckets[1].core_labels[1]",
        "listed twice",
    ),
    (
        "duplicate bucket",
        _duplicate_bucket(),
        "buckets[2].name",
        "duplicate bucket name 'Deep' (first used by buckets[0])",
    ),
    ("colour short", _set(("buckets", 2, "color"), "#12345"), "buckets[2].color", "#RRGGBB"),
    ("colour long", _set(("buckets", 2, "color"), "#1234567"), "buckets[2].color", "#RRGGBB"),
    ("colour not hex", _set(("buckets", 2, "color"), "#12345G"), "buckets[2].color", "#RRGGBB"),
    ("colour name", _set(("buckets", 2, "color"), "red"), "buckets[2].color", "'red'"),
    ("colour newline", _set(("buckets", 2, "color"), "#123456\n"), "buckets[2].color", "#RRGGBB"),
    ("colour not a string", _set(("buckets", 2, "color"), 123456), "buckets[2].color", "a string"),
    ("empty buckets", _set(("buckets",), []), "buckets", "at least one bucket"),
    ("missing buckets", _drop(("buckets",)), "buckets", "missing"),
    ("buckets not a list", _set(("buckets",), {"name": "Deep"}), "buckets", "a list"),
    ("bucket not a mapping", _set(("buckets", 0), "Deep"), "buckets[0]", "a mapping"),
    (
        "bucket no labels",
        _set(("buckets", 0, "core_labels"), []),
        "buckets[0].core_labels",
        "at least one core label",
    ),
    (
        "bucket labels missing",
        _drop(("buckets", 0, "core_labels")),
        "buckets[0].core_labels",
        "missing",
    ),
    (
        "bucket labels a string",
        _set(("buckets", 0, "core_labels"), "Build"),
        "buckets[0].core_labels",
        "a list",
    ),
    ("bucket name missing", _drop(("buckets", 0, "name")), "buckets[0].name", "missing"),
    ("bucket name empty", _set(("buckets", 0, "name"), " "), "buckets[0].name", "non-empty"),
    ("bucket named like reject", _reject_named_like_bucket(), "buckets[3].name", "reject name"),
    ("bucket Other while uncovered", _other_while_uncovered(), "buckets[3].name", "BreakIdle"),
    (
        "reject Other while uncovered",
        _reject_other_while_uncovered(),
        "reject.mixed_label_name",
        "reserved",
    ),
    (
        "weight zero",
        _set(("advanced", "reweight_core_labels"), {"Build": 0}),
        "advanced.reweight_core_labels.Build",
        "> 0",
    ),
    (
        "weight negative",
        _set(("advanced", "reweight_core_labels"), {"Build": -1.5}),
        "advanced.reweight_core_labels.Build",
        "> 0",
    ),
    (
        "weight NaN",
        _set(("advanced", "reweight_core_labels"), {"Meet": math.nan}),
        "advanced.reweight_core_labels.Meet",
        "finite",
    ),
    (
        "weight inf",
        _set(("advanced", "reweight_core_labels"), {"Meet": math.inf}),
        "advanced.reweight_core_labels.Meet",
        "finite",
    ),
    (
        "weight bool",
        _set(("advanced", "reweight_core_labels"), {"Meet": True}),
        "advanced.reweight_core_labels.Meet",
        "got True",
    ),
    (
        "weight string",
        _set(("advanced", "reweight_core_labels"), {"Meet": "2"}),
        "advanced.reweight_core_labels.Meet",
        "got '2'",
    ),
    (
        "weight unknown label",
        _set(("advanced", "reweight_core_labels"), {"Coding": 2.0}),
        "advanced.reweight_core_labels.Coding",
        "'Coding'",
    ),
    (
        "weight label case",
        _set(("advanced", "reweight_core_labels"), {"meet": 2.0}),
        "advanced.reweight_core_labels.meet",
        "did you mean 'Meet'",
    ),
    (
        "reweight not a mapping",
        _set(("advanced", "reweight_core_labels"), [2.0]),
        "advanced.reweight_core_labels",
        "a mapping",
    ),
    (
        "bad aggregation",
        _set(("advanced", "probability_aggregation"), "mean"),
        "advanced.probability_aggregation",
        "'sum' or 'max'",
    ),
    (
        "aggregation case",
        _set(("advanced", "probability_aggregation"), "Sum"),
        "advanced.probability_aggregation",
        "'Sum'",
    ),
    (
        "min confidence high",
        _set(("advanced", "min_confidence_for_mapping"), 1.5),
        "advanced.min_confidence_for_mapping",
        "[0, 1]",
    ),
    (
        "min confidence low",
        _set(("advanced", "min_confidence_for_mapping"), -0.1),
        "advanced.min_confidence_for_mapping",
        "[0, 1]",
    ),
    (
        "min confidence NaN",
        _set(("advanced", "min_confidence_for_mapping"), math.nan),
        "advanced.min_confidence_for_mapping",
        "[0, 1]",
    ),
    (
        "min confidence text",
        _set(("advanced", "min_confidence_for_mapping"), "high"),
        "advanced.min_confidence_for_mapping",
        "'high'",
    ),
    ("advanced not a mapping", _set(("advanced",), "sum"), "advanced", "a mapping"),
    ("version list", _set(("version",), [1, 0]), "version", "list"),
    ("version bool", _set(("version",), True), "version", "True"),
    ("version empty", _set(("version",), ""), "version", "version string"),
    (
        "label schema",
        _set(("label_schema_version",), "labels_v2"),
        "label_schema_version",
        "'labels_v1'",
    ),
    ("label schema type", _set(("label_schema_version",), 1), "label_schema_version", "a string"),
    ("user id type", _set(("user_id",), 42), "user_id", "a string"),
    (
        "default view",
        _set(("display", "default_view"), "table"),
        "display.default_view",
        "'mapped' or 'core'",
    ),
    (
        "show core labels",
        _set(("display", "show_core_labels"), "yes"),
        "display.show_core_labels",
        "true or false",
    ),
    ("color theme", _set(("display", "color_theme"), 3), "display.color_theme", "a string"),
    (
        "reject flag",
        _set(("reject", "include_rejected_in_reports"), 1),
        "reject.include_rejected_in_reports",
        "true or false",
    ),
    (
        "reject name empty",
        _set(("reject", "mixed_label_name"), ""),
        "reject.mixed_label_name",
        "non-empty",
    ),
]


@pytest.mark.parametrize(
    ("data", "where", "text"),
    [pytest.param(data, where, text, id=name) for name, data, where, text in REFUSALS],
)
def test_invalid_taxonomy_is_refused_with_source_and_field(
    data: dict[str, Any], where: str, text: str
) -> None:
    with pytest.raises(TaxonomyError) as info:
        parse(data)
    message = str(info.value)
    assert message.startswith(f"tax.yaml: {where}"), message
    assert text in message, message


def test_non_mapping_document_is_refused() -> None:
    with pytest.raises(TaxonomyError, match=r"^tax\.yaml: .*a mapping"):
        parse_taxonomy(["buckets"], source="tax.yaml")  # type: ignore[arg-type]


# --- files that cannot be loaded ----------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(TaxonomyError, match="cannot read") as info:
        load_taxonomy(path)
    assert str(path) in str(info.value)


def test_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dir.yaml"
    path.mkdir()
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(path)


@pytest.mark.parametrize(
    ("name", "content", "text"),
    [
        ("bad.yaml", "buckets: [\n  - name: x\n", "not valid YAML"),
        ("tab.yaml", "buckets:\n\t- name: x\n", "not valid YAML"),
        ("dupe.yaml", "buckets: []\nbuckets: []\n", "duplicate key 'buckets' at line 2"),
        ("bad.toml", "buckets = [\n", "not valid TOML"),
        ("list.yaml", "- Build\n- Debug\n", "got list"),
        ("empty.yaml", "", "got None"),
        ("scalar.yml", "hello\n", "got 'hello'"),
        ("taxonomy.json", "{}", "expected a .yaml, .yml or .toml"),
    ],
)
def test_unloadable_files_name_the_path(tmp_path: Path, name: str, content: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert text in message, message
    assert "\n" not in message


def test_invalid_content_in_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(SAMPLE_YAML.read_text().replace("#2CA02C", "green"), encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"buckets\[2\]\.color") as info:
        load_taxonomy(path)
    assert str(info.value).startswith(f"{path}: ")


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_bytes(b"version: \xff\n")
    with pytest.raises(TaxonomyError, match="not UTF-8"):
        load_taxonomy(path)


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(
        "common: &c {color: '#111111', description: shared}\n"
        "buckets:\n"
        "  - {<<: *c, name: A, core_labels: [Build], color: '#222222'}\n",
        encoding="utf-8",
    )
    tax = load_taxonomy(path)
    assert tax.buckets[0] == Bucket("A", "shared", ("Build",), "#222222")
    assert tax.ignored_keys == ("common",)


# --- map_label ----------------------------------------------------------------------


def test_map_label_first_bucket_in_file_order_wins() -> None:
    tax = load_taxonomy(SAMPLE_YAML)
    assert map_label(tax, "Review") == "Reading"  # "Checking" lists it too, later
    assert map_label(tax, "Build") == "Focus"
    assert map_label(tax, "Meet") == "People"


def test_map_label_other_and_reject_name() -> None:
    tax = load_taxonomy(SAMPLE_YAML)
    assert map_label(tax, "BreakIdle") == OTHER_BUCKET
    assert map_label(tax, REJECT_LABEL) == "Unclear"
    assert map_label(parse(base()), REJECT_LABEL) == REJECT_LABEL


@pytest.mark.parametrize("label", ["Coding", "build", "", "Unclear", "Other"])
def test_map_label_refuses_unknown_labels(label: str) -> None:
    with pytest.raises(TaxonomyError, match="smoothed_label"):
        map_label(load_taxonomy(SAMPLE_YAML), label)


# --- bucket_probs by hand -----------------------------------------------------------

# BreakIdle .1, Build .2, Communicate .05, Debug .15, Meet .1, ReadResearch .1, Review .1,
# Write .2; buckets A = Build + Debug, B = Write, Other = the other five labels.
ROW = probs(
    BreakIdle=0.1,
    Build=0.2,
    Communicate=0.05,
    Debug=0.15,
    Meet=0.1,
    ReadResearch=0.1,
    Review=0.1,
    Write=0.2,
)


def small(aggregation: str = "sum", reweight: dict[str, float] | None = None) -> Taxonomy:
    return parse(
        {
            "buckets": [
                {"name": "A", "core_labels": ["Build", "Debug"]},
                {"name": "B", "core_labels": ["Write"]},
            ],
            "advanced": {"probability_aggregation": aggregation, "reweight_core_labels": reweight},
        }
    )


def test_bucket_probs_sum_by_hand() -> None:
    tax = small("sum")
    assert tax.bucket_names == ("A", "B", OTHER_BUCKET)
    np.testing.assert_allclose(bucket_probs(tax, ROW), [0.35, 0.2, 0.45], rtol=0, atol=1e-12)


def test_bucket_probs_max_by_hand() -> None:
    # maxima .2, .2, .1 renormalised by their total .5
    np.testing.assert_allclose(bucket_probs(small("max"), ROW), [0.4, 0.4, 0.2], rtol=0, atol=1e-12)


def test_bucket_probs_reweight_by_hand() -> None:
    # Build x3: weighted row totals 1.4, so A = .75/1.4, B = .2/1.4, Other = .45/1.4
    np.testing.assert_allclose(
        bucket_probs(small("sum", {"Build": 3.0}), ROW),
        [0.75 / 1.4, 0.2 / 1.4, 0.45 / 1.4],
        rtol=0,
        atol=1e-12,
    )
    # max: .6, .2, .1 (over 1.4) renormalised by their total .9/1.4
    np.testing.assert_allclose(
        bucket_probs(small("max", {"Build": 3.0}), ROW),
        [2 / 3, 2 / 9, 1 / 9],
        rtol=0,
        atol=1e-12,
    )


def test_equal_weights_change_nothing() -> None:
    every = dict.fromkeys(CORE_LABELS, 4.0)
    np.testing.assert_allclose(
        bucket_probs(small("sum", every), ROW), bucket_probs(small("sum"), ROW), atol=1e-15
    )


def test_label_in_two_buckets_counts_in_both_then_renormalises() -> None:
    tax = parse(
        {
            "buckets": [
                {"name": "A", "core_labels": ["Build", "Review"]},
                {"name": "B", "core_labels": ["Review", "Write"]},
            ]
        }
    )
    # A = .3, B = .3, Other = .5 (BreakIdle, Communicate, Debug, Meet, ReadResearch): total 1.1
    np.testing.assert_allclose(
        bucket_probs(tax, ROW), [0.3 / 1.1, 0.3 / 1.1, 0.5 / 1.1], rtol=0, atol=1e-12
    )


def test_bucket_probs_batch_shape_and_row_independence() -> None:
    tax = load_taxonomy(SAMPLE_YAML)
    other = probs(Meet=0.7, BreakIdle=0.3)
    batch = np.stack([ROW, other, ROW])
    out = bucket_probs(tax, batch)
    assert out.shape == (3, len(tax.bucket_names))
    np.testing.assert_array_equal(out[0], bucket_probs(tax, ROW))
    np.testing.assert_array_equal(out[1], bucket_probs(tax, other))
    assert bucket_probs(tax, np.empty((0, N_CLASSES))).shape == (0, len(tax.bucket_names))


def test_bucket_probs_only_ratios_matter() -> None:
    tax = small("sum", {"Debug": 0.25})
    np.testing.assert_allclose(bucket_probs(tax, ROW * 7.0), bucket_probs(tax, ROW), atol=1e-15)


def test_extreme_weights_stay_finite() -> None:
    tax = small("sum", {"Build": 1e300, "Write": 1e-300})
    out = bucket_probs(tax, probs(Write=1.0))  # only Write has mass
    np.testing.assert_array_equal(out, [0.0, 1.0, 0.0])
    out = bucket_probs(tax, ROW)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, [1.0, 0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(N_CLASSES),
        np.full(N_CLASSES, np.nan),
        probs(Build=1.0, Debug=-0.1),
        np.full(N_CLASSES, 1e308),  # finite entries, infinite sum
        np.ones(N_CLASSES - 1),
        np.ones((2, 2, N_CLASSES)),
        np.float64(1.0),
        ["a"] * N_CLASSES,
    ],
    ids=["zeros", "nan", "negative", "overflow", "short", "3d", "scalar", "strings"],
)
def test_bucket_probs_refuses_bad_input(bad: Any) -> None:
    with pytest.raises(TaxonomyError, match="core_probs"):
        bucket_probs(small(), bad)


# --- bucket_probs properties --------------------------------------------------------


@st.composite
def taxonomies(draw: st.DrawFn) -> Taxonomy:
    n_buckets = draw(st.integers(1, 4))
    buckets = [
        {
            "name": f"b{i}",
            "core_labels": draw(st.lists(st.sampled_from(CORE_LABELS), min_size=1, unique=True)),
        }
        for i in range(n_buckets)
    ]
    weights = draw(
        st.dictionaries(st.sampled_from(CORE_LABELS), st.floats(1e-3, 1e3), max_size=N_CLASSES)
    )
    aggregation = draw(st.sampled_from(["sum", "max"]))
    return parse(
        {
            "buckets": buckets,
            "advanced": {"probability_aggregation": aggregation, "reweight_core_labels": weights},
        }
    )


# Dirichlet-like rows: non-negative draws (zeros included) normalised to sum 1
_row = st.lists(st.floats(0.0, 1.0), min_size=N_CLASSES, max_size=N_CLASSES).filter(
    lambda xs: sum(xs) > 1e-6
)


@st.composite
def prob_arrays(draw: st.DrawFn) -> npt.NDArray[np.float64]:
    rows = np.array(draw(st.lists(_row, min_size=1, max_size=6)), dtype=np.float64)
    rows /= rows.sum(axis=1, keepdims=True)
    # both input shapes: one window (8,) and a batch (n, 8)
    return rows[0] if draw(st.booleans()) else rows


@settings(max_examples=300, deadline=None)
@given(tax=taxonomies(), core=prob_arrays())
def test_bucket_probs_are_distributions(tax: Taxonomy, core: npt.NDArray[np.float64]) -> None:
    before = core.copy()
    out = bucket_probs(tax, core)
    np.testing.assert_array_equal(core, before)  # input untouched
    assert out.shape == (*core.shape[:-1], len(tax.bucket_names))
    assert out.dtype == np.float64
    assert np.isfinite(out).all()
    assert (out >= 0).all()
    assert (out <= 1).all()
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(bucket_probs(tax, core), out)  # deterministic
    assert out is not core


@settings(max_examples=200, deadline=None)
@given(tax=taxonomies(), label=st.sampled_from(CORE_LABELS))
def test_map_label_is_a_bucket_name(tax: Taxonomy, label: str) -> None:
    mapped = map_label(tax, label)
    assert mapped in tax.bucket_names
    if mapped == OTHER_BUCKET:
        assert label in tax.uncovered_labels
    else:
        first = next(b for b in tax.buckets if label in b.core_labels)
        assert mapped == first.name
