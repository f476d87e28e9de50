"""`taskclf-daemon retrain` on a standalone install: the decision, what it writes, exit statuses."""

from __future__ import annotations

import gzip
import json
import math
import os
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import isolated_env, run_cli
from helpers import CONTRACT_GATES
from labelling import aw_rows, spans_from

from daemon.archive import FeatureArchive
from daemon.artifacts import load_deployment
from daemon.cli import main
from daemon.commands.doctor import Check, diagnose
from daemon.config.settings import load_settings
from daemon.paths import APP_NAME, default_config_file, default_data_dir, spans_file
from daemon.publish import policy_history_path
from daemon.records import (
    describe_retrain,
    read_retrain,
    record_retrain,
    retrain_advice,
    retrain_checked,
)
from daemon.reporting.progress import Progress, first_model_progress
from taskclf_core.baseline import BaselineModel
from taskclf_core.bundle import ModelBundle
from taskclf_core.calibration import TemperatureCalibrator
from taskclf_core.retrain import SURE_EVALUATION_WINDOWS, check_data
from taskclf_core.spans import span_minutes, spans_to_jsonl
from taskclf_core.synthetic import generate_population, generate_windows
from taskclf_core.synthetic_aw import AWPerson

# three careful labellers, five days ending yesterday: a first model passes every gate here
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def people() -> list[dict[str, Any]]:
    users = generate_population(3, seed=10, kinds=("plain",))
    return generate_windows(
        users=users, days=5, seed=10, start=TODAY - timedelta(days=5), schema_version="v3"
    )


def standalone(capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["init"]) == 0
    capsys.readouterr()
    return default_data_dir()


def archived(data: Path, windows: list[dict[str, Any]]) -> None:
    """What the daemon archived of ``windows`` (their features, no label)."""
    FeatureArchive(data / "archive").append(
        [
            (
                w["bucket_start_ts"][:10],
                json.dumps({k: v for k, v in w.items() if k != "label"}).encode(),
            )
            for w in windows
        ]
    )


def labelled(
    data: Path, windows: list[dict[str, Any]], typed: list[dict[str, Any]] | None = None
) -> None:
    """What the daemon archived of ``windows`` and the spans their person typed (over
    ``typed``, else ``windows``)."""
    archived(data, windows)
    spans_file(data).write_text(spans_to_jsonl(spans_from(typed or windows)))


def models(data: Path) -> list[str]:
    return sorted(n for n in os.listdir(data / "models") if not n.startswith("."))


def retrain(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["retrain", "--no-activitywatch", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_not_enough_data_says_what_to_label_and_exits_0(
    isolated_home: Path, people: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    data = standalone(capsys)
    labelled(data, people[:120])
    code, out, _ = retrain(capsys)
    assert code == 0
    assert "due: model baseline has no training date: a retrain is due" in out
    assert "not enough data: label 80 more windows (have 120, need 200)" in out
    assert out.rstrip().endswith("decision: not_enough_data (nothing trained)")
    code, out, _ = retrain(capsys, "--json")
    doc = json.loads(out)
    assert code == 0
    assert (doc["decision"], doc["gates"], doc["challenger"]) == ("not_enough_data", [], None)
    assert doc["champion"] == {"bundle_id": "baseline", "macro_f1": None, "weighted_f1": None}
    assert doc["data"]["missing"][0] == "label 80 more windows (have 120, need 200)"
    # recorded for status (the last real run)
    last = read_retrain(data)
    assert last is not None
    assert last["decision"] == "not_enough_data"
    assert describe_retrain(last).endswith(": label 80 more windows (have 120, need 200) (+1 more)")
    # under it, status shows what a first model needs now: the line points there
    assert describe_retrain(last, needs_below=True) == (
        f"retrain not_enough_data at {last['at']}: not enough labelled data (what a first model "
        "needs now: below)"
    )


def test_status_says_what_a_first_model_still_needs_with_the_daemon_stopped(
    isolated_home: Path, people: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Not running is the answer (exit 3), and what a first model needs is still told: the
    configuration says the baseline is in force."""
    data = standalone(capsys)
    labelled(data, people[:120])
    assert main(["status"]) == 3
    out = capsys.readouterr().out
    assert out.startswith("taskclf-daemon: not running\n")
    assert "start it       `taskclf-daemon run` (in a terminal)" in out
    assert "first model: 120 labelled windows in the archive over 1 days in the last 30" in out
    assert "label 80 more windows (have 120, need 200)" in out
    assert main(["status", "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["first_model"]["windows"] == 120
    # a model of one's own in force: nothing about a first model
    (data / "models" / "baseline" / "metadata.json").write_text('{"model_type": "lightgbm"}')
    assert main(["status", "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["first_model"] is None


def test_doctor_says_what_a_first_model_still_needs(
    isolated_home: Path, people: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    data = standalone(capsys)
    labelled(data, people[:120])
    check = next(c for c in diagnose(default_config_file()) if c.name == "labels")
    assert check.state == "warn"
    assert "first model: 120 labelled windows in the archive over 1 days in the last 30" in (
        check.detail
    )
    assert "label 80 more windows (have 120, need 200)" in check.detail
    assert "label windows on 2 more days (have 1, need 3)" in check.detail
    assert "taskclf-daemon label add --from HH:MM --to HH:MM LABEL" in check.fix
    assert "taskclf-daemon retrain" in check.fix


def test_doctor_tells_breaks_labelled_but_seen_as_few_windows(
    isolated_home: Path, people: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Breaks with the app left in front make no windows: the spans cover the break, the
    archive holds 3 of its minutes. doctor says so, and what makes windows of a break."""
    data = standalone(capsys)
    breaks = [w for w in people if w["label"] == "BreakIdle"]
    assert len(breaks) >= 30
    labelled(data, [w for w in people if w["label"] != "BreakIdle"] + breaks[:3], typed=people)
    check = next(c for c in diagnose(default_config_file()) if c.name == "labels")
    assert check.state == "warn"
    assert (
        "label 7 more windows of BreakIdle (have 3, need 10: taskclf's gates check its "
        "precision and recall; your BreakIdle spans cover "
    ) in check.detail
    assert "minutes but hold 3 windows: a window is a minute in which the window in front " in (
        check.detail
    )
    assert (
        "while you are away: ActivityWatch has not once shown the lock screen in front on the "
        "days you labelled: if you lock the screen when you step away, aw-watcher-window cannot "
        "see your lock screen"
    ) in check.detail
    assert (
        "you can have a model whose breaks are not checked: set "
        "retrain_min_breakidle_precision = 0 and retrain_min_breakidle_recall = 0 in daemon.toml"
    ) in check.detail
    # status shows the need, then each note on a line of its own; the JSON keeps one line
    progress = first_model_progress(load_settings(default_config_file()), now=datetime.now(UTC))
    lines = progress.lines()
    at = lines.index(
        "  still needed: label 7 more windows of BreakIdle (have 3, need 10: taskclf's gates "
        "check its precision and recall)"
    )
    notes = lines[at + 1 : at + 5]
    assert notes[0].startswith("    your BreakIdle spans cover ")
    assert notes[1].startswith("    ActivityWatch has not once shown the lock screen")
    assert notes[2].startswith("    at your pace so far (3 in ")
    assert notes[3].startswith("    if your breaks will not make windows, you can have a model")
    (one,) = [m for m in progress.to_json()["missing"] if "of BreakIdle" in m]
    assert one in check.detail
    assert one.endswith("every other gate kept))")
    assert ": ActivityWatch has not once shown" in one


def labels_check() -> Check:
    return next(c for c in diagnose(default_config_file()) if c.name == "labels")


def test_labelled_days_not_in_the_archive_are_counted_apart_and_judged_on_nothing(
    isolated_home: Path, people: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Past days labelled (`label import`) before the collector archived them: doctor and
    status said their BreakIdle spans held 0 windows, that ActivityWatch had not once shown the
    lock screen, and to turn the BreakIdle gates off, while `retrain` rebuilt the days from
    ActivityWatch and would have deployed. They count those days apart now, conclude nothing
    from them, and say how to bring them in."""
    data = standalone(capsys)
    spans = spans_from(people)
    spans_file(data).write_text(spans_to_jsonl(spans))  # the archive holds nothing
    days = sorted({w["bucket_start_ts"][:10] for w in people})
    assert len(days) == 5
    minutes = round(sum((s.end_ts - s.start_ts).total_seconds() / 60 for s in spans))
    check = labels_check()
    assert check.state == "warn"
    assert check.detail.startswith(
        "first model: 0 labelled windows in the archive over 0 days in the last 30 (none yet); "
        f"{len(spans)} label spans; not in the archive yet: {minutes} labelled minutes on 5 days "
        f"(from {days[0]} to {days[-1]}, UTC), left out of the counts here, so what is still "
        "needed may be in them: run `taskclf-daemon retrain`: it rebuilds them from "
        "ActivityWatch when it can reach it, and counts them; or back-fill the archive with "
        f"`taskclf-daemon collect --once --from {days[0]}T00:00Z --to {TODAY.date()}T00:00Z`"
    ), check.detail
    for concluded in ("BreakIdle spans cover", "has not once shown", "breakidle_precision = 0"):
        assert concluded not in check.detail
    assert "(`taskclf-daemon retrain` or `collect --once`, above)" in check.fix
    # status: a line for those days, a line each way in; the JSON counts them apart
    progress = first_model_progress(load_settings(default_config_file()), now=datetime.now(UTC))
    lines = progress.lines()
    assert lines[1].startswith(f"  not in the archive yet: {minutes} labelled minutes on 5 days")
    assert lines[2].startswith("    run `taskclf-daemon retrain`: it rebuilds them")
    assert lines[3].startswith("    or back-fill the archive with `taskclf-daemon collect --once")
    assert not any("BreakIdle spans cover" in line or "gates off" in line for line in lines)
    assert lines[-1].startswith("  once those days are in (above), label what is still needed")
    doc = progress.to_json()
    assert doc["windows"] == 0
    assert doc["unarchived"] == {"days": days, "minutes": minutes, "rebuilt_by_retrain": 5}

    # the days archived: counted, and no line about days not in the archive
    archived(data, people)
    check = labels_check()
    assert check.state == "ok", check.detail
    assert "not in the archive yet" not in check.detail
    progress = first_model_progress(load_settings(default_config_file()), now=datetime.now(UTC))
    assert progress.to_json()["unarchived"] == {"days": [], "minutes": 0, "rebuilt_by_retrain": 0}


def test_breaks_with_no_window_on_archived_days_still_say_so_beside_days_not_archived(
    isolated_home: Path, people: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Days 2 and 4 of 5 archived, their breaks without a window: the advice to turn the
    BreakIdle gates off stands, on those days' break minutes alone. Day 1 comes before the
    archive's first day (`retrain` rebuilds it); days 3 and 5 only a back-fill brings in, one
    `collect` each (an archived day between)."""
    data = standalone(capsys)
    spans = spans_from(people)
    spans_file(data).write_text(spans_to_jsonl(spans))
    days = sorted({w["bucket_start_ts"][:10] for w in people})
    held = {days[1], days[3]}
    archived(
        data,
        [w for w in people if w["bucket_start_ts"][:10] in held and w["label"] != "BreakIdle"],
    )
    kept = {date.fromisoformat(d) for d in held}
    since = TODAY - timedelta(days=30)
    breaks = round(span_minutes(spans, since, TODAY, days=kept)["BreakIdle"])
    assert breaks < round(span_minutes(spans, since, TODAY)["BreakIdle"])
    check = labels_check()
    assert check.state == "warn"
    assert "not in the archive yet: " in check.detail
    assert (
        "run `taskclf-daemon retrain`: it rebuilds the 1 before the archive's first day, not "
        "the 2 after it, from ActivityWatch when it can reach it"
    ) in check.detail

    def backfill(first: str) -> str:
        end = date.fromisoformat(first) + timedelta(days=1)
        return f"`taskclf-daemon collect --once --from {first}T00:00Z --to {end}T00:00Z`"

    assert (
        f"or back-fill the archive with {backfill(days[0])} and {backfill(days[2])} and "
        f"{backfill(days[4])}: once the daemon has labelled what it collects"
    ) in check.detail
    assert f"your BreakIdle spans cover {breaks} minutes but hold 0 windows" in check.detail
    assert "ActivityWatch has not once shown the lock screen" in check.detail
    assert "retrain_min_breakidle_precision = 0 and retrain_min_breakidle_recall = 0" in (
        check.detail
    )
    progress = first_model_progress(load_settings(default_config_file()), now=datetime.now(UTC))
    assert progress.to_json()["unarchived"]["days"] == [days[0], days[2], days[4]]
    assert progress.to_json()["unarchived"]["rebuilt_by_retrain"] == 1


def test_with_the_breakidle_gates_off_a_first_model_needs_no_breakidle_windows(
    isolated_home: Path,
    people: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both BreakIdle thresholds at 0 (the way out doctor offers one whose breaks make no
    window): doctor, status's count and retrain ask for no BreakIdle window, and retrain
    trains and gates without them, the two gates shown off. One gate at 0 still needs them."""
    data = standalone(capsys)
    labelled(data, [w for w in people if w["label"] != "BreakIdle"], typed=people)
    monkeypatch.setenv("TASKCLF_RETRAIN_MIN_BREAKIDLE_RECALL", "0")
    check = next(c for c in diagnose(default_config_file()) if c.name == "labels")
    assert "windows of BreakIdle (have 0, need 10" in check.detail
    monkeypatch.setenv("TASKCLF_RETRAIN_MIN_BREAKIDLE_PRECISION", "0")
    check = next(c for c in diagnose(default_config_file()) if c.name == "labels")
    assert check.state == "ok", check.detail
    assert "BreakIdle" not in check.detail
    code, out, _ = retrain(capsys, "--json", "--dry-run")
    doc = json.loads(out)
    assert code == 0
    assert doc["data"]["missing"] == []
    assert doc["data"]["per_class"]["BreakIdle"] == 0
    assert doc["decision"] in ("deployed", "refused")
    gates = {g["name"]: g for g in doc["gates"]}
    assert gates["breakidle_precision"]["threshold"] == 0.0
    assert gates["breakidle_recall"]["passed"] is True
    code, out, _ = retrain(capsys, "--dry-run")
    assert "PASS breakidle_recall: BreakIdle recall 0.0000 >= 0.0 (off: threshold 0)" in out


def test_doctor_says_when_a_first_model_would_be_judged_on_few_windows(
    isolated_home: Path, people: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    data = standalone(capsys)
    # one person's five days: enough to train, judged on their latest 15 %: 119 windows
    one = [w for w in people if w["user_id"] == people[0]["user_id"]]
    assert len(one) - int(len(one) * 0.85) < SURE_EVALUATION_WINDOWS
    labelled(data, one)
    judged = len(one) - int(len(one) * 0.85)
    more = math.ceil((SURE_EVALUATION_WINDOWS - judged) / 0.15 / 10) * 10  # 410 here
    caution = (
        f"`retrain` will test it on the latest 15 % of your labelled windows (about {judged} "
        f"here); with fewer than {SURE_EVALUATION_WINDOWS} a first model is refused more "
        f"often: if it is, label about {more} more windows over a few more days and run "
        "`retrain` again (the timer of `service install --retrain-weekly` tries each day)"
    )
    check = next(c for c in diagnose(default_config_file()) if c.name == "labels")
    assert check.detail.endswith(f"run `taskclf-daemon retrain` for a first model; {caution}"), (
        check.detail
    )
    settings = load_settings(default_config_file())
    progress = first_model_progress(settings, now=datetime.now(UTC))
    assert progress.lines()[1:] == [
        "  enough to train one: run `taskclf-daemon retrain`",
        f"  {caution}",
    ]

    # three people's: 350 windows judge it, and nothing more is said
    labelled(data, [w for w in people if w["user_id"] != people[0]["user_id"]])
    spans_file(data).write_text(spans_to_jsonl(spans_from(people)))
    check = next(c for c in diagnose(default_config_file()) if c.name == "labels")
    assert check.detail.endswith("run `taskclf-daemon retrain` for a first model")
    # what `status` says (with the daemon running and the baseline in force) and its JSON
    progress = first_model_progress(settings, now=datetime.now(UTC))
    assert progress.lines()[1:] == ["  enough to train one: run `taskclf-daemon retrain`"]
    doc = {"first_model": progress.to_json()}
    assert doc["first_model"]["evaluation_windows"] == sum(
        n - int(n * 0.85) for n in Counter(w["user_id"] for w in people).values()
    )


def test_status_and_doctor_count_what_retrain_counts_windows_left_out_at_switches_too(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Switches inside a minute, typed to the nearest, and a locked break one window: the
    windows the machine saw on the other side of a switch are left out by `retrain`. status
    and doctor counted them (11 BreakIdle windows, "enough to train one") and `retrain` then
    said 5 and not enough: an outside check saw that for 3 of its 15 people. They count the
    same windows now, and say the same thing is missing."""
    data = standalone(capsys)
    person = AWPerson(mid_minute=True, lock_wakes=False)
    rows, days = aw_rows(person, start=TODAY - timedelta(days=5), n_days=4, seed=4)
    archived(data, rows)
    spans_file(data).write_text(spans_to_jsonl(days.spans))
    settings = load_settings(default_config_file())
    progress = first_model_progress(settings, now=datetime.now(UTC), schema_version="v3")
    # windows of another schema than the model in force's are not counted, as by retrain
    other = first_model_progress(settings, now=datetime.now(UTC), schema_version="v2")
    assert other.check.windows == 0
    code, out, _ = retrain(capsys, "--json", "--dry-run")
    doc = json.loads(out)
    assert code == 0
    assert doc["decision"] == "not_enough_data"
    assert doc["dataset"] == {}
    assert doc["data"]["per_class"]["BreakIdle"] == 5
    left_out = "5 windows that show a break and 6 more windows at their edges"
    assert left_out in doc["data"]["missing"][0]
    assert not progress.enough
    assert progress.check.per_class == doc["data"]["per_class"]
    assert list(progress.missing) == doc["data"]["missing"]
    check = next(c for c in diagnose(default_config_file()) if c.name == "labels")
    assert check.state == "warn"
    assert left_out in check.detail


def test_a_damaged_archive_day_is_a_warning_of_doctor_naming_the_file(
    isolated_home: Path, people: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A packed day whose deflate stream is damaged (zlib.error, not an OSError) crashed
    `status` and `doctor` once they read the archive."""
    data = standalone(capsys)
    labelled(data, people)
    day = people[0]["bucket_start_ts"][:10]
    archive = FeatureArchive(data / "archive")
    archive.plain(day).unlink()
    packed = bytearray(gzip.compress(b'{"user_id": "u"}\n' * 500))
    packed[20:30] = bytes(b ^ 0xFF for b in packed[20:30])
    archive.packed(day).write_bytes(bytes(packed))
    check = next(c for c in diagnose(default_config_file()) if c.name == "labels")
    assert check.state == "warn"
    assert check.detail.startswith(f"cannot count your labelled windows: {archive.packed(day)}: ")


@pytest.mark.parametrize(
    ("judged", "said"), [(None, False), (1, True), (179, True), (180, False), (350, False)]
)
def test_the_caution_is_said_below_sure_evaluation_windows_only(
    judged: int | None, said: bool
) -> None:
    users = ["u"] * 600
    starts = [TODAY - timedelta(days=4) + timedelta(minutes=i * 10) for i in range(600)]
    labels = [("Build", "Write", "BreakIdle")[i % 3] for i in range(600)]
    check = check_data(labels, starts, users)
    assert check.enough
    progress = Progress(check, 3, 30, evaluation_windows=judged)
    assert (progress.caution is not None) is said
    assert len(progress.lines()) == 2 + said
    # not enough data: only what is missing is said
    short = Progress(check_data(labels[:50], starts[:50], users[:50]), 1, 30, (), judged)
    assert short.caution is None
    assert not any("will test it" in line for line in short.lines())


@pytest.mark.slow
def test_the_archives_order_changes_nothing_retrain_decides(
    tmp_path: Path, people: list[dict[str, Any]]
) -> None:
    # the daemon archives windows as it labels them, everyone's minutes interleaved; another
    # install (a compaction, days rebuilt from ActivityWatch) may hold the same windows in
    # another order. Two installs, the same labelled windows, a real `retrain` in each
    orders = {
        "as-labelled": sorted(people, key=lambda w: (w["bucket_start_ts"], w["user_id"])),
        "by-person": sorted(people, key=lambda w: (w["user_id"], w["bucket_start_ts"])),
    }
    docs = []
    for name, windows in orders.items():
        env = isolated_env(tmp_path / name)
        assert run_cli("init", env=env).returncode == 0
        data = Path(env["XDG_DATA_HOME"]) / APP_NAME
        assert data.is_dir()
        labelled(data, windows)
        run = run_cli("retrain", "--dry-run", "--json", "--no-activitywatch", env=env, timeout=300)
        assert run.returncode == 0, run.stderr
        docs.append(json.loads(run.stdout))
    first, second = docs
    assert first["decision"] == "deployed", "\n".join(first["explanation"])
    for key in ("decision", "gates", "champion", "reject_threshold"):
        assert first[key] == second[key], key
    for key in ("macro_f1", "weighted_f1"):
        assert first["challenger"][key] == second["challenger"][key], key


@pytest.mark.slow
def test_a_first_model_ships_live_and_rollback_brings_the_baseline_back(
    isolated_home: Path, people: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    data = standalone(capsys)
    labelled(data, people)
    settings = load_settings(default_config_file())
    policy = settings.policy_file
    assert policy is not None
    before = policy.read_bytes()

    # a dry run decides and explains, and writes nothing
    code, out, _ = retrain(capsys, "--dry-run")
    assert code == 0
    assert out.startswith("dry run: every step as `retrain` would take it, and nothing written\n")
    assert "decision: deployed (all 8 gates passed)" in out
    assert "dry run: nothing written;" in out
    assert policy.read_bytes() == before
    assert models(data) == ["baseline", "inference_policy.json"]
    assert not (data / "stores").exists()
    assert read_retrain(data) is None

    # a store that cannot be written: exit 1, nothing installed, nothing deployed
    (data / "stores").write_text("not a directory")
    code, out, err = retrain(capsys)
    assert code == 1
    assert str(data / "stores") in err
    assert policy.read_bytes() == before
    assert models(data) == ["baseline", "inference_policy.json"]
    failed = read_retrain(data)
    assert failed is not None
    assert failed["decision"] is None
    assert str(data / "stores") in failed["error"]
    (data / "stores").unlink()

    code, out, _ = retrain(capsys, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["decision"] == "deployed"
    assert [g["name"] for g in doc["gates"]] == [*CONTRACT_GATES, "no_user_regression"]
    assert all(set(g) == {"name", "value", "threshold", "passed"} for g in doc["gates"])
    assert set(doc["challenger"]) == {"bundle_id", "macro_f1", "weighted_f1"}
    assert doc["challenger"]["macro_f1"] > doc["champion"]["macro_f1"]
    deployed = doc["deployed"]
    # what the text prints after the decision, the JSON carries too
    assert "`taskclf-daemon rollback` puts the model before back" in deployed["lines"]
    # in force now: the challenger, its store, the threshold it was gated at
    deployment = load_deployment(policy)
    assert isinstance(deployment.bundle, ModelBundle)
    assert deployment.bundle.bundle_id == doc["challenger"]["bundle_id"]
    assert deployment.policy.source == "retrain"
    assert deployment.policy.reject_threshold == deployed["reject_threshold"]
    assert deployment.policy.reject_threshold == doc["reject_threshold"]["threshold"]
    assert deployment.store is not None
    assert deployment.store.store_id == deployed["store_id"]
    assert deployment.store.model_bundle_id == deployment.bundle.bundle_id
    # the store's global temperature, the one the challenger was gated with, is reported
    # (it is carried over, not fitted again: this was null)
    temperature = deployed["calibration"]["store"]["global_temperature"]
    assert isinstance(deployment.store.global_calibrator, TemperatureCalibrator)
    assert temperature == pytest.approx(deployment.store.global_calibrator.temperature, abs=1e-4)
    lineage = deployment.bundle.metadata["retrain"]
    assert (lineage["champion"], lineage["decision"]) == ("baseline", "deployed")
    assert lineage["dataset"]["rows"] == len(people)
    assert "user_id" in deployment.bundle.schema.feature_columns
    history = policy_history_path(policy).read_text().splitlines()
    assert json.loads(history[-1])["policy"]["model_dir"] == "models/baseline"
    assert read_retrain(data)["decision"] == "deployed"  # type: ignore[index]

    # the model in force is a day old: not due; --force would train again
    code, out, _ = retrain(capsys)
    assert code == 0
    assert "decision: not_due (nothing trained)" in out
    assert f"model {deployment.bundle.bundle_id} is 0.0 days old" in out
    # the daily timer's check does not hide what the last retrain decided
    last = read_retrain(data)
    assert last is not None
    assert last["decision"] == "deployed"
    assert last["deployed"]["store_id"] == deployed["store_id"]
    assert "next retrain is due in 7.0 days" in last["checked"]["reason"]
    assert describe_retrain(last).startswith("retrain deployed at ")
    # in force still: nothing more said; after a rollback (or a deploy), the line says so
    shipped = doc["challenger"]["bundle_id"]
    assert "no longer in force" not in describe_retrain(last, in_force=shipped)
    assert describe_retrain(last, in_force="baseline").endswith(
        "; no longer in force (baseline is: a rollback or deploy since)"
    )
    (checked,) = retrain_checked(last)
    assert checked.startswith(f"  checked again at {last['checked']['at']}: not due: model ")

    assert main(["rollback"]) == 0
    capsys.readouterr()
    assert isinstance(load_deployment(policy).bundle, BaselineModel)


@pytest.mark.slow
def test_a_retrain_that_deploys_removes_retrained_models_beyond_the_newest_kept(
    isolated_home: Path,
    people: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import daemon.retraining

    monkeypatch.setattr(daemon.retraining, "RETRAINED_KEPT", 1)
    data = standalone(capsys)
    labelled(data, people)
    code, out, _ = retrain(capsys, "--json")
    assert code == 0
    first = json.loads(out)["challenger"]["bundle_id"]
    (first_store,) = sorted(p.name for p in (data / "stores").iterdir())
    code, out, _ = retrain(capsys, "--force")
    assert code == 0
    assert "decision: deployed" in out, out
    # the store fitted for the first model went with it; the second's is the one in force
    (second_store,) = sorted(p.name for p in (data / "stores").iterdir())
    assert second_store != first_store
    assert f"removed 1 calibrator store of models no longer kept ({first_store})" in out
    (second,) = (m for m in models(data) if m.startswith("retrain-") and m != first)
    assert models(data) == [
        "baseline",
        "inference_policy.history.jsonl",
        "inference_policy.json",
        second,
    ]
    assert (
        f"removed 1 older retrained model ({first}): retrain keeps the newest 1 it trained" in out
    )
    in_force = load_deployment(data / "models" / "inference_policy.json").bundle
    assert isinstance(in_force, ModelBundle)
    assert in_force.bundle_id == second
    assert main(["rollback"]) == 2  # the history went with the first model
    assert "nothing to roll back to" in capsys.readouterr().err


def test_configuration_problems_exit_2(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], bundle_dir: Path
) -> None:
    config = default_config_file()
    config.parent.mkdir(parents=True)
    config.write_text(f'model_dir = "{bundle_dir}"\n')
    code, _, err = retrain(capsys)
    assert code == 2
    assert "policy_file is not set: deploy and rollback write the inference policy" in err
    code, out, _ = retrain(capsys, "--dry-run")  # a dry run needs no policy to write
    assert code == 0
    assert "decision: not_enough_data" in out
    code, _, err = retrain(
        capsys, "--retrain-min-reject-rate", "0.5", "--retrain-max-reject-rate", "0.3"
    )
    assert code == 2
    assert "retrain_min_reject_rate (0.5) is above retrain_max_reject_rate (0.3)" in err
    config.write_text(f'model_dir = "{bundle_dir}"\nretrain_cadense_days = 3\n')
    code, _, err = retrain(capsys, "--dry-run")
    assert code == 2
    assert "retrain_cadense_days" in err
    assert "did you mean 'retrain_cadence_days'" in err


@pytest.mark.slow
def test_status_says_what_to_do_about_a_refused_retrain(
    isolated_home: Path, people: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The timer runs retrain unseen: a refusal's `why` lines are in its record, and `status`
    shows them under the retrain line; the daily check that finds none due comes last."""
    data = standalone(capsys)
    labelled(data, people)
    bounds = ("--retrain-min-reject-rate", "0.5", "--retrain-max-reject-rate", "0.6")
    code, out, _ = retrain(capsys, *bounds)
    assert code == 0
    assert "reject_rate_bounds)\n" in out  # with 50 % rejected, the F1 gates fail too
    why = [line for line in out.splitlines() if line.startswith("why ")]
    assert len(why) == 1
    assert why[0].startswith("why reject rate: at ")
    last = read_retrain(data)
    assert last is not None
    assert last["why"] == why
    main(["status"])
    shown = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(shown) if line.startswith("retrain refused at "))
    assert shown[at + 1] == f"  {why[0]}"
    # a run that deploys has nothing to say there
    code, out, _ = retrain(capsys, "--force")
    assert "decision: deployed" in out
    main(["status"])
    shown = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(shown) if line.startswith("retrain deployed at "))
    assert at + 1 == len(shown) or not shown[at + 1].startswith("  why ")
    # the next day's timer: not due, and the deploy is still what status shows
    code, out, _ = retrain(capsys)
    assert "decision: not_due" in out
    assert "archive " not in out  # not due: the archive was not read
    main(["status"])
    shown = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(shown) if line.startswith("retrain deployed at "))
    assert shown[at + 1].startswith("  checked again at ")
    assert ": not due: model retrain-" in shown[at + 1]


def test_a_not_due_check_keeps_the_decision_before_it(tmp_path: Path) -> None:
    """What retrain/last.json holds after each kind of run, and the order `status` shows it."""
    due = {"due": False, "reason": "model m is 2.0 days old; the next retrain is due in 5 days"}
    not_due = {"decision": "not_due", "due": due}
    record_retrain(tmp_path, not_due)  # nothing before it: the check is the record
    first = read_retrain(tmp_path)
    assert first is not None
    assert describe_retrain(first) == f"retrain not_due at {first['at']}: {due['reason']}"
    refused = {"decision": "refused", "why": ["why few windows: label more days"], "due": {}}
    record_retrain(tmp_path, refused)
    record_retrain(tmp_path, not_due)
    last = read_retrain(tmp_path)
    assert last is not None
    assert last["decision"] == "refused"
    assert describe_retrain(last).startswith("retrain refused at ")
    assert [*retrain_advice(last), *retrain_checked(last)] == [
        "  why few windows: label more days",
        f"  checked again at {last['checked']['at']}: not due: {due['reason']}",
    ]
    record_retrain(tmp_path, {"decision": None, "error": "disk full"})  # a failed run
    record_retrain(tmp_path, not_due)  # replaces it: an error is no decision to keep
    assert (read_retrain(tmp_path) or {}).get("decision") == "not_due"
    record_retrain(tmp_path, refused)  # a new decision drops the old check
    assert "checked" not in (read_retrain(tmp_path) or {})
