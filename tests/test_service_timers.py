"""The scheduled runs (daily personalize, retrain checked daily) and any combination of units:
`service install|show|uninstall` acts on exactly what it names; uninstall alone removes all."""

from __future__ import annotations

import argparse
import importlib.resources
import io
import itertools
import os
import plistlib
import random
import re
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import SYSTEMD_ANALYZE, FakeRunner, systemd_verify, unavailable, unit_keys

from daemon.commands import service as service_command
from daemon.units import service
from daemon.units.service import (
    COLLECTOR_UNIT,
    DAEMON_UNIT,
    PERSONALIZE_TIMER,
    RETRAIN_TIMER,
    UNITS,
    Platform,
    Unit,
    entry_point,
    installed_units,
    service_install,
    service_show,
    service_uninstall,
)
from daemon.units.unit import render_unit_files, unit_files
from taskclf_core.retrain import CADENCE_DAYS, retrain_due
from taskclf_core.timerange import format_ts

SOURCE_ROOT = Path(__file__).resolve().parents[1]
UNITS_DIR = ".config/systemd/user"
TIMERS = (PERSONALIZE_TIMER, RETRAIN_TIMER)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def names(platform: Platform, units: Sequence[Unit]) -> set[str]:
    return {p.name for u in units for p in unit_files(platform, None, u)}


# --- rendering -----------------------------------------------------------------------------


def test_every_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """Every file `service install` can write, together (the collector is ordered after the
    daemon, a timer starts its service), as systemd itself reads them."""
    config = tmp_path / "my config.toml"
    written = []
    for unit in UNITS:
        for path, text in render_unit_files("systemd", tmp_path, config, unit).items():
            (tmp_path / path.name).write_text(text, encoding="utf-8")
            written.append(tmp_path / path.name)
    assert {p.name for p in written} == {
        "taskclf-daemon.service",
        "taskclf-collector.service",
        "taskclf-personalize.service",
        "taskclf-personalize.timer",
        "taskclf-retrain.service",
        "taskclf-retrain.timer",
    }
    systemd_verify(*written)


@pytest.mark.parametrize("unit", TIMERS, ids=lambda u: u.flag)
def test_a_scheduled_run_is_a_oneshot_service_and_its_timer(unit: Unit, tmp_path: Path) -> None:
    config = tmp_path / "my config.toml"
    files = render_unit_files("systemd", None, config, unit)
    service_text, timer_text = files.values()
    keys = unit_keys(service_text)
    assert keys["[Service]ExecStart"] == [f'{entry_point()[0]} {unit.command} --config "{config}"']
    assert keys["[Service]Type"] == ["oneshot"]
    assert keys["[Service]UMask"] == ["0077"]
    assert keys["[Service]Nice"] == ["10"]
    assert "[Install]WantedBy" not in keys  # started by its timer only
    timer = unit_keys(timer_text)
    assert timer["[Timer]Persistent"] == ["true"]
    assert timer["[Install]WantedBy"] == ["timers.target"]
    template = (SOURCE_ROOT / "packaging" / "systemd" / unit.unit_name).read_text()
    assert render_unit_files("systemd", None, None, unit)[
        unit_files("systemd", None, unit)[0]
    ] == template.replace("@EXEC_START@", f"{entry_point()[0]} {unit.command}")


def test_the_schedules() -> None:
    day = unit_keys(render_unit_files("systemd", None, None, PERSONALIZE_TIMER).popitem()[1])
    retrain = unit_keys(render_unit_files("systemd", None, None, RETRAIN_TIMER).popitem()[1])
    assert day["[Timer]OnCalendar"] == ["*-*-* 03:30:00"]
    # retrain decides for itself whether a model is due: the timer asks each day
    assert retrain["[Timer]OnCalendar"] == ["*-*-* 04:30:00"]


def elapses(calendar: str, base: datetime, n: int) -> list[datetime]:
    """The timer's next ``n`` elapses after ``base`` (UTC), as systemd computes them."""
    if SYSTEMD_ANALYZE is None:
        unavailable("systemd-analyze", "cannot compute the timer's elapses (Debian: systemd)")
    proc = subprocess.run(
        [
            SYSTEMD_ANALYZE,
            "calendar",
            f"--iterations={n}",
            f"--base-time={base:%Y-%m-%d %H:%M:%S} UTC",
            calendar,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "TZ": "UTC"},
    )
    if proc.returncode != 0 and "base-time" in proc.stderr:  # systemd before 250 has none
        unavailable("systemd-analyze calendar --base-time", proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr
    found = re.findall(r"(?:Next elapse|Iter\. #\d+): \w{3} (\S+ \S+) UTC", proc.stdout)
    assert len(found) == n, proc.stdout
    return [datetime.fromisoformat(f).replace(tzinfo=UTC) for f in found]


def test_the_retrain_timer_keeps_the_models_cadence() -> None:
    """Ten weeks of the timer as systemd fires it: each elapse delayed at random by up to its
    RandomizedDelaySec, a retrain training when :func:`retrain_due` says so (the model's
    ``created_at`` is the run's start). The model is retrained every ``CADENCE_DAYS`` days,
    a day late at most. A weekly timer (Sundays 04:30) retrained every other week whenever
    one week's delay came out shorter than the week before's: the model 6.99 days old."""
    timer = unit_keys(render_unit_files("systemd", None, None, RETRAIN_TIMER).popitem()[1])
    (calendar,) = timer["[Timer]OnCalendar"]
    (delay,) = timer["[Timer]RandomizedDelaySec"]
    assert delay == "30min"
    rng = random.Random(7)
    created: str | None = None  # the rule baseline: always due
    retrained: list[datetime] = []
    for fire in elapses(calendar, datetime(2026, 3, 1, tzinfo=UTC), 70):
        now = fire + timedelta(seconds=rng.uniform(0, 30 * 60) + rng.uniform(1, 5))
        if retrain_due(created, now=now, cadence_days=CADENCE_DAYS).due:
            created = format_ts(now)
            retrained.append(now)
    gaps = [(b - a) / timedelta(days=1) for a, b in itertools.pairwise(retrained)]
    assert len(gaps) >= 7
    assert all(CADENCE_DAYS <= gap < CADENCE_DAYS + 1.03 for gap in gaps), gaps


@pytest.mark.parametrize(
    ("unit", "calendar"),
    [
        (PERSONALIZE_TIMER, {"Hour": 3, "Minute": 30}),
        (RETRAIN_TIMER, {"Hour": 4, "Minute": 30}),
    ],
    ids=["personalize-daily", "retrain-weekly"],
)
def test_a_scheduled_run_is_a_calendar_agent_on_macos(
    unit: Unit, calendar: dict[str, int], tmp_path: Path
) -> None:
    config = tmp_path / "a & b.toml"
    (text,) = render_unit_files("launchd", tmp_path, config, unit).values()
    plist = plistlib.loads(text.encode())
    assert plist["Label"] == unit.launchd_label
    assert plist["ProgramArguments"] == [*entry_point(), unit.command, "--config", str(config)]
    assert plist["StartCalendarInterval"] == calendar
    assert "RunAtLoad" not in plist
    assert "KeepAlive" not in plist  # a scheduled job, not a service to keep running
    logs = tmp_path / "Library" / "Logs" / "taskclf"
    assert plist["StandardErrorPath"] == str(logs / f"{unit.command}.err.log")


# --- any combination, through the recording runner -----------------------------------------

COMBINATIONS = [
    combo for n in range(1, len(UNITS) + 1) for combo in itertools.combinations(UNITS, n)
]


def _run(action: str, platform: Platform, home: Path, units: Sequence[Unit] | None,
         *, start: bool) -> tuple[int, str, FakeRunner]:  # fmt: skip
    runner, out = FakeRunner(), io.StringIO()
    if action == "install":
        assert units is not None
        code = service_install(
            start=start, units=units, platform=platform, runner=runner, home=home, out=out
        )
    else:
        code = service_uninstall(
            stop=start, units=units, platform=platform, runner=runner, home=home, out=out
        )
    return code, out.getvalue(), runner


@pytest.mark.parametrize("start", [True, False], ids=["start", "no-start"])
@pytest.mark.parametrize("combo", COMBINATIONS, ids=lambda c: "+".join(u.flag for u in c))
def test_systemd_installs_and_uninstalls_exactly_what_it_names(
    combo: tuple[Unit, ...], start: bool, isolated_home: Path
) -> None:
    """`install --no-start --collector --personalize-daily` skipped the timer without a word."""
    where = isolated_home / UNITS_DIR
    code, out, runner = _run("install", "systemd", isolated_home, combo, start=start)
    assert code == 0, out
    assert {Path(p).name for p in files_under(where)} == names("systemd", combo)
    assert installed_units("systemd", isolated_home) == list(combo)
    started = [u.started for u in combo]
    if start:
        assert runner.calls == [
            ["systemctl", "--user", "daemon-reload"],
            *(["systemctl", "--user", "enable", "--now", name] for name in started),
        ]
    else:
        assert runner.calls == []
        assert f"systemctl --user enable --now {' '.join(started)}" in out
    for unit in combo:  # each says what it is and runs, under its own name
        (line,) = [x for x in out.splitlines() if x.startswith(f"  {unit.started}: ")]
        assert line.endswith(f"{unit.what}, runs {entry_point()[0]} {unit.command}")
    # `enable` links it into its target's .wants/; uninstall leaves nothing behind
    for unit in combo:
        wants = where / f"{unit.wanted_by}.wants"
        wants.mkdir(exist_ok=True)
        (wants / unit.started).symlink_to(where / unit.started)
    code, out, runner = _run("uninstall", "systemd", isolated_home, combo, start=start)
    assert code == 0, out
    assert files_under(isolated_home) == set()
    expected = [["systemctl", "--user", "disable", "--now", u.started] for u in reversed(combo)]
    assert runner.calls == ([*expected, ["systemctl", "--user", "daemon-reload"]] if start else [])


@pytest.mark.parametrize("start", [True, False], ids=["start", "no-start"])
@pytest.mark.parametrize("combo", COMBINATIONS, ids=lambda c: "+".join(u.flag for u in c))
def test_launchd_installs_and_uninstalls_exactly_what_it_names(
    combo: tuple[Unit, ...], start: bool, isolated_home: Path
) -> None:
    agents = isolated_home / "Library" / "LaunchAgents"
    code, out, runner = _run("install", "launchd", isolated_home, combo, start=start)
    assert code == 0, out
    assert files_under(agents) == {u.plist_name for u in combo}
    assert (isolated_home / "Library" / "Logs" / "taskclf").is_dir()  # launchd will not make it
    bootstraps = [c for c in runner.calls if c[:2] == ["launchctl", "bootstrap"]]
    assert [c[-1] for c in bootstraps] == ([str(agents / u.plist_name) for u in combo] if start
                                           else [])  # fmt: skip
    code, out, runner = _run("uninstall", "launchd", isolated_home, combo, start=start)
    assert code == 0, out
    assert files_under(agents) == set()
    booted_out = [
        c[-1].rsplit("/", 1)[1] for c in runner.calls if c[:2] == ["launchctl", "bootout"]
    ]
    assert booted_out == ([u.launchd_label for u in reversed(combo)] if start else [])


@pytest.mark.parametrize("platform", ["systemd", "launchd"])
def test_uninstall_without_a_flag_removes_everything_the_project_installed(
    platform: Platform, isolated_home: Path
) -> None:
    """README's uninstall left the collector's unit behind: without a flag, every unit and
    agent goes (the daemon, the collector, the timers); with one, only what it names."""
    assert _run("install", platform, isolated_home, UNITS, start=True)[0] == 0
    code, out, _ = _run("uninstall", platform, isolated_home, [COLLECTOR_UNIT], start=True)
    assert code == 0
    assert COLLECTOR_UNIT not in installed_units(platform, isolated_home)
    assert len(installed_units(platform, isolated_home)) == len(UNITS) - 1
    code, out, _ = _run("uninstall", platform, isolated_home, None, start=True)
    assert code == 0, out
    assert installed_units(platform, isolated_home) == []
    assert out.splitlines()[-1] == "kept: your configuration, models, labels and logs"
    code, out, runner = _run("uninstall", platform, isolated_home, None, start=True)
    assert (code, runner.calls) == (0, [])
    assert out == "not installed: no unit or agent of taskclf-daemon here; nothing to do\n"


def test_a_failing_stop_keeps_that_unit_for_the_retry(isolated_home: Path) -> None:
    assert _run("install", "systemd", isolated_home, UNITS, start=False)[0] == 0
    fail: dict[tuple[str, ...], int] = {
        ("systemctl", "--user", "disable", "--now", COLLECTOR_UNIT.started): 1
    }
    runner, err = FakeRunner(fail), io.StringIO()
    code = service_uninstall(platform="systemd", runner=runner, home=isolated_home,
                             out=io.StringIO(), err=err)  # fmt: skip
    assert code == 1
    assert "`systemctl --user disable --now taskclf-collector.service` failed" in err.getvalue()
    # the timers went first; the collector and the daemon are as they were
    assert installed_units("systemd", isolated_home) == [DAEMON_UNIT, COLLECTOR_UNIT]


def test_show_prints_each_file_it_would_write(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert service_show("systemd", units=[DAEMON_UNIT]) == 0
    alone = capsys.readouterr().out
    assert alone == render_unit_files("systemd", None, None, DAEMON_UNIT).popitem()[1]
    assert service_show("systemd", units=[COLLECTOR_UNIT, RETRAIN_TIMER]) == 0
    out = capsys.readouterr().out
    headers = re.findall(r"^# --- (\S+) ---$", out, re.M)
    assert [Path(h).name for h in headers] == [
        "taskclf-collector.service",
        "taskclf-retrain.service",
        "taskclf-retrain.timer",
    ]
    assert files_under(isolated_home) == set()  # show writes nothing


# --- the command ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    service_command.add_arguments(parser)
    return parser


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], None),
        (["--daemon"], [DAEMON_UNIT]),
        (["--personalize-daily", "--collector"], [COLLECTOR_UNIT, PERSONALIZE_TIMER]),
        (["--retrain-weekly"], [RETRAIN_TIMER]),
        (
            ["--retrain-weekly", "--daemon", "--collector", "--personalize-daily"],
            list(UNITS),
        ),
    ],
)
def test_the_flags_name_the_units(argv: list[str], expected: list[Unit] | None) -> None:
    args = _parser().parse_args(["install", *argv])
    assert service_command.selected_units(args) == expected


def test_the_command_installs_the_named_units_or_the_daemon(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "resolve_platform", lambda platform, err: "systemd")
    where = isolated_home / UNITS_DIR
    run = service_command.run
    parse = _parser().parse_args
    assert run(parse(["install", "--no-start", "--collector", "--personalize-daily"])) == 0
    assert {Path(p).name for p in files_under(where)} == names(
        "systemd", [COLLECTOR_UNIT, PERSONALIZE_TIMER]
    )
    assert run(parse(["install", "--no-start"])) == 0  # no flag: the daemon
    assert run(parse(["install", "--no-start", "--retrain-weekly"])) == 0
    assert installed_units("systemd", isolated_home) == list(UNITS)
    assert run(parse(["uninstall", "--no-start", "--daemon"])) == 0
    assert DAEMON_UNIT not in installed_units("systemd", isolated_home)
    assert run(parse(["uninstall", "--no-start"])) == 0  # no flag: everything
    assert files_under(isolated_home) == set()


def test_the_wheel_ships_every_template() -> None:
    pyproject = (SOURCE_ROOT / "pyproject.toml").read_text()
    shipped = []
    for unit in UNITS:
        files = [("launchd", unit.plist_name), ("systemd", unit.unit_name)]
        if unit.timer is not None:
            files.append(("systemd", unit.timer))
        for directory, name in files:
            source = SOURCE_ROOT / "packaging" / directory / name
            assert source.is_file(), source
            assert f'"packaging/{directory}/{name}" = "daemon/_templates/{name}"' in pyproject
            packaged = importlib.resources.files("daemon") / "_templates" / name
            if packaged.is_file():
                assert packaged.read_text(encoding="utf-8") == source.read_text(encoding="utf-8")
            shipped.append(name)
    assert len(shipped) == 10


def test_from_outside_the_combination_a_new_user_typed(isolated_home: Path) -> None:
    """The report: `install --no-start --collector --personalize-daily` wrote the collector's
    unit only, and `uninstall` then left it behind."""
    from daemon_harness import run_cli
    from helpers import require_tool

    require_tool("systemctl", "service picks systemd by it (Debian: systemd)")
    done = run_cli("service", "install", "--no-start", "--collector", "--personalize-daily")
    assert done.returncode == 0, done.stderr
    where = isolated_home / UNITS_DIR
    assert {Path(p).name for p in files_under(where)} == {
        "taskclf-collector.service",
        "taskclf-personalize.service",
        "taskclf-personalize.timer",
    }
    assert "the service runs the daemon" not in done.stdout
    done = run_cli("service", "uninstall", "--no-start")
    assert done.returncode == 0, done.stderr
    assert files_under(isolated_home) == set()
