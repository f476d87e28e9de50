"""The command line: --version, the exit-code table, help text, flags, first-run messages."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Daemons, read_records, run_cli
from helpers import window_stream

from daemon.cli import _parser, main
from daemon.exits import EXIT_CODES, exit_code_for
from daemon.paths import default_config_file, default_data_dir
from taskclf_core import errors


def test_version_prints_the_package_version_without_heavy_imports() -> None:
    code = (
        "import sys; from daemon.cli import main; rc = main(['--version']); "
        "heavy = [m for m in ('pydantic', 'pydantic_settings', 'numpy', 'lightgbm', "
        "'structlog') if m in sys.modules]; print(heavy); sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    first, heavy = proc.stdout.splitlines()
    assert first == f"taskclf-daemon {version('taskclf-daemon')}"
    assert re.fullmatch(r"taskclf-daemon \d+\.\d+\.\d+.*", first)
    assert heavy == "[]"


def test_version_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--version" in capsys.readouterr().out


def test_exit_code_table_follows_the_error_tree() -> None:
    assert EXIT_CODES[-1] == (errors.TaskclfError, 2)
    operational = [
        errors.AlreadyRunning,
        errors.AlreadyExists,
        errors.LabelLogError,
        errors.ServiceError,
        errors.UnreachableError,
        errors.DemoError,
    ]
    for cls in operational:
        assert exit_code_for(cls("x")) == 1, cls
    for usage in (
        errors.ConfigError,
        errors.BundleError,
        errors.CalibrationError,
        errors.PolicyError,
        errors.PublishError,
        errors.TaxonomyError,
        errors.TrainingError,
    ):
        assert exit_code_for(usage("x")) == 2, usage


def test_run_with_nothing_configured_says_what_to_do(isolated_home: Path) -> None:
    result = run_cli("run", "--once")
    assert result.returncode == 2, result
    message = result.stderr
    assert str(default_config_file()) in message
    assert "does not exist" in message
    assert "taskclf-daemon init --model DIR [--store DIR]" in message
    assert "taskclf-daemon run --model DIR" in message
    assert "taskclf-daemon demo" in message
    assert "Traceback" not in message


def test_run_with_a_config_that_names_no_model_says_so(tmp_path: Path) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text("smooth_window = 3\n")
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 2
    assert f"{config} sets neither policy_file nor model_dir" in result.stderr
    assert "init --force --model DIR" in result.stderr


def test_a_command_the_environment_fails_names_the_file_without_a_traceback(
    tmp_path: Path, isolated_home: Path, bundle_dir: Path
) -> None:
    """An OSError (here: a file where the data directory should be; a full disk or a
    read-only filesystem alike) is exit 1 with the path and the cause."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    config = tmp_path / "daemon.toml"
    config.write_text(
        f'data_dir = "{blocker}"\npolicy_file = "{blocker / "models" / "inference_policy.json"}"\n'
    )
    for command in (
        (
            "label",
            "add",
            "--from",
            "yesterday 09:00",
            "--to",
            "yesterday 10:00",
            "Build",
            "--user",
            "u1",
        ),
        ("deploy", "--model", str(bundle_dir)),
    ):
        result = run_cli(*command, "--config", str(config))
        assert result.returncode == 1, (command, result)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith(f"taskclf-daemon: {blocker}"), result.stderr


def _help(*command: str) -> str:
    result = run_cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_observer_help_offers_only_what_is_accepted() -> None:
    text = _help("run")
    assert "native" not in text
    assert "{auto,polling,none}" in text
    assert "{auto,console,json}" in text  # --log-format


def test_status_and_reload_help_show_only_the_settings_they_use() -> None:
    for command in ("status", "reload"):
        text = _help(command)
        for flag in ("--config", "--data-dir", "--spool-dir"):
            assert flag in text, (command, flag)
        for flag in ("--reject-threshold", "--model", "--observer", "--smooth-window"):
            assert flag not in text, (command, flag)


def test_model_is_spelled_model_everywhere_with_model_dir_as_alias() -> None:
    def parse(*argv: str) -> argparse.Namespace:
        return _parser(argv[0]).parse_args(argv)

    for spelling in ("--model", "--model-dir"):
        assert parse("run", spelling, "/b").set_model_dir == "/b"
        assert parse("doctor", spelling, "/b").set_model_dir == "/b"
        assert parse("init", spelling, "/b").model == Path("/b")
        assert parse("deploy", spelling, "/b").model == Path("/b")
        assert parse("check-store", "/s", spelling, "/b").model == Path("/b")
        args = parse("calibrate", spelling, "/b", "--data", "d", "--out", "o")
        assert args.model == Path("/b")
    for spelling in ("--store", "--calibrator-store"):
        assert parse("run", spelling, "/s").set_calibrator_store == "/s"
    # the primary spelling comes first in the help
    assert "--model MODEL_DIR, --model-dir MODEL_DIR" in _help("run")


@pytest.mark.parametrize("command", ["status", "reload"])
def test_status_and_reload_still_answer_with_a_typo_in_the_config(
    tmp_path: Path, command: str
) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text('spool_dri = "/x"\n')
    result = run_cli(command, "--config", str(config))
    assert result.returncode == 3, result  # not running: the answer, not a config error
    assert "not running" in result.stdout + result.stderr
    assert "unknown key 'spool_dri'; did you mean 'spool_dir'?" in result.stderr
    # `run` stays strict
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 2
    assert "did you mean 'spool_dir'" in result.stderr


def test_a_misspelt_variable_is_refused_by_run_and_warned_by_status(
    tmp_path: Path, bundle_dir: Path
) -> None:
    env = {**os.environ, "TASKCLF_SPOOL_DRI": str(tmp_path / "spool")}
    said = "TASKCLF_SPOOL_DRI: unknown setting in the environment; did you mean TASKCLF_SPOOL_DIR?"
    result = run_cli("run", "--once", "--model", str(bundle_dir), env=env)
    assert result.returncode == 2, result
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    for command in ("status", "reload"):
        result = run_cli(command, env=env)
        assert result.returncode == 3, result  # it still answers: not running
        assert f"warning: {said}" in result.stderr, command


def _run_once(
    tmp_path: Path, bundle_dir: Path, windows: list[dict[str, object]], *extra: str
) -> str:
    spool = tmp_path / "spool"
    (spool / "new").mkdir(parents=True)
    (spool / "new" / "w.jsonl").write_text("".join(json.dumps(w) + "\n" for w in windows))
    log = tmp_path / "daemon.log"
    with open(log, "wb") as err:
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "daemon", "run", "--once", "--model", str(bundle_dir)),
                *("--spool-dir", str(spool), "--data-dir", str(tmp_path / "data"), *extra),
            ],
            stdout=err,
            stderr=err,
            timeout=120,
            check=False,
        )
    text = log.read_text()
    assert proc.returncode == 0, text
    return text


def test_log_format_console_and_json_in_a_file(
    tmp_path: Path, bundle_dir: Path, training_windows: list[dict[str, object]]
) -> None:
    windows = window_stream(training_windows[:3])
    # default off a terminal: JSON lines, as journald wants them
    default = _run_once(tmp_path / "a", bundle_dir, windows)
    assert all(json.loads(line) for line in default.splitlines())
    as_json = _run_once(tmp_path / "b", bundle_dir, windows, "--log-format", "json")
    events = [json.loads(line)["event"] for line in as_json.splitlines()]
    assert events.count("window_labelled") == 3
    console = _run_once(tmp_path / "c", bundle_dir, windows, "--log-format", "console")
    lines = console.splitlines()
    assert sum("window_labelled" in line for line in lines) == 3
    assert not any(line.lstrip().startswith("{") for line in lines)
    assert "\x1b[" not in console  # no colour codes in a file a person tails


def test_log_format_from_the_config_file(
    tmp_path: Path, bundle_dir: Path, training_windows: list[dict[str, object]]
) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text('log_format = "console"\n')
    text = _run_once(
        tmp_path, bundle_dir, window_stream(training_windows[:1]), "--config", str(config)
    )
    assert "window_labelled" in text
    assert not text.lstrip().startswith("{")


def test_run_follows_the_policy_init_wrote(
    taskclf_sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--model", str(taskclf_sample / "bundle_v1")]) == 0
    spool = tmp_path / "spool"
    (spool / "new").mkdir(parents=True)
    windows = (taskclf_sample / "windows.jsonl").read_text()
    (spool / "new" / "w.jsonl").write_text(windows)
    # a process of its own: in-process, `run` would bind the logger to pytest's stderr
    result = run_cli("run", "--once", "--spool-dir", str(spool))
    assert result.returncode == 0, result.stderr
    records = read_records(default_data_dir() / "labels")
    assert len(records) == len(windows.splitlines())
    assert {r["model_bundle_id"] for r in records} == {"bundle_v1"}
    assert {r["calibrator"] for r in records} == {"identity"}

    # a per-user threshold applies to that user only, and every record names its threshold
    installed = default_data_dir() / "models" / "bundle_v1"
    assert main(["deploy", "--model", str(installed), "--user-threshold", "u-alice=0.7"]) == 0
    (spool / "new" / "again.jsonl").write_text(windows.replace("2026-", "2027-"))
    result = run_cli("run", "--once", "--spool-dir", str(spool))
    assert result.returncode == 0, result.stderr
    later = [
        r for r in read_records(default_data_dir() / "labels") if r["bucket_start_ts"] >= "2027"
    ]
    assert len(later) == len(windows.splitlines())
    for r in later:
        assert r["reject_threshold"] == (0.7 if r["user_id"] == "u-alice" else 0.55)
        assert r["is_rejected"] == (r["confidence"] < r["reject_threshold"])


def test_a_stopped_collector_is_shown_without_its_pid() -> None:
    from daemon.collector.status import format_collector_status

    doc = {"state": "stopped", "pid": 24376, "mode": "live", "running": False}
    stopped = format_collector_status({**doc, "stopped_at": "2026-11-30T08:00:00Z"})
    head = stopped.splitlines()[0]
    assert head.startswith(
        "collector: not running (its last run, mode live, stopped 2026-11-30T08:00:00Z); start "
    ), head
    assert "24376" not in stopped
    running = format_collector_status({**doc, "state": "running", "running": True})
    assert running.splitlines()[0] == "collector: running (pid 24376, mode live)"


@pytest.mark.parametrize(
    ("doc", "line"),
    [
        ({}, None),  # before the first poll, or a file from an older version: nothing claimed
        ({"input_bucket": "aw-watcher-input_h"}, "  keyboard/mouse:  aw-watcher-input_h"),
        ({"input_bucket": None}, "  keyboard/mouse:  none: ActivityWatch has no aw-watcher-input"),
    ],
)
def test_the_collector_status_says_where_keyboard_and_mouse_data_comes_from(
    doc: dict[str, object], line: str | None
) -> None:
    from daemon.collector.status import format_collector_status

    lines = format_collector_status({"state": "running", "running": True, **doc}).splitlines()
    said = [x for x in lines if x.startswith("  keyboard/mouse:")]
    assert len(said) == (line is not None), lines
    assert all(x.startswith(str(line)) for x in said), said


@pytest.mark.parametrize(
    ("ahead", "said"),
    [(-3, "-3 s"), (0.5, "+0.5 s"), (600, "+10 min"), (9000, "+2.5 h"), (221708, "+2.6 days")],
)
def test_the_collector_status_says_how_far_the_system_clock_is_in_units_one_reads(
    ahead: float, said: str
) -> None:
    from daemon.collector.status import format_collector_status

    doc = {"state": "running", "running": True}
    clock = {"aw_now": "2026-12-04T16:57:00Z", "system_ahead_s": ahead}
    lines = format_collector_status({**doc, "clock": clock}).splitlines()
    assert f"  activitywatch:   data up to 2026-12-04T16:57:00Z (system clock {said} from it)" in (
        lines
    )


def test_status_shows_the_collector_and_the_last_personalize_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = default_data_dir()
    (data / "collector").mkdir(parents=True)
    (data / "collector" / "status.json").write_text(
        json.dumps(
            {
                "state": "running",
                "pid": 999_999_999,  # no such process: shown as not running
                "mode": "poll",
                "source": "http://127.0.0.1:5600",
                "last_poll_at": "2026-11-30T08:00:00Z",
                "cursor": "2026-11-30T07:58:00Z",
                "windows_emitted": 42,
                "last_error": "ActivityWatch at http://127.0.0.1:5600 did not answer",
                "last_error_at": "2026-11-30T07:59:00Z",
            }
        )
    )
    (data / "personalize").mkdir()
    (data / "personalize" / "last.json").write_text(
        json.dumps({"outcome": "unchanged", "at": "2026-11-30T03:30:00Z", "store": {"id": "abc"}})
    )
    assert main(["status"]) == 3
    out = capsys.readouterr().out
    assert "collector: not running (its last run, mode poll, ended without stopping" in out
    assert "999999999" not in out  # the pid of a process that is gone: not shown
    assert "start it with `taskclf-daemon collect`" in out
    assert "windows emitted: 42" in out
    assert "ActivityWatch at http://127.0.0.1:5600 did not answer" in out
    assert "personalize unchanged at 2026-11-30T03:30:00Z: store abc" in out
    assert main(["status", "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["collector"]["windows_emitted"] == 42
    assert doc["collector"]["running"] is False
    assert doc["personalize"]["outcome"] == "unchanged"


def test_run_builds_only_its_own_arguments() -> None:
    """`run`'s start-up imports no other command's module (~70 ms: the collector's HTTP
    client, report, label, service); every command is still listed."""
    code = (
        "import sys; from daemon.cli import _parser; p = _parser('run'); "
        "p.parse_args(['run', '--once']); "
        "print(sorted(m for m in sys.modules if m.startswith(('daemon.commands', "
        "'daemon.collector', 'daemon.reporting', 'http.client'))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['daemon.commands', 'daemon.commands.run']"
    # `--help` and a misspelt command list every command (importing none of their modules)
    for listed in (_help(), run_cli("bogus").stderr):
        for command in ("label", "personalize", "report", "collect", "service", "deploy"):
            assert command in listed


# --- a closed stdout -------------------------------------------------------------------------


def _with_stdout_closed(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m daemon ARGS`` whose stdout is a pipe nobody reads any more (``| head``
    that has exited): its read end is closed before the command starts."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "daemon", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)


@pytest.mark.slow
def test_a_closed_stdout_exits_as_the_command_would_have_silently(
    daemons: Daemons, training_windows: list[dict[str, Any]]
) -> None:
    """``status --json | head -c 10``, ``label list | head``, ``doctor | head``: the Python
    docs' SIGPIPE recipe, once for every command, and the command's own exit status."""
    d = daemons.new()
    d.start()
    windows = window_stream(training_windows[:3])
    d.drop_windows(windows)
    d.wait_labelled(windows)
    assert (
        d.cli(
            "label", "add", "--from", "yesterday 09:00", "--to", "yesterday 10:00", "Build"
        ).returncode
        == 0
    )
    for args in (
        ["status", "--json"],
        ["status"],
        ["label", "list"],
        ["label", "export"],
        ["doctor"],
        ["report", "--json", "--date", windows[0]["bucket_start_ts"][:10]],
        ["run", "--help"],
    ):
        expected = d.cli(*args)
        assert expected.stdout, args  # each writes something for the reader to miss
        closed = _with_stdout_closed(*args, "--config", str(d.config))
        assert (closed.returncode, closed.stderr) == (expected.returncode, expected.stderr), args
    d.stop()
    stopped = _with_stdout_closed("status", "--json", "--config", str(d.config))
    assert (stopped.returncode, stopped.stderr) == (3, "")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full (Linux has one)")
def test_stdout_on_a_full_disk_is_one_line_and_exit_1(isolated_home: Path) -> None:
    """``report --json > file`` on a full disk: what the command said is lost, which is the
    environment failing (exit 1), said in one line; never a traceback at exit."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "daemon", "label", "list"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr == "taskclf-daemon: standard output: No space left on device\n"


# --- argument errors: one line and the way to the command's help ---------------------------


def _argument_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    out, err = capsys.readouterr()
    assert (exit_.value.code, out) == (2, ""), (argv, err)
    return err.splitlines()


def _commands_and_actions() -> list[list[str]]:
    from daemon.commands import COMMANDS

    words = [[c.name] for c in COMMANDS if not c.actions]
    for command in (c for c in COMMANDS if c.actions):
        made = _parser(command.name)
        sub = next(a for a in made._actions if isinstance(a, argparse._SubParsersAction))
        (label,) = sub.choices.values()
        actions = next(a for a in label._actions if isinstance(a, argparse._SubParsersAction))
        words += [[command.name, action] for action in actions.choices]
    return words


@pytest.mark.parametrize("words", _commands_and_actions(), ids=" ".join)
def test_an_argument_error_is_one_line_and_a_hint_for_every_command(
    words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`report --bogus` printed thirty lines of usage listing every flag; `label suggest
    --bogus` blamed the top-level command. Now: the command's own line, then its help."""
    prog = " ".join(["taskclf-daemon", *words])
    lines = _argument_error([*words, "--bogus"], capsys)
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{prog}: error: "), lines
    # a command with a required argument says that first; the others name the word
    assert "--bogus" in lines[0] or "required" in lines[0], lines
    assert lines[1] == f"hint: run '{prog} --help'"


def test_a_bad_value_and_an_unknown_command_are_one_line_and_a_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _argument_error(["report", "--date", "someday"], capsys) == [
        "taskclf-daemon report: error: argument --date: cannot read 'someday' as a day; "
        'expected "today", "yesterday" or a local calendar day YYYY-MM-DD ("2026-11-30")',
        "hint: run 'taskclf-daemon report --help'",
    ]
    lines = _argument_error(["reprot"], capsys)
    assert lines[0].startswith("taskclf-daemon: error: argument COMMAND: invalid choice: 'reprot'")
    assert lines[1:] == ["hint: run 'taskclf-daemon --help'"]
    assert _argument_error([], capsys)[1:] == ["hint: run 'taskclf-daemon --help'"]


def test_an_option_before_a_label_action_says_where_it_goes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`label --config F list` read F as the action (or, before, let the action's default
    overwrite it): options go after the action, and the refusal says so."""
    assert _argument_error(["label", "--config", "/x", "list"], capsys) == [
        "taskclf-daemon label: error: --config: options go after the action, e.g. "
        "`taskclf-daemon label list --config ...`",
        "hint: run 'taskclf-daemon label --help'",
    ]


def test_report_with_a_bogus_flag_from_outside(isolated_home: Path) -> None:
    done = run_cli("report", "--bogus")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "taskclf-daemon report: error: unrecognized arguments: --bogus\n"
        "hint: run 'taskclf-daemon report --help'\n"
    )


def test_each_command_lists_only_the_setting_flags_of_the_keys_it_reads() -> None:
    from daemon.config.keys import KEYS, flags

    owner = {f: name for name in KEYS for f in flags(name)}
    checked = 0
    for words in _commands_and_actions():
        if words == ["doctor"]:
            continue  # it checks every key, so it takes every flag
        text = _help(*words)
        _, _, settings = text.partition("settings (override the config file and TASKCLF_* vars):")
        listed = set(re.findall(r"^  (--[a-z0-9-]+)", settings, re.M))
        for flag in listed:
            assert words[0] in KEYS[owner[flag]].readers, (words, flag)
        checked += bool(listed)
    assert checked >= 10


# --- a config with two typos ---------------------------------------------------------------

TWO_TYPOS = 'spool_dri = "/x"\nreject_treshold = 0.5\n'


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--once"],
        ["report"],
        ["collect", "--once"],
        ["label", "list"],
        ["label", "suggest"],
        ["personalize", "--dry-run"],
        ["rollback"],
        ["deploy", "--model", "{bundle}"],
        ["check-store", "{bundle}"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_every_command_that_refuses_a_config_names_every_typo(
    argv: list[str], tmp_path: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run` reported the first typo only (doctor listed both): each refusal names all."""
    config = tmp_path / "daemon.toml"
    config.write_text(TWO_TYPOS)
    args = [a.format(bundle=bundle_dir) for a in argv]
    assert main([*args, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: unknown key 'spool_dri'; did you mean 'spool_dir'?" in err
    assert f"{config}: unknown key 'reject_treshold'; did you mean 'reject_threshold'?" in err
    assert err.startswith("taskclf-daemon: ")


def test_run_names_every_typo_from_outside(tmp_path: Path) -> None:
    config = tmp_path / "daemon.toml"
    config.write_text(TWO_TYPOS)
    done = run_cli("run", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.count("unknown key") == 2, done.stderr
