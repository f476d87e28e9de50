"""Learning from the page: an action's dry run shown first, then shipped on a click.

An action is a command of this program with a dry run that writes nothing and prints its
report (``--json``: one object, which the page draws as facts and tables), and the same
command without the dry run, which ships. The page runs the dry run; only then may it ship,
and only with the id of that dry run (the latest of the action). Each runs as its own
process (``python -m daemon ...``) with this page's configuration: the same code, checks and
output as typed in a terminal, LightGBM never loaded into the page's server, and one run at
a time.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from daemon.config.keys import env_name
from taskclf_core.errors import TaskclfError

__all__ = ["ACTIONS", "Busy", "LearnAction", "Learning", "NeedsDryRun", "Run"]

RUN_TIMEOUT: Final = 3600.0  # a dry run or a ship that takes longer than an hour is stuck


@dataclass(frozen=True, slots=True)
class LearnAction:
    """A command the page can run: ``dry_run`` (writes nothing, prints the report) first,
    then ``ship`` (the arguments after ``taskclf-daemon``)."""

    name: str
    heading: str
    about: str
    dry_run: tuple[str, ...]
    ship: tuple[str, ...]

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "heading": self.heading, "about": self.about}


# THE REGISTRATION POINT of the page's learning actions: one LearnAction each, nothing
# else to change (the page draws any --json report: its values as facts, its lists of
# objects as tables, "report" lines as text). A click on the page is a request to learn now:
# retrain runs with --force (not waiting for retrain_cadence_days), the dry run as the ship.
ACTIONS: Final[tuple[LearnAction, ...]] = (
    LearnAction(
        "personalize",
        "Personal calibrator",
        "fit a calibrator per user from your labels and the label log; keep one only if it "
        "beats the global calibrator on your latest labelled windows; ship the store live",
        ("personalize", "--dry-run", "--json"),
        ("personalize", "--json"),
    ),
    LearnAction(
        "retrain",
        "Retrained model",
        "train a model on your labelled windows (you as a feature), check it against "
        "taskclf's gates and the model in force on your latest labelled windows, and deploy "
        "it live with its calibrator only if it passes every gate",
        ("retrain", "--dry-run", "--force", "--json"),
        ("retrain", "--force", "--json"),
    ),
)


class Busy(TaskclfError):
    """Another learning run is going on (one at a time)."""


class NeedsDryRun(TaskclfError):
    """Shipping without the latest dry run of the action (its report was not shown)."""


@dataclass(frozen=True, slots=True)
class Run:
    """One run of an action's step and what it said."""

    id: str
    action: str
    step: Literal["dry-run", "ship"]
    exit: int
    report: dict[str, Any] | None  # its --json object
    text: str  # its output when that was not one JSON object
    errors: str  # what it wrote on stderr
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "step": self.step,
            "exit": self.exit,
            "ok": self.ok,
            "report": self.report,
            "text": self.text,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
        }


def _report(out: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(out)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


class Learning:
    """Runs the actions, one at a time, as processes of this program."""

    def __init__(
        self,
        *,
        config: Path | None,
        overrides: Mapping[str, object],
        actions: Sequence[LearnAction] = ACTIONS,
        python: str = sys.executable,
    ) -> None:
        self.actions = {a.name: a for a in actions}
        self._config = config
        # the page's own --key-name flags reach the command as its environment: a flag
        # overrides TASKCLF_* there exactly as here
        self._env = {
            **os.environ,
            **{env_name(k): _env_value(v) for k, v in overrides.items() if v is not None},
        }
        self._python = python
        self._lock = threading.Lock()
        self._state = threading.Lock()
        self._dry: dict[str, Run] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._stopped = False

    def _argv(self, args: Sequence[str]) -> list[str]:
        config = [] if self._config is None else ["--config", str(self._config)]
        return [self._python, "-m", "daemon", *args, *config]

    def _run(self, action: LearnAction, step: Literal["dry-run", "ship"]) -> Run:
        if not self._lock.acquire(blocking=False):
            raise Busy("another learning run is going on: wait for its report")
        try:
            args = action.dry_run if step == "dry-run" else action.ship
            started = time.monotonic()
            with self._state:
                if self._stopped:
                    raise Busy("the page is stopping")
                self._proc = subprocess.Popen(
                    self._argv(args),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=self._env,
                )
            proc = self._proc
            try:
                out, err = proc.communicate(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                err += f"\nstopped after {RUN_TIMEOUT:.0f} s"
            finally:
                with self._state:
                    self._proc = None
            report = _report(out)
            return Run(
                id=secrets.token_hex(8),
                action=action.name,
                step=step,
                exit=proc.returncode,
                report=report,
                text="" if report is not None else out,
                errors=err,
                seconds=time.monotonic() - started,
            )
        finally:
            self._lock.release()

    def action(self, name: str) -> LearnAction:
        found = self.actions.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def dry_run(self, name: str) -> Run:
        run = self._run(self.action(name), "dry-run")
        with self._state:
            if run.ok:
                self._dry[name] = run
            else:
                self._dry.pop(name, None)
        return run

    def ship(self, name: str, dry_run_id: str) -> Run:
        """Ship ``name``, if ``dry_run_id`` is its latest dry run (which it uses up)."""
        action = self.action(name)
        with self._state:
            latest = self._dry.get(name)
            if latest is None or latest.id != dry_run_id:
                raise NeedsDryRun(
                    f"{name}: run its dry run and read the report first (the report shown "
                    "is not the latest one)"
                )
            del self._dry[name]
        return self._run(action, "ship")

    def stop(self) -> None:
        """End a run that is going on (the page is stopping)."""
        with self._state:
            self._stopped = True
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)
