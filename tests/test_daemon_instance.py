"""One daemon per spool and per label log, whatever environment each `run` was started from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import DaemonProcess, Daemons, isolated_env, run_cli
from helpers import Window, in_time_order

from daemon.lock import running_pid
from taskclf_core.synthetic import generate_windows

N_WINDOWS = 300
RATE = 100.0  # windows a second from the simulated collector


@pytest.fixture(scope="module")
def windows() -> list[Window]:
    return in_time_order(generate_windows(days=4, seed=31))[:N_WINDOWS]


def keys(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["user_id"], r["bucket_start_ts"]) for r in records]


def intruder(daemons: Daemons, name: str, env: dict[str, str], **settings: Any) -> DaemonProcess:
    """A second configuration (own directory, config file, HOME and state_dir) run with ``env``."""
    first = daemons.made[0]
    second = daemons.new(
        name, **{**first.settings, "state_dir": str(first.root / name), **settings}
    )
    second.env = {**env, "PYTHONUNBUFFERED": "1"}
    return second


def assert_refused(second: DaemonProcess, running: DaemonProcess) -> None:
    """``run`` must exit 1 at once, naming the running daemon's pid, and touch nothing."""
    second.start(wait=False)
    rc = second.wait_exit(30)
    err = second.stderr_text()
    assert rc == 1, f"a second daemon was not refused (exit {rc})\n{err[-3000:]}"
    assert "already running" in err, err
    assert str(running.pid) in err, err
    assert len(err.strip().splitlines()) == 1, err


def status_from(env: dict[str, str], config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--config", str(config), env=env, timeout=60)


@pytest.mark.slow
def test_two_daemons_on_one_spool_refuse_each_other_whatever_the_environment(
    daemons: Daemons, windows: list[Window], tmp_path: Path
) -> None:
    # no state_dir in the config: what a user has, so the environment decided before
    first = daemons.new("first")
    first.write_config(state_dir=None)
    first.start()
    no_runtime = isolated_env(tmp_path / "home-c", runtime_dir=False)
    others = [
        # another XDG_RUNTIME_DIR and HOME, the same spool and label log
        intruder(daemons, "other-runtime", isolated_env(tmp_path / "home-b"), state_dir=None),
        # no XDG_RUNTIME_DIR, and a state_dir of its own (an old config)
        intruder(daemons, "no-runtime", no_runtime),
    ]
    with first.producing(windows, RATE) as producer:
        for second in others:
            assert_refused(second, first)
        # the same config file too, from a shell without XDG_RUNTIME_DIR
        same = subprocess.run(
            [sys.executable, "-m", "daemon", "run", "--config", str(first.config)],
            env=no_runtime,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert same.returncode == 1, same.stderr[-3000:]
        assert str(first.pid) in same.stderr
        producer.finish()

    records = first.wait_labelled(windows, timeout=30)
    assert len(records) == N_WINDOWS, "a window was logged twice"
    assert len(set(keys(records))) == N_WINDOWS
    first.wait_for(lambda: len(first.files("done")) == N_WINDOWS, 15, "every file in done/")
    assert first.files("cur") == []
    first.wait_status(lambda s: s["windows"]["labelled"] == N_WINDOWS, 10, "the count")

    # status and reload find the daemon from a shell without XDG_RUNTIME_DIR
    for config in (first.config, others[1].config):
        result = status_from(no_runtime, config, "status", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        doc = json.loads(result.stdout)
        assert doc["running"] is True
        assert doc["pid"] == first.pid
        assert doc["windows"]["labelled"] == N_WINDOWS
    reload = status_from(no_runtime, first.config, "reload")
    assert reload.returncode == 0, reload.stderr
    assert first.alive()
    first.stop()
    assert status_from(no_runtime, first.config, "status").returncode == 3


@pytest.mark.slow
def test_two_configs_sharing_only_the_label_directory_refuse_each_other(
    daemons: Daemons, windows: list[Window], tmp_path: Path
) -> None:
    first = daemons.new("first")
    first.write_config(state_dir=None)
    first.start()
    # its own spool, state_dir, HOME and no XDG_RUNTIME_DIR; only data_dir (the label log) shared
    second = intruder(
        daemons,
        "second",
        isolated_env(tmp_path / "home-b", runtime_dir=False),
        spool_dir=str(tmp_path / "second" / "spool"),
    )
    with first.producing(windows, RATE) as producer:
        assert_refused(second, first)
        assert "label log" in second.stderr_text() or str(first.labels_dir) in second.stderr_text()
        producer.finish()
    records = first.wait_labelled(windows, timeout=30)
    assert len(records) == len(set(keys(records))) == N_WINDOWS
    # the refused start left nothing that `status` could mistake for a daemon on its spool
    result = second.cli("status", "--json")
    assert result.returncode == 3, result.stdout
    assert not (second.spool / ".daemon-status.json").exists()
    assert running_pid(second.spool / ".daemon.lock") is None
    first.stop()

    # the other way round: the second one now runs; the first is refused
    second.start()
    assert_refused(first, second)
    second.stop()


def test_a_failed_start_leaves_nothing_that_misleads_status(daemons: Daemons) -> None:
    d = daemons.new()
    d.write_config(model_dir=str(d.root / "no-such-model"))
    result = d.cli("run", timeout=60)
    assert result.returncode == 2, result.stderr
    assert not d.status_path.exists()
    assert running_pid(d.lock_path) is None
    status = d.cli("status", "--json")
    assert status.returncode == 3, status.stdout
    assert json.loads(status.stdout)["problems"] == []


def test_status_and_reload_do_not_import_the_heavy_stack(daemons: Daemons) -> None:
    """A person types them: no pydantic-settings, numpy or LightGBM on their path."""
    d = daemons.new()
    probe = (
        "import sys, io\n"
        "from contextlib import redirect_stdout as out, redirect_stderr as err\n"
        "from daemon.cli import main\n"
        "with out(io.StringIO()), err(io.StringIO()):\n"
        "    codes = [main(['status', '--config', sys.argv[1]]),"
        " main(['reload', '--config', sys.argv[1]])]\n"
        "heavy = sorted(m for m in ('pydantic', 'pydantic_settings', 'numpy', 'lightgbm')"
        " if m in sys.modules)\n"
        "print(codes, heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(d.config)],
        capture_output=True,
        text=True,
        env=d.env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[3, 3] []", result.stdout
    assert os.path.isdir(d.spool)
