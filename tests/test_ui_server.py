"""`taskclf-daemon ui` as a process, over plain HTTP: every refusal, the headers, the lifecycle.

Nothing is reachable without the token (the page, its script and style sheet included); a
foreign Host is refused (DNS rebinding); a change needs the token in a header, from no other
origin, as JSON; no cookie and no CORS header is ever sent. The server listens on 127.0.0.1
only, says where on stdout, keeps the token in a 0600 file, stops on SIGTERM/SIGINT with 0,
exits 2 on a bad configuration and 1 on a port in use.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import run_cli, wait_for
from test_ui_browser import DAY, Setup, day_setup, serving
from ui_kit import Reply, UiProcess, request

pytestmark = pytest.mark.slow

PAGES = ("/", "/app.js", "/app.css", "/api/meta", "/api/day", "/api/asks", "/api/status")
SPAN = {"start": "2026-03-23T08:00:00Z", "end": "2026-03-23T09:00:00Z", "label": "Build"}


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return day_setup(tmp_path)


@pytest.fixture
def ui(setup: Setup) -> Iterator[UiProcess]:
    with serving(setup) as process:
        yield process


def spans_written(setup: Setup) -> bool:
    return (setup.data_dir / "label_spans.jsonl").exists()


def check_headers(reply: Reply) -> None:
    """What every answer carries, refusals included, and what none ever does."""
    h = reply.headers
    assert h["content-security-policy"].startswith("default-src 'none';")
    assert "script-src 'self'" in h["content-security-policy"]
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    assert h["cache-control"] == "no-store"
    assert h["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in h
    assert not [k for k in h if k.startswith("access-control-")], h


def test_nothing_is_reachable_without_the_token(ui: UiProcess) -> None:
    for path in (*PAGES, "/api/events", "/nowhere"):
        reply = request(ui.port, "GET", path)
        assert reply.status == 401, (path, reply.status)
        check_headers(reply)
        assert b"no token" in reply.body
    for path in PAGES:
        wrong = request(ui.port, "GET", f"{path}?token={ui.token[:-2]}xx")
        assert wrong.status == 403, path
        check_headers(wrong)
        header = request(ui.port, "GET", path, headers={"X-Taskclf-Token": "nope"})
        assert header.status == 403, path
    # a preflight carries no token: refused, and nothing CORS in the answer
    preflight = request(
        ui.port,
        "OPTIONS",
        "/api/spans",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 401
    check_headers(preflight)
    # and with the token (from a same-origin tool): still no method but GET and POST
    assert request(ui.port, "OPTIONS", f"/api/spans?token={ui.token}").status == 405
    assert request(ui.port, "DELETE", f"/api/spans?token={ui.token}").status == 403  # a write
    # each page with the token, and what it is
    for path in PAGES:
        good = request(ui.port, "GET", f"{path}?token={ui.token}")
        assert good.status == 200, (path, good.body[:200])
        check_headers(good)
    assert (
        request(ui.port, "GET", f"/app.js?token={ui.token}")
        .headers["content-type"]
        .startswith("text/javascript")
    )
    page = request(ui.port, "GET", f"/?token={ui.token}").body.decode()
    assert f'src="app.js?token={ui.token}"' in page  # the page asks for its script with it
    assert "http" not in page.split("<body>", 1)[0].replace("http-equiv", "")  # nothing fetched


def test_a_foreign_host_is_refused_even_with_the_token(ui: UiProcess) -> None:
    for host in (
        f"evil.example:{ui.port}",
        "127.0.0.1",
        f"127.0.0.1:{ui.port + 1}",
        f"localhost.evil.example:{ui.port}",
        f"[::1]:{ui.port}",
        "",
    ):
        reply = request(ui.port, "GET", f"/api/day?token={ui.token}", host=host)
        assert reply.status == 403, host
        check_headers(reply)
        assert b"Host" in reply.body
    assert request(ui.port, "GET", f"/?token={ui.token}", host=f"localhost:{ui.port}").status == 200
    assert request(ui.port, "GET", f"/?token={ui.token}", host=f"LOCALHOST:{ui.port}").status == 200


def test_writes_need_the_token_in_the_header_from_no_other_origin(
    ui: UiProcess, setup: Setup
) -> None:
    token = {"X-Taskclf-Token": ui.token}
    only_query = request(ui.port, "POST", f"/api/spans?token={ui.token}", body=SPAN)
    assert only_query.status == 403
    assert b"X-Taskclf-Token header" in only_query.body
    check_headers(only_query)
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{ui.port + 1}"):
        cross = request(
            ui.port, "POST", "/api/spans", headers={**token, "Origin": origin}, body=SPAN
        )
        assert cross.status == 403, origin
        check_headers(cross)
    form = request(
        ui.port, "POST", "/api/spans", headers={**token, "Content-Type": "text/plain"}, body=SPAN
    )
    assert form.status == 415
    assert not spans_written(setup)
    # the page's own origin, the header, JSON: written
    same = request(
        ui.port,
        "POST",
        "/api/spans",
        headers={**token, "Origin": f"http://127.0.0.1:{ui.port}"},
        body=SPAN,
    )
    assert same.status == 201, same.body
    check_headers(same)
    assert spans_written(setup)


def test_a_header_sent_twice_is_refused(ui: UiProcess) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", ui.port, timeout=10)
    conn.putrequest("GET", f"/?token={ui.token}", skip_host=True)
    conn.putheader("Host", f"127.0.0.1:{ui.port}")
    conn.putheader("Host", f"evil.example:{ui.port}")
    conn.endheaders()
    reply = conn.getresponse()
    assert reply.status == 400
    conn.close()


def test_the_span_rules_are_label_adds(ui: UiProcess, setup: Setup) -> None:
    token = {"X-Taskclf-Token": ui.token}
    setup.label("add", "--from", "2026-03-23 09:30", "--to", "2026-03-23 10:30", "Debug")
    before = (setup.data_dir / "label_spans.jsonl").read_bytes()
    overlap = request(ui.port, "POST", "/api/spans", headers=token, body=SPAN)
    assert overlap.status == 409
    refusal = overlap.json()
    assert "spans overlap for u-ada with different labels" in refusal["error"]
    assert refusal["conflict"]["label"] == "Debug"
    assert refusal["conflict"]["id"] == json.loads(before)["id"]
    for body, message in (
        ({**SPAN, "label": "Coding"}, "not a core label"),
        ({**SPAN, "end": SPAN["start"]}, "is not after start_ts"),
        ({**SPAN, "start": "9 o'clock"}, "start: expected an ISO-8601 timestamp"),
        ({**SPAN, "start": "2150-01-01T00:00:00Z"}, "outside the supported times"),
        ({**SPAN, "user": "../etc"}, "not a user id"),
        ({"end": SPAN["end"], "label": "Build"}, "start: expected a non-empty string"),
    ):
        reply = request(ui.port, "POST", "/api/spans", headers=token, body=body)
        assert reply.status == 400, body
        assert message in reply.json()["error"], (body, reply.json())
    assert request(ui.port, "POST", "/api/spans", headers=token, body=[1]).status == 400
    assert (setup.data_dir / "label_spans.jsonl").read_bytes() == before
    # undo takes back exactly what was added: the span it names, as it is
    added = request(
        ui.port,
        "POST",
        "/api/spans",
        headers=token,
        body={**SPAN, "start": "2026-03-23T09:30:00Z", "end": "2026-03-23T10:00:00Z"},
    )  # 10:30-11:00 in Berlin: right after the Debug span
    assert added.status == 201, added.body
    undo = {"span": {**added.json()["span"], "label": "Write"}, "replaced": None}
    assert request(ui.port, "POST", "/api/spans/undo", headers=token, body=undo).status == 409
    undo = {"span": added.json()["span"], "replaced": None}
    assert request(ui.port, "POST", "/api/spans/undo", headers=token, body=undo).status == 200
    assert (setup.data_dir / "label_spans.jsonl").read_bytes() == before


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def test_no_window_titles_in_any_answer(ui: UiProcess) -> None:
    for path in ("/api/day", "/api/asks", "/api/status", "/api/meta"):
        doc = request(ui.port, "GET", f"{path}?token={ui.token}").json()
        keys = {k.lower() for k in _keys(doc)}
        assert not {k for k in keys if "title" in k or k.startswith(("raw_", "app_"))}, path


def _listening(port: int) -> list[str]:
    """The local addresses listening on ``port`` (/proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":
                found.append(address)
    return found


def test_the_server_file_the_loopback_and_the_stop(ui: UiProcess, setup: Setup) -> None:
    info = setup.data_dir / "ui" / "server.json"
    assert stat.S_IMODE(info.stat().st_mode) == 0o600
    assert stat.S_IMODE(info.parent.stat().st_mode) == 0o700
    doc = json.loads(info.read_text())
    assert doc["url"] == ui.url
    assert doc["pid"] == ui.proc.pid
    assert len(doc["token"]) >= 43  # 256 bits, URL-safe base64 (at least 128 asked)
    assert ui.token not in ui.err.read_text()  # never logged
    assert _listening(ui.port) == ["0100007F"]  # 127.0.0.1, nothing else
    # a second `ui` on the same data dir says where the first one is
    again = run_cli("ui", "--no-browser", "--config", str(setup.config), env=setup.env)
    assert again.returncode == 0, again.stderr
    assert f"already serving (pid {ui.proc.pid}): {ui.url}" in again.stdout
    assert ui.stop(signal.SIGTERM) == 0
    assert "stopped" in ui.out.read_text()
    assert not info.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", ui.port), timeout=2).close()


def test_sigint_stops_it_too(ui: UiProcess) -> None:
    assert ui.stop(signal.SIGINT) == 0


def test_a_configured_port_and_its_refusals(setup: Setup, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    first = UiProcess(setup.root, setup.env, "--config", str(setup.config), "--port", str(port))
    try:
        assert first.port == port
        # the port taken (another data dir, so not "already serving"): exit 1, one line
        other = tmp_path / "other.toml"
        other.write_text(f'data_dir = "{tmp_path / "other"}"\nui_port = {port}\n')
        taken = run_cli("ui", "--no-browser", "--config", str(other), env=setup.env)
        assert taken.returncode == 1
        assert f"ui_port: cannot listen on 127.0.0.1:{port}" in taken.stderr
        assert "Traceback" not in taken.stderr
    finally:
        assert first.stop() == 0
    for config, flag, message in (
        ("ui_port = 70000\n", (), "ui_port"),
        ("", ("--port", "-1"), "--port (ui_port)"),
        ("label_max_asks_per_day = -1\n", (), "label_max_asks_per_day"),
        ("ui_prot = 1\n", (), "did you mean 'ui_port'"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(f'data_dir = "{tmp_path / "bad"}"\n{config}')
        done = run_cli("ui", "--no-browser", "--config", str(bad), *flag, env=setup.env)
        assert done.returncode == 2, (config, flag, done.stderr)
        assert message in done.stderr
        assert "Traceback" not in done.stderr


def test_the_page_is_told_when_the_day_changes(ui: UiProcess, setup: Setup) -> None:
    """Server-Sent Events: an append to the day's log file is an "day" event within seconds."""
    conn = socket.create_connection(("127.0.0.1", ui.port), timeout=15)
    path = f"/api/events?token={ui.token}&date={DAY.isoformat()}"
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{ui.port}\r\n\r\n".encode())
    seen = b""

    def read_until(marker: bytes) -> bool:
        nonlocal seen
        seen += conn.recv(4096)
        return marker in seen

    wait_for(lambda: read_until(b"retry:"), 10, "the stream to open")
    assert b"text/event-stream" in seen
    day_file = setup.data_dir / "labels" / "2026-03-23.jsonl"
    last: dict[str, Any] = json.loads(day_file.read_text().splitlines()[-1])
    added = {
        **last,
        "bucket_start_ts": "2026-03-23T20:00:00Z",
        "bucket_end_ts": "2026-03-23T20:01:00Z",
    }
    started = time.monotonic()
    with day_file.open("a") as fh:
        fh.write(json.dumps(added) + "\n")
    wait_for(lambda: read_until(b"event: day"), 10, "a day event")
    assert time.monotonic() - started < 5
    conn.close()


def test_idle_it_uses_no_cpu(ui: UiProcess) -> None:
    """Over 3 s with no page open, the server process does (nearly) nothing."""

    def cpu_ticks() -> int:
        fields = Path(f"/proc/{ui.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    before = cpu_ticks()
    time.sleep(3)  # measuring idleness: there is nothing to poll for
    used = (cpu_ticks() - before) / os.sysconf("SC_CLK_TCK")
    assert used < 0.05, f"{used:.3f} s of CPU in 3 s idle"


def _first_events(port: int, path: str, seconds: float) -> list[str]:
    """The event names a Server-Sent Events stream sends in its first ``seconds``."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=seconds)
    names: list[str] = []
    try:
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
        reply = conn.getresponse()
        assert reply.status == 200
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = reply.fp.readline()
            except TimeoutError:
                break
            if line.startswith(b"event: "):
                names.append(line[7:].strip().decode())
    finally:
        conn.close()
    return names


def test_a_record_landing_before_the_event_stream_opens_is_not_missed(
    ui: UiProcess, setup: Setup
) -> None:
    """The page reads its day, then opens its event stream: a record that landed in between
    was missed (the stream started from the files as it found them) and the page stayed
    stale until the next record. The day carries the state of its files; the stream that
    starts from an older one says "day" at once, one that starts from the current one not."""
    token = f"token={ui.token}"
    query = f"{token}&date={DAY.isoformat()}&user=u-ada"
    read = request(ui.port, "GET", f"/api/day?{query}").json()
    day_file = setup.data_dir / "labels" / f"{DAY.isoformat()}.jsonl"
    last = json.loads(day_file.read_text().splitlines()[-1])
    with day_file.open("a") as fh:
        fh.write(json.dumps({**last, "bucket_start_ts": "2026-03-23T19:00:00Z",
                             "bucket_end_ts": "2026-03-23T19:01:00Z"}) + "\n")  # fmt: skip
    stale = _first_events(ui.port, f"/api/events?{query}&files={read['files']}", 4)
    assert stale[:1] == ["day"]
    now = request(ui.port, "GET", f"/api/day?{query}").json()
    assert now["files"] != read["files"]
    assert _first_events(ui.port, f"/api/events?{query}&files={now['files']}", 3) == []
