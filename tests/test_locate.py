"""daemon.locate finds the same spool and label log as Settings, from every mix of sources."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from daemon.locate import locate
from daemon.paths import LOCK_FILE, STATUS_FILE
from daemon.settings import load_settings
from taskclf_core.errors import ConfigError

KEYS = ("data_dir", "spool_dir")
SOURCES = ("file", "env", "flag")


@pytest.mark.parametrize("lower_env", [False, True], ids=["TASKCLF_X", "taskclf_x"])
def test_agrees_with_settings_for_every_mix_of_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lower_env: bool
) -> None:
    config = tmp_path / "daemon.toml"
    for present in itertools.product([False, True], repeat=len(KEYS) * len(SOURCES)):
        chosen = dict(zip(itertools.product(KEYS, SOURCES), present, strict=True))
        lines, flags = [], {}
        for key in KEYS:
            monkeypatch.delenv(f"TASKCLF_{key.upper()}", raising=False)
            monkeypatch.delenv(f"taskclf_{key}", raising=False)
            if chosen[key, "file"]:
                lines.append(f'{key} = "{tmp_path / "file" / key}"')
            if chosen[key, "env"]:
                name = f"taskclf_{key}" if lower_env else f"TASKCLF_{key.upper()}"
                monkeypatch.setenv(name, str(tmp_path / "env" / key))
            if chosen[key, "flag"]:
                flags[key] = str(tmp_path / "flag" / key)
        config.write_text("\n".join(lines) + "\n")
        settings = load_settings(config, flags)
        where = locate(config, flags)
        assert where.spool == settings.spool_path, chosen
        assert where.labels == settings.labels_path, chosen
        assert where.status_path == settings.status_path == settings.spool_path / STATUS_FILE
        assert (where.lock_path, where.labels_lock_path) == settings.lock_paths
        assert where.labels_lock_path == settings.labels_path / LOCK_FILE


def test_defaults_come_from_the_user_data_dir(isolated_home: Path) -> None:
    where = locate(None)
    assert where.config_file == isolated_home / ".config" / "taskclf" / "daemon.toml"
    assert where.spool == isolated_home / ".local/share" / "taskclf" / "spool"
    assert where.labels == load_settings().labels_path


def test_bad_sources_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        locate(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('spool_dir = "unterminated\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        locate(bad)
    bad.write_text("spool_dir = 3\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: spool_dir: expected a directory path"):
        locate(bad)
