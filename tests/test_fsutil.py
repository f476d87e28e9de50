"""Durable-file helpers: a failure names the file it was for."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from daemon.fsutil import atomic_write_bytes


def test_a_failed_atomic_write_names_the_file_and_leaves_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d").mkdir()
    target = tmp_path / "d" / "policy.json"
    target.write_bytes(b"old")

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", full_disk)
        with pytest.raises(OSError, match="No space left") as caught:
            atomic_write_bytes(target, b"new")
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(target)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path / "d") == ["policy.json"]
