"""`taskclf-daemon ui`: serve the labelling page on 127.0.0.1 and open it in the browser."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from daemon.config.flags import setting_overrides

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="print the page's address, do not open a browser",
    )


def _open(url: str) -> None:
    """The browser, when there is a screen to show it on (a terminal browser would take over
    this terminal): a failure to open one is a line, the URL is printed anyway."""
    if sys.platform != "darwin" and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        print("no display here: open the address above in your browser", flush=True)
        return
    import webbrowser

    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        print("could not open a browser: open the address above in it", flush=True)


def run(args: argparse.Namespace) -> int:
    from daemon.config.settings import load_settings
    from daemon.paths import ui_server_file
    from daemon.ui.api import Page
    from daemon.ui.learn import Learning
    from daemon.ui.server import find_running, serving

    overrides = setting_overrides(args)
    settings = load_settings(args.config, overrides)
    running = find_running(settings.data_dir)
    if running is not None:
        print(f"taskclf-daemon ui: already serving (pid {running.pid}): {running.url}", flush=True)
        if not args.no_browser:
            _open(running.url)
        return 0
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stopping)
    page = Page(settings, Learning(config=args.config, overrides=overrides))
    with serving(page, settings.ui_port) as served:
        print(
            f"taskclf-daemon ui: the labelling page is at {served.running.url}\n"
            f"  (its address and token are in {ui_server_file(settings.data_dir)}, 0600; "
            "Ctrl-C or SIGTERM stops it)",
            flush=True,
        )
        if not args.no_browser:
            _open(served.running.url)
        stop.wait()
    print("taskclf-daemon ui: stopped", flush=True)
    return 0
