"""No command prints a traceback: every time, date and number argument × extreme values.

Each case runs ``main`` in-process (what the console script runs); an exception escaping it is
the traceback a person would see. A refusal is exit 2 with one line naming the flag.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from daemon_harness import run_cli
from helpers import temperature_store

from daemon.cli import main
from taskclf_core.bundle import load_bundle
from taskclf_core.calibration import save_calibrator_store
from taskclf_core.synthetic import generate_windows

TIMES = [
    "9999-12-31",
    "0001-01-01",
    "1999-12-31",
    "2100-01-02",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00+01:00",
    "1970-01-01T00:00:00Z",
    "",
    "nan",
    "-1",
    "1e400",
    "99999999999999999999",
]
NUMBERS = ["nan", "inf", "-inf", "1e400", "1e300", "-1", "0", "", "99999999999999999999999"]

# (name, argv with {v} for the hostile value): a refusal names the flag that holds {v};
# {config} is this test's configuration, {bundle} a model, {data} labelled windows, {tmp} a dir
TIME_ARGS = [
    ("report-date", ["report", "--date={v}"]),
    ("report-json-date", ["report", "--json", "--date={v}"]),
    ("report-html-date", ["report", "--html", "{tmp}/r.html", "--date={v}"]),
    ("report-from", ["report", "--from={v}", "--to=2026-01-02"]),
    ("report-to", ["report", "--from=2026-01-01", "--to={v}"]),
    ("label-add-from", ["label", "add", "--from={v}", "--to=now", "Build", "--user=u"]),
    ("label-add-to", ["label", "add", "--from=2026-01-01", "--to={v}", "Build", "--user=u"]),
    ("label-list-from", ["label", "list", "--from={v}"]),
    ("label-list-to", ["label", "list", "--to={v}"]),
    ("label-remove", ["label", "remove", "--from={v}", "--to=now"]),
    ("collect-from", ["collect", "--once", "--from={v}"]),
    ("collect-to", ["collect", "--once", "--from=2026-01-01", "--to={v}"]),
]
_TRAIN = ["train", "--data={data}", "--out={tmp}/b"]
_CALIBRATE = ["calibrate", "--model={bundle}", "--data={data}", "--out={tmp}/s"]
NUMBER_ARGS = [
    (
        "label-confidence",
        [
            "label",
            "add",
            "--from=yesterday 09:00",
            "--to=yesterday 10:00",
            "Build",
            "--user=u",
            "--confidence={v}",
        ],
    ),
    ("suggest-days", ["label", "suggest", "--days={v}"]),
    ("suggest-below", ["label", "suggest", "--below={v}"]),
    ("suggest-limit", ["label", "suggest", "--limit={v}"]),
    ("deploy-threshold", ["deploy", "--model={bundle}", "--reject-threshold={v}"]),
    ("deploy-user", ["deploy", "--model={bundle}", "--user-threshold=u={v}"]),
    ("train-rounds", [*_TRAIN, "--rounds={v}"]),
    ("train-seed", [*_TRAIN, "--rounds=2", "--seed={v}"]),
    ("train-holdout", [*_TRAIN, "--rounds=2", "--holdout={v}"]),
    ("calibrate-holdout", [*_CALIBRATE, "--holdout={v}"]),
    ("calibrate-min-windows", [*_CALIBRATE, "--min-windows={v}"]),
    ("run-heartbeat", ["run", "--once", "--heartbeat-seconds={v}"]),
    ("run-retention", ["run", "--once", "--retention-days={v}"]),
    ("run-label-retention", ["run", "--once", "--label-retention-days={v}"]),
    ("run-max-file-bytes", ["run", "--once", "--max-file-bytes={v}"]),
    ("run-threshold", ["run", "--once", "--reject-threshold={v}"]),
    ("collect-settle", ["collect", "--once", "--collect-settle-seconds={v}"]),
    ("collect-interval", ["collect", "--once", "--collect-interval-seconds={v}"]),
    ("report-idle-gap", ["report", "--idle-gap-seconds={v}"]),
    ("personalize-idle-gap", ["personalize", "--dry-run", "--idle-gap-seconds={v}"]),
]
# `run` and `collect` set up the process's logging: they run as real processes (slower)
_OWN_PROCESS = ("run", "collect")
CASES = [
    pytest.param(
        argv,
        value,
        names is TIME_ARGS,  # every one of those times is refused; numbers may be taken
        id=f"{name}[{value}]",
        marks=[pytest.mark.slow] if argv[0] in _OWN_PROCESS else [],
    )
    for names, values in ((TIME_ARGS, TIMES), (NUMBER_ARGS, NUMBERS))
    for name, argv in names
    for value in values
]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there: the collector's ActivityWatch is unreachable


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path) -> dict[str, str]:
    """One data dir (a label log day, spans, collector identity) and a taskclf home."""
    root = tmp_path_factory.mktemp("hostile")
    data = root / "data"
    (data / "data" / "processed").mkdir(parents=True)
    (data / "data" / "processed" / ".title_secret").write_text("salt\n")
    (data / "data" / "processed" / ".user_id").write_text("u\n")
    (data / "labels").mkdir()
    windows = generate_windows(days=4, seed=3)
    (root / "windows.jsonl").write_text("".join(json.dumps(w) + "\n" for w in windows))
    # what an older version logged: days out of the supported times, and a record of a
    # supported day whose end is not
    for start, end in (
        ("9999-12-31T23:58:00Z", "9999-12-31T23:59:00Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:01:00Z"),
        ("2099-12-31T23:59:00Z", "2100-01-01T00:01:00Z"),
    ):
        (data / "labels" / f"{start[:10]}.jsonl").write_text(_record(start, end))
    with (data / "labels" / "2099-12-31.jsonl").open("a") as fh:
        fh.write(_record("2099-12-31T05:00:00Z", "2099-12-31T05:01:00Z"))
    store = save_calibrator_store(temperature_store(load_bundle(bundle_dir), 1.0), root / "store")
    config = root / "daemon.toml"
    config.write_text(
        f'model_dir = "{bundle_dir}"\ncalibrator_store = "{store}"\ndata_dir = "{data}"\n'
        f'aw_url = "http://127.0.0.1:{_closed_port()}"\n'
    )
    home = root / "taskclf"
    shutil.copytree(bundle_dir, home / "models" / bundle_dir.name)
    policy_config = root / "policy.toml"
    policy_config.write_text(f'policy_file = "{home / "models" / "inference_policy.json"}"\n')
    return {
        "config": str(config),
        "policy_config": str(policy_config),
        "bundle": str(home / "models" / bundle_dir.name),
        "data": str(root / "windows.jsonl"),
    }


def _record(start: str, end: str) -> str:
    return (
        json.dumps(
            {
                "user_id": "u",
                "bucket_start_ts": start,
                "bucket_end_ts": end,
                "core_label": "Build",
                "confidence": 0.3,
                "is_rejected": True,
                "label": "Mixed/Unknown",
                "smoothed_label": "Mixed/Unknown",
                "model_bundle_id": "bundle_test",
            }
        )
        + "\n"
    )


def _argv(argv: list[str], value: str, setup: dict[str, str], tmp: Path) -> list[str]:
    fill = {**setup, "tmp": str(tmp), "v": value}
    args = [part.format(**fill) for part in argv]
    if args[0] == "train":
        return args  # no configuration
    config = setup["policy_config"] if args[0] == "deploy" else setup["config"]
    return [*args, "--config", config]


@pytest.mark.parametrize(("argv", "value", "refused"), CASES)
def test_no_traceback_for_any_value(
    argv: list[str],
    value: str,
    refused: bool,
    setup: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _argv(argv, value, setup, tmp_path)
    if args[0] in _OWN_PROCESS:
        done = run_cli(*args)
        code, err = done.returncode, done.stderr
        assert "Traceback" not in err, err
    else:
        try:
            code = main(args)
        except SystemExit as exc:  # argparse's own refusal of a value it cannot convert
            code = exc.code if isinstance(exc.code, int) else 2
        err = capsys.readouterr().err
    assert code in ((2,) if refused else (0, 1, 2)), err
    if code == 2:
        # the flag, or the field it fills (`confidence: expected a number in [0, 1]`)
        flag = next(a for a in argv if "{v}" in a).split("=")[0].lstrip("-")
        # the refusal's one line: an argument error adds the way to the command's --help
        last = [line for line in err.strip().splitlines() if not line.startswith("hint: ")][-1]
        assert flag in last, f"the refusal does not name {flag}: {err}"
        assert last.startswith(("taskclf-daemon:", "taskclf-daemon ")), err


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["report", "--date", "9999-12-31"],
        ["report", "--html", "{tmp}/r.html", "--date", "0001-01-01"],
        ["label", "add", "--from", "0001-01-01", "--to", "now", "Build", "--user", "u"],
        ["collect", "--once", "--from", "9999-12-31"],
        ["label", "suggest", "--days", "1e400"],
    ],
    ids=["report", "report-html", "label-add", "collect", "suggest"],
)
def test_a_real_process_prints_one_line_not_a_traceback(
    args: list[str], setup: dict[str, str], tmp_path: Path
) -> None:
    done = run_cli(*[a.format(tmp=tmp_path) for a in args], "--config", setup["config"])
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 2), done.stderr
    if done.returncode == 2:  # one line (an argument error adds the way to --help)
        lines = done.stderr.strip().splitlines()
        assert len([line for line in lines if not line.startswith("hint: ")]) == 1, done.stderr


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Etc/GMT+12"])
def test_days_an_older_version_logged_out_of_range_crash_no_reader(
    zone: str,
    setup: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """9999-12-31 and 0001-01-01 day files, and a record ending past 2100: every reader
    skips them (the report counts the record as damaged), doctor says so."""
    monkeypatch.setenv("TZ", zone)
    config = ["--config", setup["config"]]
    assert main(["label", "suggest", "--days", "1e6", *config]) == 0
    out = capsys.readouterr().out
    assert "9999" not in out
    assert "0001" not in out
    assert "2099-12-3" in out  # the good record of that day is read (a local time)
    # a local day in every zone holds that record (UTC-12 to UTC+14)
    days = ["--from", "2099-12-30", "--to", "2099-12-31"]
    assert main(["report", *days, "--json", *config]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["skipped_lines"] == 1
    assert [r["total_minutes"] for r in doc["reports"]] == [1.0]
    assert main(["report", *days, *config]) == 0
    assert "1 damaged line in the label log was skipped" in capsys.readouterr().out
    assert main(["personalize", "--dry-run", *config]) == 0
    capsys.readouterr()
    assert main(["doctor", *config]) in (0, 1)
    warning = next(
        line for line in capsys.readouterr().out.splitlines() if "outside the supported" in line
    )
    assert warning.startswith("warn")
    assert "0001-01-01.jsonl" in warning
    assert "9999-12-31.jsonl" in warning
