"""`report` reads its five settings without pydantic or numpy, as Settings would resolve them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import require_tool

from daemon.cli import main
from daemon.config.settings import load_settings
from daemon.config.subsets import REPORT_KEYS, ReportSettings, report_settings
from taskclf_core.labels import CORE_LABELS

PROBE = """
import io, sys
from contextlib import redirect_stderr, redirect_stdout
from daemon.cli import main
out = io.StringIO()
with redirect_stdout(out), redirect_stderr(io.StringIO()):
    code = main(sys.argv[1:])
heavy = sorted(m for m in ('pydantic', 'pydantic_settings', 'numpy', 'lightgbm', 'structlog',
                           'yaml') if m in sys.modules)
print(code, heavy, len(out.getvalue()) > 0)
"""


@pytest.fixture
def env(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """conftest's own HOME (no TASKCLF_* variables), in Berlin."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    return isolated_home


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "daemon.toml"
    path.write_text(text)
    return path


def _same_as_settings(
    found: ReportSettings | None, config: Path | None, flags_: dict[str, Any]
) -> None:
    settings = load_settings(config, flags_)
    assert found is not None
    for key in REPORT_KEYS:
        assert getattr(found, key) == getattr(settings, key), key
    assert found.labels_path == settings.labels_path
    assert found.model_path == settings.model_path


def test_defaults_file_environment_and_flags_resolve_as_settings_does(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _same_as_settings(report_settings(None), None, {})
    config = _config(
        tmp_path,
        'data_dir = "~/d"\ntaxonomy = "$HOME/tax.yaml"\nidle_gap_seconds = 120\n'
        'model_dir = "/m"\nsmooth_window = 5\n',
    )
    _same_as_settings(report_settings(config), config, {})
    monkeypatch.setenv("TASKCLF_IDLE_GAP_SECONDS", "90.5")
    monkeypatch.setenv("TASKCLF_DATA_DIR", str(tmp_path / "from-env"))
    _same_as_settings(report_settings(config), config, {})
    over = {"data_dir": str(tmp_path / "from-flag"), "idle_gap_seconds": "60"}
    _same_as_settings(report_settings(config, over), config, over)
    policy = _config(tmp_path, 'policy_file = "~/models/inference_policy.json"\n')
    _same_as_settings(report_settings(policy), policy, {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data_dri = '/x'\n", "did you mean 'data_dir'"),
        ("idle_gap_seconds = 0\n", "idle_gap_seconds"),
        ("idle_gap_seconds = 'soon'\n", "idle_gap_seconds"),
        ("data_dir = 3\n", "data_dir"),
        ("data_dir = '$NO_SUCH_VARIABLE_HERE/x'\n", "NO_SUCH_VARIABLE_HERE"),
        ("policy_file = '/p.json'\nmodel_dir = '/m'\n", "policy_file and model_dir"),
        ("data_dir = \n", "not valid TOML"),
        ("data_dir = ''\n", "data_dir: expected a path, got ''"),
    ],
)
def test_what_it_cannot_judge_goes_to_settings_and_is_refused_as_before(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    config = _config(tmp_path, text)
    assert report_settings(config) is None
    assert main(["report", "--config", str(config)]) == 2
    assert message in capsys.readouterr().err


def test_report_imports_neither_pydantic_nor_numpy(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A person types it: a week view, and today's with drift and a policy in force. The
    commands run at a chosen time (faketime): today is never a day that has just begun."""
    faketime = require_tool("faketime", "to run the command at a chosen time (Debian: faketime)")
    at = ["2026-06-17 12:00:00"]  # Berlin (TZ), so 10:00 UTC
    data = tmp_path / "data"
    labels = data / "labels"
    labels.mkdir(parents=True)
    now = datetime(2026, 6, 17, 10, 0, tzinfo=UTC)
    lines = []
    for i in range(30):
        start = now - timedelta(minutes=31 - i)
        lines.append(
            json.dumps(
                {
                    "user_id": "alice",
                    "bucket_start_ts": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "bucket_end_ts": (start + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "core_label": "Build",
                    "core_probs": {"Build": 0.9, "Debug": 0.1},
                    "confidence": 0.9,
                    "is_rejected": False,
                    "label": "Build",
                    "smoothed_label": "Build",
                    "model_bundle_id": "model-a",
                    "processed_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
        )
    for day in sorted({json.loads(line)["bucket_start_ts"][:10] for line in lines}):
        (labels / f"{day}.jsonl").write_text(
            "".join(line + "\n" for line in lines if f'"bucket_start_ts": "{day}' in line)
        )
    home = data / "taskclf"
    (home / "models" / "model-a").mkdir(parents=True)
    (home / "models" / "model-a" / "metadata.json").write_text(
        json.dumps({"created_at": "2026-01-01T00:00:00Z"})
    )
    policy = home / "models" / "inference_policy.json"
    policy.write_text(
        json.dumps(
            {
                "policy_version": "v1",
                "model_dir": "models/model-a",
                "model_schema_hash": "abc",
                "model_label_set": list(CORE_LABELS),
                "reject_threshold": 0.55,
            }
        )
    )
    config = _config(tmp_path, f'data_dir = "{data}"\npolicy_file = "{policy}"\n')
    for argv in (
        ["report", "--config", str(config)],
        ["report", "--config", str(config), "--json"],
        ["report", "--config", str(config), "--from", "2026-06-15", "--to", "2026-06-21"],
        ["report", "--data-dir", str(data), "--date", "today"],
    ):
        proc = subprocess.run(
            [faketime, *at, sys.executable, "-c", PROBE, *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "0 [] True", (argv, proc.stdout)
    # the policy's model gives the model's age
    proc = subprocess.run(
        [
            faketime,
            *at,
            sys.executable,
            "-m",
            "daemon",
            "report",
            "--config",
            str(config),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["from"] == "2026-06-17"
    assert doc["reports"][0]["windows"] == 30
    assert doc["drift"]["alice"]["model"]["created_at"] == "2026-01-01T00:00:00Z"


def test_a_misspelt_variable_is_refused_as_a_misspelt_key_is(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKCLF_DATA_DRI", str(tmp_path))
    assert report_settings(None) is None
    assert main(["report"]) == 2
    assert (
        "TASKCLF_DATA_DRI: unknown setting in the environment; did you mean TASKCLF_DATA_DIR?"
        in (capsys.readouterr().err)
    )


def test_its_usage_lists_only_the_settings_it_reads(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "--help"])
    assert exited.value.code == 0
    usage = capsys.readouterr().out
    for key in ("--data-dir", "--policy-file", "--model", "--taxonomy", "--idle-gap-seconds"):
        assert key in usage
    for key in ("--log-level", "--spool-dir", "--reject-threshold", "--aw-url"):
        assert key not in usage
    data = tmp_path / "data"
    (data / "labels").mkdir(parents=True)
    with pytest.raises(SystemExit) as exited:
        main(["report", "--data-dir", str(data), "--log-level", "debug"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --log-level debug" in capsys.readouterr().err
