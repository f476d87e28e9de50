"""`taskclf-daemon demo --quick`: exits 0 and shows the store swap and the quarantined file."""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from pathlib import Path

import pytest
from daemon_harness import run_cli

from daemon.cli import main


@pytest.mark.slow
def test_quick_demo_shows_swap_and_quarantine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "demo"
    started = time.monotonic()
    assert main(["demo", "--quick", "--dir", str(work)]) == 0
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out

    swap = re.search(r"store swap\s+([0-9a-f]{12}) -> ([0-9a-f]{12})", out)
    assert swap is not None, out
    old_id, new_id = swap.groups()
    assert old_id != new_id
    assert re.search(r"\d+ records with the old id, \d+ with the new; first record with it: w", out)
    quarantined = re.search(r"quarantined\s+(\S+\.json) -> spool/rejected/: invalid_json", out)
    assert quarantined is not None, out
    assert "u-cy: global" in out
    assert "u-ada: user" in out
    assert "latency" in out
    assert "p50" in out

    # --dir is kept: the artifacts the summary points at are there and agree with it
    name = quarantined.group(1)
    sidecar = json.loads((work / "spool" / "rejected" / f"{name}.error.json").read_text())
    assert sidecar["error"] == "invalid_json"
    records = [
        json.loads(line)
        for path in (work / "data" / "labels").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert {r["store_id"] for r in records} == {old_id, new_id}
    assert len({(r["user_id"], r["bucket_start_ts"]) for r in records}) == len(records)
    assert (work / "store").is_symlink()
    assert (work / "stores" / new_id).is_dir()
    assert elapsed < 60

    # the closing hint shows the day again: on the kept directory's config
    again = re.search(r"again: `TZ=UTC (taskclf-daemon report [^`]+)`", out)
    assert again is not None, out
    words = shlex.split(again.group(1))
    assert words[words.index("--config") + 1] == str(work / "daemon.toml")
    done = run_cli(*words[1:], env={**os.environ, "TZ": "UTC"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] in out


@pytest.mark.slow
def test_a_temporary_demo_points_at_nothing_it_removed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The closing hint suggested `report --date ...` on a directory the demo had just
    deleted; now it says how to keep one, and names no path that is gone but the one it says
    is removed."""
    assert main(["demo", "--quick"]) == 0
    out = capsys.readouterr().out
    root = re.search(r"working in (\S+)", out)
    assert root is not None
    assert not Path(root.group(1)).exists()
    mentions = [line for line in out.splitlines() if root.group(1) in line]
    assert len(mentions) == 2, mentions  # "working in ...", and the line saying it is removed
    assert "removed when the demo ends" in mentions[1]
    hint = "keep the run: `taskclf-daemon demo --dir DIR`, then `TZ=UTC taskclf-daemon report"
    assert hint in out


def test_demo_refuses_a_dir_that_is_not_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "mine"
    work.mkdir()
    (work / "thesis.tex").write_text("keep me")
    assert main(["demo", "--quick", "--dir", str(work)]) == 2
    assert "not a previous demo directory" in capsys.readouterr().err
    assert (work / "thesis.tex").read_text() == "keep me"


def test_a_failing_daemon_fails_the_demo_with_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import daemon.commands.demo as demo

    real = demo._write_config

    def broken_config(layout: demo.Layout) -> None:
        real(layout)
        with layout.config.open("a") as fh:
            fh.write("colour = 'blue'\n")  # an unknown key: the daemon refuses to start

    monkeypatch.setattr(demo, "_write_config", broken_config)
    work = tmp_path / "demo"
    assert main(["demo", "--quick", "--dir", str(work)]) == 1
    out = capsys.readouterr().out
    assert "demo FAILED" in out
    assert "exited with code 2" in out
    assert "unknown key 'colour'" in out  # the daemon log tail
