"""CI cannot turn green by skipping a real part: a missing one fails there, is skipped elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from subprocess import CompletedProcess

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def _run(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False
    )


def _bare_path(tmp_path: Path) -> str:
    """A PATH holding only what the script itself needs: bash and id, none of the parts."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "id", "dirname"):
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


@pytest.mark.parametrize("ci", [True, False])
def test_check_parts_fails_in_ci_when_a_part_is_missing(tmp_path: Path, ci: bool) -> None:
    env = {"PATH": _bare_path(tmp_path), "AW_SERVER_BIN": str(tmp_path / "no-aw-server")}
    if ci:
        env["CI"] = "true"
    proc = _run(["bash", str(ROOT / ".ci" / "check-parts")], env)
    for part in ("systemd-analyze", "chromium", "chromedriver", "faketime", "aw-server"):
        assert f"missing: {part}" in proc.stderr, proc.stderr
    assert proc.returncode == (1 if ci else 0), proc.stderr


def test_check_parts_passes_where_every_part_is(tmp_path: Path) -> None:
    bin_dir = Path(_bare_path(tmp_path))
    for tool in ("systemd-analyze", "systemctl", "chromium", "chromedriver", "faketime", "chattr"):
        (bin_dir / tool).write_text("#!/bin/sh\n")
        (bin_dir / tool).chmod(0o755)
    aw = tmp_path / "aw-server"
    aw.write_text("#!/bin/sh\n")
    aw.chmod(0o755)
    env = {"PATH": str(bin_dir), "AW_SERVER_BIN": str(aw), "CI": "true"}
    proc = _run(["bash", str(ROOT / ".ci" / "check-parts")], env)
    if os.geteuid() != 0:
        assert "missing: root" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""


@pytest.mark.parametrize("ci", [True, False])
def test_a_missing_part_fails_a_test_in_ci_and_skips_it_elsewhere(tmp_path: Path, ci: bool) -> None:
    test = tmp_path / "test_needs_a_part.py"
    test.write_text(
        "from helpers import require_tool, unavailable\n\n\n"
        "def test_tool() -> None:\n"
        "    require_tool('no-such-tool-xyz', 'a part that is not installed')\n\n\n"
        "def test_part() -> None:\n"
        "    unavailable('a part', 'not installed')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(TESTS)
    if ci:
        env["CI"] = "true"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs", str(test)]
    proc = _run(argv, env, cwd=tmp_path)
    if ci:
        assert proc.returncode == 1, proc.stdout
        assert "2 failed" in proc.stdout, proc.stdout
        assert "no-such-tool-xyz is missing in CI (CI=true)" in proc.stdout
    else:
        assert proc.returncode == 0, proc.stdout
        assert "2 skipped" in proc.stdout, proc.stdout
