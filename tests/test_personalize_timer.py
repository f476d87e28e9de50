"""The daily personalize run: a systemd timer + oneshot service, or a launchd calendar agent."""

from __future__ import annotations

import argparse
import importlib.resources
import io
import plistlib
import re
from pathlib import Path

import pytest
from helpers import FakeRunner, systemd_verify, unavailable

from daemon.commands import service as service_command
from daemon.units import service
from daemon.units.service import (
    UNIT_NAME,
    Platform,
    entry_point,
    personalize_daily,
)
from daemon.units.timer import (
    TIMER_LABEL,
    TIMER_PLIST,
    TIMER_SERVICE,
    TIMER_UNIT,
    render_timer_launchd,
    render_timer_systemd,
)

SOURCE_ROOT = Path(__file__).resolve().parents[1]
UNITS = ".config/systemd/user"


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_rendered_timer_and_service_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    for name, text in render_timer_systemd().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    systemd_verify(tmp_path / TIMER_UNIT, tmp_path / TIMER_SERVICE)


def test_rendered_systemd_content() -> None:
    files = render_timer_systemd(["/opt/my env/bin/taskclf-daemon"])
    unit = files[TIMER_SERVICE]
    assert 'ExecStart="/opt/my env/bin/taskclf-daemon" personalize' in unit
    assert "Type=oneshot" in unit
    assert "UMask=0077" in unit
    assert "[Install]" not in unit  # started by the timer only
    timer = files[TIMER_UNIT]
    assert re.search(r"^OnCalendar=\*-\*-\* 03:30:00$", timer, re.M)
    assert "Persistent=true" in timer
    assert "WantedBy=timers.target" in timer
    template = (SOURCE_ROOT / "packaging" / "systemd" / TIMER_SERVICE).read_text()
    assert render_timer_systemd(["/x"])[TIMER_SERVICE] == template.replace(
        "@EXEC_START@", "/x personalize"
    )


def test_the_daily_run_reads_the_config_the_daemon_reads(tmp_path: Path) -> None:
    config = tmp_path / "my config.toml"
    unit = render_timer_systemd(["/x"], config=config)[TIMER_SERVICE]
    assert f'ExecStart=/x personalize --config "{config}"' in unit
    plist = plistlib.loads(render_timer_launchd(["/x"], log_dir=tmp_path, config=config).encode())
    assert plist["ProgramArguments"] == ["/x", "personalize", "--config", str(config)]


def test_rendered_launchd_agent(tmp_path: Path) -> None:
    plist = plistlib.loads(render_timer_launchd(["/opt/x & y/python", "-m", "daemon"],
                                                log_dir=tmp_path).encode())  # fmt: skip
    assert plist["Label"] == TIMER_LABEL
    assert plist["ProgramArguments"] == ["/opt/x & y/python", "-m", "daemon", "personalize"]
    assert plist["StartCalendarInterval"] == {"Hour": 3, "Minute": 30}
    assert "RunAtLoad" not in plist
    assert "KeepAlive" not in plist  # a daily job, not a service to keep running
    assert plist["StandardErrorPath"] == str(tmp_path / "personalize.err.log")
    template = SOURCE_ROOT / "packaging" / "launchd" / TIMER_PLIST
    assert plistlib.loads(template.read_bytes())["Label"] == TIMER_LABEL


def daily(
    action: str, platform: Platform, home: Path, *, start: bool = True
) -> tuple[int, str, FakeRunner]:
    runner, out = FakeRunner(), io.StringIO()
    code = personalize_daily(
        action,
        start,
        platform=platform,
        runner=runner,
        home=home,
        out=out,
    )
    return code, out.getvalue(), runner


def test_systemd_install_with_the_daily_run_and_uninstall(isolated_home: Path) -> None:
    units = isolated_home / UNITS
    code, out, runner = daily("install", "systemd", isolated_home)
    assert code == 0
    assert files_under(units) == {TIMER_SERVICE, TIMER_UNIT}
    assert runner.calls == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", TIMER_UNIT],
    ]
    assert f"created {units / TIMER_UNIT}" in out
    # again: unchanged files, same commands
    code, out, _ = daily("install", "systemd", isolated_home)
    assert f"unchanged {units / TIMER_SERVICE}" in out

    (units / "timers.target.wants").mkdir()
    (units / "timers.target.wants" / TIMER_UNIT).symlink_to(units / TIMER_UNIT)
    code, out, runner = daily("uninstall", "systemd", isolated_home, start=False)
    assert (code, runner.calls) == (0, [])
    assert files_under(units) == set()  # the wants link too: it would dangle
    code, out, runner = daily("uninstall", "systemd", isolated_home)
    assert (code, out, runner.calls) == (0, "", [])  # not installed: nothing to do


def test_systemd_uninstall_stops_the_timer(isolated_home: Path) -> None:
    daily("install", "systemd", isolated_home, start=False)
    code, _, runner = daily("uninstall", "systemd", isolated_home)
    assert code == 0
    assert runner.calls == [
        ["systemctl", "--user", "disable", "--now", TIMER_UNIT],
        ["systemctl", "--user", "daemon-reload"],
    ]


def test_cli_wiring(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if service.detect_platform() != "systemd":
        unavailable("systemd (systemctl)", "the CLI picks the platform from the host")
    parser = argparse.ArgumentParser()
    service_command.add_arguments(parser)
    units = isolated_home / UNITS
    assert service_command.run(parser.parse_args(["install", "--no-start"])) == 0
    assert files_under(units) == {UNIT_NAME}
    args = parser.parse_args(["install", "--no-start", "--personalize-daily"])
    assert service_command.run(args) == 0
    assert files_under(units) == {UNIT_NAME, TIMER_SERVICE, TIMER_UNIT}
    capsys.readouterr()
    assert service_command.run(parser.parse_args(["show", "--personalize-daily"])) == 0
    assert f"# --- {units / TIMER_UNIT} ---" in capsys.readouterr().out
    assert service_command.run(parser.parse_args(["uninstall", "--no-start"])) == 0
    assert files_under(units) == set()


def test_launchd_install_and_uninstall(isolated_home: Path) -> None:
    code, _, runner = daily("install", "launchd", isolated_home)
    assert code == 0
    agents = isolated_home / "Library" / "LaunchAgents"
    assert files_under(agents) == {TIMER_PLIST}
    plist = plistlib.loads((agents / TIMER_PLIST).read_bytes())
    assert plist["ProgramArguments"] == [*entry_point(), "personalize"]
    assert Path(plist["StandardOutPath"]).parent.is_dir()  # launchd will not create it
    assert runner.calls[-1][:2] == ["launchctl", "bootstrap"]
    assert runner.calls[-1][-1] == str(agents / TIMER_PLIST)
    code, _, runner = daily("uninstall", "launchd", isolated_home)
    assert runner.calls[0][:2] == ["launchctl", "bootout"]
    assert files_under(agents) == set()


def test_the_wheel_ships_the_timer_templates() -> None:
    for directory, name in (("systemd", TIMER_SERVICE), ("systemd", TIMER_UNIT),
                            ("launchd", TIMER_PLIST)):  # fmt: skip
        source = SOURCE_ROOT / "packaging" / directory / name
        assert source.is_file()
        assert (
            f'"packaging/{directory}/{name}" = "daemon/_templates/{name}"'
            in (SOURCE_ROOT / "pyproject.toml").read_text()
        )
        shipped = importlib.resources.files("daemon") / "_templates" / name
        if shipped.is_file():
            assert shipped.read_text(encoding="utf-8") == source.read_text(encoding="utf-8")
