"""The collector's own service: systemd unit and launchd agent next to the daemon's."""

from __future__ import annotations

import io
import plistlib
from pathlib import Path

import pytest
from helpers import FakeRunner, require_tool, systemd_verify, unit_keys

from daemon.cli import main
from daemon.units.service import (
    COLLECTOR_UNIT,
    DAEMON_UNIT,
    render_launchd,
    render_systemd,
    service_install,
    service_uninstall,
)

SOURCE_ROOT = Path(__file__).resolve().parents[1]


def test_collector_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify sees both units, so the After= ordering names a unit that exists
    for unit in (DAEMON_UNIT, COLLECTOR_UNIT):
        (tmp_path / unit.unit_name).write_text(render_systemd(unit=unit), encoding="utf-8")
    systemd_verify(tmp_path / COLLECTOR_UNIT.unit_name)


def test_collector_unit_runs_collect_after_the_daemon_with_the_same_hardening() -> None:
    daemon, collector = (
        unit_keys(render_systemd(unit=DAEMON_UNIT)),
        unit_keys(render_systemd(unit=COLLECTOR_UNIT)),
    )
    assert collector["[Service]ExecStart"][0].endswith(" collect")
    assert collector["[Unit]After"] == ["taskclf-daemon.service"]
    assert "[Unit]Requires" not in collector  # the spool waits for the daemon; no hard tie
    for key in (
        "NoNewPrivileges",
        "LockPersonality",
        "RestrictRealtime",
        "RestrictSUIDSGID",
        "SystemCallArchitectures",
        "UMask",
        "RestartPreventExitStatus",
    ):
        assert collector[f"[Service]{key}"] == daemon[f"[Service]{key}"], key
    assert collector["[Install]WantedBy"] == daemon["[Install]WantedBy"]


def test_collector_plist(tmp_path: Path) -> None:
    doc = plistlib.loads(
        render_launchd(["/opt/x/taskclf-daemon"], tmp_path, unit=COLLECTOR_UNIT).encode()
    )
    assert doc["Label"] == "io.github.taskclf.collector"
    assert doc["ProgramArguments"] == ["/opt/x/taskclf-daemon", "collect"]
    assert doc["StandardErrorPath"] == f"{tmp_path}/collector.err.log"
    daemon_doc = plistlib.loads(render_launchd(["/opt/x/taskclf-daemon"], tmp_path).encode())
    assert doc["KeepAlive"] == daemon_doc["KeepAlive"]


def test_install_and_uninstall_the_collector_leave_the_daemon_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = FakeRunner()
    out = io.StringIO()
    assert service_install(platform="systemd", runner=runner, home=home, out=out) == 0
    assert (
        service_install(
            platform="systemd", runner=runner, home=home, out=out, units=[COLLECTOR_UNIT]
        )
        == 0
    )
    units = home / ".config" / "systemd" / "user"
    assert sorted(p.name for p in units.iterdir()) == [
        "taskclf-collector.service",
        "taskclf-daemon.service",
    ]
    assert ["systemctl", "--user", "enable", "--now", "taskclf-collector.service"] in runner.calls
    # the collector's install names its own unit and command, not the daemon's
    (said,) = [x for x in out.getvalue().splitlines() if x.startswith("  taskclf-collector")]
    assert said.startswith("  taskclf-collector.service: the ActivityWatch collector, runs /")
    assert said.endswith("taskclf-daemon collect")
    assert "daemon run" not in out.getvalue().split("taskclf-collector.service", 1)[1]
    runner.calls.clear()
    assert (
        service_uninstall(
            platform="systemd", runner=runner, home=home, out=out, units=[COLLECTOR_UNIT]
        )
        == 0
    )
    assert [p.name for p in units.iterdir()] == ["taskclf-daemon.service"]
    assert runner.calls[0] == [
        "systemctl",
        "--user",
        "disable",
        "--now",
        "taskclf-collector.service",
    ]


def test_launchd_install_of_the_collector(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = FakeRunner()
    assert (
        service_install(
            platform="launchd", runner=runner, home=home, out=io.StringIO(), units=[COLLECTOR_UNIT]
        )
        == 0
    )
    agent = home / "Library" / "LaunchAgents" / "io.github.taskclf.collector.plist"
    assert agent.is_file()
    assert any(c[:2] == ["launchctl", "bootstrap"] and c[-1] == str(agent) for c in runner.calls)


def test_cli_show_collector(capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("systemctl", "service show picks systemd by it (Debian: systemd)")
    assert main(["service", "show", "--collector"]) == 0
    assert "collect" in capsys.readouterr().out


def test_templates_ship_in_the_wheel() -> None:
    text = (SOURCE_ROOT / "pyproject.toml").read_text()
    for rel in (
        "packaging/systemd/taskclf-collector.service",
        "packaging/launchd/io.github.taskclf.collector.plist",
    ):
        assert (SOURCE_ROOT / rel).is_file()
        assert f'"{rel}" = "daemon/_templates/{Path(rel).name}"' in text
