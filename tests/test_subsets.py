"""The cheap readers of status, reload and report find what Settings finds, from any source."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from daemon.config.settings import load_settings, load_settings_tolerant
from daemon.config.subsets import locate
from daemon.paths import LOCK_FILE, STATUS_FILE
from taskclf_core.errors import ConfigError

KEYS = ("data_dir", "spool_dir")
SOURCES = ("file", "env", "flag")


def test_agrees_with_settings_for_every_mix_of_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "daemon.toml"
    monkeypatch.setenv("WHERE", str(tmp_path / "var"))
    for present in itertools.product([False, True], repeat=len(KEYS) * len(SOURCES)):
        chosen = dict(zip(itertools.product(KEYS, SOURCES), present, strict=True))
        lines, flags = [], {}
        for key in KEYS:
            monkeypatch.delenv(f"TASKCLF_{key.upper()}", raising=False)
            if chosen[key, "file"]:
                lines.append(f'{key} = "$WHERE/file/{key}"')  # expanded like a shell would
            if chosen[key, "env"]:
                monkeypatch.setenv(f"TASKCLF_{key.upper()}", f"~/env/{key}")
            if chosen[key, "flag"]:
                flags[key] = str(tmp_path / "flag" / key)
        config.write_text("\n".join(lines) + "\n")
        settings = load_settings(config, flags)
        where, problems = locate(config, flags)
        assert problems == []
        assert where.spool_path == settings.spool_path, chosen
        assert where.labels_path == settings.labels_path, chosen
        assert where.status_path == settings.status_path == settings.spool_path / STATUS_FILE
        assert (where.lock_path, where.labels_lock_path) == settings.lock_paths
        assert where.labels_lock_path == settings.labels_path / LOCK_FILE


def test_defaults_come_from_the_user_data_dir(isolated_home: Path) -> None:
    where, problems = locate(None)
    assert problems == []
    assert where.config_file == isolated_home / ".config" / "taskclf" / "daemon.toml"
    assert where.spool_path == isolated_home / ".local/share" / "taskclf" / "spool"
    assert where.labels_path == load_settings().labels_path


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('spool_dri = "/x"\n', "unknown key 'spool_dri'; did you mean 'spool_dir'?"),
        ("spool_dir = 3\n", "spool_dir"),
        ('spool_dir = "$NOT_SET_ANYWHERE/x"\n', "$NOT_SET_ANYWHERE is not set"),
    ],
    ids=["typo", "not-a-path", "unset-variable"],
)
def test_a_bad_value_is_reported_and_dropped_as_the_tolerant_loader_does(
    tmp_path: Path, body: str, named: str
) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n{body}')
    where, problems = locate(config)
    settings, tolerant = load_settings_tolerant(config)
    assert where.spool_path == settings.spool_path == tmp_path / "data" / "spool"
    assert len(problems) == 1
    assert named in problems[0].message
    assert [p.message for p in problems] == [p.message for p in tolerant]


def test_an_unreadable_config_is_reported_not_fatal(tmp_path: Path) -> None:
    _, problems = locate(tmp_path / "missing.toml")
    assert [p.message for p in problems] == [
        f"--config: {tmp_path / 'missing.toml'} does not exist"
    ]
    bad = tmp_path / "bad.toml"
    bad.write_text('spool_dir = "unterminated\n')
    _, problems = locate(bad)
    assert len(problems) == 1
    assert "bad.toml: not valid TOML" in problems[0].message
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)  # `run` stays strict


# --- collect: its keys without pydantic -----------------------------------------------------


def _collect_equals_settings(config: Path | None, flags: dict[str, object]) -> None:
    from daemon.config.subsets import COLLECT_KEYS, collect_settings

    found = collect_settings(config, flags)
    settings = load_settings(config, flags)
    assert found is not None
    for key in COLLECT_KEYS:
        assert getattr(found, key) == getattr(settings, key), key
    for path in ("spool_path", "model_path", "labels_path", "title_salt_path", "user_id_path"):
        assert getattr(found, path) == getattr(settings, path), path
    assert found.collector_dir == settings.collector_dir


def test_collect_reads_its_keys_as_settings_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from daemon.config.subsets import COLLECT_KEYS, CollectSettings

    assert CollectSettings._fields == COLLECT_KEYS  # a key the collector reads is typed here
    _collect_equals_settings(None, {})
    config = tmp_path / "daemon.toml"
    config.write_text(
        'data_dir = "~/d"\nspool_dir = "$HOME/s"\naw_url = "http://localhost:5601"\n'
        'aw_hostname = "box"\ncollect_interval_seconds = 10\ncollect_settle_seconds = 0\n'
        'aw_write_labels = true\naw_api_key = "k"\nidle_gap_seconds = 120\n'
        'log_level = "debug"\nlog_format = "json"\ncollect_user_id = "u-1"\n'
        'title_salt_file = "~/salt"\nmodel_dir = "/m"\nsmooth_window = 5\n'
    )
    _collect_equals_settings(config, {})
    monkeypatch.setenv("TASKCLF_AW_WRITE_LABELS", "false")
    monkeypatch.setenv("TASKCLF_COLLECT_INTERVAL_SECONDS", "2.5")
    _collect_equals_settings(config, {})
    flags: dict[str, object] = {"aw_write_labels": "1", "aw_api_key": "flag-key", "data_dir": "/x"}
    _collect_equals_settings(config, flags)
    policy = tmp_path / "policy.toml"
    policy.write_text('policy_file = "~/models/inference_policy.json"\n')
    _collect_equals_settings(policy, {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aw_write_labels = 'maybe'\n", "aw_write_labels"),
        ("collect_interval_seconds = 0\n", "collect_interval_seconds"),
        ("collect_user_id = '.hidden'\n", "collect_user_id"),
        ("log_format = 'xml'\n", "log_format"),
        ("aw_hostnme = 'x'\n", "did you mean 'aw_hostname'"),
        ("policy_file = '/p.json'\nmodel_dir = '/m'\n", "policy_file and model_dir"),
    ],
)
def test_what_collect_cannot_judge_goes_to_settings_and_is_refused_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    from daemon.cli import main
    from daemon.config.subsets import collect_settings

    config = tmp_path / "daemon.toml"
    config.write_text(text)
    assert collect_settings(config) is None
    assert main(["collect", "--once", "--config", str(config)]) == 2
    assert message in capsys.readouterr().err


def test_a_value_settings_takes_and_collect_does_not_type_still_works(tmp_path: Path) -> None:
    """``TASKCLF_AW_WRITE_LABELS=yes`` is pydantic's, not the cheap reader's: Settings reads it."""
    from daemon.config.subsets import collect_settings

    config = tmp_path / "daemon.toml"
    config.write_text("aw_write_labels = 'yes'\n")
    assert collect_settings(config) is None
    assert load_settings(config).aw_write_labels is True
