"""From install to first label in an empty HOME, as a new user would, mistakes included."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import isolated_env, read_records, wait_for

from daemon.units.service import UNIT_NAME

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _example(name: str) -> str:
    text = (DOCS / "spool.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- example:{name} -->\n```[a-z]*\n(.*?)```\n", text, re.DOTALL)
    assert found is not None
    return found.group(1)


class User:
    """Types `taskclf-daemon ...` in a shell whose HOME is empty."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = isolated_env(home)
        # the installed console script, as pipx or a venv puts it on PATH
        script = Path(sys.executable).parent / "taskclf-daemon"
        self.argv0 = [str(script)] if script.is_file() else [sys.executable, "-m", "daemon"]

    def run(self, *args: str, ok: int | None = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self.argv0, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        if ok is not None:
            assert proc.returncode == ok, f"{args}: {proc.returncode}\n{proc.stdout}{proc.stderr}"
        return proc


def _unit_exec_start(unit: Path) -> list[str]:
    line = next(x for x in unit.read_text().splitlines() if x.startswith("ExecStart="))
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(line.split("=", 1)[1])]


def _environment_of_a_user_service(home: Path, user_env: dict[str, str]) -> dict[str, str]:
    """Roughly what systemd's user manager gives a service: no shell variables, no XDG_*_HOME."""
    return {
        "HOME": str(home),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "XDG_RUNTIME_DIR": user_env["XDG_RUNTIME_DIR"],
        "PYTHONUNBUFFERED": "1",  # the unit's Environment=
        "LANG": "C.UTF-8",
    }


@pytest.mark.slow
def test_from_install_to_first_label(tmp_path: Path, taskclf_sample: Path) -> None:
    user = User(tmp_path / "home")
    downloads = user.home / "Downloads"
    bundle = shutil.copytree(taskclf_sample / "bundle_v1", downloads / "bundle_v1")
    store = shutil.copytree(taskclf_sample / "store_temperature", downloads / "store")

    # 0. installed; nothing configured yet: run says what to do
    assert re.fullmatch(r"taskclf-daemon \d+\.\d+\.\d+\S*\n", user.run("--version").stdout)
    first = user.run("run", ok=2).stderr
    assert "taskclf-daemon init --model DIR [--store DIR]" in first
    assert "taskclf-daemon demo" in first

    # 1. a mistake: the bundle copied under another name no longer matches its store
    renamed = shutil.copytree(bundle, downloads / "model")
    refused = user.run("init", "--model", str(renamed), "--store", str(store), ok=2).stderr
    assert "the store was fitted for bundle 'bundle_v1'" in refused
    assert "rename the directory to 'bundle_v1'" in refused

    # 2. init with the teammate's bundle and store
    out = user.run("init", "--model", str(bundle), "--store", str(store)).stdout
    config = Path(re.search(r"^wrote (.+)$", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    spool = Path(re.search(r"^spool \(collectors .*\): (.+)$", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert config.is_file()
    assert config.is_relative_to(user.home)
    again = user.run("init", "--model", str(bundle), ok=1).stderr
    assert "--force" in again

    # 3. another mistake: a typo in the config; doctor names it, status still answers
    good = config.read_text()
    config.write_text(good + "smooth_windwo = 5\n")
    doctor = user.run("doctor", ok=1).stdout
    assert "did you mean 'smooth_window'?" in doctor
    assert "unknown key 'smooth_windwo'" in user.run("status", ok=3).stderr
    config.write_text(good)
    doctor = user.run("doctor").stdout
    assert not [line for line in doctor.splitlines() if line.startswith("FAIL")], doctor
    assert "ok    store" in doctor

    # 4. the service: here there is no user systemd, so write the unit and start what it runs
    installed = user.run("service", "install", "--no-start").stdout
    unit = user.home / ".config" / "systemd" / "user" / UNIT_NAME
    assert str(unit) in installed
    argv = _unit_exec_start(unit)
    assert argv[-3:] == ["run", "--config", str(config)]
    service_env = _environment_of_a_user_service(user.home, user.env)
    log = tmp_path / "service.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=service_env, cwd=user.home
        )
    try:

        def status() -> dict[str, Any] | None:
            got = user.run("status", "--json", ok=None)
            if proc.poll() is not None:
                raise AssertionError(f"the service exited {proc.returncode}:\n{log.read_text()}")
            return json.loads(got.stdout) if got.returncode == 0 else None

        doc = wait_for(status, 30, "the service to run", context=log.read_text)
        assert doc["model"]["bundle_id"] == "bundle_v1"
        assert doc["spool"]["path"] == str(spool)

        # 5. windows dropped by the documented collectors are labelled
        windows = (taskclf_sample / "windows.jsonl").read_text().splitlines()
        collectors = tmp_path / "collectors"
        collectors.mkdir()
        (collectors / "collector.py").write_text(_example("collector-python"))
        (collectors / "collector.sh").write_text(_example("collector-sh"))
        env = {**user.env, "SPOOL": str(spool)}
        for argv_c, part in (
            ([sys.executable, str(collectors / "collector.py")], windows[:50]),
            (["/bin/sh", str(collectors / "collector.sh")], windows[50:]),
        ):
            subprocess.run(
                argv_c, input="\n".join(part) + "\n", text=True, env=env, check=True, timeout=30
            )
        labels = Path(json.loads(user.run("status", "--json").stdout)["label_log"])
        records = wait_for(
            lambda: r if len(r := read_records(labels)) >= len(windows) else None,
            30,
            f"{len(windows)} records",
            context=log.read_text,
        )
        assert len(records) == len(windows)
        assert {r["model_bundle_id"] for r in records} == {"bundle_v1"}
        # the labels taskclf itself computed with that bundle and store
        expected = [
            json.loads(line)
            for line in (taskclf_sample / "expected_temperature.jsonl").read_text().splitlines()
        ]
        by_key = {(r["user_id"], r["bucket_start_ts"]): r for r in records}
        for want in expected:
            got = by_key[(want["user_id"], want["bucket_start_ts"])]
            assert got["calibrator"] == "user"
            assert got["core_label"] == want["core_label_name"]
            assert abs(got["confidence"] - want["confidence"]) < 1e-9
        human = user.run("status").stdout
        assert "running (healthy)" in human
        assert str(spool) in human
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
    assert rc == 0, log.read_text()
    assert not os.listdir(spool / "new")
