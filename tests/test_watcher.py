"""Events on what a reload reads reach the reloader by themselves, without the rescan."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.runtime.watcher import Waker, Watcher


@pytest.fixture(params=["auto", "polling"])
def watched(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Watcher, threading.Event, Path]]:
    (tmp_path / "new").mkdir()
    for name in ("s1", "s2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "global.json").write_text("{}")
    os.symlink(tmp_path / "s1", tmp_path / "store")
    changed = threading.Event()
    waker = Waker()
    watcher = Watcher(
        tmp_path / "new",
        [tmp_path / "store"],
        on_spool=waker.wake,
        on_change=changed.set,
        mode=request.param,
        waker=waker,
    )
    watcher.start()
    try:
        yield watcher, changed, tmp_path
    finally:
        watcher.stop()
        waker.close()


def test_symlink_swap_is_an_event(watched: tuple[Watcher, threading.Event, Path]) -> None:
    watcher, changed, root = watched
    assert watcher.is_alive()
    os.symlink(root / "s2", root / "tmp-link")
    os.replace(root / "tmp-link", root / "store")
    assert changed.wait(5), "the swap of the store symlink raised no event"


def test_in_place_edit_is_an_event(watched: tuple[Watcher, threading.Event, Path]) -> None:
    _watcher, changed, root = watched
    (root / "s1" / "global.json").write_text('{"type": "identity"}')
    assert changed.wait(5), "an edit inside the store raised no event"


def test_a_permission_fix_is_an_event(watched: tuple[Watcher, threading.Event, Path]) -> None:
    """chmod/chown is what clears a store refused as unreadable: no need to wait the rescan.
    (A polling observer compares sizes and mtimes only: there the rescan finds it.)"""
    watcher, changed, root = watched
    if watcher.mode == "polling":
        pytest.skip("a polling observer does not see mode changes")
    (root / "s1" / "global.json").chmod(0o600)
    assert changed.wait(5), "a chmod inside the store raised no event"


def test_spool_arrival_wakes_the_loop(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    (tmp_path / "tmp").mkdir()
    waker = Waker()
    watcher = Watcher(
        tmp_path / "new", [], on_spool=waker.wake, on_change=lambda: None, waker=waker
    )
    watcher.start()
    try:
        (tmp_path / "tmp" / "a.json").write_text("{}")
        os.rename(tmp_path / "tmp" / "a.json", tmp_path / "new" / "a.json")
        assert waker.wait(5)
    finally:
        watcher.stop()
        waker.close()
