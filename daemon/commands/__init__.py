"""What a person types: one module per command, each with ``add_arguments`` and ``run``.

:data:`COMMANDS` lists them with their one-line help; ``daemon/cli.py`` imports only the
module of the command typed, so a command's start-up costs its own imports and no other's.
A command module parses, calls the libraries below it and prints; it imports no other
command (tests/test_layering.py).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["COMMANDS", "Command"]


class Command(NamedTuple):
    """A command: what is typed, the module that runs it, its line in ``--help``, and whether
    it reads the configuration (then it takes ``--config FILE``, and the ``--key-name`` flag
    of each key it reads if it is one of daemon.config.keys.FLAG_COMMANDS). A command with
    ``actions`` (``label add``) takes them after the action, which its module adds: argparse
    lets an action's defaults overwrite what was given before it."""

    name: str
    module: str
    help: str
    config: bool = True
    actions: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("run", "daemon.commands.run", "run the daemon in the foreground"),
    Command("status", "daemon.commands.status", "what the running daemon is doing"),
    Command("reload", "daemon.commands.reload", "reload the calibrator store now"),
    Command(
        "init",
        "daemon.commands.init",
        "write a commented config file, create the spool, optionally install a model",
    ),
    Command(
        "doctor",
        "daemon.commands.doctor",
        "check the setup, one line per check with the fix; exit 1 on a problem",
    ),
    Command(
        "demo",
        "daemon.commands.demo",
        "the whole product end to end on generated data",
        config=False,
    ),
    Command(
        "train",
        "daemon.commands.train",
        "train a LightGBM bundle from labelled JSONL windows",
        config=False,
    ),
    Command(
        "calibrate",
        "daemon.commands.calibrate",
        "fit a CalibratorStore and print the calibration report",
    ),
    Command(
        "check-store",
        "daemon.commands.check_store",
        "validate a CalibratorStore exactly as the daemon would",
    ),
    Command(
        "deploy",
        "daemon.commands.deploy",
        "make a model (+ store, thresholds) the inference policy in force, live",
    ),
    Command(
        "rollback",
        "daemon.commands.rollback",
        "restore the inference policy in force before the last deploy, live",
    ),
    Command(
        "label",
        "daemon.commands.label",
        "your own labelled time spans (for personalize)",
        actions=True,
    ),
    Command(
        "personalize",
        "daemon.commands.personalize",
        "fit per-user calibrators from your spans and the label log; ship them live",
    ),
    Command(
        "retrain",
        "daemon.commands.retrain",
        "train a model on your labels, gate it against the one in force, deploy it live",
    ),
    Command(
        "report",
        "daemon.commands.report",
        "time per label from the label log (text, JSON, a page)",
    ),
    Command("collect", "daemon.commands.collect", "ActivityWatch → feature windows into the spool"),
    Command(
        "ui",
        "daemon.commands.ui",
        "the labelling page on 127.0.0.1: your day's timeline, suggestions, learning",
    ),
    # its --config names the file the service runs with, not one it reads
    Command(
        "service",
        "daemon.commands.service",
        "install/uninstall/show the login service",
        config=False,
    ),
)
