"""Shared bench helpers: machine header, cached bundle and stores, a real daemon process."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import daemon

ROOT = Path(__file__).resolve().parents[1]
# the tree whose daemon/ and taskclf_core/ this interpreter imports: this checkout, or another
# one (a baseline) when the script runs under that checkout's venv (see ab.py)
CODE_ROOT = Path(daemon.__file__).resolve().parents[1]
if CODE_ROOT != ROOT:
    # ``python -m daemon`` (tests/daemon_harness.run_cli, the daemons started here) puts the
    # working directory first on sys.path: started from this checkout, a baseline's venv would
    # run this checkout's code. Python's PYTHONSAFEPATH leaves it off, so it runs its own.
    os.environ["PYTHONSAFEPATH"] = "1"
# the tests' HOME/XDG isolation, one copy for both: bench ships with the sources (sdist), never
# in the wheel, and already runs the tests' aw_server; a second copy here had drifted
sys.path.insert(0, str(ROOT / "tests"))
from daemon_harness import isolated_env  # noqa: E402 - once tests/ is on the path

CACHE = ROOT / "bench" / ".cache"
BUNDLE_ROUNDS = 100  # taskclf's default size: 100 rounds x 8 classes
BUNDLE_DAYS = 10
BUNDLE_SEED = 0
CREATED_AT = "2026-01-01T00:00:00Z"


# --- machine ---------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def commit(root: Path | None = None) -> str:
    """Short HEAD, plus a digest of uncommitted changes to the product code when there are any.

    Other sessions edit daemon/ and taskclf_core/ while benches run; the digest says which
    working tree a table was measured on. ``root``: the checkout (default: the one whose
    ``daemon`` package this interpreter imports, so a baseline run names the baseline).
    """
    import hashlib

    where = CODE_ROOT if root is None else root

    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True)
        except OSError:
            return ""
        return out.stdout

    sha = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    diff = git("diff", "HEAD", "--", "daemon", "taskclf_core")
    untracked = git("ls-files", "--others", "--exclude-standard", "--", "daemon", "taskclf_core")
    if not diff and not untracked.strip():
        return sha
    digest = hashlib.sha1((diff + untracked).encode()).hexdigest()[:8]
    return f"{sha}+dirty (uncommitted daemon/taskclf_core changes, digest {digest})"


def load_string() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine_header(title: str) -> str:
    """The lines every bench prints first: what ran, where, and how busy the box was."""
    lines = [
        f"# {title}",
        f"date        {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"commit      {commit()}"
        + ("" if CODE_ROOT == ROOT else f" (code from {CODE_ROOT}; bench scripts from {ROOT})"),
        f"machine     {os.cpu_count()} cores, {cpu_model()}, {platform.system()} "
        f"{platform.release()}",
        f"versions    Python {platform.python_version()}, numpy {_version('numpy')}, "
        f"lightgbm {_version('lightgbm')}, pydantic-core {_version('pydantic_core')}, "
        f"watchdog {_version('watchdog')}",
        f"load avg    {load_string()} (1/5/15 min, at start)",
    ]
    return "\n".join(lines)


def print_header(title: str) -> None:
    print(machine_header(title), flush=True)
    one = os.getloadavg()[0]
    if one >= 1.5:
        print(
            f"WARNING     1-min load {one:.2f} >= 1.5: other processes compete for the 2 cores; "
            "treat tails as pessimistic",
            flush=True,
        )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain Markdown table (right-aligned numbers), for the terminal and RESULTS.md alike."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(r[i]) for r in rows) if rows else False for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    sep = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if num else ("-" * (w + 2))
            for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 99)) -> list[float]:
    arr = np.asarray(values, dtype=np.float64)
    return [float(np.percentile(arr, q)) for q in qs]


# --- data, bundle, stores --------------------------------------------------------------


def _atomic_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def labelled_windows(days: int, seed: int) -> list[dict[str, Any]]:
    """``generate_windows(days, seed)`` (cached as JSON: 20k windows take ~7 s to make)."""
    path = CACHE / f"windows_d{days}_s{seed}.json"
    if path.exists():
        data: list[dict[str, Any]] = json.loads(path.read_text())
        return data
    from taskclf_core.synthetic import generate_windows

    windows = generate_windows(days=days, seed=seed)
    _atomic_json(path, windows)
    return windows


def stream_windows(n: int, *, seed: int = 1) -> list[dict[str, Any]]:
    """``n`` unlabelled windows in arrival order (by bucket time, then user), unique keys.

    Seed 1 is not the training seed, so these are windows the model has not seen.
    """
    per_day = 320  # the default users' minutes per day
    days = max(1, -(-n // per_day))
    windows = labelled_windows(days, seed)
    windows.sort(key=lambda w: (w["bucket_start_ts"], w["user_id"]))
    out = [{k: v for k, v in w.items() if k != "label"} for w in windows[:n]]
    if len(out) < n:
        raise RuntimeError(f"only {len(out)} windows generated, wanted {n}")
    return out


def bundle_path() -> Path:
    """The 100-round bundle trained by the project on ``generate_windows(days=10)``, cached."""
    path = CACHE / f"bundle_r{BUNDLE_ROUNDS}_d{BUNDLE_DAYS}_s{BUNDLE_SEED}"
    if (path / "model.txt").exists():
        return path
    from taskclf_core.bundle import save_bundle
    from taskclf_core.training import train_bundle

    print(f"training the bench bundle ({BUNDLE_ROUNDS} rounds) into {path} ...", flush=True)
    trained = train_bundle(
        labelled_windows(BUNDLE_DAYS, BUNDLE_SEED),
        rounds=BUNDLE_ROUNDS,
        seed=BUNDLE_SEED,
        created_at=CREATED_AT,
    )
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    save_bundle(
        tmp,
        model_text=trained.model_text,
        metadata=trained.metadata,
        encoders=trained.encoders,
        metrics=trained.metrics,
    )
    os.replace(tmp, path)
    return path


def bundle_summary(path: Path) -> str:
    from taskclf_core.bundle import load_bundle

    b = load_bundle(path)
    trees = (path / "model.txt").read_text().count("\nTree=")
    return (
        f"bundle      {path.name}: {trees} trees ({trees // b.booster.num_classes} rounds x "
        f"{b.booster.num_classes} classes), {b.schema.n_features} features "
        f"(schema {b.schema.version}), model.txt {(path / 'model.txt').stat().st_size / 1e6:.1f} MB"
    )


def _validation(bundle_dir: Path) -> tuple[Any, Any, list[str], list[datetime]]:
    """Model probabilities and labels on held-out windows (seed 2), for fitting stores."""
    from taskclf_core.bundle import load_bundle
    from taskclf_core.labels import LABEL_INDEX
    from taskclf_core.schema import parse_window

    bundle = load_bundle(bundle_dir)
    windows = labelled_windows(4, 2)
    parsed = [
        parse_window({k: v for k, v in w.items() if k != "label"}, bundle.schema) for w in windows
    ]
    probs = bundle.predict_many(np.stack([p.features for p in parsed]))
    y = np.asarray([LABEL_INDEX[w["label"]] for w in windows])
    return probs, y, [p.user_id for p in parsed], [p.bucket_start for p in parsed]


def store_path(kind: str, bundle_dir: Path, *, variant: int = 0) -> Path:
    """A CalibratorStore fitted with the project's fitting code ("temperature" or "isotonic").

    ``variant`` > 0 fits on a subsample, so the store has different contents and id (hot swap).
    """
    path = CACHE / f"store_{kind}_{bundle_dir.name}_v{variant}"
    if (path / "store.json").exists():
        return path
    from taskclf_core.bundle import load_bundle
    from taskclf_core.calibration import save_calibrator_store
    from taskclf_core.fitting import fit_calibrator_store

    bundle = load_bundle(bundle_dir)
    probs, y, users, starts = _validation(bundle_dir)
    if variant:
        keep = np.random.default_rng(variant).random(len(y)) < 0.8
        probs, y = probs[keep], y[keep]
        users = [u for u, k in zip(users, keep, strict=True) if k]
        starts = [s for s, k in zip(starts, keep, strict=True) if k]
    fit = fit_calibrator_store(
        probs,
        y,
        users,
        starts,
        method=kind,  # type: ignore[arg-type]
        model_bundle_id=bundle.bundle_id,
        model_schema_hash=bundle.schema_hash,
        created_at=CREATED_AT,
        min_windows=100,
    )
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    save_calibrator_store(fit.store, tmp)
    os.replace(tmp, path)
    return path


# --- spool files ------------------------------------------------------------------------


def write_jsonl(path: Path, windows: Sequence[Mapping[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(w, separators=(",", ":")) + "\n" for w in windows))


def drop(spool: Path, name: str, windows: Sequence[Mapping[str, Any]]) -> int:
    """Write into tmp/ then rename into new/ (what a producer does); returns ns before rename."""
    tmp = spool / "tmp" / name
    write_jsonl(tmp, windows)
    t0 = time.perf_counter_ns()
    os.rename(tmp, spool / "new" / name)
    return t0


# --- the daemon ------------------------------------------------------------------------


class NotifyListener:
    """An AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET.

    A thread keeps reading it, as systemd does: an unread socket fills up and then every
    sd_notify send blocks the daemon for its 1 s send timeout.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notify.sock"
        self.path.unlink(missing_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[int, str]] = []  # (perf_counter_ns at receipt, text)
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._read, name="notify-listener", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            t = time.perf_counter_ns()
            with self._cond:
                self.messages.append((t, data.decode("utf-8", "replace")))
                self._cond.notify_all()

    def wait_for(self, key: str, timeout: float, *, start: int = 0) -> tuple[int, str]:
        """First message from index ``start`` on containing ``key`` (e.g. "READY=1")."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for t, text in self.messages[start:]:
                    if key in text.split("\n"):
                        return t, text
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {key} on {self.path} within {timeout} s")
                self._cond.wait(left)

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=2)
        self.sock.close()
        self.path.unlink(missing_ok=True)


class Workdir:
    """A temp tree for one daemon: spool, data, HOME/XDG, config and notify socket."""

    def __init__(self, prefix: str = "taskclf-bench-") -> None:
        # /tmp may be tmpfs; the label log must hit the same disk the user's home is on,
        # so prefer the checkout's filesystem (bench/.cache) for realistic fsync costs
        CACHE.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=prefix, dir=CACHE))
        self.home = self.root / "home"
        self.data = self.root / "data"
        self.spool = self.root / "spool"
        self.labels = self.data / "labels"
        for d in (self.home, self.data):
            d.mkdir(parents=True, mode=0o700)
        for sub in ("tmp", "new", "cur", "done", "rejected"):
            (self.spool / sub).mkdir(parents=True, mode=0o700)

    def config(self, bundle_dir: Path, store: Path | None = None, **extra: object) -> Path:
        lines = [
            f'data_dir = "{self.data}"',
            f'spool_dir = "{self.spool}"',
            f'model_dir = "{bundle_dir}"',
        ]
        if store is not None:
            lines.append(f'calibrator_store = "{store}"')
        for key, value in extra.items():
            lines.append(f"{key} = {json.dumps(value)}")
        path = self.root / "daemon.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def label_lines(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for f in sorted(self.labels.glob("*.jsonl")):
            out.extend(json.loads(line) for line in f.read_bytes().splitlines() if line.strip())
        return out

    def status(self) -> dict[str, Any] | None:
        try:
            from daemon.paths import status_file

            path = status_file(self.spool)
        except ImportError:  # a checkout from before 103d4ec: the state dir (XDG_RUNTIME_DIR)
            path = self.home / "run" / "taskclf" / "status.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return data

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class DaemonProcess:
    """``python -m daemon run --config <toml>`` with an isolated env and a notify socket."""

    def __init__(
        self,
        work: Workdir,
        config: Path,
        *,
        once: bool = False,
        extra_args: Sequence[str] = (),
        wrapper: Sequence[str] = (),
        python_flags: Sequence[str] = (),
        log_name: str = "daemon.log",
        python: str | None = None,
    ) -> None:
        self.work = work
        self.notify = NotifyListener(work.root)
        self.log_path = work.root / log_name
        argv = [*wrapper, python or sys.executable, *python_flags, "-m", "daemon", "run"]
        argv += ["--config", str(config), *extra_args]
        if once:
            argv.append("--once")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.t_spawn = time.perf_counter_ns()
        self.proc = subprocess.Popen(
            argv,
            cwd=work.root,
            env={**isolated_env(work.home), "NOTIFY_SOCKET": str(self.notify.path)},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.t_ready: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Seconds from spawn to READY=1 (raises with the daemon's log if it died)."""
        try:
            t, _ = self.notify.wait_for("READY=1", timeout)
        except TimeoutError:
            raise RuntimeError(f"daemon not ready; its log:\n{self.log_tail()}") from None
        self.t_ready = t
        return (t - self.t_spawn) / 1e9

    def log_tail(self, n: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def log_events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._log.close()
        self.notify.close()
        return rc


def log_ts(event: Mapping[str, Any]) -> float:
    """A structlog ISO timestamp as epoch seconds."""
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()


def wait_until(predicate: Any, timeout: float, interval: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def quiet_load(max_load: float = 1.5, wait_s: float = 0.0) -> float:
    """Wait up to ``wait_s`` for the 1-min load to drop below ``max_load``; return the load."""
    deadline = time.monotonic() + wait_s
    while os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


# --- /proc sampling --------------------------------------------------------------------


def _tasks(pid: int) -> list[str]:
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def proc_cpu_ns(pid: int) -> int:
    """CPU time of all the process's threads, ns (schedstat: finer than stat's 10 ms ticks)."""
    total = 0
    for tid in _tasks(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    return total


def proc_stat_ticks(pid: int) -> int:
    """utime + stime in clock ticks (/proc/<pid>/stat fields 14 and 15)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def proc_threads(pid: int) -> dict[str, dict[str, Any]]:
    """Per thread (``tid:name``): voluntary/involuntary context switches and CPU ns."""
    out: dict[str, dict[str, Any]] = {}
    for tid in _tasks(pid):
        base = f"/proc/{pid}/task/{tid}"
        try:
            name = Path(f"{base}/comm").read_text().strip()
            status = {
                k: v.strip()
                for k, _, v in (
                    line.partition(":") for line in Path(f"{base}/status").read_text().splitlines()
                )
            }
            cpu = int(Path(f"{base}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        out[f"{tid}:{name}"] = {
            "voluntary": int(status.get("voluntary_ctxt_switches", 0)),
            "involuntary": int(status.get("nonvoluntary_ctxt_switches", 0)),
            "cpu_ns": cpu,
        }
    return out


# --- profiling -------------------------------------------------------------------------


class PySpy:
    """``py-spy record --pid`` in raw (collapsed-stack) format, stopped with SIGINT."""

    def __init__(self, pid: int, out: Path, *, rate: int = 1000) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.out = out
        argv = [exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw"]
        argv += ["--output", str(out), "--nonblocking", "--threads"]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)  # attach before the measured part starts

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _frame_name(frame: str) -> str:
    # "label_windows (taskclf_core/pipeline.py:83)" -> "label_windows (taskclf_core/pipeline.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "lib/python3.":
                path = "stdlib/" + path.split("/", 1)[-1]
    return f"{name} ({path})"


def thread_matches(frame: str, thread: str | None) -> bool:
    """Does py-spy's ``thread (tid): Name`` frame belong to ``thread``?

    py-spy sometimes cannot read a thread's name and writes ``thread (tid)`` alone; those
    samples are kept rather than silently dropped.
    """
    if thread is None or ": " not in frame:
        return True
    return frame.split(": ", 1)[1] == thread


def _samples(raw: Path, thread: str | None) -> Iterator[tuple[list[str], int]]:
    """``(frames outermost first, sample count)`` per stack of a py-spy raw profile,
    keeping only ``thread``'s stacks when py-spy recorded threads."""
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts = stack.split(";")
        if parts and parts[0].startswith("thread ("):
            first, parts = parts[0], parts[1:]
            if not thread_matches(first, thread):
                continue
        yield [_frame_name(f) for f in parts if " (" in f], int(count)


def profile_table(
    raw: Path,
    *,
    top: int = 18,
    under: str | None = None,
    thread: str | None = "MainThread",
    idle_leaves: tuple[str, ...] = ("Waker.wait",),
) -> str:
    """Self and inclusive shares per function from a py-spy raw profile.

    Only ``thread``'s stacks (when py-spy ran with ``--threads``), only those passing through
    a function containing ``under``, and none whose innermost frame is an idle wait.
    Shares are of wall time while busy (blocking I/O such as fsync counts).
    """
    self_n: dict[str, int] = {}
    incl_n: dict[str, int] = {}
    total = 0
    for frames, n in _samples(raw, thread):
        if not frames or any(frames[-1].startswith(leaf) for leaf in idle_leaves):
            continue
        if under is not None and not any(under in f for f in frames):
            continue
        total += n
        self_n[frames[-1]] = self_n.get(frames[-1], 0) + n
        for f in set(frames):
            incl_n[f] = incl_n.get(f, 0) + n
    if not total:
        return "(no samples)"
    rows = [
        [f, round(100 * self_n.get(f, 0) / total, 1), round(100 * incl_n[f] / total, 1)]
        for f in sorted(incl_n, key=lambda f: -self_n.get(f, 0))[:top]
    ]
    return f"{total} samples\n" + table(["function", "self %", "incl %"], rows)


def grouped_profile(
    raw: Path,
    groups: Sequence[tuple[str, tuple[str, ...]]],
    *,
    under: str,
    us_per_sample: float,
    thread: str = "MainThread",
    also: tuple[str, float] | None = None,
) -> str:
    """Main-thread samples under ``under`` assigned to pipeline steps, as µs per window.

    A stack goes to the group of its innermost frame that matches one of a group's markers
    (substrings of "function (file)"), else to "other". ``us_per_sample`` converts samples to
    µs per window (profiled drain time / windows / samples).
    """
    counts: dict[str, int] = {label: 0 for label, _ in groups}
    counts["other"] = 0
    total = 0
    for frames, n in _samples(raw, thread):
        if not any(under in f for f in frames):
            continue
        total += n
        label = "other"
        for frame in reversed(frames):
            hit = next((g for g, markers in groups if any(m in frame for m in markers)), None)
            if hit is not None:
                label = hit
                break
        counts[label] += n
    if not total:
        return "(no samples)"
    ordered = [*sorted(counts.items(), key=lambda kv: -kv[1]), ("total", total)]
    headers = ["step", "µs per window (profiled)", "%"]
    rows: list[list[object]] = [[label, n * us_per_sample, 100 * n / total] for label, n in ordered]
    if also is not None:
        headers.insert(2, also[0])
        for row, (_, n) in zip(rows, ordered, strict=True):
            row.insert(2, n * also[1])
    return table(headers, rows)


# --- waiting for files without burning a core ------------------------------------------

IN_MODIFY, IN_MOVED_TO, IN_CREATE = 0x2, 0x80, 0x100


class Inotify:
    """Minimal inotify (ctypes) so the bench sleeps until a watched directory changes.

    Tight stat() polling costs a VM like this one most of a core in timer wake-ups, which
    the daemon then lacks on a 2-core box; an inotify wake-up costs microseconds.
    """

    def __init__(self) -> None:
        import ctypes
        import ctypes.util

        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")

    def watch(self, path: Path, mask: int = IN_MODIFY | IN_MOVED_TO | IN_CREATE) -> None:
        import ctypes

        if self._libc.inotify_add_watch(self.fd, os.fsencode(path), mask) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")

    def wait(self, timeout: float) -> bool:
        """Sleep until any event (or ``timeout``); drain the queue; True if woken by one."""
        import select

        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fd, 65536):
                pass
        return True

    def close(self) -> None:
        os.close(self.fd)


def thread_names(pid: int) -> dict[str, str]:
    """tid -> 'Python thread name, waiting in <innermost frame>' from ``py-spy dump``."""
    import re

    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    try:
        out = subprocess.run(
            [exe, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    names: dict[str, str] = {}
    current: str | None = None
    for line in out.splitlines():
        m = re.match(r'Thread (\d+) \(\w+\): "(.*)"', line)
        if m:
            current = m.group(1)
            names[current] = m.group(2)
        elif current is not None and line.startswith("    "):
            names[current] += ", in " + line.strip().split(" (")[0]
            current = None  # the innermost frame is enough
    return names
