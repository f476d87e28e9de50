"""Service files render to what systemd and launchd accept; install/uninstall touch only them."""

from __future__ import annotations

import argparse
import importlib.resources
import io
import os
import platform
import plistlib
import re
import shlex
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import FakeRunner, systemd_verify, unit_keys

from daemon.commands import service as service_command
from daemon.units import service
from daemon.units.service import (
    LAUNCHD_LABEL,
    PLIST_NAME,
    UNIT_NAME,
    ServiceError,
    SubprocessRunner,
    detect_platform,
    entry_point,
    render_launchd,
    render_systemd,
    service_install,
    service_show,
    service_uninstall,
)

PLACEHOLDER = re.compile(r"@[A-Z][A-Z0-9_]*@")
UNIT_REL = f".config/systemd/user/{UNIT_NAME}"
PLIST_REL = f"Library/LaunchAgents/{PLIST_NAME}"
SOURCE_ROOT = Path(__file__).resolve().parents[1]  # the checkout, not the installed wheel


@pytest.fixture
def home(isolated_home: Path) -> Path:
    """The test's private HOME (conftest's): nothing touches the real user's configuration."""
    return isolated_home


def files_under(root: Path) -> set[str]:
    """Every non-directory entry under ``root``, relative, symlinks included."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_symlink() or not p.is_dir()}


def verify_unit(unit_text: str, directory: Path) -> None:
    """Run ``systemd-analyze --user verify`` on the unit saved under its real name."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / UNIT_NAME
    path.write_text(unit_text, encoding="utf-8")
    systemd_verify(path)


def real_executable() -> str:
    return os.path.realpath(sys.executable)


# --- rendering: systemd ----------------------------------------------------------------


def test_rendered_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    verify_unit(render_systemd(), tmp_path / "verify")


def test_rendered_unit_content() -> None:
    argv = entry_point()
    unit = render_systemd()
    keys = unit_keys(unit)
    assert PLACEHOLDER.search(unit) is None
    assert keys["[Service]Type"] == ["notify"]
    assert keys["[Service]NotifyAccess"] == ["main"]
    assert keys["[Service]WatchdogSec"] == ["30"]
    (exec_start,) = keys["[Service]ExecStart"]
    # shell-like quoting is systemd's too for the paths a checkout can have here
    assert [w.replace("%%", "%") for w in shlex.split(exec_start)] == [*argv, "run"]
    assert os.path.isabs(argv[0])
    assert keys["[Service]ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert keys["[Service]Restart"] == ["on-failure"]
    assert keys["[Service]RestartPreventExitStatus"] == ["2"]
    assert keys["[Service]Environment"] == ["PYTHONUNBUFFERED=1"]
    assert keys["[Service]NoNewPrivileges"] == ["yes"]
    assert keys["[Service]UMask"] == ["0077"]
    assert keys["[Install]WantedBy"] == ["default.target"]


def test_unit_has_no_mount_namespace_options() -> None:
    # these need user namespaces in a user unit: ignored or fatal, never protective
    keys = unit_keys(render_systemd())
    for option in ("PrivateTmp", "ProtectSystem", "ProtectHome", "PrivateDevices", "PrivateUsers"):
        assert f"[Service]{option}" not in keys, option


def test_exec_path_with_spaces_percent_and_dollar_verifies(tmp_path: Path) -> None:
    bindir = tmp_path / "my venv 100%$HOME" / "bin"
    bindir.mkdir(parents=True)
    python = bindir / "python"
    python.symlink_to(real_executable())
    unit = render_systemd([str(python), "-m", "daemon"])
    exec_start = unit_keys(unit)["[Service]ExecStart"]
    # % is a specifier even in the program path; $ is only expanded in arguments
    escaped = str(python).replace("%", "%%")
    assert exec_start == [f'"{escaped}" -m daemon run']
    verify_unit(unit, tmp_path / "verify")


def test_arguments_are_escaped_for_systemd() -> None:
    unit = render_systemd(["/opt/bin/x", "a b", "$HOME", "50%", 'say "hi"', "back\\slash", ";", ""])
    assert unit_keys(unit)["[Service]ExecStart"] == [
        '/opt/bin/x "a b" $$HOME 50%% "say \\"hi\\"" "back\\\\slash" \\; "" run'
    ]


@pytest.mark.parametrize(
    "program",
    ["relative/python", "/opt/it's/python", '/opt/a"b/python', "/opt/a\\b/python", "/opt/a\nb/py"],
)
def test_program_paths_systemd_cannot_run_are_refused(program: str) -> None:
    with pytest.raises(ServiceError):
        render_systemd([program])


def test_unit_comes_from_the_packaging_template() -> None:
    template = (SOURCE_ROOT / "packaging" / "systemd" / UNIT_NAME).read_text(encoding="utf-8")
    assert render_systemd(["/opt/bin/taskclf-daemon"]) == template.replace(
        "@EXEC_START@", "/opt/bin/taskclf-daemon run"
    )


def test_installed_wheel_templates_take_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = tmp_path / "pkg"
    (packaged / "_templates").mkdir(parents=True)
    (packaged / "_templates" / UNIT_NAME).write_text(
        "[Service]\nExecStart=@EXEC_START@\n# packaged copy\n", encoding="utf-8"
    )
    monkeypatch.setattr(importlib.resources, "files", lambda _pkg: packaged)
    assert render_systemd(["/opt/x"]).endswith("ExecStart=/opt/x run\n# packaged copy\n")


def test_template_with_unknown_placeholder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = tmp_path / "pkg"
    (packaged / "_templates").mkdir(parents=True)
    (packaged / "_templates" / UNIT_NAME).write_text(
        "ExecStart=@EXEC_START@ @NOPE@\n", encoding="utf-8"
    )
    monkeypatch.setattr(importlib.resources, "files", lambda _pkg: packaged)
    with pytest.raises(ServiceError, match="@NOPE@"):
        render_systemd(["/opt/x"])


# --- rendering: launchd ----------------------------------------------------------------


def test_rendered_plist(home: Path) -> None:
    text = render_launchd()
    assert PLACEHOLDER.search(text) is None
    plist = plistlib.loads(text.encode())
    assert plist["Label"] == LAUNCHD_LABEL
    assert plist["ProgramArguments"] == [*entry_point(), "run"]
    assert os.path.isabs(plist["ProgramArguments"][0])
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["ThrottleInterval"] == 10
    assert plist["ProcessType"] == "Background"
    assert plist["EnvironmentVariables"] == {"PYTHONUNBUFFERED": "1"}
    logs = home / "Library" / "Logs" / "taskclf"
    for key in ("StandardOutPath", "StandardErrorPath"):
        assert os.path.isabs(plist[key])
        assert Path(plist[key]).parent == logs
    assert plist["StandardOutPath"] != plist["StandardErrorPath"]
    assert plistlib.loads(plistlib.dumps(plist)) == plist


def test_plist_escapes_xml_and_keeps_argv_elements(tmp_path: Path) -> None:
    program = "/Users/me/A & B <venv>/bin/python"
    plist = plistlib.loads(
        render_launchd([program, "-m", "daemon"], log_dir=tmp_path / "l&gs").encode()
    )
    assert plist["ProgramArguments"] == [program, "-m", "daemon", "run"]
    assert plist["StandardErrorPath"] == str(tmp_path / "l&gs" / "daemon.err.log")


def test_plist_refuses_relative_paths() -> None:
    with pytest.raises(ServiceError):
        render_launchd(["python"], log_dir="/abs")
    with pytest.raises(ServiceError):
        render_launchd(["/abs/python"], log_dir="logs")


def test_plist_template_parses_as_is() -> None:
    template = SOURCE_ROOT / "packaging" / "launchd" / PLIST_NAME
    assert plistlib.loads(template.read_bytes())["Label"] == LAUNCHD_LABEL


# --- entry point and platform ----------------------------------------------------------


def test_entry_point_prefers_console_script_without_resolving_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = tmp_path / "venv" / "bin"
    bindir.mkdir(parents=True)
    python = bindir / "python"
    python.symlink_to(real_executable())
    monkeypatch.setattr(sys, "executable", str(python))
    assert entry_point() == [str(python), "-m", "daemon"]
    script = bindir / "taskclf-daemon"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o755)
    assert entry_point() == [str(script)]


def test_entry_point_is_absolute_for_a_relative_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "executable", "bin/python")
    assert entry_point() == [str(tmp_path / "bin" / "python"), "-m", "daemon"]


@pytest.mark.parametrize(
    ("system", "systemctl", "expected"),
    [
        ("Linux", "/usr/bin/systemctl", "systemd"),
        ("Linux", None, None),
        ("Darwin", None, "launchd"),
        ("Windows", None, None),
        ("FreeBSD", None, None),
    ],
)
def test_detect_platform(
    monkeypatch: pytest.MonkeyPatch, system: str, systemctl: str | None, expected: str | None
) -> None:
    monkeypatch.setattr(platform, "system", lambda: system)
    monkeypatch.setattr(shutil, "which", lambda name: systemctl if name == "systemctl" else None)
    assert detect_platform() == expected


# --- install / uninstall: systemd ------------------------------------------------------


def test_systemd_install_twice_then_uninstall_twice(home: Path) -> None:
    systemctl = ["systemctl", "--user"]
    runner = FakeRunner()
    out = io.StringIO()

    assert service_install(platform="systemd", runner=runner, out=out) == 0
    unit = home / UNIT_REL
    assert files_under(home) == {UNIT_REL}
    assert unit.read_text(encoding="utf-8") == render_systemd()
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    assert runner.calls == [
        [*systemctl, "daemon-reload"],
        [*systemctl, "enable", "--now", UNIT_NAME],
    ]
    assert f"created {unit}" in out.getvalue()
    assert f"running: systemctl --user enable --now {UNIT_NAME}" in out.getvalue()

    runner.calls.clear()
    assert service_install(platform="systemd", runner=runner, out=out) == 0
    assert files_under(home) == {UNIT_REL}
    assert runner.calls == [
        [*systemctl, "daemon-reload"],
        [*systemctl, "enable", "--now", UNIT_NAME],
    ]
    assert f"unchanged {unit}" in out.getvalue()

    runner.calls.clear()
    assert service_uninstall(platform="systemd", runner=runner, out=out) == 0
    assert files_under(home) == set()
    assert runner.calls == [
        [*systemctl, "disable", "--now", UNIT_NAME],
        [*systemctl, "daemon-reload"],
    ]
    assert f"removed {unit}" in out.getvalue()

    runner.calls.clear()
    out = io.StringIO()
    assert service_uninstall(platform="systemd", runner=runner, out=out) == 0
    assert runner.calls == []
    assert "not installed" in out.getvalue()


def test_systemd_install_over_a_changed_unit_restarts(home: Path) -> None:
    unit = home / UNIT_REL
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/old/taskclf-daemon run\n", encoding="utf-8")
    runner = FakeRunner()
    out = io.StringIO()
    assert service_install(platform="systemd", runner=runner, out=out) == 0
    assert unit.read_text(encoding="utf-8") == render_systemd()
    assert runner.calls == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", UNIT_NAME],
        ["systemctl", "--user", "restart", UNIT_NAME],
    ]
    assert f"updated {unit}" in out.getvalue()
    assert files_under(home) == {UNIT_REL}


def test_systemd_respects_xdg_config_home(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "elsewhere"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    assert service_install(platform="systemd", start=False, out=io.StringIO()) == 0
    assert files_under(config) == {f"systemd/user/{UNIT_NAME}"}
    assert files_under(home) == set()
    # the XDG spec says relative values are invalid and must be ignored
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    assert service.service_file("systemd") == home / UNIT_REL


def test_systemd_no_start_only_writes_and_removes(home: Path) -> None:
    runner = FakeRunner()
    out = io.StringIO()
    assert service_install(platform="systemd", start=False, runner=runner, out=out) == 0
    assert files_under(home) == {UNIT_REL}
    assert runner.calls == []
    assert "--no-start" in out.getvalue()
    # what `systemctl --user enable` would have created
    wants = home / ".config/systemd/user/default.target.wants" / UNIT_NAME
    wants.parent.mkdir()
    wants.symlink_to(home / UNIT_REL)
    assert service_uninstall(platform="systemd", stop=False, runner=runner, out=out) == 0
    assert files_under(home) == set()
    assert runner.calls == []


def test_systemd_failing_command_returns_1_and_stops(home: Path) -> None:
    runner = FakeRunner(fail={("systemctl", "--user", "daemon-reload"): 1})
    err = io.StringIO()
    assert service_install(platform="systemd", runner=runner, out=io.StringIO(), err=err) == 1
    assert runner.calls == [["systemctl", "--user", "daemon-reload"]]
    assert "`systemctl --user daemon-reload` failed with exit code 1" in err.getvalue()
    assert len(err.getvalue().splitlines()) == 1


def test_systemd_failing_disable_keeps_the_unit(home: Path) -> None:
    service_install(platform="systemd", start=False, out=io.StringIO())
    disable = ("systemctl", "--user", "disable", "--now", UNIT_NAME)
    runner = FakeRunner(fail={disable: 1})
    err = io.StringIO()
    assert service_uninstall(platform="systemd", runner=runner, out=io.StringIO(), err=err) == 1
    assert runner.calls == [list(disable)]
    assert f"`systemctl --user disable --now {UNIT_NAME}` failed with exit code 1" in err.getvalue()
    assert files_under(home) == {UNIT_REL}


def test_unwritable_destination_returns_1(home: Path) -> None:
    (home / ".config").mkdir(exist_ok=True)
    (home / ".config" / "systemd").write_text("not a directory", encoding="utf-8")
    runner = FakeRunner()
    err = io.StringIO()
    assert service_install(platform="systemd", runner=runner, out=io.StringIO(), err=err) == 1
    assert err.getvalue().startswith("error: cannot update")
    assert runner.calls == []


def test_program_path_systemd_refuses_returns_1(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "it's" / "python"))
    err = io.StringIO()
    assert service_install(platform="systemd", runner=FakeRunner(), err=err) == 1
    assert "quotes or backslashes" in err.getvalue()
    assert files_under(home) == set()


# --- install / uninstall: launchd ------------------------------------------------------


def test_launchd_install_twice_then_uninstall_twice(home: Path) -> None:
    uid = os.getuid()
    plist = home / PLIST_REL
    logs = home / "Library" / "Logs" / "taskclf"
    install_calls = [
        ["launchctl", "bootout", f"gui/{uid}/{LAUNCHD_LABEL}"],
        ["launchctl", "enable", f"gui/{uid}/{LAUNCHD_LABEL}"],
        ["launchctl", "bootstrap", f"gui/{uid}", str(plist)],
    ]
    runner = FakeRunner()
    out = io.StringIO()

    assert service_install(platform="launchd", runner=runner, out=out) == 0
    assert files_under(home) == {PLIST_REL}
    assert logs.is_dir()
    assert stat.S_IMODE(plist.stat().st_mode) == 0o644
    assert plist.read_text(encoding="utf-8") == render_launchd()
    assert plistlib.loads(plist.read_bytes())["StandardOutPath"] == str(logs / "daemon.out.log")
    assert runner.calls == install_calls
    assert f"created log directory {logs}" in out.getvalue()

    runner.calls.clear()
    assert service_install(platform="launchd", runner=runner, out=out) == 0
    assert files_under(home) == {PLIST_REL}
    assert runner.calls == install_calls

    runner.calls.clear()
    assert service_uninstall(platform="launchd", runner=runner, out=out) == 0
    assert files_under(home) == set()
    assert runner.calls == [["launchctl", "bootout", f"gui/{uid}/{LAUNCHD_LABEL}"]]
    assert f"removed {plist}" in out.getvalue()

    runner.calls.clear()
    out = io.StringIO()
    assert service_uninstall(platform="launchd", runner=runner, out=out) == 0
    assert runner.calls == []
    assert "not installed" in out.getvalue()


def test_launchd_bootout_of_an_unloaded_agent_is_not_an_error(home: Path) -> None:
    bootout = ("launchctl", "bootout", f"gui/{os.getuid()}/{LAUNCHD_LABEL}")
    runner = FakeRunner(fail={bootout: 3})
    out = io.StringIO()
    assert service_install(platform="launchd", runner=runner, out=out) == 0
    assert len(runner.calls) == 3
    assert "was not loaded" in out.getvalue()
    assert service_uninstall(platform="launchd", runner=runner, out=out) == 0
    assert files_under(home) == set()


def test_launchd_failing_bootstrap_returns_1(home: Path) -> None:
    uid = os.getuid()
    bootstrap = ("launchctl", "bootstrap", f"gui/{uid}", str(home / PLIST_REL))
    runner = FakeRunner(fail={bootstrap: 5})
    err = io.StringIO()
    assert service_install(platform="launchd", runner=runner, out=io.StringIO(), err=err) == 1
    assert f"`launchctl bootstrap gui/{uid} " in err.getvalue()
    assert "failed with exit code 5" in err.getvalue()


def test_launchd_no_start_only_writes_and_removes(home: Path) -> None:
    runner = FakeRunner()
    assert service_install(platform="launchd", start=False, runner=runner, out=io.StringIO()) == 0
    assert files_under(home) == {PLIST_REL}
    assert service_uninstall(platform="launchd", stop=False, runner=runner, out=io.StringIO()) == 0
    assert files_under(home) == set()
    assert runner.calls == []


# --- unsupported platform, show, runner, CLI wiring ------------------------------------


@pytest.mark.parametrize("system", ["Windows", "FreeBSD"])
def test_unsupported_platform_returns_2_with_one_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, system: str
) -> None:
    monkeypatch.setattr(platform, "system", lambda: system)
    runner = FakeRunner()
    calls: list[Callable[[io.StringIO], int]] = [
        lambda err: service_install(runner=runner, out=io.StringIO(), err=err),
        lambda err: service_uninstall(runner=runner, out=io.StringIO(), err=err),
        lambda err: service_show(out=io.StringIO(), err=err),
    ]
    for call in calls:
        err = io.StringIO()
        assert call(err) == 2
        assert len(err.getvalue().splitlines()) == 1
        assert "no supported service manager" in err.getvalue()
        assert system in err.getvalue()
    assert runner.calls == []
    assert files_under(home) == set()


@pytest.mark.parametrize("which", ["systemd", "launchd"])
def test_show_prints_exactly_what_install_writes(home: Path, which: service.Platform) -> None:
    out = io.StringIO()
    assert service_show(which, out) == 0
    assert service_install(platform=which, start=False, out=io.StringIO()) == 0
    assert out.getvalue() == service.service_file(which).read_text(encoding="utf-8")


def test_subprocess_runner_reports_exit_status_and_missing_programs(tmp_path: Path) -> None:
    err = io.StringIO()
    runner = SubprocessRunner(err)
    assert runner([sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert runner([sys.executable, "-c", "pass"]) == 0
    assert runner([str(tmp_path / "no-such-program")]) == 127
    assert "cannot run" in err.getvalue()


def test_cli_wiring(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/systemctl")
    parser = argparse.ArgumentParser(prog="taskclf-daemon service")
    service_command.add_arguments(parser)

    assert service_command.run(parser.parse_args(["show"])) == 0
    assert capsys.readouterr().out == render_systemd()
    assert service_command.run(parser.parse_args(["install", "--no-start"])) == 0
    assert files_under(home) == {UNIT_REL}
    assert service_command.run(parser.parse_args(["uninstall", "--no-start"])) == 0
    assert files_under(home) == set()
    with pytest.raises(SystemExit):
        parser.parse_args(["restart"])


def test_installed_templates_are_the_packaging_files() -> None:
    """The wheel ships packaging/ as daemon/_templates; an editable install reads packaging/."""
    import importlib.resources

    for directory, name in (("systemd", UNIT_NAME), ("launchd", PLIST_NAME)):
        shipped = importlib.resources.files("daemon") / "_templates" / name
        source = SOURCE_ROOT / "packaging" / directory / name
        if shipped.is_file():
            assert shipped.read_text(encoding="utf-8") == source.read_text(encoding="utf-8")


# --- the config file the service runs with ---------------------------------------------


def test_unit_with_config_passes_it_to_run_and_verifies(tmp_path: Path) -> None:
    config = tmp_path / "my configs 100%" / "$daemon.toml"
    unit = render_systemd(config=config)
    (exec_start,) = unit_keys(unit)["[Service]ExecStart"]
    assert exec_start.endswith(
        ' run --config "' + str(config).replace("%", "%%").replace("$", "$$") + '"'
    )
    words = [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(exec_start)]
    assert words == [*entry_point(), "run", "--config", str(config)]
    verify_unit(unit, tmp_path / "verify")


def test_plist_with_config_passes_it_to_run(tmp_path: Path) -> None:
    config = tmp_path / "a & b" / "daemon.toml"
    plist = plistlib.loads(render_launchd(config=config).encode())
    assert plist["ProgramArguments"] == [*entry_point(), "run", "--config", str(config)]


def test_a_relative_config_is_refused() -> None:
    with pytest.raises(ServiceError, match="absolute"):
        render_systemd(config=Path("daemon.toml"))


def test_install_with_config_names_it_in_the_unit(home: Path, tmp_path: Path) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text("")
    out = io.StringIO()
    assert service_install(platform="systemd", start=False, out=out, config=config) == 0
    unit = (home / UNIT_REL).read_text(encoding="utf-8")
    assert unit == render_systemd(config=config)
    assert f"--config {config}" in out.getvalue()


def test_cli_install_takes_config_and_defaults_to_the_existing_default_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from daemon.paths import default_config_file

    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/systemctl")
    parser = argparse.ArgumentParser(prog="taskclf-daemon service")
    service_command.add_arguments(parser)

    # no default config file: the unit names none (the daemon finds its defaults itself)
    assert service_command.run(parser.parse_args(["install", "--no-start"])) == 0
    unit = (home / UNIT_REL).read_text(encoding="utf-8")
    assert "--config" not in unit_keys(unit)["[Service]ExecStart"][0]

    # the default file exists: pinned, so the service reads what `doctor` checked whatever
    # XDG_CONFIG_HOME the user manager has
    default = default_config_file()
    default.parent.mkdir(parents=True, exist_ok=True)
    default.write_text("")
    assert service_command.run(parser.parse_args(["install", "--no-start"])) == 0
    assert (home / UNIT_REL).read_text(encoding="utf-8") == render_systemd(config=default)

    given = tmp_path / "other.toml"
    given.write_text("")
    assert service_command.run(parser.parse_args(["show", "--config", str(given)])) == 0
    assert capsys.readouterr().out.endswith(render_systemd(config=given))

    missing = tmp_path / "missing.toml"
    assert service_command.run(parser.parse_args(["install", "--config", str(missing)])) == 2
    err = capsys.readouterr().err
    assert f"--config: {missing} does not exist" in err
    assert "taskclf-daemon init --config" in err
