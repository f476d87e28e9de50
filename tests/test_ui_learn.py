"""The page's learning actions without a browser: retrain's report read into a sentence, and a
dry run with nothing to ship (refused, not enough data) that cannot be shipped."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from daemon.ui.learn import ACTIONS, LearnAction, Learning, NeedsDryRun, retrain_verdict


def retrain_doc(decision: str, **extra: Any) -> dict[str, Any]:
    return {
        "decision": decision,
        "gates": [
            {"name": "macro_f1", "value": 0.91, "threshold": 0.65, "passed": True},
            {
                "name": "macro_f1_no_regression",
                "value": 0.087,
                "threshold": 0.02,
                "passed": decision != "refused",
            },
        ],
        "champion": {"bundle_id": "strong", "macro_f1": 1.0, "weighted_f1": 1.0},
        "challenger": {"bundle_id": "retrain-1", "macro_f1": 0.913, "weighted_f1": 0.94},
        **extra,
    }


def test_retrain_is_a_page_action_dry_run_first_with_force() -> None:
    [retrain] = [a for a in ACTIONS if a.name == "retrain"]
    assert retrain.dry_run == ("retrain", "--dry-run", "--force", "--json")
    assert retrain.ship == ("retrain", "--force", "--json")
    assert retrain.judge is retrain_verdict


def test_each_retrain_decision_reads_as_a_sentence() -> None:
    would = retrain_verdict("dry-run", retrain_doc("deployed"))
    assert would.ships
    assert would.text == (
        "Would deploy: the challenger retrain-1 (macro-F1 0.913) passes all 2 gates against "
        "the model in force, strong (macro-F1 1.000). Nothing is written until you ship it."
    )
    done = retrain_verdict("ship", retrain_doc("deployed"))
    assert done.ships
    assert done.text.startswith("Deployed: the challenger retrain-1")
    refused = retrain_verdict("dry-run", retrain_doc("refused"))
    assert not refused.ships
    assert refused.text == (
        "Refused: the challenger retrain-1 (macro-F1 0.913) fails 1 of 2 gates "
        "(macro_f1_no_regression); the model in force, strong (macro-F1 1.000), stays. "
        "Nothing to ship."
    )
    assert retrain_verdict("ship", retrain_doc("refused")).text.endswith("Nothing was deployed.")
    short = retrain_verdict(
        "dry-run",
        {"decision": "not_enough_data", "gates": [], "champion": {"bundle_id": "baseline"},
         "challenger": None, "data": {"missing": ["label 40 more BreakIdle windows"]}},
    )  # fmt: skip
    assert not short.ships
    assert short.text == (
        "Not enough data: nothing was trained (label 40 more BreakIdle windows). Label more "
        "of your time and run it again. Nothing to ship."
    )
    due = retrain_verdict(
        "dry-run", {"decision": "not_due", "due": {"due": False, "reason": "3 days old of 7"}}
    )
    assert not due.ships
    assert due.text == "Not due: nothing was trained (3 days old of 7). Nothing to ship."


def fake(tmp_path: Path, doc: dict[str, Any]) -> str:
    """An interpreter that prints ``doc`` whatever it is asked (as `python -m daemon ...`)."""
    script = tmp_path / "python"
    script.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(doc))})\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("decision", ["refused", "not_enough_data", "not_due"])
def test_a_dry_run_with_nothing_to_ship_cannot_be_shipped(tmp_path: Path, decision: str) -> None:
    [retrain] = [a for a in ACTIONS if a.name == "retrain"]
    learning = Learning(
        config=None, overrides={}, actions=[retrain], python=fake(tmp_path, retrain_doc(decision))
    )
    run = learning.dry_run("retrain")
    assert run.ok
    assert not run.ships
    doc = run.to_json()
    assert doc["ships"] is False
    assert doc["verdict"]["ships"] is False
    with pytest.raises(NeedsDryRun, match="retrain: its latest dry run has nothing to ship: "):
        learning.ship("retrain", run.id)


def test_a_dry_run_that_would_deploy_ships_once(tmp_path: Path) -> None:
    [retrain] = [a for a in ACTIONS if a.name == "retrain"]
    learning = Learning(
        config=None, overrides={}, actions=[retrain], python=fake(tmp_path, retrain_doc("deployed"))
    )
    run = learning.dry_run("retrain")
    assert run.ships
    assert run.to_json()["verdict"]["text"].startswith("Would deploy:")
    shipped = learning.ship("retrain", run.id)
    assert shipped.step == "ship"
    assert shipped.verdict is not None
    assert shipped.verdict.text.startswith("Deployed:")
    with pytest.raises(NeedsDryRun, match="run its dry run"):
        learning.ship("retrain", run.id)  # used up


def test_an_action_without_a_judge_ships_any_dry_run_that_succeeded(tmp_path: Path) -> None:
    plain = LearnAction("plain", "Plain", "about", ("x", "--dry-run"), ("x",))
    learning = Learning(
        config=None, overrides={}, actions=[plain], python=fake(tmp_path, {"decision": "refused"})
    )
    run = learning.dry_run("plain")
    assert run.ships
    assert run.verdict is None
    assert run.to_json()["verdict"] is None
    assert learning.ship("plain", run.id).ok
