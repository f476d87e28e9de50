"""Settings: file, then TASKCLF_*, then flags; paths expanded; every problem names its source."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_harness import run_cli

from daemon.config.keys import KEYS, suggest_key
from daemon.config.layers import Origin, read_layers
from daemon.config.settings import Settings, load_settings, load_settings_tolerant
from taskclf_core.errors import ConfigError

PATH_KEYS = [name for name, key in KEYS.items() if key.kind == "path"]


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "daemon.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_key_is_described_and_read_by_a_command() -> None:
    # the commented config and docs/configuration.md are generated from these
    for name, key in KEYS.items():
        assert key.description, f"{name} has no description"
        assert key.readers, f"{name} is read by no command"


def test_path_keys_are_the_paths() -> None:
    assert {"data_dir", "spool_dir", "model_dir", "calibrator_store", "policy_file"} <= set(
        PATH_KEYS
    )
    assert "reject_threshold" not in PATH_KEYS


@pytest.mark.parametrize("key", PATH_KEYS)
def test_every_path_key_expands_tilde_and_vars_in_the_file(
    key: str, tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_ROOT", str(tmp_path / "root"))
    config = _config(tmp_path, f'{key} = "~/a/$TEST_ROOT/${{TEST_ROOT}}/b"\n')
    value = getattr(load_settings(config), key)
    root = tmp_path / "root"
    assert value == Path(f"{isolated_home}/a/{root}/{root}/b")


def test_paths_from_the_environment_are_expanded(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHERE", "elsewhere")
    monkeypatch.setenv("TASKCLF_SPOOL_DIR", "~/spool-$WHERE")
    monkeypatch.setenv("TASKCLF_DATA_DIR", "$HOME/data")
    settings = load_settings()
    assert settings.spool_path == isolated_home / "spool-elsewhere"
    assert settings.labels_path == isolated_home / "data" / "labels"


def test_paths_from_flags_are_expanded(isolated_home: Path, bundle_dir: Path) -> None:
    # through the real command line: `run --once` creates the spool and label log it was given
    result = run_cli(
        *("run", "--once", "--model", str(bundle_dir), "--spool-dir", "~/flagged-spool"),
        *("--data-dir", "$HOME/d", "--state-dir", "~/state"),
    )
    assert result.returncode == 0, result.stderr
    assert (isolated_home / "flagged-spool" / "new").is_dir()
    assert (isolated_home / "d" / "labels").is_dir()
    assert not list(Path.cwd().glob("~*"))
    assert not list(Path.cwd().glob("$HOME*"))


def test_a_path_naming_an_unset_variable_is_refused_naming_it(tmp_path: Path) -> None:
    config = _config(tmp_path, 'spool_dir = "$NO_SUCH_VAR_XYZ/spool"\n')
    with pytest.raises(ConfigError, match=r"spool_dir: \$NO_SUCH_VAR_XYZ is not set"):
        load_settings(config)


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    config = _config(tmp_path, 'spool_dri = "/x"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert str(info.value) == f"{config}: unknown key 'spool_dri'; did you mean 'spool_dir'?"
    assert suggest_key("reject_treshold") == "reject_threshold"
    assert suggest_key("colour") is None


def test_unknown_key_without_a_close_match_says_where_the_keys_are(tmp_path: Path) -> None:
    config = _config(tmp_path, "colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown key 'colour'; `taskclf-daemon init` writes"):
        load_settings(config)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("file", "daemon.toml: reject_threshold: "),
        ("env", "TASKCLF_REJECT_THRESHOLD: "),
        ("flag", "--reject-threshold (reject_threshold): "),
    ],
)
def test_a_bad_value_names_where_it_came_from(
    source: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, "reject_threshold = 2\n" if source == "file" else "")
    if source == "env":
        monkeypatch.setenv("TASKCLF_REJECT_THRESHOLD", "2")
    overrides = {"reject_threshold": "2"} if source == "flag" else {}
    with pytest.raises(ConfigError) as info:
        load_settings(config, overrides)
    assert expected in str(info.value)
    assert "less than or equal to 1" in str(info.value)


def test_flags_override_env_override_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, "smooth_window = 5\nidle_gap_seconds = 10\nretention_days = 1\n")
    monkeypatch.setenv("TASKCLF_SMOOTH_WINDOW", "7")
    monkeypatch.setenv("TASKCLF_IDLE_GAP_SECONDS", "20")
    settings = load_settings(config, {"smooth_window": "9"})
    assert (settings.smooth_window, settings.idle_gap_seconds, settings.retention_days) == (
        9,
        20.0,
        1.0,
    )


@pytest.mark.parametrize("value", ["u-a,u-b", '["u-a", "u-b"]'])
def test_opt_out_users_from_the_environment(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKCLF_OPT_OUT_USERS", value)
    assert load_settings().opt_out_users == ("u-a", "u-b")


def test_policy_file_with_model_dir_names_both_and_where_they_are_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, 'policy_file = "/p/models/inference_policy.json"\n')
    monkeypatch.setenv("TASKCLF_MODEL_DIR", "/m")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    message = str(info.value)
    assert "policy_file and model_dir are both set" in message
    assert f"policy_file in {config}" in message
    assert "model_dir by TASKCLF_MODEL_DIR" in message


def test_missing_config_file_given_with_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--config: .* does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_tolerant_loading_reports_every_problem_and_keeps_the_rest(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        'spool_dri = "/x"\nreject_threshold = 7\nspool_dir = "/good/spool"\nsmooth_window = 4\n',
    )
    settings, problems = load_settings_tolerant(config)
    assert settings.spool_path == Path("/good/spool")
    assert settings.smooth_window == 4
    assert settings.reject_threshold == 0.55  # the bad value fell back to its default
    assert len(problems) == 2
    assert any("did you mean 'spool_dir'" in p.message for p in problems)
    assert any("reject_threshold" in p.message for p in problems)


def test_tolerant_loading_survives_bad_toml_and_conflicts(tmp_path: Path) -> None:
    config = _config(tmp_path, 'spool_dir = "unterminated\n')
    settings, problems = load_settings_tolerant(config)
    assert settings == load_settings(None)
    assert len(problems) == 1
    assert "not valid TOML" in problems[0].message

    config = _config(tmp_path, 'policy_file = "/p.json"\nmodel_dir = "/m"\nspool_dir = "/s"\n')
    settings, problems = load_settings_tolerant(config)
    assert settings.spool_path == Path("/s")
    assert settings.model_dir is None
    assert len(problems) == 1
    assert "both set" in problems[0].message


def test_tolerant_loading_of_a_good_file_has_no_problems(tmp_path: Path) -> None:
    config = _config(tmp_path, 'spool_dir = "/s"\n')
    settings, problems = load_settings_tolerant(config)
    assert problems == []
    assert settings == load_settings(config)


def test_tolerant_loading_survives_a_bad_default_file(isolated_home: Path) -> None:
    from daemon.paths import default_config_file

    config = default_config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("spool_dir = \n")
    settings, problems = load_settings_tolerant(None, {"spool_dir": "/flagged"})
    assert settings.spool_path == Path("/flagged")
    assert len(problems) == 1
    assert f"{config}: not valid TOML" in problems[0].message
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(None)


# --- where a value comes from ------------------------------------------------------------------


def test_each_layer_overrides_only_the_keys_it_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, 'spool_dir = "/file/spool"\ndata_dir = "/file/data"\n')
    monkeypatch.setenv("TASKCLF_DATA_DIR", "/env/data")
    monkeypatch.setenv("TASKCLF_LOG_LEVEL", "debug")
    settings = load_settings(config, {"log_level": "warning", "taxonomy": None})
    assert settings.spool_path == Path("/file/spool")
    assert settings.data_dir == Path("/env/data")
    assert settings.log_level == "warning"
    assert settings.reject_threshold == Settings.model_fields["reject_threshold"].default
    # the one read returns each value with where it was set, and where to fix it
    layers = read_layers(config, {"log_level": "warning", "taxonomy": None})
    assert layers.values == {
        "spool_dir": ("/file/spool", Origin("file", str(config))),
        "data_dir": ("/env/data", Origin("env", "TASKCLF_DATA_DIR")),
        "log_level": ("warning", Origin("flag", "--log-level")),
    }
    assert layers.problems == []
    assert [v.origin.fix() for v in layers.values.values()] == [
        f"edit {config}",
        "change or unset TASKCLF_DATA_DIR in the environment",
        "change --log-level on the command line",
    ]


def test_the_default_config_file_is_read_when_none_is_given(tmp_path: Path) -> None:
    from daemon.paths import default_config_file

    assert load_settings(None) == Settings.model_validate(
        {}
    )  # no file there: the defaults, no error
    config = default_config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('spool_dir = "/default/spool"\n')
    assert load_settings(None).spool_path == Path("/default/spool")
    assert load_settings(_config(tmp_path, "")).spool_dir is None  # --config replaces it


def test_a_misspelt_variable_is_refused_like_a_misspelt_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKCLF_SPOOL_DRI", "/x")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == (
        "TASKCLF_SPOOL_DRI: unknown setting in the environment; did you mean TASKCLF_SPOOL_DIR?"
    )
    settings, problems = load_settings_tolerant()
    assert settings == Settings.model_validate({})
    assert [(p.origin.layer, p.origin.name) for p in problems] == [("env", "TASKCLF_SPOOL_DRI")]


def test_every_unknown_key_and_variable_is_named_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, 'spool_dri = "/x"\ncolour = "blue"\nreject_threshold = 2\n')
    monkeypatch.setenv("TASKCLF_SMOTH_WINDOW", "5")
    monkeypatch.setenv("TASKCLF_NOTHING_LIKE_IT", "1")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    lines = str(info.value).splitlines()
    assert lines == [
        f"{config}: unknown key 'spool_dri'; did you mean 'spool_dir'?",
        f"{config}: unknown key 'colour'; `taskclf-daemon init` writes a file listing every key",
        "TASKCLF_NOTHING_LIKE_IT: unknown setting in the environment; TASKCLF_<KEY> sets a key "
        "of docs/configuration.md: unset it if it is not one",
        "TASKCLF_SMOTH_WINDOW: unknown setting in the environment; did you mean "
        "TASKCLF_SMOOTH_WINDOW?",
        f"{config}: reject_threshold: Input should be less than or equal to 1 (got 2)",
    ]


def test_the_variables_taskclf_itself_reads_are_not_typos(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """People who run taskclf beside the daemon have its own TASKCLF_* variables set."""
    for name in ("TASKCLF_HOME", "TASKCLF_PORT", "TASKCLF_ELECTRON_DEBUG", "TASKCLF_AW_HOST"):
        monkeypatch.setenv(name, "1")
    assert load_settings() == Settings.model_validate({})


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.spool_dir = Path("/elsewhere")


# --- policy_file ---------------------------------------------------------------------------------


def test_policy_file_alone_binds_nothing_else(tmp_path: Path) -> None:
    config = _config(tmp_path, 'policy_file = "/p/inference_policy.json"\nsmooth_window = 5\n')
    settings = load_settings(config)
    assert settings.policy_file == Path("/p/inference_policy.json")
    assert (settings.model_dir, settings.calibrator_store) == (None, None)


def test_policy_file_conflicts_name_every_bound_key_and_its_source(tmp_path: Path) -> None:
    config = _config(tmp_path, 'policy_file = "/p.json"\nreject_threshold = 0.6\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, {"model_dir": "/m", "calibrator_store": "/s"})
    assert str(info.value) == (
        "policy_file and model_dir, calibrator_store, reject_threshold are both set: the "
        "inference policy names the model, store and reject threshold; remove model_dir, "
        f"calibrator_store, reject_threshold (policy_file in {config}; model_dir by --model "
        f"(model_dir); calibrator_store by --store (calibrator_store); reject_threshold in "
        f"{config})"
    )


def test_policy_file_from_a_flag_conflicts_with_a_model_in_the_file(tmp_path: Path) -> None:
    config = _config(tmp_path, 'model_dir = "/m"\n')
    with pytest.raises(ConfigError, match=r"policy_file and model_dir are both set"):
        load_settings(config, {"policy_file": "/p.json"})


def test_tolerant_loading_keeps_the_policy_and_drops_every_key_it_binds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, 'policy_file = "/p.json"\nmodel_dir = "/m"\n')
    monkeypatch.setenv("TASKCLF_REJECT_THRESHOLD", "0.7")
    settings, problems = load_settings_tolerant(config, {"calibrator_store": "/s"})
    assert settings.policy_file == Path("/p.json")
    assert (settings.model_dir, settings.calibrator_store) == (None, None)
    assert settings.reject_threshold == 0.55
    assert len(problems) == 1
    assert problems[0].message.startswith(
        "policy_file and model_dir, calibrator_store, reject_threshold"
    )


# --- tolerant loading ----------------------------------------------------------------------------


def test_tolerant_loading_leaves_a_bad_value_at_its_default_not_a_lower_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, "reject_threshold = 0.6\n")
    monkeypatch.setenv("TASKCLF_REJECT_THRESHOLD", "2")
    settings, problems = load_settings_tolerant(config)
    assert settings.reject_threshold == 0.55
    assert [p.message for p in problems] == [
        "TASKCLF_REJECT_THRESHOLD: Input should be less than or equal to 1 (got '2')"
    ]


def test_tolerant_loading_with_a_config_path_naming_an_unset_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKCLF_SMOOTH_WINDOW", "5")
    config = Path("$NO_SUCH_VAR_XYZ/d.toml")
    settings, problems = load_settings_tolerant(config, {"spool_dir": "/f"})
    assert (settings.spool_path, settings.smooth_window) == (Path("/f"), 5)
    assert [p.message for p in problems] == [
        "--config: $NO_SUCH_VAR_XYZ is not set in the environment (in '$NO_SUCH_VAR_XYZ/d.toml'); "
        "set it, or write the path out"
    ]
    with pytest.raises(ConfigError, match=r"\$NO_SUCH_VAR_XYZ is not set"):
        load_settings(config)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_path_is_refused_not_taken_for_the_current_directory(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKCLF_TAXONOMY", value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == (
        f"TASKCLF_TAXONOMY: expected a path, got {value!r} (empty: remove the key for its default)"
    )
