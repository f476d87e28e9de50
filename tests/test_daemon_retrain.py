"""`retrain` against a running daemon while windows stream: a worse challenger is refused and
changes nothing; a better one is deployed live; no window is lost or labelled twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Daemons
from helpers import retrain_scenario
from labelling import spans_from

from daemon.archive import FeatureArchive
from daemon.cli import main
from daemon.paths import default_data_dir
from taskclf_core.spans import spans_to_csv
from taskclf_core.synthetic import UserProfile, generate_windows

pytestmark = pytest.mark.slow

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def features(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in w.items() if k != "label"} for w in windows]


def test_a_worse_challenger_is_refused_and_a_better_one_swapped_in_live(
    tmp_path: Path, daemons: Daemons, capsys: pytest.CaptureFixture[str]
) -> None:
    people, strong, weak = retrain_scenario(tmp_path)  # three careful labellers, two champions
    assert main(["init", "--model", str(strong)]) == 0
    data = default_data_dir()
    capsys.readouterr()
    daemon = daemons.new(
        data_dir=str(data),
        spool_dir=str(data / "spool"),
        model_dir=None,
        policy_file=str(data / "models" / "inference_policy.json"),
        log_format="json",
    )
    daemon.start()
    daemon.drop_windows(features(people), prefix="a")
    daemon.wait_labelled(people, timeout=120)
    csv = tmp_path / "spans.csv"
    csv.write_text(spans_to_csv(spans_from(people)))
    assert daemon.cli("label", "import", str(csv)).returncode == 0

    # someone else works, a window every 50 ms, all through what follows: up to two
    # minutes of windows, stopped once both retrains are done (they take ~25-50 s)
    live = features(
        generate_windows(
            users=[UserProfile("u-live", minutes_per_day=1200)],
            days=2,
            seed=3,
            start=TODAY - timedelta(days=1),
        )
    )
    with daemon.producing(live, rate=20.0, prefix="live") as producer:
        refused = daemon.cli("retrain", "--force", "--json", "--no-activitywatch", timeout=300)
        assert refused.returncode == 0, refused.stderr
        doc = json.loads(refused.stdout)
        assert doc["decision"] == "refused", "\n".join(doc["explanation"])
        gate = next(g for g in doc["gates"] if g["name"] == "macro_f1_no_regression")
        assert not gate["passed"]
        assert gate["value"] > 0.02
        assert daemon.status()["model"]["bundle_id"] == "strong"  # type: ignore[index]
        assert doc["deployed"] is None

        assert daemon.cli("deploy", "--model", str(weak)).returncode == 0
        daemon.wait_status(lambda s: s["model"]["bundle_id"] == "weak", 30, "weak in force")
        better = daemon.cli("retrain", "--force", "--json", "--no-activitywatch", timeout=300)
        assert better.returncode == 0, better.stderr
        doc = json.loads(better.stdout)
        assert doc["decision"] == "deployed", "\n".join(doc["explanation"])
        challenger = doc["challenger"]["bundle_id"]
        status = daemon.wait_status(
            lambda s: s["model"]["bundle_id"] == challenger, 30, "the challenger in force"
        )
        assert status["store"]["id"] == doc["deployed"]["store_id"]
        assert status["thresholds"]["reject_threshold"] == doc["deployed"]["reject_threshold"]
        assert producer.is_alive(), "the stream should outlast both retrains"
        daemon.wait_for(
            lambda: any(
                r["user_id"] == "u-live" and r["model_bundle_id"] == challenger
                for r in daemon.records()
            ),
            30,
            "a live window labelled by the challenger",
        )
        producer.stop()
    live = live[: len(producer.dropped_at)]  # dropped in order
    records = daemon.wait_labelled(live, timeout=120)

    # every window once, in the order of the models that were in force
    keys = [(r["user_id"], r["bucket_start_ts"]) for r in records]
    assert len(keys) == len(set(keys)) == len(people) + len(live)
    mine = sorted((r for r in records if r["user_id"] == "u-live"), key=lambda r: r["processed_at"])
    models = [r["model_bundle_id"] for r in mine]
    seen = [m for i, m in enumerate(models) if i == 0 or models[i - 1] != m]
    assert seen == ["strong", "weak", challenger], seen
    assert all(r["store_id"] == doc["deployed"]["store_id"] for r in mine if
               r["model_bundle_id"] == challenger)  # fmt: skip
    archived = FeatureArchive(data / "archive").read()
    assert archived.duplicates == 0
    assert {(w["user_id"], w["bucket_start_ts"]) for w in archived.windows} == set(keys)
    daemon.stop()
