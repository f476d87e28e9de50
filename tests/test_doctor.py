"""`doctor`: one line per check, each problem with its fix; exit 0 all fine, 1 a problem."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from helpers import unwritable

from daemon.cli import main
from daemon.commands import doctor
from daemon.commands.doctor import (
    Check,
    check_activitywatch,
    check_daemon,
    check_service,
    check_writable,
    diagnose,
)
from daemon.config.settings import load_settings
from daemon.lock import InstanceLock
from daemon.paths import default_config_file, default_data_dir
from daemon.runtime.status import utc_now, write_status
from daemon.units import unit
from daemon.units.service import UNIT_NAME, render_systemd, service_file
from taskclf_core.activity import parse_timestamp_us
from taskclf_core.timespan import format_us


class FakeManager:
    """Answers service-manager probes: reachable or not, and the unit's state."""

    def __init__(self, reachable: bool = True, active: str = "active") -> None:
        self.reachable = reachable
        self.active = active
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> tuple[int | None, str]:
        self.calls.append(list(argv))
        if not self.reachable:
            return 1, "Failed to connect to bus: No such file or directory"
        if "is-active" in argv:
            return (0 if self.active == "active" else 3), self.active
        if "is-enabled" in argv:
            return 0, "enabled"
        return 0, "255"


@pytest.fixture(autouse=True)
def systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees a Linux with systemctl, whatever runs the tests."""
    monkeypatch.setattr(unit, "detect_platform", lambda: "systemd")


def by_name(checks: list[Check]) -> dict[str, list[Check]]:
    out: dict[str, list[Check]] = {}
    for check in checks:
        out.setdefault(check.name, []).append(check)
    return out


@pytest.fixture
def initialised(taskclf_sample: Path) -> Path:
    """`init --model B --store S` with taskclf's sample artifacts; returns the config."""
    rc = main(
        [
            "init",
            "--model",
            str(taskclf_sample / "bundle_v1"),
            "--store",
            str(taskclf_sample / "store_temperature"),
        ]
    )
    assert rc == 0
    return default_config_file()


def test_after_init_everything_is_fine(initialised: Path) -> None:
    checks = diagnose(None, probe=FakeManager())
    assert [c.state for c in checks] == ["ok"] * len(checks), checks
    names = [c.name for c in checks]
    assert names == [
        "config",
        "policy",
        "model",
        "store",
        "spool",
        "label log",
        "daemon",
        "service",
    ]
    found = by_name(checks)
    assert "bundle_v1" in found["model"][0].detail
    assert "fits model bundle_v1" in found["store"][0].detail
    assert "not installed" in found["service"][0].detail


def test_the_command_prints_one_line_per_check_and_exits_0(
    initialised: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor, "run_probe", FakeManager())
    assert main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "all fine"
    assert len(lines) == 9
    assert all(line.startswith("ok ") for line in lines[:-1])


def test_a_typo_is_a_failed_check_and_the_rest_still_runs(
    initialised: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = initialised
    config.write_text(config.read_text() + "reject_treshold = 0.6\n")
    monkeypatch.setattr(doctor, "run_probe", FakeManager())
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("FAIL")]
    assert "config" in line
    assert "unknown key 'reject_treshold'; did you mean 'reject_threshold'?" in line
    assert f"fix: edit {config}" in line
    # the other checks ran on what could be read
    assert "ok    model      bundle_v1 (schema" in out
    assert "ok    daemon" in out
    assert out.splitlines()[-1] == "1 problem; fix it, then run taskclf-daemon doctor again"


@pytest.mark.parametrize(
    ("setup", "said", "fix"),
    [
        (
            "env",
            "TASKCLF_REJECT_TRESHOLD: unknown setting in the environment; did you mean "
            "TASKCLF_REJECT_THRESHOLD?",
            "fix: change or unset TASKCLF_REJECT_TRESHOLD in the environment",
        ),
        (
            "env-value",
            "TASKCLF_SMOOTH_WINDOW: Input should be greater than or equal to 1",
            "fix: change or unset TASKCLF_SMOOTH_WINDOW in the environment",
        ),
        (
            "flag",
            "--smooth-window (smooth_window): Input should be greater than or equal to 1",
            "fix: change --smooth-window on the command line",
        ),
    ],
)
def test_the_fix_names_the_layer_the_problem_is_in(
    initialised: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setup: str,
    said: str,
    fix: str,
) -> None:
    argv = ["doctor"]
    if setup == "env":
        monkeypatch.setenv("TASKCLF_REJECT_TRESHOLD", "0.6")
    elif setup == "env-value":
        monkeypatch.setenv("TASKCLF_SMOOTH_WINDOW", "0")
    else:
        argv += ["--smooth-window", "0"]
    monkeypatch.setattr(doctor, "run_probe", FakeManager())
    assert main(argv) == 1
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("FAIL")]
    assert said in line
    assert fix in line
    assert str(initialised) not in line  # the file is fine: it is not the one to edit


def test_nothing_configured_says_how_to_start(isolated_home: Path) -> None:
    checks = by_name(diagnose(None, probe=FakeManager()))
    (model,) = checks["model"]
    assert model.state == "FAIL"
    assert "init --model DIR [--store DIR]" in model.fix
    assert "demo" in model.fix
    assert checks["spool"][0].state == "warn"  # not there yet: the daemon would create it


def test_a_model_that_does_not_load_fails_with_its_reason(tmp_path: Path) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text(f'model_dir = "{tmp_path / "nope"}"\n')
    (model,) = by_name(diagnose(config, probe=FakeManager()))["model"]
    assert model.state == "FAIL"
    assert str(tmp_path / "nope") in model.detail


def test_a_store_for_another_bundle_fails_explaining_identity(
    tmp_path: Path, taskclf_sample: Path
) -> None:
    renamed = shutil.copytree(taskclf_sample / "bundle_v1", tmp_path / "model")
    config = tmp_path / "daemon.toml"
    config.write_text(
        f'model_dir = "{renamed}"\ncalibrator_store = "{taskclf_sample / "store_temperature"}"\n'
    )
    checks = by_name(diagnose(config, probe=FakeManager()))
    assert checks["model"][0].state == "ok"
    (store,) = checks["store"]
    assert store.state == "FAIL"
    assert "fitted for bundle 'bundle_v1'" in store.detail
    assert "named 'model'" in store.detail


def test_a_policy_whose_store_went_missing_fails(initialised: Path) -> None:
    for path in (default_data_dir() / "stores").iterdir():
        shutil.rmtree(path)
    checks = by_name(diagnose(None, probe=FakeManager()))
    assert checks["model"][0].state == "ok"
    (store,) = checks["store"]
    assert store.state == "FAIL"
    assert "calibrator_store_dir" in store.detail
    assert "taskclf-daemon deploy" in store.fix


def test_a_missing_policy_file_fails_saying_how_to_make_one(tmp_path: Path) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text(f'policy_file = "{tmp_path / "models" / "inference_policy.json"}"\n')
    (policy,) = by_name(diagnose(config, probe=FakeManager()))["policy"]
    assert policy.state == "FAIL"
    assert "does not exist" in policy.detail
    assert "init --force --model DIR" in policy.fix


def test_writable_really_writes_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "spool"
    target.mkdir()
    check = check_writable("spool", target, "ok", "spool_dir")
    assert check.state == "ok"
    assert list(target.iterdir()) == []
    blocker = tmp_path / "file"
    blocker.write_text("x")
    check = check_writable("spool", blocker / "spool", "ok", "spool_dir")
    assert check.state == "FAIL"
    assert "not a directory" in check.detail
    assert "spool_dir" in check.fix


def test_a_directory_nobody_can_write_fails() -> None:
    # /proc/sys takes no new files, not even root's
    check = check_writable("label log", Path("/proc/sys"), "ok", "data_dir")
    assert check.state == "FAIL"
    assert "/proc/sys: cannot create a file there" in check.detail
    assert "data_dir" in check.fix


def test_an_unwritable_label_log_fails(tmp_path: Path) -> None:
    """Mode 0500, or for root (whom modes do not stop) a read-only bind mount."""
    labels = tmp_path / "labels"
    labels.mkdir(mode=0o700)
    with unwritable(labels):
        check = check_writable("label log", labels, "ok", "data_dir")
    assert check.state == "FAIL"
    assert "cannot create a file" in check.detail
    assert "chmod" in check.fix


def test_daemon_check_sees_a_running_healthy_daemon_and_a_degraded_one(tmp_path: Path) -> None:
    settings = load_settings(None, {"state_dir": str(tmp_path / "state")})
    assert check_daemon(settings).state == "ok"
    assert "not running" in check_daemon(settings).detail
    with InstanceLock(settings.lock_path):
        status: dict[str, Any] = {"pid": os.getpid(), "heartbeat_at": utc_now()}
        write_status(settings.status_path, status)
        running = check_daemon(settings)
        assert running.state == "ok"
        assert f"running (pid {os.getpid()}), healthy" == running.detail
        status["store"] = {"last_error": "store.json: missing"}
        write_status(settings.status_path, status)
        degraded = check_daemon(settings)
        assert degraded.state == "FAIL"
        assert "store.json: missing" in degraded.detail
        assert "taskclf-daemon status" in degraded.fix


def _install(config: Path | None, argv: list[str] | None = None) -> Path:
    path = service_file("systemd")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_systemd(argv, config=config))
    return path


def test_service_not_installed_and_manager_unreachable_is_a_warning(tmp_path: Path) -> None:
    check = check_service(tmp_path / "c.toml", probe=FakeManager(reachable=False))
    assert check.state == "warn"
    assert "Failed to connect to bus" in check.detail
    assert "taskclf-daemon run" in check.fix


def test_service_installed_and_running(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    _install(config)
    manager = FakeManager()
    check = check_service(config, probe=manager)
    assert check == Check("service", "ok", f"{service_file('systemd')} installed (enabled, active)")
    assert ["systemctl", "--user", "is-active", UNIT_NAME] in manager.calls


def test_service_failed_is_a_problem_with_where_to_look(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    _install(config)
    check = check_service(config, probe=FakeManager(active="failed"))
    assert check.state == "FAIL"
    assert f"journalctl --user -u {UNIT_NAME}" in check.fix


def test_service_running_a_program_that_is_gone_is_a_problem(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    _install(config, [str(tmp_path / "old-venv" / "bin" / "taskclf-daemon")])
    check = check_service(config, probe=FakeManager())
    assert check.state == "FAIL"
    assert "old-venv" in check.detail
    assert "service install" in check.fix


def test_service_with_another_config_is_a_warning(tmp_path: Path) -> None:
    _install(tmp_path / "other.toml")
    check = check_service(tmp_path / "mine.toml", probe=FakeManager())
    assert check.state == "warn"
    assert "other.toml" in check.detail
    assert "mine.toml" in check.detail


class _AW(http.server.BaseHTTPRequestHandler):
    """The two ActivityWatch endpoints doctor asks: /api/0/info and /api/0/buckets/ (the
    window and input watchers' buckets, or with ``inputs`` False only the window's)."""

    inputs: ClassVar[bool] = True
    # each bucket's last_updated, as aw-server gives it (None: left out)
    updated: ClassVar[tuple[str | None, object]] = (None, None)

    def do_GET(self) -> None:
        buckets: dict[str, dict[str, object]] = {
            "aw-watcher-window_h": {"type": "currentwindow", "hostname": "h"}
        }
        if self.inputs:
            buckets["aw-watcher-input_h"] = {"type": "os.hid.input", "hostname": "h"}
        for bucket, updated in zip(buckets.values(), self.updated, strict=False):
            if updated is not None:
                bucket["last_updated"] = updated
        docs: dict[str, object] = {
            "/api/0/info": {"hostname": "h", "version": "v0.13.2"},
            "/api/0/buckets/": buckets,
        }
        if self.path not in docs:
            self.send_error(404)
            return
        body = json.dumps(docs[self.path]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A proxy that records every request it is sent (and forwards none)."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_error(502)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def _serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def aw_server() -> Iterator[str]:
    with _serving(_AW) as url:
        yield url


def _aw(url: str, tmp_path: Path) -> Check:
    settings = load_settings(None, {"aw_url": url, "aw_hostname": "h", "data_dir": tmp_path})
    return check_activitywatch(settings, timeout=2.0)


def test_activitywatch_reachable(aw_server: str, tmp_path: Path) -> None:
    check = _aw(aw_server, tmp_path)
    assert check.state == "ok"
    assert check.detail == (
        f"ActivityWatch v0.13.2 at {aw_server}: aw-watcher-window_h; aw-watcher-input_h"
    )


def test_activitywatch_without_aw_watcher_input_is_a_warning(
    aw_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ActivityWatch's default install has no input watcher: the collector works, but the
    rule baseline then calls every minute BreakIdle and first models pass far less often."""
    monkeypatch.setattr(_AW, "inputs", False)
    check = _aw(aw_server, tmp_path)
    assert check.state == "warn"
    assert "no aw-watcher-input bucket (keyboard/mouse columns stay null)" in check.detail
    assert "install aw-watcher-input" in check.fix
    assert "every minute BreakIdle" in check.fix


@pytest.mark.parametrize(
    ("window", "inputs", "state"),
    [
        ("2026-12-06T10:00:00+00:00", "2026-12-06T09:45:00+00:00", "ok"),  # samples lag a bit
        ("2026-12-06T10:00:00+00:00", "2026-12-06T09:44:59+00:00", "warn"),  # 15 min: stopped
        ("2026-12-06T12:00:00+02:00", "2026-12-06T09:50:00+00:00", "ok"),  # offsets compared
        ("2026-12-06T10:00:00+00:00", "2026-12-05T17:30:00", "warn"),  # naive is UTC
        ("2026-12-06T10:00:00+00:00", None, "warn"),  # aw-server: a bucket without events
        ("2026-12-06T10:00:00+00:00", ["2026"], "ok"),  # unreadable: no claim
        (None, None, "ok"),  # a server that says nothing of either
        ("not a time", "2026-12-05T17:30:00+00:00", "ok"),
    ],
)
def test_an_input_watcher_that_stopped_is_a_warning(
    aw_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    window: str | None,
    inputs: object,
    state: str,
) -> None:
    """Installed once, not started again (aw-qt starts only the watchers it knows): its
    bucket is there, with nothing new, and every window goes without keyboard data."""
    monkeypatch.setattr(_AW, "updated", (window, inputs))
    check = _aw(aw_server, tmp_path)
    assert check.state == state, check
    if state == "ok":
        assert check.detail.endswith("; aw-watcher-input_h"), check.detail
        return
    if inputs is None:
        stopped = "aw-watcher-input_h has no data yet"
    else:
        since = format_us(parse_timestamp_us(inputs, "test"))
        stopped = (
            f"aw-watcher-input_h has nothing since {since}, aw-watcher-window_h has data up "
            "to 2026-12-06T10:00:00Z"
        )
    assert check.detail.endswith(f"{stopped}: aw-watcher-input is not running"), check.detail
    assert "start it and keep it running" in check.fix


def test_activitywatch_not_answering(aw_server: str, tmp_path: Path) -> None:
    check = _aw(f"{aw_server}/wrong-prefix", tmp_path)
    assert check.state == "FAIL"
    assert "answered 404" in check.detail
    assert "start ActivityWatch" in check.fix


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://example.com:5600", "is not a loopback address"),
        ("ftp://127.0.0.1:5600", "expected an http:// URL"),
        ("10.0.0.1", "expected an http:// URL"),
    ],
)
def test_activitywatch_only_on_loopback(url: str, said: str, tmp_path: Path) -> None:
    check = _aw(url, tmp_path)
    assert check.state == "FAIL"
    assert f"aw_url: {url!r} {said}" in check.detail or said in check.detail
    assert "http://127.0.0.1:5600" in check.fix


@pytest.mark.parametrize("variable", ["http_proxy", "HTTP_PROXY"])
def test_a_proxy_in_the_environment_never_sees_the_loopback_check(
    variable: str, aw_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """doctor asks through the collector's client, which takes no proxy: with urlopen, the
    check of a loopback ActivityWatch went to whatever http_proxy named."""
    _Proxy.seen = []
    with _serving(_Proxy) as proxy:
        monkeypatch.setenv(variable, proxy)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        check = _aw(aw_server, tmp_path)
    assert _Proxy.seen == [], "the loopback check was sent to the proxy"
    assert check.state == "ok", check


def test_every_detail_starts_in_one_column_with_the_collector_checks(
    initialised: Path,
    aw_server: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`collector identity` (18 characters) broke the 10-character name column."""
    monkeypatch.setattr(doctor, "run_probe", FakeManager())
    main(["doctor", "--aw-url", aw_server, "--aw-hostname", "h"])
    lines = capsys.readouterr().out.splitlines()[:-1]
    assert any(line[6:].startswith("collector ") for line in lines)
    identity = next(line for line in lines if line[6:].startswith("collector identity "))
    column = 6 + len("collector identity") + 1
    assert identity[column] != " "
    for line in lines:
        assert line[column - 1] == " ", (line, column)
        assert line[column] != " ", (line, column)
