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
