"""Hot swap of the calibrator store in a running daemon: symlink swap, in-place edit, refusals."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import DaemonProcess, Daemons, isolated_env, running_daemons
from helpers import MakeStore, Window, isotonic_regressor_json, temperature_store, window_stream

from daemon.runtime.status import evaluate
from taskclf_core.bundle import ModelBundle
from taskclf_core.calibration import (
    load_calibrator_store,
    save_calibrator_store,
)


@pytest.fixture(scope="module")
def users_interleaved(training_windows: list[Window]) -> list[Window]:
    """u-ada and u-ben windows alternating, each user's in time order."""
    stream = window_stream(training_windows)
    ada = [w for w in stream if w["user_id"] == "u-ada"]
    ben = [w for w in stream if w["user_id"] == "u-ben"]
    return [w for pair in zip(ada, ben, strict=False) for w in pair]


def store_id(path: Path) -> str:
    return load_calibrator_store(os.path.realpath(path)).store_id


def swap_symlink(link: Path, target: Path) -> None:
    """``ln -s target tmp && mv -T tmp link``: the atomic swap users do."""
    tmp = link.with_name(link.name + ".swap")
    os.symlink(target, tmp)
    os.replace(tmp, link)


def window_ids(records: list[dict[str, Any]], window: Window) -> list[str | None]:
    return [
        r["store_id"]
        for r in records
        if r["user_id"] == window["user_id"] and r["bucket_start_ts"] == window["bucket_start_ts"]
    ]


def label_one(d: DaemonProcess, window: Window) -> dict[str, Any]:
    """Drop one window and return its record."""
    d.drop_windows([window], prefix="one")
    records = d.wait_labelled([window])
    [record] = [
        r
        for r in records
        if r["user_id"] == window["user_id"] and r["bucket_start_ts"] == window["bucket_start_ts"]
    ]
    return record


# --- a valid swap while windows stream in -------------------------------------------------------


@pytest.mark.slow
def test_symlink_swap_while_streaming(
    daemons: Daemons, make_store: MakeStore, users_interleaved: list[Window], tmp_path: Path
) -> None:
    store_a = make_store("store-a", 1.0, users={"u-ada": 0.7})
    store_b = make_store("store-b", 2.5, users={"u-ben": 1.4})
    id_a, id_b = store_id(store_a), store_id(store_b)
    assert id_a != id_b
    link = tmp_path / "store"
    os.symlink(store_a, link)
    d = daemons.new(calibrator_store=str(link))
    d.start()

    windows = users_interleaved[:500]
    with d.producing(windows, rate=100, prefix="s") as producer:
        dropped_at = producer.dropped_at
        d.wait_for(lambda: len(dropped_at) >= 200, 20, "200 windows dropped")
        swapped_at, swapped_wall = time.monotonic(), time.time()
        swap_symlink(link, store_b)
        producer.finish(30)

    records = d.wait_labelled(windows, timeout=30)
    assert len(records) == len(windows), "a window was logged twice"
    records.sort(key=lambda r: r["source"])  # drop order = claim order
    ids = [r["store_id"] for r in records]
    assert set(ids) == {id_a, id_b}
    first_b = ids.index(id_b)
    assert ids == [id_a] * first_b + [id_b] * (len(ids) - first_b), "store ids not monotonic"
    # nothing labelled before the swap got the new store
    early = [r for r in records if _epoch(r["processed_at"]) < swapped_wall]
    assert early
    assert {r["store_id"] for r in early} == {id_a}

    # every window dropped a second after the swap was calibrated by the new store
    late = [r for r in records if dropped_at[r["source"]] > swapped_at + 1.0]
    assert late
    assert {r["store_id"] for r in late} == {id_b}
    # and each record's calibrator agrees with the store that labelled it
    for r in records:
        own = {id_a: "u-ada", id_b: "u-ben"}[r["store_id"]]
        assert r["calibrator"] == ("user" if r["user_id"] == own else "global"), r

    status = d.wait_status(lambda s: s["store"]["id"] == id_b, 5, "status to show the new store")
    assert status["store"]["last_error"] is None
    swaps = d.log_events("reload_swapped")
    assert [(e["old_store_id"], e["new_store_id"]) for e in swaps] == [(id_a, id_b)]
    d.stop()


# --- in-place edits, reload and SIGHUP ---------------------------------------------------------


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


def rewrite_in_place(path: Path, temperature: float) -> None:
    with open(path / "global.json", "w") as fh:  # same inode: an editor saving in place
        fh.write(json.dumps({"type": "temperature", "temperature": temperature}, indent=2))


@pytest.mark.parametrize("observer", ["auto", "none"])
def test_in_place_edit_is_picked_up(
    daemons: Daemons, make_store: MakeStore, users_interleaved: list[Window], observer: str
) -> None:
    store = make_store("store", 1.0)
    d = daemons.new(calibrator_store=str(store), observer=observer, rescan_interval_seconds=0.3)
    d.start()
    old = store_id(store)
    assert label_one(d, users_interleaved[0])["store_id"] == old

    edited = time.monotonic()
    rewrite_in_place(store, 3.0)
    new = store_id(store)
    assert new != old
    d.wait_status(lambda s: s["store"]["id"] == new, 5, "the edited store in status")
    assert time.monotonic() - edited < 2.0, "an in-place edit took seconds to take effect"
    record = label_one(d, users_interleaved[1])
    assert record["store_id"] == new
    d.stop()


def test_reload_command_and_sighup_apply_changes_no_event_announced(
    daemons: Daemons, make_store: MakeStore, users_interleaved: list[Window], tmp_path: Path
) -> None:
    store_a = make_store("store-a", 1.0)
    store_b = make_store("store-b", 0.5)
    link = tmp_path / "store"
    os.symlink(store_a, link)
    # no file events and a rescan far away: only an explicit reload can notice a change
    d = daemons.new(
        calibrator_store=str(link),
        observer="none",
        rescan_interval_seconds=120.0,
        heartbeat_seconds=0.3,
    )
    d.start()
    w = iter(users_interleaved)
    id_a = store_id(link)
    assert label_one(d, next(w))["store_id"] == id_a

    rewrite_in_place(store_a, 2.0)
    id_a2 = store_id(link)
    assert label_one(d, next(w))["store_id"] == id_a, "changed without any trigger?"
    result = d.cli("reload")
    assert result.returncode == 0, result.stderr
    d.wait_status(lambda s: s["store"]["id"] == id_a2, 5, "`reload` to load the edit")
    assert label_one(d, next(w))["store_id"] == id_a2

    swap_symlink(link, store_b)
    id_b = store_id(link)
    assert label_one(d, next(w))["store_id"] == id_a2
    os.kill(d.pid, signal.SIGHUP)
    d.wait_status(lambda s: s["store"]["id"] == id_b, 5, "SIGHUP to load the swapped store")
    assert label_one(d, next(w))["store_id"] == id_b
    assert d.log_events("reload_requested")
    d.stop()


# --- refused stores -----------------------------------------------------------------------------

ISOTONIC_REGRESSOR = isotonic_regressor_json()
# json.dumps writes a NaN literal in the thresholds, as a careless writer could
NAN_REGRESSOR = isotonic_regressor_json(X_thresholds_=[math.nan, 0.25, 1.0])


def _edit_json(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=2))


def _isotonic(store: Path, regressors: list[Any]) -> None:
    _edit_json(store / "store.json", method="isotonic")
    (store / "global.json").write_text(json.dumps({"type": "isotonic", "regressors": regressors}))


def _unsafe_user(store: Path) -> None:
    _edit_json(store / "store.json", user_ids=["../x"], user_count=1)
    # users/../x.json exists, so only the name check can stop it being read
    (store / "x.json").write_text('{"type": "identity"}')


Mutation = Callable[[Path], object]
CORRUPTIONS: list[tuple[str, Mutation, str]] = [
    ("missing-user-file", lambda s: (s / "users" / "u-ada.json").unlink(), "users/u-ada.json"),
    ("missing-global", lambda s: (s / "global.json").unlink(), "global.json"),
    ("missing-store-json", lambda s: (s / "store.json").unlink(), "store.json"),
    ("bad-json", lambda s: (s / "global.json").write_text("{"), "JSON"),
    ("unknown-type", lambda s: (s / "global.json").write_text('{"type": "platt"}'), "platt"),
    ("missing-type", lambda s: (s / "global.json").write_text('{"temperature": 1}'), "type"),
    (
        "user-unknown-type",
        lambda s: (s / "users" / "u-ada.json").write_text('{"type": "beta"}'),
        "u-ada.json",
    ),
    (
        "t-zero",
        lambda s: (s / "global.json").write_text('{"type": "temperature", "temperature": 0}'),
        "temperature",
    ),
    (
        "t-negative",
        lambda s: (s / "global.json").write_text('{"type": "temperature", "temperature": -1.5}'),
        "temperature",
    ),
    (
        "t-nan",
        lambda s: (s / "global.json").write_text('{"type": "temperature", "temperature": NaN}'),
        "temperature",
    ),
    (
        "t-infinity",
        lambda s: (s / "global.json").write_text(
            '{"type": "temperature", "temperature": Infinity}'
        ),
        "temperature",
    ),
    (
        "t-string",
        lambda s: (s / "global.json").write_text('{"type": "temperature", "temperature": "1"}'),
        "temperature",
    ),
    ("isotonic-7-regressors", lambda s: _isotonic(s, [ISOTONIC_REGRESSOR] * 7), "regressors"),
    (
        "isotonic-unsorted",
        lambda s: _isotonic(s, [{**ISOTONIC_REGRESSOR, "X_thresholds_": [0.0, 0.7, 0.3]}] * 8),
        "sorted",
    ),
    (
        "isotonic-nan-threshold",
        lambda s: _isotonic(s, [NAN_REGRESSOR] * 8),
        "finite",
    ),
    (
        "schema-hash-mismatch",
        lambda s: _edit_json(s / "store.json", model_schema_hash="000000000000"),
        "model_schema_hash",
    ),
    (
        "bundle-id-mismatch",
        lambda s: _edit_json(s / "store.json", model_bundle_id="another_bundle"),
        "model_bundle_id",
    ),
    ("unsafe-user-id", _unsafe_user, "../x"),
    ("user-count-mismatch", lambda s: _edit_json(s / "store.json", user_count=3), "user_count"),
]


@pytest.fixture(scope="module")
def refusing(
    tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path, bundle: ModelBundle
) -> Iterator[tuple[DaemonProcess, Path, Path]]:
    """One daemon whose store is a symlink to a valid store ``good`` (for the refusal cases)."""
    root = tmp_path_factory.mktemp("refusing")
    good = save_calibrator_store(temperature_store(bundle, 1.3, {"u-ada": 0.8}), root / "good")
    link = root / "store"
    os.symlink(good, link)
    with running_daemons(root, bundle_dir, isolated_env(root / "home")) as made:
        d = made.new(calibrator_store=str(link))
        d.start()
        yield d, good, link


@pytest.fixture(scope="module")
def window_pool(users_interleaved: list[Window]) -> Iterator[Window]:
    return iter(users_interleaved)


@pytest.mark.parametrize(
    ("case", "corrupt", "mentions"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS]
)
def test_corrupt_store_is_refused_and_the_old_one_kept(
    refusing: tuple[DaemonProcess, Path, Path],
    window_pool: Iterator[Window],
    case: str,
    corrupt: Mutation,
    mentions: str,
) -> None:
    d, good, link = refusing
    assert d.alive(), d.stderr_tail()
    good_id = store_id(good)
    before = d.status()
    assert before is not None
    bad = good.parent / f"bad-{case}"
    shutil.copytree(good, bad)
    corrupt(bad)
    try:
        swap_symlink(link, bad)
        status = d.wait_status(
            lambda s: (
                s["store"]["last_error_at"] != before["store"]["last_error_at"]
                and mentions in (s["store"]["last_error"] or "")
            ),
            5,
            f"a refusal naming {mentions!r}",
        )
        assert status["store"]["id"] == good_id
        code, doc = evaluate(status, d.pid)
        assert code == 1
        assert any("refused" in p for p in doc["problems"]), doc
        # the old store keeps labelling
        window = next(window_pool)
        record = label_one(d, window)
        assert record["store_id"] == good_id
        refusals = d.log_events("reload_refused")
        assert refusals
        assert mentions in refusals[-1]["reason"]
        assert refusals[-1]["store_id_in_force"] == good_id
    finally:
        swap_symlink(link, good)


def test_refused_store_makes_status_exit_1_until_a_valid_one_arrives(
    daemons: Daemons, make_store: MakeStore, users_interleaved: list[Window], tmp_path: Path
) -> None:
    store_a = make_store("store-a", 1.0)
    store_b = make_store("store-b", 1.7)
    bad = make_store("store-bad", 1.0)
    (bad / "global.json").write_text('{"type": "temperature", "temperature": 0}')
    link = tmp_path / "store"
    os.symlink(store_a, link)
    d = daemons.new(calibrator_store=str(link))
    d.start()
    assert d.cli("status").returncode == 0

    swap_symlink(link, bad)
    d.wait_status(lambda s: s["store"]["last_error"], 5, "the refusal in status")
    result = d.cli("status", "--json")
    assert result.returncode == 1, result.stdout
    doc = json.loads(result.stdout)
    assert doc["healthy"] is False
    assert "temperature" in doc["store"]["last_error"]
    assert doc["store"]["id"] == store_id(store_a)
    human = d.cli("status")
    assert human.returncode == 1
    assert "DEGRADED" in human.stdout
    assert "refused" in human.stdout

    swap_symlink(link, store_b)
    d.wait_status(lambda s: s["store"]["id"] == store_id(store_b), 5, "the valid store")
    result = d.cli("status", "--json")
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["store"]["last_error"] is None
    assert label_one(d, users_interleaved[0])["store_id"] == store_id(store_b)
    d.stop()


@pytest.mark.parametrize("observer", ["auto", "none"])
def test_going_back_to_the_store_in_force_clears_the_refusal(
    daemons: Daemons,
    make_store: MakeStore,
    users_interleaved: list[Window],
    tmp_path: Path,
    observer: str,
) -> None:
    store_a = make_store("store-a", 1.0)
    bad = make_store("store-bad", 1.0)
    (bad / "global.json").write_text('{"type": "platt"}')
    link = tmp_path / "store"
    os.symlink(store_a, link)
    d = daemons.new(calibrator_store=str(link), observer=observer, rescan_interval_seconds=0.3)
    d.start()
    swap_symlink(link, bad)
    d.wait_status(lambda s: s["store"]["last_error"], 5, "the refusal in status")
    swap_symlink(link, store_a)  # the user undoes the bad swap
    d.wait_status(
        lambda s: s["store"]["last_error"] is None,
        5,
        "the refusal to clear once the configured store is the one in force again",
    )
    assert evaluate(d.status(), d.pid)[0] == 0
    assert label_one(d, users_interleaved[0])["store_id"] == store_id(store_a)
    d.stop()


# --- a swap that races the read ------------------------------------------------------------------

HOLD_ENV = "_TASKCLF_TEST_HOLD"  # the reloader's test seam: pause at named points of a read


class ReadHold:
    """Holds the daemon's store read at a point (``store-read``: after the first look at the
    files, before reading them; ``store-verdict``: after the second look, before judging)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(exist_ok=True)

    def arm(self, *points: str) -> None:
        for point in points:
            os.mkfifo(self.directory / point, 0o600)

    def disarm(self) -> None:
        for fifo in self.directory.iterdir():
            fifo.unlink()

    def reached(self, point: str, d: DaemonProcess) -> int:
        """Block until the reader waits at ``point``; returns the fd that releases it."""

        def opened() -> int | None:
            try:  # a FIFO opens for writing only once its reader is there
                return os.open(self.directory / point, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                return None

        fd: int = d.wait_for(opened, 20, f"the store read to reach {point}")
        return fd

    @staticmethod
    def release(fd: int) -> None:
        os.write(fd, b"x")
        os.close(fd)


def big_store(make_store: MakeStore, name: str, global_t: float, users: int) -> Path:
    return make_store(name, global_t, users={f"u-{i:05d}": 0.5 + i / users for i in range(users)})


@pytest.mark.slow
@pytest.mark.parametrize("observer", ["auto", "none"])
def test_a_swap_that_races_the_read_is_retried_once_the_path_settles(
    daemons: Daemons,
    make_store: MakeStore,
    users_interleaved: list[Window],
    tmp_path: Path,
    observer: str,
) -> None:
    """A → S → A → S while S is being read: S must be in force within seconds, healthy.

    With observer "none" and no rescan for a minute, nothing but the reloader's own
    retry can bring S in after the read that saw the swap.
    """
    store_a = make_store("store-a", 1.0, users={"u-ada": 0.7})
    store_s = big_store(make_store, "store-s", 1.6, users=5000)
    link = tmp_path / "store"
    os.symlink(store_a, link)
    hold = ReadHold(tmp_path / "hold")
    daemons.env[HOLD_ENV] = str(hold.directory)
    d = daemons.new(
        calibrator_store=str(link),
        observer=observer,
        rescan_interval_seconds=60.0 if observer == "none" else 0.5,
    )
    d.start()
    id_a, id_s = store_id(store_a), store_id(store_s)

    hold.arm("store-read", "store-verdict")
    swap_symlink(link, store_s)  # A -> S
    if observer == "none":
        os.kill(d.pid, signal.SIGHUP)
    fd = hold.reached("store-read", d)  # S's first look taken, its files not read yet
    swap_symlink(link, store_a)  # S -> A
    hold.release(fd)
    fd = hold.reached("store-verdict", d)  # read through the link: it saw A's files
    swap_symlink(link, store_s)  # A -> S
    hold.disarm()
    hold.release(fd)

    status = d.wait_status(
        lambda s: s["store"]["id"] == id_s, 5, "the settled store S to be in force"
    )
    d.wait_status(lambda s: evaluate(s, d.pid)[0] == 0, 5, "status healthy")
    assert status["store"]["user_count"] == 5000
    assert d.cli("status").returncode == 0
    assert label_one(d, users_interleaved[0])["store_id"] == id_s
    assert id_a != id_s
    assert not d.log_events("reload_refused"), "a race is not a verdict on S"
    d.stop()


@pytest.mark.slow
def test_an_invalid_store_is_refused_once_not_reloaded_in_a_loop(
    daemons: Daemons, make_store: MakeStore, tmp_path: Path
) -> None:
    store_a = make_store("store-a", 1.0)
    bad = make_store("store-bad", 1.0)
    (bad / "global.json").write_text('{"type": "temperature", "temperature": -1}')
    link = tmp_path / "store"
    os.symlink(store_a, link)
    d = daemons.new(calibrator_store=str(link), rescan_interval_seconds=0.2)
    d.start()
    swap_symlink(link, bad)
    d.wait_status(lambda s: s["store"]["last_error"], 5, "the refusal")
    # a dozen rescans and any retry schedule later, it was judged once
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert len(d.log_events("reload_refused")) == 1, d.log_events("reload_refused")
        time.sleep(0.1)
    assert d.status()["store"]["id"] == store_id(store_a)  # type: ignore[index]
    d.stop()
