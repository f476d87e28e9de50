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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from daemon.config.keys import env_name
from taskclf_core.errors import TaskclfError

__all__ = [
    "ACTIONS",
    "Busy",
    "LearnAction",
    "Learning",
    "NeedsDryRun",
    "Run",
    "Verdict",
    "retrain_verdict",
]

RUN_TIMEOUT: Final = 3600.0  # a dry run or a ship that takes longer than an hour is stuck

Step = Literal["dry-run", "ship"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a run decided, in a sentence the page shows first; ``ships``: a dry run with
    something to ship (or a ship that shipped). A dry run that does not ship cannot be
    shipped: there is nothing to deploy, and the page says why instead of offering it."""

    ships: bool
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"ships": self.ships, "text": self.text}


@dataclass(frozen=True, slots=True)
class LearnAction:
    """A command the page can run: ``dry_run`` (writes nothing, prints the report) first,
    then ``ship`` (the arguments after ``taskclf-daemon``). ``judge`` reads a report (the
    step, its --json object) into a :class:`Verdict`; without one any dry run that
    succeeded may be shipped."""

    name: str
    heading: str
    about: str
    dry_run: tuple[str, ...]
    ship: tuple[str, ...]
    judge: Callable[[Step, Mapping[str, Any]], Verdict] | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "heading": self.heading, "about": self.about}


def _score(model: object) -> str:
    if not isinstance(model, Mapping) or not model.get("bundle_id"):
        return "none"
    f1 = model.get("macro_f1")
    return (
        f"{model['bundle_id']} (macro-F1 {f1:.3f})"
        if isinstance(f1, float | int)
        else (str(model["bundle_id"]))
    )


def retrain_verdict(step: Step, doc: Mapping[str, Any]) -> Verdict:
    """``retrain --json``'s decision in a sentence: what was (or would be) deployed, or why
    nothing was (CONTRACT 16: ``deployed`` | ``refused`` | ``not_due`` | ``not_enough_data``).
    A dry run's ``deployed`` means *would be*: it wrote nothing."""
    decision = doc.get("decision")
    champion, challenger = _score(doc.get("champion")), _score(doc.get("challenger"))
    gates = doc.get("gates") or []
    failed = [str(g.get("name")) for g in gates if isinstance(g, Mapping) and not g.get("passed")]
    nothing = "Nothing to ship." if step == "dry-run" else "Nothing was deployed."
    if decision == "deployed":
        if step == "dry-run":
            return Verdict(
                True,
                f"Would deploy: the challenger {challenger} passes all {len(gates)} gates "
                f"against the model in force, {champion}. Nothing is written until you ship it.",
            )
        return Verdict(
            True,
            f"Deployed: the challenger {challenger} passed all {len(gates)} gates and replaces "
            f"{champion} (`taskclf-daemon rollback` puts it back).",
        )
    if decision == "refused":
        return Verdict(
            False,
            f"Refused: the challenger {challenger} fails {len(failed)} of {len(gates)} gates "
            f"({', '.join(failed)}); the model in force, {champion}, stays. {nothing}",
        )
    if decision == "not_enough_data":
        data = doc.get("data")
        missing = data.get("missing") if isinstance(data, Mapping) else None
        why = "; ".join(str(m) for m in missing) if missing else "see the report"
        return Verdict(
            False,
            f"Not enough data: nothing was trained ({why}). Label more of your time and run "
            f"it again. {nothing}",
        )
    if decision == "not_due":
        due = doc.get("due")
        reason = due.get("reason") if isinstance(due, Mapping) else None
        return Verdict(False, f"Not due: nothing was trained ({reason}). {nothing}")
    return Verdict(False, f"Decision {decision!r}: not one retrain knows. {nothing}")


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
        judge=retrain_verdict,
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
    step: Step
    exit: int
    report: dict[str, Any] | None  # its --json object
    text: str  # its output when that was not one JSON object
    errors: str  # what it wrote on stderr
    seconds: float
    verdict: Verdict | None = None  # the action's judge on the report

    @property
    def ships(self) -> bool:
        """A dry run that may be shipped (succeeded, and its verdict says so)."""
        return self.ok and (self.verdict is None or self.verdict.ships)

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
            "verdict": self.verdict.to_json() if self.verdict else None,
            "ships": self.ships,
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
        self._unshippable: dict[str, str] = {}  # action → why its latest dry run ships nothing
        self._proc: subprocess.Popen[str] | None = None
        self._stopped = False

    def _argv(self, args: Sequence[str]) -> list[str]:
        config = [] if self._config is None else ["--config", str(self._config)]
        return [self._python, "-m", "daemon", *args, *config]

    def _run(self, action: LearnAction, step: Step) -> Run:
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
            judge = action.judge if proc.returncode == 0 and report is not None else None
            return Run(
                id=secrets.token_hex(8),
                action=action.name,
                step=step,
                exit=proc.returncode,
                report=report,
                text="" if report is not None else out,
                errors=err,
                seconds=time.monotonic() - started,
                verdict=judge(step, report) if judge is not None and report is not None else None,
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
            self._unshippable.pop(name, None)
            if run.ships:
                self._dry[name] = run
            else:
                self._dry.pop(name, None)
                if run.ok and run.verdict is not None:
                    self._unshippable[name] = run.verdict.text
        return run

    def ship(self, name: str, dry_run_id: str) -> Run:
        """Ship ``name``, if ``dry_run_id`` is its latest dry run (which it uses up)."""
        action = self.action(name)
        with self._state:
            latest = self._dry.get(name)
            if latest is None and name in self._unshippable:
                raise NeedsDryRun(
                    f"{name}: its latest dry run has nothing to ship: {self._unshippable[name]}"
                )
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
