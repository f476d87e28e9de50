"""The docs that ship with the project stay true: examples run, tables equal the code."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Daemons
from helpers import MakeStore, window_stream

from daemon.cli import _parser
from daemon.config.render import (
    render_flag_commands,
    render_other_variables,
    render_settings_table,
)
from taskclf_core.bundle import ModelBundle
from taskclf_core.calibration import load_calibrator_store
from taskclf_core.labels import CORE_LABELS
from taskclf_core.pipeline import Policy, Snapshot, label_window
from taskclf_core.policy import parse_policy
from taskclf_core.schema import parse_window, registry
from taskclf_core.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TAXONOMY = Path(__file__).resolve().parent / "data" / "taxonomy_sample.yaml"


def doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def example(name: str, page: str) -> str:
    """The fenced code block right after ``<!-- example:NAME -->`` in ``page``."""
    found = re.search(
        rf"<!-- example:{re.escape(name)} -->\n```[a-z]*\n(.*?)```\n", doc(page), re.DOTALL
    )
    assert found, f"docs/{page}: no example {name!r}"
    return found.group(1)


def between(page: str, marker: str) -> str:
    text = doc(page)
    start, end = f"<!-- {marker} -->\n", f"<!-- /{marker} -->"
    assert start in text, f"docs/{page}: marker {start!r} missing"
    assert end in text, f"docs/{page}: marker {end!r} missing"
    return text.split(start, 1)[1].split(end, 1)[0]


# --- windows.md --------------------------------------------------------------------------


def test_the_v2_column_table_is_the_registry() -> None:
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in between("windows.md", "columns:v2").splitlines()[2:]
    ]
    reg = registry("v2")
    assert reg is not None
    assert [(r[0].strip("`"), r[1]) for r in rows] == list(reg.columns)
    for name, _type, model_input, meaning in rows:
        column = name.strip("`")
        expected = (
            "categorical"
            if column in reg.categorical_columns
            else "yes"
            if column in reg.feature_columns
            else "no"
        )
        assert model_input == expected, column
        assert meaning, column


def test_the_example_window_is_complete_and_accepted(bundle: ModelBundle) -> None:
    window = json.loads(example("window", "windows.md"))
    reg = registry("v2")
    assert reg is not None
    assert bundle.schema.version == "v2"
    assert list(window) == ["user_id", *(name for name, _ in reg.columns)]
    parsed = parse_window(window, bundle.schema)
    assert parsed.n_missing == 0
    assert window["schema_hash"] == reg.schema_hash


def test_the_example_record_has_exactly_the_fields_the_daemon_writes(
    bundle: ModelBundle, make_store: MakeStore
) -> None:
    documented = json.loads(example("record", "windows.md"))
    store = load_calibrator_store(make_store(global_t=1.3, users={"u-alice": 1.1}))
    snapshot = Snapshot(
        bundle=bundle, store=store, policy=Policy(), taxonomy=load_taxonomy(TAXONOMY)
    )
    window = parse_window(json.loads(example("window", "windows.md")), bundle.schema)
    _, record = label_window(
        snapshot, snapshot.policy.empty_state(), window, source="x.jsonl", processed_at="t"
    )
    real = record.to_dict()
    assert list(documented) == list(real)
    for key in ("core_probs", "model_probs"):
        assert list(documented[key]) == list(CORE_LABELS)
        assert abs(sum(documented[key].values()) - 1) < 1e-5
    assert list(documented["mapped_probs"]) == list(real["mapped_probs"])
    assert (
        documented["confidence"] == max(documented["core_probs"].values())
        or abs(documented["confidence"] - max(documented["core_probs"].values())) < 1e-6
    )
    assert documented["label"] == documented["core_label"]
    for name in (
        "user_id",
        "bucket_start_ts",
        "bucket_end_ts",
        "calibrator",
        "reject_threshold",
        "model_schema_hash",
    ):
        assert documented[name] == real[name], name
    # every field is described in the table above the example
    table = doc("windows.md").split("## A label record", 1)[1].split("### Example", 1)[0]
    for name in real:
        assert f"`{name}`" in table, name


def test_the_span_example_is_accepted_and_carried_into_the_record(bundle: ModelBundle) -> None:
    window = json.loads(example("window", "windows.md"))
    span = json.loads(example("span", "windows.md"))
    assert {k: window[k] for k in ("bucket_start_ts", "bucket_end_ts")} == {
        k: span[k] for k in ("bucket_start_ts", "bucket_end_ts")
    }
    parsed = parse_window({**window, **span}, bundle.schema)
    assert parsed.span is not None
    assert parsed.span.active_us == 783_750_000  # "13 minutes of activity"
    snapshot = Snapshot(bundle=bundle, store=None, policy=Policy())
    _, record = label_window(
        snapshot, snapshot.policy.empty_state(), parsed, source="x.jsonl", processed_at="t"
    )
    fields = record.to_dict()
    assert {k: fields[k] for k in ("span_start_ts", "span_end_ts", "span_away")} == {
        k: span[k] for k in ("span_start_ts", "span_end_ts", "span_away")
    }


# --- spool.md: the collector examples, run against the real daemon ------------------------


@pytest.mark.slow
def test_the_collector_examples_feed_the_real_daemon(
    daemons: Daemons, tmp_path: Path, training_windows: list[dict[str, Any]]
) -> None:
    stream = window_stream(training_windows[:10])
    d = daemons.new()
    d.start()
    env = {**d.env, "SPOOL": str(d.spool)}
    python = tmp_path / "collector.py"
    python.write_text(example("collector-python", "spool.md"))
    shell = tmp_path / "collector.sh"
    shell.write_text(example("collector-sh", "spool.md"))
    # ten lines each, as the docs promise
    assert len(example("collector-python", "spool.md").splitlines()) <= 10
    assert len(example("collector-sh", "spool.md").splitlines()) <= 10

    for argv, part in (
        ([sys.executable, str(python)], stream[:5]),
        (["/bin/sh", str(shell)], stream[5:]),
    ):
        proc = subprocess.run(
            argv,
            input="".join(json.dumps(w) + "\n" for w in part),
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        d.wait_labelled(part)
    assert d.files("tmp") == []
    assert d.files("rejected") == []
    assert len(d.records()) == len(stream)
    d.stop()


# --- artifacts.md ----------------------------------------------------------------------------


def test_the_artifact_examples_are_what_the_loaders_read(taskclf_sample: Path) -> None:
    store_json = json.loads(example("store.json", "artifacts.md"))
    real = json.loads((taskclf_sample / "store_temperature" / "store.json").read_text())
    assert store_json == real
    policy = parse_policy(example("policy", "artifacts.md").encode(), source="artifacts.md")
    assert policy.threshold_for("u-bob") == 0.6
    assert policy.threshold_for("u-alice") == 0.55


# --- configuration.md --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("marker", "render", "indent"),
    [
        ("settings-table", render_settings_table, ""),
        ("other-variables", render_other_variables, "   "),
        ("flag-commands", render_flag_commands, "   "),
    ],
)
def test_the_key_tables_are_generated_from_the_key_table(
    marker: str, render: Callable[[], str], indent: str
) -> None:
    documented = between("configuration.md", marker)
    # the block's lines indented as the list item they sit in (and its closing marker)
    expected = "".join(f"{indent}{line}\n" for line in render().splitlines()) + indent
    if documented != expected and os.environ.get("UPDATE_DOCS") == "1":
        path = DOCS / "configuration.md"
        path.write_text(path.read_text().replace(documented, expected))
        return
    assert documented == expected, (
        f"docs/configuration.md ({marker}) is out of date with daemon/config/keys.py; "
        "rerun with UPDATE_DOCS=1 to rewrite it"
    )


def test_every_command_has_its_exit_status_documented() -> None:
    table = doc("configuration.md").split("## Exit status", 1)[1]
    commands = next(
        a.choices
        for a in _parser()._actions
        if isinstance(a, argparse._SubParsersAction) and a.choices
    )
    for command in commands:
        assert re.search(rf"`{command}[ `\\|]", table), command


# --- troubleshooting.md --------------------------------------------------------------------


def _source_text() -> str:
    files = [*ROOT.glob("daemon/**/*.py"), *ROOT.glob("taskclf_core/*.py")]
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


def test_every_troubleshooting_message_is_one_the_code_says() -> None:
    source = _source_text()
    headings = re.findall(r"^### `([^`]+)`", doc("troubleshooting.md"), re.MULTILINE)
    assert len(headings) >= 20
    for heading in headings:
        for piece in re.split(r"…|`, `", heading):
            piece = piece.strip(" ,:")
            if len(piece) >= 4:
                assert piece in source, f"troubleshooting.md: {heading!r}: {piece!r} not in code"


# --- links ---------------------------------------------------------------------------------


def test_no_links_outside_the_project_and_none_broken() -> None:
    pages = [ROOT / "README.md", *DOCS.glob("*.md")]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text, page
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if target.startswith(("http://", "https://")):
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


# --- README's install ------------------------------------------------------------------------


@pytest.mark.slow
def test_readme_install_commands_work_in_a_fresh_home(tmp_path: Path) -> None:
    """README's virtualenv install, as typed in a fresh HOME: its `ln -s … ~/.local/bin/`
    failed where ~/.local/bin did not exist yet. Then `taskclf-daemon --version` through the
    link, as the README's next line runs it (pip installs from the local wheel index)."""
    found = re.search(r"<!-- install -->\n```sh\n(.*?)```\n", readme(), re.DOTALL)
    assert found, "README.md: no <!-- install --> block"
    lines = found.group(1).replace("\\\n", "").splitlines()
    (venv,) = [line.split("#")[0] for line in lines if line.startswith("python3 -m venv")]
    (version,) = [line.split("#")[0] for line in lines if line.startswith("taskclf-daemon")]
    home = tmp_path / "fresh-home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))},
        "HOME": str(home),
        "PATH": f"{home / '.local' / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    }
    relink = venv[venv.index("mkdir -p") :]  # the same line again upgrades: no "File exists"
    for command in (venv, relink, version):
        done = subprocess.run(["bash", "-euc", command], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=900, check=False)  # fmt: skip
        assert done.returncode == 0, (command, done.stderr[-3000:])
    assert re.fullmatch(r"taskclf-daemon \d+\.\d+\.\d+\S*\n", done.stdout)
    link = home / ".local" / "bin" / "taskclf-daemon"
    assert link.is_symlink()
    assert os.readlink(link) == str(home / ".venvs" / "taskclf" / "bin" / "taskclf-daemon")


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def test_no_file_holds_a_merge_conflict_marker() -> None:
    """A conflict left in a document reads as garbage to a person and a diff tool alike."""
    marker = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.M)
    roots = [ROOT / "README.md", *(ROOT / d for d in ("docs", "bench", "daemon", "taskclf_core",
             "tests", "packaging", ".ci"))]  # fmt: skip
    files = [
        p
        for r in roots
        for p in ([r] if r.is_file() else r.rglob("*"))
        if p.is_file()
        and p.suffix in {".md", ".py", ".js", ".css", ".html", ".toml", ""}
        and ".cache" not in p.parts
        and "__pycache__" not in p.parts
    ]
    assert len(files) > 100
    found = [
        f"{p.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
        for p in files
        for text in [p.read_text(encoding="utf-8", errors="replace")]
        for m in marker.finditer(text)
    ]
    assert found == []
