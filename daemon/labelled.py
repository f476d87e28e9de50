"""Labelled JSONL files → ``("file:line", object)`` pairs, for `train` and `calibrate`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from taskclf_core.errors import TrainingError

__all__ = ["Labelled", "add_holdout", "add_labelled_data", "read_labelled_jsonl"]

Labelled = list[tuple[str, dict[str, Any]]]


def read_labelled_jsonl(paths: Sequence[Path]) -> Labelled:
    """Every JSON object line of ``paths`` as ``("file:line", object)``; blank lines skipped."""
    out: Labelled = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TrainingError(f"{path}: no such file") from None
        except UnicodeDecodeError as exc:
            raise TrainingError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise TrainingError(f"{path}: cannot read ({exc.strerror or exc})") from None
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingError(
                    f"{where}: not valid JSON ({exc.msg} at column {exc.colno})"
                ) from None
            if not isinstance(value, dict):
                raise TrainingError(
                    f"{where}: expected a JSON object (window fields + label), "
                    f"got {type(value).__name__}"
                )
            out.append((where, value))
    if not out:
        raise TrainingError(f"{', '.join(map(str, paths))}: no labelled windows")
    return out


def add_labelled_data(parser: argparse.ArgumentParser) -> None:
    """``--data FILE...``: the labelled JSONL windows `train` and `calibrate` read."""
    parser.add_argument("--data", type=Path, nargs="+", required=True, metavar="FILE")


def add_holdout(parser: argparse.ArgumentParser, help: str) -> None:
    """``--holdout X``: the latest share of the windows kept out of the fit (default 0.2)."""
    parser.add_argument("--holdout", type=float, default=0.2, help=help)
