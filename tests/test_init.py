"""`init`: a commented config every loader reads, the spool, and a bundle + store kept whole."""

from __future__ import annotations

import json
import re
import shutil
import stat
import tomllib
import uuid
from pathlib import Path

import pytest

from daemon.artifacts import load_deployment
from daemon.cli import main
from daemon.config.render import render_config
from daemon.config.settings import Settings, load_settings
from daemon.paths import default_config_file, default_data_dir, title_salt_file, user_id_file
from taskclf_core.baseline import BaselineModel
from taskclf_core.bundle import load_bundle
from taskclf_core.calibration import load_calibrator_store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def sample(tmp_path: Path, taskclf_sample: Path) -> tuple[Path, Path]:
    """A teammate's bundle and store (made by taskclf), copied somewhere of the user's."""
    given = tmp_path / "from-a-teammate"
    given.mkdir()
    bundle = shutil.copytree(taskclf_sample / "bundle_v1", given / "bundle_v1")
    store = shutil.copytree(taskclf_sample / "store_temperature", given / "store")
    return bundle, store


def test_init_without_a_model_is_a_standalone_install(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    config = default_config_file()
    data = default_data_dir()
    assert f"wrote {config}" in out
    assert mode(config) == 0o600
    spool = data / "spool"
    for sub in ("", "tmp", "new", "cur", "done", "rejected"):
        assert mode(spool / sub) == 0o700, sub
    assert str(spool) in out
    # taskclf's salt and user id, random, private, where taskclf keeps them
    salt, user = title_salt_file(data), user_id_file(data)
    for path in (salt, user):
        assert mode(path) == 0o600, path
    for directory in (data / "data", data / "data" / "processed"):
        assert mode(directory) == 0o700, directory
    assert re.fullmatch(r"[0-9a-f]{64}\n", salt.read_text())
    assert str(uuid.UUID(user.read_text().strip())) == user.read_text().strip()
    assert f"title salt: made a random one at {salt}" in out
    # the rule baseline is the model in force, through the policy like any model
    settings = load_settings(config)
    assert settings.policy_file == data / "models" / "inference_policy.json"
    assert tomllib.loads(config.read_text()) == {
        "data_dir": str(data),
        "policy_file": str(settings.policy_file),
    }
    deployment = load_deployment(settings.policy_file)
    assert isinstance(deployment.bundle, BaselineModel)
    assert deployment.bundle.bundle_id == "baseline"
    assert deployment.bundle.schema.version == "v3"  # what the collector writes, from minute one
    assert deployment.store is None
    assert deployment.policy.model_dir == "models/baseline"
    assert mode(data / "models" / "baseline" / "metadata.json") == 0o600
    # what to do next: the collector, labels, retrain (or a bundle of one's own)
    for step in ("service install --collector", "with aw-watcher-input running", "label add",
                 "taskclf-daemon retrain", "init --force --model DIR [--store DIR]"):  # fmt: skip
        assert step in out, step
    # again (--force): nothing already there is overwritten; the settings one had added to
    # the config are named, as init writes only its own
    before = (salt.read_bytes(), user.read_bytes(), settings.policy_file.read_bytes())
    config = default_config_file()
    config.write_text(
        config.read_text() + 'aw_url = "http://127.0.0.1:5666"\nretrain_min_breakidle_recall = 0\n'
    )
    assert main(["init", "--force"]) == 0
    out = capsys.readouterr().out
    assert (
        "not carried over from it: aw_url, retrain_min_breakidle_recall; copy the lines you "
        f"still want from {config}.bak"
    ) in out
    assert (salt.read_bytes(), user.read_bytes(), settings.policy_file.read_bytes()) == before
    assert f"title salt: kept the one at {salt}" in out
    assert "policy already in force, kept:" in out
    assert "no model yet: taskclf's rule baseline labels your windows" in out  # it still does


def test_init_force_names_a_data_dir_it_no_longer_points_at(
    isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The labels and models under the old data_dir stay, but the new config reads another:
    said, so nobody takes them for lost."""
    custom = tmp_path / "custom"
    config = default_config_file()
    config.parent.mkdir(parents=True)
    config.write_text(f'data_dir = "{custom}"\n')
    assert main(["init", "--force"]) == 0
    out = capsys.readouterr().out
    assert f"not carried over from it: data_dir (was '{custom}'); copy the lines" in out


def test_a_standalone_init_keeps_taskclfs_identity_and_a_model_in_force(
    isolated_home: Path, sample: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = default_data_dir()
    processed = data / "data" / "processed"
    processed.mkdir(parents=True)
    (processed / ".title_secret").write_text("taskclf's own salt\n")
    (processed / ".user_id").write_text("u-taskclf\n")
    bundle, store = sample
    assert main(["init", "--model", str(bundle), "--store", str(store)]) == 0
    policy = (data / "models" / "inference_policy.json").read_bytes()
    capsys.readouterr()
    assert main(["init", "--force"]) == 0  # no --model: must not put the baseline in force
    assert (data / "models" / "inference_policy.json").read_bytes() == policy
    assert (processed / ".title_secret").read_text() == "taskclf's own salt\n"
    assert (processed / ".user_id").read_text() == "u-taskclf\n"
    out = capsys.readouterr().out
    assert "policy already in force, kept:" in out
    assert "model      bundle_v1" in out
    # it said "no model yet: taskclf's rule baseline labels your windows" under a model in force
    assert "no model yet" not in out
    assert "rule baseline labels" not in out
    baseline = data / "models" / "baseline"
    assert (
        "model bundle_v1 labels your windows: the policy in force names it, and init kept it "
        f"(the rule baseline is installed at {baseline}; `taskclf-daemon deploy --model "
        f"{baseline}` puts it in force instead)"
    ) in out
    assert "taskclf-daemon doctor" in out
    # and that command does: the baseline labels, and init says so
    assert main(["deploy", "--model", str(baseline)]) == 0
    assert main(["init", "--force"]) == 0
    out = capsys.readouterr().out
    assert "model      baseline" in out
    assert "no model yet: taskclf's rule baseline labels your windows" in out
    assert "bundle_v1 labels" not in out


def test_the_file_lists_every_key_with_its_meaning_and_default() -> None:
    text = render_config({})
    for key, info in Settings.model_fields.items():
        assert f"\n# {key} = " in text, key
        block = text.split(f"\n# {key}: ", 1)[1].split(f"\n# {key} = ", 1)[0]
        assert "default: " in block, key
        first_words = " ".join((info.description or "").split()[:3])
        assert first_words in " ".join(block.replace("# ", "").split()), key


@pytest.mark.parametrize("key", list(Settings.model_fields))
def test_each_commented_key_uncommented_alone_loads(key: str, tmp_path: Path) -> None:
    text = render_config({})
    line = next(x for x in text.splitlines() if x.startswith(f"# {key} = "))
    config = tmp_path / "daemon.toml"
    config.write_text(text.replace(line, line[2:]))
    settings = load_settings(config)
    assert key in tomllib.loads(config.read_text())
    assert getattr(settings, key) is not None


def test_init_never_overwrites_without_force(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = default_config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("smooth_window = 4\n")
    assert main(["init"]) == 1
    err = capsys.readouterr().err
    assert str(config) in err
    assert "--force" in err
    assert config.read_text() == "smooth_window = 4\n"

    assert main(["init", "--force"]) == 0
    assert "smooth_window = 4" not in config.read_text()
    backup = config.with_name("daemon.toml.bak")
    assert backup.read_text() == "smooth_window = 4\n"
    assert mode(backup) == 0o600


def test_init_writes_where_config_says(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "my.toml"
    assert main(["init", "--config", str(config), "--data-dir", str(tmp_path / "d")]) == 0
    assert load_settings(config).spool_path == tmp_path / "d" / "spool"
    assert not default_config_file().exists()


def test_init_with_model_and_store_installs_them_keeping_their_ids(
    sample: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, store = sample
    assert main(["init", "--model", str(bundle), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    data = default_data_dir()
    installed = data / "models" / "bundle_v1"
    assert load_bundle(installed).bundle_id == "bundle_v1"
    store_id = load_calibrator_store(store).store_id
    installed_store = data / "stores" / store_id
    assert load_calibrator_store(installed_store).store_id == store_id
    for path in (installed, installed_store, installed_store / "users"):
        assert mode(path) == 0o700, path
    assert mode(installed / "model.txt") == 0o600
    assert (installed / "model.txt").read_bytes() == (bundle / "model.txt").read_bytes()

    policy_path = data / "models" / "inference_policy.json"
    policy = json.loads(policy_path.read_text())
    assert policy["model_dir"] == "models/bundle_v1"
    assert policy["calibrator_store_dir"] == f"stores/{store_id}"
    assert policy["reject_threshold"] == 0.55
    assert policy["source"] == "init"

    config = default_config_file()
    written = tomllib.loads(config.read_text())
    assert written == {"data_dir": str(data), "policy_file": str(policy_path)}
    settings = load_settings(config)  # policy_file without model_dir & co: no conflict
    assert settings.policy_file == policy_path
    assert "bundle_v1" in out
    assert store_id in out
    assert "taskclf-daemon doctor" in out
    assert "taskclf-daemon service install" in out


def test_init_again_with_the_same_model_reuses_it(sample: tuple[Path, Path]) -> None:
    bundle, store = sample
    assert main(["init", "--model", str(bundle), "--store", str(store)]) == 0
    assert main(["init", "--force", "--model", str(bundle), "--store", str(store)]) == 0
    assert (
        main(["init", "--force", "--model", str(default_data_dir() / "models" / "bundle_v1")]) == 0
    )
    policy = json.loads((default_data_dir() / "models" / "inference_policy.json").read_text())
    assert policy["calibrator_store_dir"] is None  # the last init deployed the bundle alone


def test_a_renamed_bundle_is_refused_with_its_store_explaining_why(
    sample: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, store = sample
    renamed = bundle.rename(tmp_path / "model")
    assert main(["init", "--model", str(renamed), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert "the store was fitted for bundle 'bundle_v1'" in err
    assert "the bundle directory is named 'model'" in err
    assert "rename the directory to 'bundle_v1'" in err
    # nothing was written: not the config, not the bundle
    assert not default_config_file().exists()
    assert not (default_data_dir() / "models").exists()


def test_a_different_bundle_under_an_installed_name_is_refused(
    sample: tuple[Path, Path], bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, _ = sample
    assert main(["init", "--model", str(bundle)]) == 0
    impostor = shutil.copytree(bundle_dir, tmp_path / "other" / "bundle_v1")
    assert main(["init", "--force", "--model", str(impostor)]) == 2
    err = capsys.readouterr().err
    assert "a different model with the id bundle_v1 is already installed there" in err
    installed = default_data_dir() / "models" / "bundle_v1" / "model.txt"
    assert installed.read_bytes() == (bundle / "model.txt").read_bytes()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--store", "{store}"], "--store needs --model"),
        (["--model", "{missing}"], "--model: {missing} does not exist"),
        (["--model", "{store}"], "metadata.json: missing"),
    ],
)
def test_init_refusals_exit_2_saying_why(
    argv: list[str],
    expected: str,
    sample: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = {"store": str(sample[1]), "missing": str(tmp_path / "nope")}
    assert main(["init", *(a.format(**names) for a in argv)]) == 2
    assert expected.format(**names) in capsys.readouterr().err
    assert not default_config_file().exists()
