"""`deploy` and `rollback` on the policy file itself (the live swap is tested with the daemon)."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import MakeStore

from daemon.cli import main
from daemon.publish import deploy_policy, policy_history_path
from taskclf_core.errors import PolicyError
from taskclf_core.labels import CORE_LABELS
from taskclf_core.policy import parse_policy


@pytest.fixture
def home(tmp_path: Path, bundle_dir: Path, make_store: MakeStore) -> Path:
    """taskclf's home with two models and two stores, and a config naming its policy file."""
    root = tmp_path / "taskclf"
    (root / "models").mkdir(parents=True)
    shutil.copytree(bundle_dir, root / "models" / bundle_dir.name)
    (root / "stores").mkdir()
    shutil.move(make_store("a", 1.5), root / "stores" / "a")
    shutil.move(make_store("b", 0.7, {"u-ada": 0.9}), root / "stores" / "b")
    config = tmp_path / "daemon.toml"
    config.write_text(f'policy_file = "{root / "models" / "inference_policy.json"}"\n')
    return root


def _config(home: Path) -> str:
    return str(home.parent / "daemon.toml")


def _deploy(home: Path, *extra: str) -> int:
    model = home / "models" / "bundle_test"
    return main(["deploy", "--config", _config(home), "--model", str(model), *extra])


def _policy(home: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((home / "models" / "inference_policy.json").read_text())
    return data


def test_deploy_writes_taskclf_policy_with_paths_relative_to_home(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy(home, "--store", str(home / "stores" / "a"), "--reject-threshold", "0.6") == 0
    policy = _policy(home)
    assert policy["model_dir"] == "models/bundle_test"
    assert policy["calibrator_store_dir"] == "stores/a"
    assert policy["calibration_method"] == "temperature"
    assert policy["reject_threshold"] == 0.6
    assert policy["source"] == "deploy"
    assert list(policy)[:3] == ["policy_version", "model_dir", "model_schema_hash"]
    out = capsys.readouterr().out
    assert "deployed" in out
    assert "bundle_test" in out
    assert "threshold  0.6" in out
    assert (home / "models" / "inference_policy.json").stat().st_mode & 0o777 == 0o600


def test_deploy_then_rollback_round_trip_twice(home: Path) -> None:
    history = policy_history_path(home / "models" / "inference_policy.json")
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    first = _policy(home)
    for _ in range(2):
        assert (
            _deploy(home, "--store", str(home / "stores" / "b"), "--user-threshold", "u-ada=0.7")
            == 0
        )
        second = _policy(home)
        assert second["calibrator_store_dir"] == "stores/b"
        assert second["per_user_reject_thresholds"] == {"u-ada": 0.7}
        assert len(history.read_text().splitlines()) == 1
        assert main(["rollback", "--config", _config(home)]) == 0
        assert _policy(home) == first
        assert history.read_text() == ""
    # nothing older than the first policy
    assert main(["rollback", "--config", _config(home)]) == 2


def test_deploying_what_is_in_force_changes_nothing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    before = (home / "models" / "inference_policy.json").read_bytes()
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    assert "unchanged" in capsys.readouterr().out
    assert (home / "models" / "inference_policy.json").read_bytes() == before
    assert not policy_history_path(home / "models" / "inference_policy.json").exists()


def test_thresholds_carry_over_unless_given(home: Path) -> None:
    assert _deploy(home, "--reject-threshold", "0.4", "--user-threshold", "u-ada=0.9") == 0
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    policy = _policy(home)
    assert policy["reject_threshold"] == 0.4
    assert policy["per_user_reject_thresholds"] == {"u-ada": 0.9}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--store", "missing"], "does not exist"),
        (["--reject-threshold", "1.5"], "--reject-threshold: expected X in [0, 1]"),
        (["--user-threshold", "u-ada"], "--user-threshold: expected USER=X"),
    ],
)
def test_refused_deploys_keep_the_policy_in_force(
    home: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    before = (home / "models" / "inference_policy.json").read_bytes()
    capsys.readouterr()
    if extra[0] == "--store":
        extra = ["--store", str(home / "stores" / extra[1])]
    assert _deploy(home, *extra) == 2
    assert message in capsys.readouterr().err
    assert (home / "models" / "inference_policy.json").read_bytes() == before


def test_a_store_fitted_for_another_model_is_refused(
    home: Path, tmp_path: Path, make_store: MakeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    other = make_store("other")
    meta = json.loads((other / "store.json").read_text())
    meta["model_bundle_id"] = "someone_elses_bundle"
    (other / "store.json").write_text(json.dumps(meta))
    assert _deploy(home, "--store", str(other)) == 2
    assert "someone_elses_bundle" in capsys.readouterr().err
    assert not (home / "models" / "inference_policy.json").exists()


def test_deploy_without_policy_file_says_how_to_set_it(
    tmp_path: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "plain.toml"
    config.write_text("")
    assert main(["deploy", "--config", str(config), "--model", str(bundle_dir)]) == 2
    err = capsys.readouterr().err
    assert "policy_file is not set" in err
    assert "init" in err


def test_deploy_and_rollback_name_a_store_by_its_id_as_status_does(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rollback` named the store it replaced by its directory (`store_v2`) where `deploy`
    and `status` named it by its id: the id everywhere, then where it is."""
    from taskclf_core.calibration import load_calibrator_store

    a_id, b_id = (load_calibrator_store(home / "stores" / n).store_id for n in ("a", "b"))
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    assert _deploy(home, "--store", str(home / "stores" / "b")) == 0
    out = capsys.readouterr().out
    stores = home / "stores"
    assert f"  store      {b_id} (temperature, 1 per-user calibrator)  {stores / 'b'}" in out
    assert f"  replaced   model bundle_test, store {a_id}, threshold 0.55" in out
    assert main(["rollback", "--config", _config(home)]) == 0
    out = capsys.readouterr().out
    assert f"  store      {a_id} (temperature, 0 per-user calibrators)  {stores / 'a'}" in out
    assert f"  replaced   model bundle_test, store {b_id}, threshold 0.55" in out
    # a store that is gone is named by where it was
    shutil.rmtree(home / "stores" / "b")
    assert _deploy(home, "--store", str(home / "stores" / "a"), "--reject-threshold", "0.5") == 0
    assert f"store {a_id}, threshold 0.55" in capsys.readouterr().out


def test_deploy_installs_copies_so_the_download_folder_can_go(
    tmp_path: Path,
    bundle_dir: Path,
    make_store: MakeStore,
    taskclf_sample: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`deploy --model DIR --store DIR` left the policy naming the download folder; deleting
    it broke the daemon. Deploy installs copies under the data dir as `init` does, once."""
    from daemon.artifacts import load_deployment
    from daemon.paths import default_data_dir
    from taskclf_core.calibration import load_calibrator_store

    downloads = tmp_path / "Downloads"
    model = shutil.copytree(bundle_dir, downloads / bundle_dir.name)
    first = shutil.move(make_store("s1", 1.3), downloads / "store")
    assert main(["init", "--model", str(model), "--store", str(first)]) == 0
    store = shutil.move(make_store("s2", 0.8, {"u-ada": 0.9}), downloads / "store_v2")
    store_id = load_calibrator_store(store).store_id
    capsys.readouterr()
    assert main(["deploy", "--model", str(model), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    data = default_data_dir()
    installed = data / "stores" / store_id
    assert f"store {store_id} installed at {installed}" in out
    assert f"model bundle_test already installed at {data / 'models' / 'bundle_test'}" in out
    policy_path = data / "models" / "inference_policy.json"
    policy = json.loads(policy_path.read_text())
    assert (policy["model_dir"], policy["calibrator_store_dir"]) == (
        "models/bundle_test",
        f"stores/{store_id}",
    )
    assert oct((installed / "store.json").stat().st_mode & 0o777) == oct(0o600)
    # the same again: nothing copied twice, nothing deployed twice
    inode = (installed / "store.json").stat().st_ino
    assert main(["deploy", "--model", str(model), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert f"store {store_id} already installed at {installed} (same files)" in out
    assert "unchanged, already in force" in out
    assert (installed / "store.json").stat().st_ino == inode
    # the download folder goes: what the daemon loads is all under the data dir
    shutil.rmtree(downloads)
    deployment = load_deployment(policy_path)
    assert deployment.store is not None
    assert deployment.store.store_id == store_id
    # a different bundle under a name already installed is refused; the policy stays
    impostor = shutil.copytree(taskclf_sample / "bundle_v1", tmp_path / "again" / "bundle_test")
    before = policy_path.read_bytes()
    assert main(["deploy", "--model", str(impostor)]) == 2
    assert "a different model with the id bundle_test is already installed" in (
        capsys.readouterr().err
    )
    assert policy_path.read_bytes() == before


def test_rollback_skips_an_entry_left_by_a_crashed_deploy(home: Path) -> None:
    """A crash between the history append and the policy write leaves history == in force."""
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    first = _policy(home)
    assert _deploy(home, "--store", str(home / "stores" / "b")) == 0
    second = _policy(home)
    history = policy_history_path(home / "models" / "inference_policy.json")
    with history.open("a") as fh:  # what the crashed deploy of `second` would have left
        fh.write(json.dumps({"replaced_at": "x", "policy": second}) + "\n")
    assert main(["rollback", "--config", _config(home)]) == 0
    assert _policy(home) == first


@pytest.mark.slow
def test_rollback_restores_the_previous_policy_when_the_one_in_force_is_broken(
    home: Path,
) -> None:
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    first = _policy(home)
    assert _deploy(home, "--store", str(home / "stores" / "b")) == 0
    (home / "models" / "inference_policy.json").write_text('{"policy_version": "v1", ')
    assert main(["rollback", "--config", _config(home)]) == 0
    assert _policy(home) == first


class _FillingDisk:
    """``os`` as a filling disk shows it: the next write is short, the one after fails."""

    def __init__(self) -> None:
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        self.writes += 1
        if self.writes == 1:
            return os.write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_during_deploy_leaves_no_torn_history_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A torn entry would be glued to the next one and break every later rollback."""
    import daemon.publish

    history = policy_history_path(home / "models" / "inference_policy.json")
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    first = _policy(home)
    assert _deploy(home, "--store", str(home / "stores" / "b")) == 0
    before = history.read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(daemon.publish, "os", _FillingDisk())
        assert _deploy(home, "--reject-threshold", "0.7") == 1
    assert f"{history}: No space left on device" in capsys.readouterr().err
    assert history.read_bytes() == before
    assert _policy(home)["calibrator_store_dir"] == "stores/b"
    # space is back
    assert _deploy(home, "--reject-threshold", "0.7") == 0
    assert main(["rollback", "--config", _config(home)]) == 0
    assert _policy(home)["calibrator_store_dir"] == "stores/b"
    assert main(["rollback", "--config", _config(home)]) == 0
    assert _policy(home) == first


def test_an_append_cuts_a_torn_last_history_line_first(home: Path) -> None:
    """A deploy killed mid-append (an older version, or a failed cut) left a torn tail."""
    history = policy_history_path(home / "models" / "inference_policy.json")
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    first = _policy(home)
    assert _deploy(home, "--store", str(home / "stores" / "b")) == 0
    with history.open("ab") as fh:
        fh.write(b'{"replaced_at": "2026-01-01T00:00:00Z", "pol')
    assert _deploy(home, "--reject-threshold", "0.7") == 0
    assert main(["rollback", "--config", _config(home)]) == 0
    assert main(["rollback", "--config", _config(home)]) == 0
    assert _policy(home) == first


def test_a_whole_last_history_entry_without_its_newline_is_kept(home: Path) -> None:
    """An entry that parses is an entry, newline or not (an editor, a copy): only a line
    that does not parse is torn. A deploy keeps it, and both rollbacks find what they undo."""
    history = policy_history_path(home / "models" / "inference_policy.json")
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    first = _policy(home)
    assert _deploy(home, "--store", str(home / "stores" / "b")) == 0
    history.write_bytes(history.read_bytes().rstrip(b"\n"))
    assert main(["rollback", "--config", _config(home)]) == 0  # the reader keeps it
    assert _policy(home) == first
    assert _deploy(home, "--store", str(home / "stores" / "b")) == 0
    second = _policy(home)
    history.write_bytes(history.read_bytes().rstrip(b"\n"))
    assert _deploy(home, "--reject-threshold", "0.7") == 0  # the append keeps it too
    assert [json.loads(line)["policy"] for line in history.read_text().splitlines()] == [
        first,
        second,
    ]
    assert main(["rollback", "--config", _config(home)]) == 0
    assert _policy(home) == second
    assert main(["rollback", "--config", _config(home)]) == 0
    assert _policy(home) == first


def test_sigkill_during_deploy_leaves_old_or_new_policy_never_a_mix(home: Path) -> None:
    """Real processes, killed at random moments: the file always parses as one of the two."""
    policy_file = home / "models" / "inference_policy.json"
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    old = _policy(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKCLF_")}
    rng = random.Random(5)
    stores = ["b", "a"]
    for attempt in range(12):
        target = stores[attempt % 2]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daemon",
                "deploy",
                "--config",
                _config(home),
                "--model",
                str(home / "models" / "bundle_test"),
                "--store",
                str(home / "stores" / target),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.2, 0.9))  # the kill moment is the variable under test
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)
        now = _policy(home)
        parse_policy(policy_file.read_bytes(), source="after kill")
        assert now["calibrator_store_dir"] in ("stores/a", "stores/b")
        history = policy_history_path(policy_file)
        lines = history.read_text().splitlines() if history.exists() else []
        for entry in lines[:-1]:
            json.loads(entry)  # only the last line can be torn, and a torn one is skipped
        old = now
    assert old["model_dir"] == "models/bundle_test"
    assert main(["rollback", "--config", _config(home)]) in (0, 2)
    parse_policy(policy_file.read_bytes(), source="after rollback")


def test_a_deploy_that_landed_meanwhile_is_not_overwritten(home: Path) -> None:
    """What personalize relies on: it deploys only over the policy it started from."""
    from taskclf_core.errors import PolicyError
    from taskclf_core.policy import parse_policy as parse

    policy_file = home / "models" / "inference_policy.json"
    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    started_from = parse(policy_file.read_bytes(), source="start")
    assert _deploy(home, "--store", str(home / "stores" / "b")) == 0  # someone else's deploy
    theirs = policy_file.read_bytes()
    with pytest.raises(PolicyError, match="changed while this ran"):
        deploy_policy(
            policy_file,
            dataclasses.replace(started_from, reject_threshold=0.3),
            replaced_at="now",
            expected=started_from,
        )
    assert policy_file.read_bytes() == theirs


def _policy_naming(model_dir: str) -> Any:
    return parse_policy(
        json.dumps(
            {
                "policy_version": "v1",
                "model_dir": model_dir,
                "model_schema_hash": "7f29b4b8795e",
                "model_label_set": list(CORE_LABELS),
                "calibrator_store_dir": None,
                "calibration_method": None,
                "reject_threshold": 0.55,
                "created_at": "2026-01-01T00:00:00Z",
                "source": "retrain",
            }
        ).encode(),
        source=model_dir,
    )


def _installed(models: Path, name: str, *, retrained: bool = True) -> None:
    """A model directory; a retrained one carries retrain's lineage in its metadata."""
    (models / name).mkdir(parents=True)
    lineage = {"retrain": {"champion": "baseline"}} if retrained else {}
    (models / name / "metadata.json").write_text(json.dumps({"schema_version": "v3"} | lineage))


def test_prune_keeps_the_newest_retrained_models_and_rollback_reaches_those_named(
    tmp_path: Path,
) -> None:
    """Weekly retrains each leave a ~2 MB model: older ones go, and the history with them, so
    `rollback` walks back through the models kept and never into a missing one."""
    from daemon.publish import prune_retrained, rollback_policy

    models = tmp_path / "taskclf" / "models"
    policy_path = models / "inference_policy.json"
    names = [f"retrain-20260101-00000{i}" for i in range(1, 8)]
    for name in ["retrain-notes", "retrain-20260101-000000", *names]:
        _installed(models, name)
    # installed from elsewhere under a retrain-like name: no lineage, never deleted
    _installed(models, "retrain-20251231-000000", retrained=False)
    _installed(models, "bundle_test", retrained=False)
    # the bundle init installed, one from elsewhere, then seven retrains
    for model in ["bundle_test", "retrain-20251231-000000", *names]:
        deploy_policy(
            policy_path, _policy_naming(f"models/{model}"), replaced_at="2026-01-01T00:00:00Z"
        )
    with pytest.raises(ValueError, match="keep: expected at least 1, got 0"):
        prune_retrained(policy_path, models, keep=0)

    # named by nothing and older than every kept one (a prune interrupted): 000000 goes too
    assert prune_retrained(policy_path, models, keep=4) == (
        ["retrain-20260101-000000", *names[:3]],
        [],
        [],
    )
    left = sorted(p.name for p in models.iterdir() if p.is_dir())
    assert left == sorted(["bundle_test", "retrain-20251231-000000", "retrain-notes", *names[3:]])
    assert prune_retrained(policy_path, models, keep=4) == ([], [], [])
    # rollback reaches each kept model, then nothing: not the deleted ones, nor the bundles
    # before them (still installed: `deploy --model` puts one back)
    for back in reversed(names[3:6]):
        assert rollback_policy(policy_path)[0].model_dir == f"models/{back}"
    with pytest.raises(PolicyError, match="nothing to roll back to"):
        rollback_policy(policy_path)

    # no policy yet: nothing to go by, nothing deleted
    assert prune_retrained(tmp_path / "elsewhere" / "models" / "p.json", models, keep=1) == (
        [],
        [],
        [],
    )


def test_prune_keeps_a_model_rolled_back_from_while_it_is_among_the_newest(
    tmp_path: Path,
) -> None:
    """Rolled back from, a model no policy names: the next retrain's prune keeps it (it is
    one of the newest), and the model in force stays whatever its age."""
    from daemon.publish import prune_retrained, rollback_policy

    models = tmp_path / "models"
    policy_path = models / "inference_policy.json"
    names = [f"retrain-20260101-00000{i}" for i in range(1, 5)]
    for name in names[:2]:
        _installed(models, name)
        deploy_policy(policy_path, _policy_naming(f"models/{name}"), replaced_at="t")
    assert rollback_policy(policy_path)[0].model_dir == f"models/{names[0]}"
    _installed(models, names[2])  # the next retrain
    deploy_policy(policy_path, _policy_naming(f"models/{names[2]}"), replaced_at="t")
    assert prune_retrained(policy_path, models, keep=3) == ([], [], [])
    assert sorted(p.name for p in models.iterdir() if p.is_dir()) == names[:3]
    # one more: the oldest goes (the history entry naming it with it); the rolled back from
    # stays among the newest 3
    _installed(models, names[3])
    deploy_policy(policy_path, _policy_naming(f"models/{names[3]}"), replaced_at="t")
    assert prune_retrained(policy_path, models, keep=3) == ([names[0]], [], [])
    assert rollback_policy(policy_path)[0].model_dir == f"models/{names[2]}"
    with pytest.raises(PolicyError, match="nothing to roll back to"):
        rollback_policy(policy_path)
    # the model in force is never deleted, however many newer ones there are
    assert prune_retrained(policy_path, models, keep=1) == ([names[1]], [], [])
    assert sorted(p.name for p in models.iterdir() if p.is_dir()) == names[2:]


def test_prune_keeps_a_model_the_policy_names_through_a_symlink_and_cuts_missing_ones(
    tmp_path: Path,
) -> None:
    """A hand-edited policy naming a symlink to the oldest retrained model keeps that model;
    a history entry naming a retrained model already gone is cut, so `rollback` never
    stops at it."""
    from daemon.publish import prune_retrained, rollback_policy

    models = tmp_path / "models"
    policy_path = models / "inference_policy.json"
    names = [f"retrain-20260101-00000{i}" for i in range(1, 5)]
    for name in names:
        _installed(models, name)
    deploy_policy(policy_path, _policy_naming("models/retrain-20251231-000000"), replaced_at="t")
    for name in names[1:]:
        deploy_policy(policy_path, _policy_naming(f"models/{name}"), replaced_at="t")
    (models / "current").symlink_to(models / names[0])
    deploy_policy(policy_path, _policy_naming("models/current"), replaced_at="t")
    # keep 1: the newest, and the oldest through the symlink in force; the two between go
    assert prune_retrained(policy_path, models, keep=1) == (names[1:3], [], [])
    assert (models / names[0] / "metadata.json").exists()
    # the entry naming the never-installed retrain-20251231-000000 went with the cut
    assert rollback_policy(policy_path)[0].model_dir == f"models/{names[3]}"
    with pytest.raises(PolicyError, match="nothing to roll back to"):
        rollback_policy(policy_path)
    # nothing to delete, yet an entry naming a retrained model already gone is cut
    deploy_policy(policy_path, _policy_naming("models/retrain-20251230-000000"), replaced_at="t")
    deploy_policy(policy_path, _policy_naming(f"models/{names[3]}"), replaced_at="t")
    assert prune_retrained(policy_path, models, keep=5) == ([], [], [])
    with pytest.raises(PolicyError, match="nothing to roll back to"):
        rollback_policy(policy_path)


def _store_for(stores: Path, name: str, bundle_id: str | None) -> None:
    (stores / name).mkdir(parents=True)
    meta = {"method": "temperature"} | ({} if bundle_id is None else {"model_bundle_id": bundle_id})
    (stores / name / "store.json").write_text(json.dumps(meta))


def test_prune_removes_the_stores_fitted_for_the_models_it_removed(tmp_path: Path) -> None:
    """Each retrain writes a store for its model; a store is checked against its model's id,
    so once the model is gone no bundle can load it. Nothing else in stores/ is touched."""
    from daemon.publish import prune_retrained

    models = tmp_path / "models"
    stores = tmp_path / "stores"
    policy_path = models / "inference_policy.json"
    names = [f"retrain-20260101-00000{i}" for i in range(1, 5)]
    for name in names:
        _installed(models, name)
        _store_for(stores, f"store-{name[-1]}", name)
        deploy_policy(
            policy_path,
            dataclasses.replace(
                _policy_naming(f"models/{name}"), calibrator_store_dir=f"../stores/store-{name[-1]}"
            ),
            replaced_at="2026-01-01T00:00:00Z",
        )
    _store_for(stores, "init", "bundle_test")  # `init --store` for a bundle from elsewhere
    _store_for(stores, "no-bundle", None)
    _store_for(stores, "gone-long-ago", "retrain-20251201-000000")  # an older version's
    _store_for(stores, "not-installed-yet", "retrain-20260101-000009")  # written first
    (stores / "broken").mkdir()
    (stores / "broken" / "store.json").write_text("{")
    (stores / "link").symlink_to(stores / "store-1")

    assert prune_retrained(policy_path, models, keep=2, stores=stores) == (
        names[:2],
        ["gone-long-ago", "store-1", "store-2"],
        [],
    )
    assert sorted(p.name for p in stores.iterdir()) == [
        "broken",
        "init",
        "link",
        "no-bundle",
        "not-installed-yet",
        "store-3",
        "store-4",
    ]
    assert prune_retrained(policy_path, models, keep=2, stores=stores) == ([], [], [])
    # without stores/ (no retrain wrote one yet) the models are pruned all the same
    assert prune_retrained(policy_path, models, keep=1, stores=tmp_path / "none") == (
        names[2:3],
        [],
        [],
    )


def test_prune_finds_the_models_a_policy_names_by_real_path_through_a_symlink(
    tmp_path: Path,
) -> None:
    """A policy outside the data dir names models by their real path; the data dir is
    reached through a symlink (macOS: /var is /private/var). Pruning still finds them."""
    from daemon.publish import prune_retrained

    real = tmp_path / "real" / "models"
    (tmp_path / "link").symlink_to(tmp_path / "real")
    models = tmp_path / "link" / "models"
    names = [f"retrain-20260101-00000{i}" for i in range(1, 4)]
    for name in names:
        _installed(real, name)
    policy_path = tmp_path / "config" / "policies" / "inference_policy.json"
    for name in names:
        deploy_policy(
            policy_path, _policy_naming(str(real / name)), replaced_at="2026-01-01T00:00:00Z"
        )
    assert prune_retrained(policy_path, models, keep=1) == (names[:2], [], [])
    assert sorted(p.name for p in real.iterdir()) == names[2:]


def test_deploy_puts_the_rule_baseline_back_when_rollback_cannot(
    isolated_home: Path, bundle_dir: Path, make_store: MakeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """The docs say that once `rollback` has gone back through the kept models, `deploy
    --model` puts the baseline back; it refused the baseline's directory (`…/baseline/model.txt:
    missing`, exit 2), so an empty history left no way back to it."""
    from daemon.artifacts import load_deployment
    from daemon.paths import default_data_dir
    from taskclf_core.baseline import BaselineModel
    from taskclf_core.calibration import load_calibrator_store

    assert main(["init"]) == 0  # standalone: the rule baseline in force
    data = default_data_dir()
    baseline = data / "models" / "baseline"
    policy_path = data / "models" / "inference_policy.json"
    history = policy_history_path(policy_path)
    store = make_store("s", 1.2)
    store_id = load_calibrator_store(store).store_id
    assert main(["deploy", "--model", str(bundle_dir), "--store", str(store)]) == 0
    history.write_text("")  # as retrain's prune leaves it once the models kept are used up
    capsys.readouterr()
    assert main(["rollback"]) == 2
    assert "nothing to roll back to" in capsys.readouterr().err
    # a store beside the baseline is refused as the daemon refuses it, before anything is written
    before = policy_path.read_bytes()
    installed_store = data / "stores" / store_id
    assert main(["deploy", "--model", str(baseline), "--store", str(installed_store)]) == 2
    err = capsys.readouterr().err
    assert f"--store {installed_store}: 'baseline' is the rule baseline" in err
    assert "takes no calibrator store" in err
    assert policy_path.read_bytes() == before
    assert history.read_text() == ""
    # the baseline's directory, as the docs spell it
    assert main(["deploy", "--model", str(baseline)]) == 0
    out = capsys.readouterr().out
    assert f"deployed {policy_path}" in out
    assert "  model      baseline (schema " in out
    assert "  store      none (rule answers: nothing to calibrate)" in out
    assert (
        f"  replaced   model bundle_test, store {store_id}, threshold 0.55 (kept in {history})"
    ) in out
    assert "installed at" not in out  # used where it is: nothing copied
    assert "calibration is off now" not in out  # the baseline takes no store at all
    deployment = load_deployment(policy_path)
    assert isinstance(deployment.bundle, BaselineModel)
    assert (deployment.policy.model_dir, deployment.policy.calibrator_store_dir) == (
        "models/baseline",
        None,
    )
    assert len(history.read_text().splitlines()) == 1
    # and it is a step like any other: rollback undoes it
    assert main(["rollback"]) == 0
    assert load_deployment(policy_path).bundle.bundle_id == "bundle_test"


def test_a_store_removed_while_deploy_checked_it_is_not_put_in_force(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`deploy` checks what it names, then writes under the policy lock; a retrain's prune
    (under the same lock) may have removed it in between: checked again, nothing written."""
    import daemon.deploy

    assert _deploy(home, "--store", str(home / "stores" / "a")) == 0
    before = (home / "models" / "inference_policy.json").read_bytes()
    checked = daemon.deploy.load_deployment  # type: ignore[attr-defined]  # its import

    def then_pruned(*args: Any, **kwargs: Any) -> Any:
        loaded = checked(*args, **kwargs)
        shutil.rmtree(home / "stores" / "b")  # as a prune would, between check and write
        return loaded

    monkeypatch.setattr(daemon.deploy, "load_deployment", then_pruned)
    capsys.readouterr()
    assert _deploy(home, "--store", str(home / "stores" / "b")) == 2
    assert "removed while this ran" in capsys.readouterr().err
    assert (home / "models" / "inference_policy.json").read_bytes() == before


def test_the_deploy_a_rollback_prints_restores_the_per_user_thresholds_too(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`deploy` carries the per-user thresholds in force over, so the command that puts the
    policy rolled back from back names its own: each, or none (--no-user-thresholds)."""
    import shlex

    stores = home / "stores"
    ignored = ("created_at", "source")

    def policy() -> dict[str, Any]:
        return {k: v for k, v in _policy(home).items() if k not in ignored}

    def rollback_then_its_command() -> str:
        assert main(["rollback", "--config", _config(home)]) == 0
        (line,) = [x for x in capsys.readouterr().out.splitlines() if "deploys it again" in x]
        command = line.split("`")[1]
        assert main(shlex.split(command)[1:]) == 0
        capsys.readouterr()
        return command

    assert _deploy(home, "--store", str(stores / "a"), "--user-threshold", "u-ada=0.7") == 0
    with_theirs = policy()
    assert _deploy(home, "--store", str(stores / "b"), "--no-user-thresholds") == 0
    without = policy()
    assert without["per_user_reject_thresholds"] is None
    capsys.readouterr()
    # rolled back from one without per-user thresholds to one with: its command clears them
    assert rollback_then_its_command().endswith("--no-user-thresholds")
    assert policy() == without
    # and the other way: its command names u-ada's
    assert _deploy(home, "--store", str(stores / "a"), "--user-threshold", "u-ada=0.7") == 0
    capsys.readouterr()
    assert rollback_then_its_command().endswith("--user-threshold=u-ada=0.7")
    assert policy() == with_theirs
    model = str(home / "models" / "bundle_test")
    both = ["--user-threshold", "u=0.5", "--no-user-thresholds"]
    assert main(["deploy", "--config", _config(home), "--model", model, *both]) == 2
    assert "--user-threshold and --no-user-thresholds: give one" in capsys.readouterr().err


def test_rollback_says_what_became_of_the_policy_it_replaced(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rollback` said the policy it replaced was `(kept in …history.jsonl)`, but a rollback
    drops the restored entry and those after it and writes nothing there: the history was
    empty and a second rollback had nothing to go back to. It says what is true: not kept,
    still installed (and the `deploy` that puts it back), and whether anything earlier is left."""
    import shlex

    from taskclf_core.calibration import load_calibrator_store

    policy_path = home / "models" / "inference_policy.json"
    history = policy_history_path(policy_path)
    stores = home / "stores"
    b_id = load_calibrator_store(stores / "b").store_id
    assert _deploy(home, "--reject-threshold", "0.5") == 0
    assert _deploy(home, "--store", str(stores / "a"), "--reject-threshold", "0.55") == 0
    assert _deploy(home, "--store", str(stores / "b"), "--reject-threshold", "0.7") == 0
    # deploy keeps the policy it replaced in the history, and says so
    assert f"threshold 0.55 (kept in {history})" in capsys.readouterr().out
    assert len(history.read_text().splitlines()) == 2
    rolled_back_from = _policy(home)
    assert main(["rollback", "--config", _config(home)]) == 0
    out = capsys.readouterr().out
    assert f"(kept in {history})" not in out
    assert f"  replaced   model bundle_test, store {b_id}, threshold 0.7\n" in out
    model = home / "models" / "bundle_test"
    command = (
        f"taskclf-daemon deploy --config {_config(home)} --model {model} --store {stores / 'b'} "
        "--reject-threshold 0.7"
    )
    assert (
        "             not kept in the history (a rollback drops it); still installed: "
        f"`{command}` deploys it again\n"
    ) in out
    assert (
        f"  history    1 earlier policy left in {history}: `taskclf-daemon rollback` goes back"
        in out
    )
    assert len(history.read_text().splitlines()) == 1
    # the last step back says so; the next rollback has nothing to go back to
    assert main(["rollback", "--config", _config(home)]) == 0
    out = capsys.readouterr().out
    assert f"  history    nothing earlier left in {history}: this was the last step back" in out
    assert history.read_text() == ""
    assert main(["rollback", "--config", _config(home)]) == 2
    assert "nothing to roll back to" in capsys.readouterr().err
    # the command printed puts the policy rolled back from back in force
    assert main(shlex.split(command)[1:]) == 0
    ignored = ("created_at", "source")
    assert {k: v for k, v in _policy(home).items() if k not in ignored} == {
        k: v for k, v in rolled_back_from.items() if k not in ignored
    }
    # a model no longer installed is not offered back
    assert main(["rollback", "--config", _config(home)]) == 0
    capsys.readouterr()
    assert _deploy(home, "--store", str(stores / "b")) == 0
    shutil.rmtree(stores / "b")
    assert main(["rollback", "--config", _config(home)]) == 0
    out = capsys.readouterr().out
    assert (
        f"not kept in the history (a rollback drops it), and no longer installed: {stores / 'b'}"
        in out
    )
    assert "deploys it again" not in out
