"""`collect` against a real aw-server: parity over REST, the live process, and into the daemon."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aw_fixtures import HOSTNAME, load_case, row_differences
from aw_server import AWServer, aw_server, find_aw_server
from collector_kit import collector_process, write_identity
from daemon_harness import isolated_env, run_cli, running_daemons, wait_for
from helpers import unavailable

from taskclf_core.schema import registry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def aw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AWServer]:
    exe, why = find_aw_server()
    if exe is None:
        unavailable("aw-server", why)
    with aw_server(exe, tmp_path_factory.mktemp("aw-home")) as server:
        yield server


@pytest.fixture
def loaded(aw: AWServer) -> Iterator[AWServer]:
    aw.reset()
    yield aw
    aw.reset()


def taskclf_home(root: Path, case_name: str, version: str) -> tuple[Path, dict[str, str]]:
    """A data dir with taskclf's salt and user id files and a model of ``version``."""
    case = load_case(case_name)
    data = root / "data"
    processed = data / "data" / "processed"
    processed.mkdir(parents=True)
    (processed / ".title_secret").write_text(case.salt)
    (processed / ".user_id").write_text(case.user_id + "\n")
    (data / "model").mkdir()
    reg = registry(version)
    assert reg is not None
    meta = {"schema_version": version, "schema_hash": reg.schema_hash, "label_set": []}
    (data / "model" / "metadata.json").write_text(json.dumps(meta))
    return data, isolated_env(root / "home")


def polled(data: Path, pid: int) -> bool:
    """The collector process ``pid`` has finished a poll (its status file says so)."""
    path = data / "collector" / "status.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return bool(doc.get("pid") == pid and doc.get("last_poll_at"))


def rows(spool: Path) -> list[dict[str, Any]]:
    files = sorted((spool / "new").glob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


@pytest.mark.parametrize("to", ["next day", None], ids=["to-next-day", "no-to"])
@pytest.mark.parametrize(
    ("case_name", "version"), [("workday", "v1"), ("workday", "v3"), ("no-input", "v1")]
)
def test_rest_collect_equals_taskclf(
    loaded: AWServer, tmp_path: Path, case_name: str, version: str, to: str | None
) -> None:
    """A finished day loaded as it was recorded (nothing after it): `collect --once` emits
    every row taskclf made, the day's last minute included (it was held back for ever)."""
    case = load_case(case_name)
    loaded.load_export(case.export())
    data, env = taskclf_home(tmp_path, case_name, version)
    until = () if to is None else ("--to", next_day(case.date))
    proc = run_cli(
        "collect",
        "--once",
        "--from",
        case.date,
        *until,
        "--data-dir",
        str(data),
        "--aw-url",
        loaded.url,
        "--aw-hostname",
        HOSTNAME,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    got = rows(data / "spool")
    expected = case.expected(version)
    assert [r["bucket_start_ts"] for r in got[-1:]] == [expected[-1]["bucket_start_ts"]]
    assert row_differences(expected, got) == []


def test_live_collector_stops_on_sigterm_and_a_restart_re_emits_nothing(
    loaded: AWServer, tmp_path: Path
) -> None:
    case = load_case("workday")
    loaded.load_export(case.export(), watching=True)  # a live collector on a running desktop
    data, env = taskclf_home(tmp_path, "workday", "v1")
    expected = case.expected("v1")
    # the cursor starts at the fixture's day; the live run then walks up to today
    cursor = data / "collector" / "cursor.json"
    cursor.parent.mkdir(mode=0o700)
    cursor.write_text(
        json.dumps(
            {
                "next_bucket_start_ts": f"{case.date}T00:00:00Z",
                "user_id": case.user_id,
                "aw_hostname": HOSTNAME,
            }
        )
    )
    args = [
        sys.executable,
        "-m",
        "daemon",
        "collect",
        "--data-dir",
        str(data),
        "--aw-url",
        loaded.url,
        "--aw-hostname",
        HOSTNAME,
        "--collect-interval-seconds",
        "0.2",
    ]
    log = tmp_path / "collect.log"
    for run in range(2):
        with collector_process(args, log, env) as proc:
            wait_for(functools.partial(polled, data, proc.pid), timeout=60, what="a completed poll")
            if run == 0:
                assert row_differences(expected, rows(data / "spool")) == []
        status = run_cli("collect", "--status", "--data-dir", str(data), env=env)
        assert "not running" in status.stdout
    assert row_differences(expected, rows(data / "spool")) == [], log.read_text()[-3000:]
    assert len(list((data / "spool" / "new").iterdir())) == 1
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert [e["event"] for e in events].count("collector_stopped") == 2
    assert not any(t in log.read_text() for t in ("git log --oneline", case.salt))


def test_activitywatch_to_the_daemon_to_the_label_log(
    loaded: AWServer, tmp_path: Path, bundle_dir: Path
) -> None:
    """The whole product: aw-server → collect → the real daemon → one record per minute."""
    case = load_case("workday")
    loaded.load_export(case.export())
    env = isolated_env(tmp_path / "home")
    with running_daemons(tmp_path / "d", bundle_dir, env) as daemons:
        daemon = daemons.new()
        write_identity(daemon.data_dir, salt=case.salt, user_id=case.user_id)
        daemon.start()
        proc = daemon.cli(
            "collect",
            "--once",
            "--from",
            case.date,
            "--to",
            f"{case.date}T23:59",
            "--aw-url",
            loaded.url,
            "--aw-hostname",
            HOSTNAME,
        )
        assert proc.returncode == 0, proc.stderr
        expected = case.expected("v1")
        records = daemon.wait_records(len(expected), timeout=60)
        assert [r["bucket_start_ts"] for r in records] == [r["bucket_start_ts"] for r in expected]
        assert {r["user_id"] for r in records} == {case.user_id}
        assert all(r["source"].endswith("_aw.jsonl") for r in records)
        assert daemon.status()["windows"]["refused"] == 0  # type: ignore[index]
        assert daemon.stop() == 0
