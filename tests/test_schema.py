"""Feature windows: taskclf's registries and hashes, parse_window's refusals and encoding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskclf_core.bundle import ModelBundle, build_schema
from taskclf_core.errors import WindowError
from taskclf_core.schema import (
    UNKNOWN_TOKEN,
    ColumnKind,
    FeatureSchema,
    FeatureWindow,
    is_safe_user_id,
    known_versions,
    parse_ts,
    parse_window,
    parse_windows,
    registry,
    schema_hash,
)

# taskclf's own registries (provenance in the fixture's README)
TASKCLF_SCHEMAS = (
    Path(__file__).resolve().parent / "fixtures" / "taskclf-registries" / "taskclf_schemas.json"
)
HASHES = {"v1": "4077fe0dba70", "v2": "a15f4751a947", "v3": "7f29b4b8795e"}
V2_ENCODERS = {
    "app_id": ("com.apple.mail", UNKNOWN_TOKEN, "com.microsoft.VSCode"),  # unsorted on purpose
    "app_category": (UNKNOWN_TOKEN, "editor", "email"),
    "domain_category": ("non_browser", "docs"),  # no __unknown__: unseen → -1
}


@pytest.fixture(scope="module")
def v2() -> FeatureSchema:
    return build_schema({"schema_version": "v2", "schema_hash": HASHES["v2"]}, V2_ENCODERS)


def base_window(**extra: Any) -> dict[str, Any]:
    window: dict[str, Any] = {
        "user_id": "u-ada",
        "bucket_start_ts": "2026-01-05T09:00:00Z",
        "bucket_end_ts": "2026-01-05T09:01:00Z",
        "schema_version": "v2",
        "schema_hash": HASHES["v2"],
        "app_id": "com.microsoft.VSCode",
        "app_category": "editor",
        "domain_category": "docs",
        "is_browser": False,
        "is_editor": True,
        "keys_per_min": 120.5,
        "app_switch_count_last_5m": 3,
    }
    window.update(extra)
    return window


def refused(obj: object, schema: FeatureSchema) -> WindowError:
    with pytest.raises(WindowError) as info:
        parse_window(obj, schema)
    return info.value


# --- registries -------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "expected"), sorted(HASHES.items()))
def test_registry_hash_is_recomputed_from_its_columns(version: str, expected: str) -> None:
    reg = registry(version)
    assert reg is not None
    assert reg.schema_hash == expected
    assert schema_hash(reg.columns) == expected
    # lists and tuples hash the same: the hash is over the compact JSON
    assert schema_hash([list(c) for c in reg.columns]) == expected


def test_known_versions_and_unknown_version() -> None:
    assert set(known_versions()) == {"v1", "v2", "v3"}
    assert registry("v9") is None


def test_schema_hash_is_sha256_of_compact_json() -> None:
    import hashlib

    columns = [["a", "int"], ["b", "str"]]
    payload = b'[["a","int"],["b","str"]]'
    assert schema_hash(columns) == hashlib.sha256(payload).hexdigest()[:12]
    assert schema_hash([["b", "str"], ["a", "int"]]) != schema_hash(columns)


def test_registries_agree_with_taskclfs_own() -> None:
    shared = json.loads(TASKCLF_SCHEMAS.read_text())["versions"]
    for version, spec in shared.items():
        reg = registry(version)
        assert reg is not None, version
        assert [list(c) for c in reg.columns] == spec["columns"]
        assert list(reg.feature_columns) == spec["feature_columns"]
        assert list(reg.categorical_columns) == spec["categorical_columns"]
        assert reg.schema_hash == spec["schema_hash"]


def test_v1_has_user_id_as_categorical_v2_v3_do_not() -> None:
    v1, v2, v3 = (registry(v) for v in ("v1", "v2", "v3"))
    assert v1 is not None
    assert v2 is not None
    assert v3 is not None
    assert "user_id" in v1.categorical_columns
    assert "user_id" in v1.feature_columns
    assert "user_id" not in v2.feature_columns
    assert "user_id" not in v3.feature_columns


# --- encoding ---------------------------------------------------------------------------


def test_valid_window_is_encoded(v2: FeatureSchema) -> None:
    window = parse_window(base_window(), v2)
    row = dict(zip(v2.feature_columns, window.features.tolist(), strict=True))
    assert row["app_id"] == sorted(V2_ENCODERS["app_id"]).index("com.microsoft.VSCode")
    assert row["app_category"] == sorted(V2_ENCODERS["app_category"]).index("editor")
    assert row["domain_category"] == sorted(V2_ENCODERS["domain_category"]).index("docs")
    assert row["is_browser"] == 0.0
    assert row["is_editor"] == 1.0
    assert row["keys_per_min"] == 120.5
    assert row["app_switch_count_last_5m"] == 3.0
    assert window.features.dtype == np.float64
    assert window.features.shape == (v2.n_features,)
    assert window.user_id == "u-ada"
    assert window.key == ("u-ada", "2026-01-05T09:00:00Z")


def test_unseen_category_takes_unknown_code_or_minus_one(v2: FeatureSchema) -> None:
    window = parse_window(base_window(app_id="org.never.seen", domain_category="never_seen"), v2)
    row = dict(zip(v2.feature_columns, window.features.tolist(), strict=True))
    assert row["app_id"] == sorted(V2_ENCODERS["app_id"]).index(UNKNOWN_TOKEN)
    assert row["domain_category"] == -1.0
    assert window.n_missing == v2.n_features - 7  # unseen is not missing
    assert v2.encode_category("app_id", "org.never.seen") == row["app_id"]
    assert v2.encode_category("domain_category", "never_seen") == -1.0


def test_missing_and_null_columns_take_fill_and_are_counted() -> None:
    schema = build_schema({"schema_version": "v2", "numeric_fill": -7.5}, V2_ENCODERS)
    window = base_window(keys_per_min=None, app_category=None, is_browser=None)
    del window["app_switch_count_last_5m"]
    parsed = parse_window(window, schema)
    row = dict(zip(schema.feature_columns, parsed.features.tolist(), strict=True))
    assert row["keys_per_min"] == -7.5
    assert row["app_switch_count_last_5m"] == -7.5
    assert row["is_browser"] == -7.5
    assert row["app_category"] == sorted(V2_ENCODERS["app_category"]).index(UNKNOWN_TOKEN)
    # present and not null: app_id, domain_category, is_editor
    assert parsed.n_missing == schema.n_features - 3


def test_extra_and_optional_keys_are_ignored(v2: FeatureSchema) -> None:
    plain = parse_window(base_window(), v2)
    extra = parse_window(
        base_window(device_id="d1", session_id=None, source_ids=["x"], whatever={"a": 1}), v2
    )
    assert np.array_equal(plain.features, extra.features)


def test_features_are_read_only_and_window_is_frozen(v2: FeatureSchema) -> None:
    window = parse_window(base_window(), v2)
    assert not window.features.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        window.features[0] = 1.0
    with pytest.raises(AttributeError):
        window.user_id = "someone"  # type: ignore[misc]


def test_input_dict_is_not_modified(v2: FeatureSchema) -> None:
    window = base_window(keys_per_min=None)
    before = json.dumps(window, sort_keys=True)
    parse_window(window, v2)
    assert json.dumps(window, sort_keys=True) == before


def test_v1_encodes_user_id_as_a_category() -> None:
    schema = build_schema(
        {"schema_version": "v1", "schema_hash": HASHES["v1"]},
        {"user_id": ("u-bob", UNKNOWN_TOKEN, "u-ada")},
    )
    window = base_window(schema_version="v1", schema_hash=HASHES["v1"])
    ada = parse_window(window, schema)
    stranger = parse_window({**window, "user_id": "u-zed"}, schema)
    col = schema.feature_columns.index("user_id")
    assert schema.kinds[col] is ColumnKind.CATEGORICAL
    assert ada.features[col] == 1.0  # sorted: __unknown__, u-ada, u-bob
    assert stranger.features[col] == 0.0


# --- timestamps -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "start_ts", "end_ts"),
    [
        (
            "2026-01-05T09:00:00",
            "2026-01-05T09:01:00",
            "2026-01-05T09:00:00Z",
            "2026-01-05T09:01:00Z",
        ),
        (
            "2026-01-05T11:00:00+02:00",
            "2026-01-05T06:01:00-03:00",
            "2026-01-05T09:00:00Z",
            "2026-01-05T09:01:00Z",
        ),
        (
            "2026-01-05T23:59:30.250000+00:00",
            "2026-01-06T00:00:30.250000Z",
            "2026-01-05T23:59:30.250000Z",
            "2026-01-06T00:00:30.250000Z",
        ),
    ],
)
def test_timestamps_are_utc_with_z(
    v2: FeatureSchema, start: str, end: str, start_ts: str, end_ts: str
) -> None:
    window = parse_window(base_window(bucket_start_ts=start, bucket_end_ts=end), v2)
    assert window.start_ts == start_ts
    assert window.end_ts == end_ts
    assert window.bucket_start.utcoffset() is not None
    assert window.bucket_start.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("obj", [[], "window", 3, None, True])
def test_non_object_is_refused(v2: FeatureSchema, obj: object) -> None:
    error = refused(obj, v2)
    assert "window" in str(error)
    assert "JSON object" in str(error)


@pytest.mark.parametrize("user_id", [None, "", 7, ["u"], True])
def test_missing_or_empty_user_id_is_refused(v2: FeatureSchema, user_id: object) -> None:
    window = base_window(user_id=user_id)
    if user_id is None:
        del window["user_id"]
    error = refused(window, v2)
    assert error.field == "user_id"
    assert "user_id" in str(error)
    assert "non-empty string" in str(error)


@pytest.mark.parametrize(
    "user_id", ["../x", "..", ".", ".hidden", "a/b", "a\\b", "a b", "x" * 200, "é", "a\x00b", "-x"]
)
def test_unsafe_user_id_is_refused(v2: FeatureSchema, user_id: str) -> None:
    assert not is_safe_user_id(user_id)
    error = refused(base_window(user_id=user_id), v2)
    assert error.field == "user_id"
    assert "safe file name" in str(error)


@pytest.mark.parametrize("user_id", ["u-ada", "ada.lovelace@example.org", "A_1+b=c", "7"])
def test_safe_user_ids_are_accepted(v2: FeatureSchema, user_id: str) -> None:
    assert is_safe_user_id(user_id)
    assert parse_window(base_window(user_id=user_id), v2).user_id == user_id


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("bucket_start_ts", None, "timestamp string"),
        ("bucket_start_ts", 1767603600, "timestamp string"),
        ("bucket_start_ts", "yesterday", "ISO-8601"),
        ("bucket_end_ts", "2026-13-01T00:00:00", "ISO-8601"),
        ("bucket_end_ts", "", "ISO-8601"),
    ],
)
def test_bad_timestamps_are_refused(
    v2: FeatureSchema, field: str, value: object, expected: str
) -> None:
    window = base_window(**{field: value})
    if value is None:
        del window[field]
    error = refused(window, v2)
    assert error.field == field
    assert field in str(error)
    assert expected in str(error)


@pytest.mark.parametrize(
    "end", ["2026-01-05T09:00:00Z", "2026-01-05T08:59:59Z", "2026-01-05T10:00:00+02:00"]
)
def test_end_not_after_start_is_refused(v2: FeatureSchema, end: str) -> None:
    error = refused(base_window(bucket_end_ts=end), v2)
    assert error.field == "bucket_end_ts"
    assert "after bucket_start_ts" in str(error)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("keys_per_min", True, "JSON number"),
        ("app_switch_count_last_5m", False, "JSON number"),
        ("keys_per_min", "120", "JSON number"),
        ("keys_per_min", [1.0], "JSON number"),
        ("keys_per_min", float("nan"), "finite"),
        ("keys_per_min", float("inf"), "finite"),
        ("keys_per_min", float("-inf"), "finite"),
        ("keys_per_min", 10**400, "finite"),
        ("is_browser", 1, "true or false"),
        ("is_editor", 0.0, "true or false"),
        ("is_editor", "true", "true or false"),
        ("app_id", 42, "string category"),
        ("app_category", True, "string category"),
        ("domain_category", ["docs"], "string category"),
    ],
)
def test_wrong_typed_values_are_refused(
    v2: FeatureSchema, field: str, value: object, expected: str
) -> None:
    error = refused(base_window(**{field: value}), v2)
    assert error.field == field
    assert str(error).startswith(f"{field}:")
    assert expected in str(error)


def test_nan_parsed_from_json_text_is_refused(v2: FeatureSchema) -> None:
    # Python's json accepts the NaN literal, so a spool file can really carry one
    window = json.loads(json.dumps(base_window()).replace("120.5", "NaN"))
    error = refused(window, v2)
    assert error.field == "keys_per_min"


@pytest.mark.parametrize("key", ["raw_title", "raw_", "raw_keys"])
def test_raw_keys_are_refused(v2: FeatureSchema, key: str) -> None:
    error = refused(base_window(**{key: "secret"}), v2)
    assert error.field == key
    assert "raw_" in str(error)
    assert "privacy" in str(error)
    assert "secret" not in str(error)


def test_raw_key_is_refused_even_when_null(v2: FeatureSchema) -> None:
    assert refused(base_window(raw_title=None), v2).field == "raw_title"


@pytest.mark.parametrize(
    ("field", "value"),
    [("schema_hash", HASHES["v1"]), ("schema_version", "v1"), ("schema_version", "v3")],
)
def test_schema_mismatch_is_refused(v2: FeatureSchema, field: str, value: str) -> None:
    error = refused(base_window(**{field: value}), v2)
    assert error.field == field
    assert repr(value) in str(error)


def test_schema_fields_are_optional(v2: FeatureSchema) -> None:
    window = base_window()
    del window["schema_hash"], window["schema_version"]
    assert parse_window(window, v2).user_id == "u-ada"
    assert parse_window(base_window(schema_hash=None), v2).user_id == "u-ada"


def test_error_hierarchy() -> None:
    from taskclf_core.errors import TaskclfError

    assert issubclass(WindowError, TaskclfError)


# --- many at once ------------------------------------------------------------------------

_ODD_VALUES: list[object] = [
    None,
    "text",
    True,
    False,
    1,
    2.5,
    float("nan"),
    float("inf"),
    10**400,
    [],
    {},
]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_parse_windows_equals_parse_window_one_by_one(
    data: st.DataObject, bundle: ModelBundle, training_windows: list[dict[str, Any]]
) -> None:
    """Column-wise parsing gives the same rows and the same refusals as parsing alone."""
    schema = bundle.schema
    # sizes on both sides of the column-wise threshold
    picks = data.draw(st.lists(st.integers(0, len(training_windows) - 1), max_size=48))
    objs: list[object] = []
    for index in picks:
        window = {k: v for k, v in training_windows[index].items() if k != "label"}
        for _ in range(data.draw(st.integers(0, 2))):
            key = data.draw(st.sampled_from([*schema.feature_columns, "user_id", "raw_x"]))
            window[key] = data.draw(st.sampled_from(_ODD_VALUES))
        objs.append(window if data.draw(st.integers(0, 9)) else data.draw(st.sampled_from([1, []])))
    together = parse_windows(objs, schema)
    assert len(together) == len(objs)
    for obj, got in zip(objs, together, strict=True):
        try:
            alone: FeatureWindow | WindowError = parse_window(obj, schema)
        except WindowError as exc:
            alone = exc
        if isinstance(alone, WindowError):
            assert isinstance(got, WindowError)
            assert str(got) == str(alone)
            assert got.field == alone.field
        else:
            assert isinstance(got, FeatureWindow)
            assert got.key == alone.key
            assert got.n_missing == alone.n_missing
            assert np.array_equal(got.features, alone.features)
            assert not got.features.flags.writeable


def test_parse_windows_column_wise_batch(
    bundle: ModelBundle, training_windows: list[dict[str, Any]]
) -> None:
    """A batch large enough for the column-wise path, with every kind of odd value."""
    objs: list[Any] = [{k: v for k, v in w.items() if k != "label"} for w in training_windows[:60]]
    for i, (key, value) in enumerate(
        [
            ("keys_per_min", "x"),
            ("is_browser", 1),
            ("app_id", 3),
            ("keys_per_min", float("nan")),
            ("mouse_distance", 10**400),
            ("app_entropy_5m", None),
            ("raw_title", "t"),
        ]
    ):
        objs[i * 7][key] = value
    together = parse_windows(objs, bundle.schema)
    for obj, got in zip(objs, together, strict=True):
        if isinstance(got, WindowError):
            with pytest.raises(WindowError) as info:
                parse_window(obj, bundle.schema)
            assert str(got) == str(info.value)
            continue
        alone = parse_window(obj, bundle.schema)
        assert np.array_equal(got.features, alone.features)
        assert got.n_missing == alone.n_missing
    assert sum(isinstance(g, WindowError) for g in together) == 6


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2000-01-01T00:00:00Z", True),
        ("1999-12-31T23:59:59.999999Z", False),
        ("2000-01-01T00:30:00+01:00", False),  # 1999-12-31T23:30Z
        ("2100-01-01T00:00:00Z", True),  # the end of a window of 2099-12-31T23:59
        ("2100-01-01T00:00:00.000001Z", False),
        ("2099-12-31T23:00:00-02:00", False),  # 2100-01-01T01:00Z
        ("1970-01-01T00:00:00", False),  # naive is UTC: a clock reset to the epoch
        ("0001-01-01T00:30:00+01:00", False),  # before the first UTC instant
        ("9999-12-31T23:59:59", False),
    ],
)
def test_times_outside_2000_to_2100_utc_are_refused_naming_the_field(text: str, ok: bool) -> None:
    if ok:
        parse_ts(text, "bucket_end_ts")
        return
    with pytest.raises(WindowError, match=r"bucket_end_ts: .* is outside the supported times") as e:
        parse_ts(text, "bucket_end_ts")
    assert e.value.field == "bucket_end_ts"
