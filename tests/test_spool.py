"""Spool claims: link + unlink for files, rename otherwise, and the crash in between."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from daemon.runtime.spool import Spool


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    s = Spool(tmp_path / "spool")
    s.ensure()
    return s


def test_claim_moves_a_file_without_a_rename(spool: Spool) -> None:
    (spool.new / "a.json").write_text("{}")
    inode = os.stat(spool.new / "a.json").st_ino
    claimed = spool.claim("a.json")
    assert claimed is not None
    assert claimed.kind == "file"
    assert not (spool.new / "a.json").exists()
    assert os.stat(spool.cur / "a.json").st_ino == inode
    assert os.stat(spool.cur / "a.json").st_nlink == 1


def test_claim_of_a_vanished_file_is_none(spool: Spool) -> None:
    assert spool.claim("gone.json") is None


def test_a_claim_whose_unlink_fails_claims_nothing(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """new/ no longer writable (chmod, chattr +i): the link into cur/ is undone, so the file
    has one name and a retry claims it whole (a rename onto its own link would do nothing)."""
    (spool.new / "a.json").write_text("{}")
    real_unlink = os.unlink

    def refuse_new(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).parent == spool.new:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", refuse_new)
    with pytest.raises(PermissionError):
        spool.claim("a.json")
    assert os.listdir(spool.cur) == []
    assert os.stat(spool.new / "a.json").st_nlink == 1
    monkeypatch.undo()
    claimed = spool.claim("a.json")
    assert claimed is not None
    assert os.listdir(spool.new) == []
    assert os.listdir(spool.cur) == ["a.json"]


def test_a_file_removed_between_link_and_unlink_is_still_ours(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    (spool.new / "a.json").write_text("{}")
    real_unlink = os.unlink

    def already_gone(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).parent == spool.new:
            real_unlink(path, *args, **kwargs)  # someone else removes it first
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", already_gone)
    claimed = spool.claim("a.json")
    assert claimed is not None, "the copy in cur/ would be stranded until a restart"
    assert os.listdir(spool.cur) == ["a.json"]


def test_directories_and_symlinks_are_claimed_by_rename(spool: Spool, tmp_path: Path) -> None:
    (spool.new / "d.json").mkdir()
    (tmp_path / "target.json").write_text("{}")
    os.symlink(tmp_path / "target.json", spool.new / "s.json")
    d, s = spool.claim("d.json"), spool.claim("s.json")
    assert d is not None
    assert d.kind == "dir"
    assert s is not None
    assert s.kind == "symlink"
    assert (spool.cur / "d.json").is_dir()
    assert (spool.cur / "s.json").is_symlink()
    assert (tmp_path / "target.json").exists()


def test_requeue_after_a_crash_between_link_and_unlink(spool: Spool) -> None:
    (spool.new / "a.json").write_text("{}")
    os.link(spool.new / "a.json", spool.cur / "a.json")  # the crash: unlink never ran
    assert list(spool.requeue()) == ["a.json"]
    assert os.listdir(spool.cur) == []
    assert os.listdir(spool.new) == ["a.json"]
    assert os.stat(spool.new / "a.json").st_nlink == 1


def test_requeue_keeps_both_when_a_producer_reused_the_name(spool: Spool) -> None:
    (spool.cur / "a.json").write_text('{"old": 1}')
    (spool.new / "a.json").write_text('{"new": 1}')
    list(spool.requeue())
    contents = sorted(p.read_text() for p in spool.new.iterdir())
    assert contents == ['{"new": 1}', '{"old": 1}']
    assert all(p.name.endswith(".json") for p in spool.new.iterdir())


def test_sidecars_are_strict_json_even_for_nan_windows(spool: Spool) -> None:
    (spool.new / "a.json").write_text("{}")
    claimed = spool.claim("a.json")
    assert claimed is not None
    spool.reject(claimed, "invalid_windows", "x", refused=[{"window": {"k": float("nan")}}])

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    body = json.loads((spool.rejected / "a.json.error.json").read_text(), parse_constant=refuse)
    assert body["refused"][0]["window"]["k"] == "nan"


def test_prune_done_deletes_only_old_files(spool: Spool) -> None:
    (spool.done / "old.json").write_text("{}")
    (spool.done / "new.json").write_text("{}")
    later = time.time() + 3600
    assert spool.prune_done(1800, now=later) == 2
    (spool.done / "fresh.json").write_text("{}")
    assert spool.prune_done(1800) == 0
    assert os.listdir(spool.done) == ["fresh.json"]


def test_inotify_wakes_the_waker_on_arrival_not_on_claim(spool: Spool) -> None:
    from daemon.runtime.inotify import SpoolInotify, available
    from daemon.runtime.watcher import Waker

    if not available():
        pytest.skip("inotify is Linux-only; elsewhere watchdog's observer is used")
    waker = Waker()
    watch = SpoolInotify(spool.new)
    waker.watch(watch.fileno(), watch.drain)
    try:
        assert not waker.wait(0)
        (spool.tmp / "a.json").write_text("{}")
        os.rename(spool.tmp / "a.json", spool.new / "a.json")
        assert waker.wait(5)
        assert not waker.wait(0)  # drained
        assert spool.claim("a.json") is not None
        assert not waker.wait(0.2)  # our own claim is not news
    finally:
        waker.unwatch(watch.fileno())
        watch.close()
        waker.close()
