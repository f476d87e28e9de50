"""The labelling page in a real browser: `taskclf-daemon ui` as a process, Chromium driving it.

A person's morning: drag a span, see it in `label list`, undo it; a refused overlap names the
other span; the keys alone label a span; a suggestion answered and one skipped. Screenshots
(light, dark, 420 px) are kept under $UI_SCREENSHOTS when it is set.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from daemon_harness import Daemons, run_cli
from helpers import retrain_scenario, window_stream
from labelling import spans_from
from ui_kit import UiProcess, chrome, request, wait_page

from daemon.paths import default_data_dir
from taskclf_core.bundle import ModelBundle
from taskclf_core.calibration import CalibratorStore, TemperatureCalibrator, save_calibrator_store
from taskclf_core.spans import spans_to_csv
from taskclf_core.synthetic import generate_label_log, generate_windows

pytestmark = pytest.mark.slow

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2026, 3, 23)  # a Monday
SHOTS = Path(os.environ["UI_SCREENSHOTS"]) if os.environ.get("UI_SCREENSHOTS") else None


def write_log(data_dir: Path, records: list[dict[str, Any]]) -> None:
    labels = data_dir / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    by_day: dict[str, list[str]] = defaultdict(list)
    for r in records:
        by_day[r["bucket_start_ts"][:10]].append(json.dumps(r))
    for day, lines in by_day.items():
        (labels / f"{day}.jsonl").write_text("\n".join(lines) + "\n")


class Setup:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.config = root / "daemon.toml"
        self.config.write_text(f'data_dir = "{self.data_dir}"\ncollect_user_id = "u-ada"\n')
        self.env = {**os.environ, "TZ": "Europe/Berlin"}

    def label(self, *args: str) -> str:
        done = run_cli("label", *args, "--config", str(self.config), env=self.env)
        assert done.returncode == 0, done.stderr
        return done.stdout


def day_setup(root: Path) -> Setup:
    """u-ada's synthetic Monday in Berlin, logged, with a config naming her."""
    made = Setup(root)
    write_log(
        made.data_dir,
        generate_label_log(user_id="u-ada", start=DAY, days=1, tz=BERLIN, seed=3),
    )
    return made


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return day_setup(tmp_path)


@contextmanager
def serving(setup: Setup) -> Iterator[UiProcess]:
    """`ui` on ``setup``'s configuration, stopped by SIGTERM after (it must exit 0)."""
    process = UiProcess(setup.root, setup.env, "--config", str(setup.config))
    try:
        yield process
    finally:
        assert process.stop() == 0, process.tail()


@pytest.fixture
def ui(setup: Setup) -> Iterator[UiProcess]:
    with serving(setup) as process:
        yield process


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chrome(tmp_path / "profile") as driver:
        yield driver


def open_day(driver: Any, ui: UiProcess) -> None:
    driver.get(f"{ui.url}#{DAY.isoformat()}")
    wait_page(driver, "the timeline", "return document.documentElement.dataset.drawn")
    wait_page(driver, "the day", "return document.getElementById('day').value === '2026-03-23'")


def epoch(hh: int, mm: int) -> float:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=BERLIN).timestamp()


def drag(driver: Any, start: float, end: float) -> None:
    """Press at ``start``, move to ``end``, release (epoch seconds), as a mouse would."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    svg = driver.find_element(By.CSS_SELECTOR, "#tl svg")
    geo = driver.execute_script(
        "var b=document.getElementById('tl').dataset;return [+b.lo,+b.hi,+b.x0,+b.x1,+b.lane]"
    )
    lo, hi, x0, x1, lane = (float(v) for v in geo)

    def px(t: float) -> float:
        return x0 + (t - lo) / (hi - lo) * (x1 - x0)

    width, height = svg.size["width"], svg.size["height"]
    (
        ActionChains(driver)
        .move_to_element_with_offset(svg, round(px(start) - width / 2), round(lane - height / 2))
        .click_and_hold()
        .move_by_offset(round((px(end) - px(start)) / 2), 0)
        .move_by_offset(round(px(end) - px(start)) - round((px(end) - px(start)) / 2), 0)
        .release()
        .perform()
    )


def text(driver: Any, element_id: str) -> str:
    return str(driver.execute_script(f"return document.getElementById('{element_id}').textContent"))


def press(driver: Any, *keys: str, holding: str | None = None) -> None:
    """Type ``keys``, with the modifier ``holding`` held down over all of them."""
    from selenium.webdriver.common.action_chains import ActionChains

    chain = ActionChains(driver)
    if holding is not None:
        chain.key_down(holding)
    chain.send_keys(*keys)
    if holding is not None:
        chain.key_up(holding)
    chain.perform()


def no_errors(driver: Any) -> None:
    assert driver.execute_script("return document.body.getAttribute('data-errors')") is None


def test_drag_a_span_see_it_in_label_list_and_undo_it(
    setup: Setup, ui: UiProcess, browser: Any
) -> None:
    open_day(browser, ui)
    drag(browser, epoch(9, 40), epoch(10, 30))
    wait_page(
        browser,
        "the selection",
        "return document.getElementById('selection').textContent.includes('Selected 09:40–10:30')",
    )
    press(browser, "2")  # Build: the second button
    wait_page(
        browser,
        "the label to be taken",
        "return document.getElementById('msg').textContent"
        ".startsWith('Labelled 09:40–10:30 as Build')",
    )
    listed = setup.label("list")
    assert "2026-03-23 09:40" in listed
    assert "2026-03-23 10:30" in listed
    assert "Build" in listed
    assert "u-ada" in listed
    assert "manual" in listed
    # drawn on the lower lane, at once
    wait_page(browser, "the span drawn", "return document.querySelector('#tl rect.span') !== null")
    assert browser.execute_script(
        "return document.querySelector('#tl rect.span').dataset.label"
    ) == ("Build")

    press(browser, "u")
    wait_page(
        browser,
        "the undo",
        "return document.getElementById('msg').textContent.startsWith('Undone')",
    )
    assert "no label spans" in setup.label("list")
    wait_page(browser, "the span gone", "return document.querySelector('#tl rect.span') === null")
    no_errors(browser)


def test_an_overlap_is_refused_naming_the_other_span(
    setup: Setup, ui: UiProcess, browser: Any
) -> None:
    setup.label("add", "--from", "2026-03-23 10:00", "--to", "2026-03-23 11:00", "Debug")
    before = (setup.data_dir / "label_spans.jsonl").read_bytes()
    span_id = json.loads(before)["id"]
    open_day(browser, ui)
    drag(browser, epoch(9, 30), epoch(10, 30))
    wait_page(
        browser,
        "the selection",
        "return document.getElementById('selection').textContent.includes('09:30–10:30')",
    )
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, "button[data-label=Meet]").click()
    message = wait_page(
        browser,
        "the refusal",
        "var t=document.getElementById('msg').textContent; return t.startsWith('Refused') && t",
    )
    assert f"overlaps your Debug span 10:00–11:00 (id {span_id})" in message
    assert (setup.data_dir / "label_spans.jsonl").read_bytes() == before
    assert browser.execute_script(
        f"return document.querySelector('#tl rect.span[data-id=\"{span_id}\"]').classList"
        ".contains('flash')"
    )
    no_errors(browser)


def test_the_keyboard_alone_labels_a_span(setup: Setup, ui: UiProcess, browser: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    open_day(browser, ui)
    browser.execute_script("document.getElementById('tl').focus()")
    lo = float(browser.execute_script("return +document.getElementById('tl').dataset.lo"))
    # from the start of the axis to 11:00 by whole hours, then a 45-minute selection
    hours = round((epoch(11, 0) - lo) / 3600)
    press(browser, Keys.HOME)
    press(browser, *[Keys.ARROW_RIGHT] * hours, holding=Keys.CONTROL)
    wait_page(
        browser,
        "the cursor at 11:00",
        "return document.getElementById('selection').textContent.startsWith('Cursor 11:00')",
    )
    press(browser, *[Keys.ARROW_RIGHT] * 9, holding=Keys.SHIFT)
    wait_page(
        browser,
        "a 45-minute selection",
        "return document.getElementById('selection').textContent"
        ".startsWith('Selected 11:00–11:45 (45 min)')",
    )
    press(browser, "8")  # Write
    wait_page(
        browser,
        "the label",
        "return document.getElementById('msg').textContent.startsWith('Labelled 11:00–11:45')",
    )
    listed = setup.label("list")
    assert "2026-03-23 11:00" in listed
    assert "2026-03-23 11:45" in listed
    assert "Write" in listed
    no_errors(browser)


def asks_file(setup: Setup) -> list[dict[str, Any]]:
    doc = json.loads((setup.data_dir / "ui" / "asks.json").read_text())
    return list(doc["asked"])


def click_in_ask(driver: Any, ask_id: str, button: str) -> None:
    """A real click on a suggestion's button. The list may be drawn again at any moment (the
    day's labels reload after an answer), and a button found just before that is gone: find
    it again, a few times."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for attempt in range(5):
        try:
            item = driver.find_element(By.CSS_SELECTOR, f'#asks li[data-id="{ask_id}"]')
            item.find_element(By.XPATH, f".//button[text()='{button}']").click()
            return
        except StaleElementReferenceException:
            if attempt == 4:
                raise


def first_ask(driver: Any) -> str:
    """The first suggestion's id, read in one script (no element to go stale)."""
    return str(driver.execute_script("return document.querySelector('#asks li').dataset.id"))


def test_answer_one_suggestion_and_skip_another(setup: Setup, ui: UiProcess, browser: Any) -> None:
    open_day(browser, ui)
    wait_page(browser, "the suggestions", "return document.querySelectorAll('#asks li').length")
    first_id = first_ask(browser)
    click_in_ask(browser, first_id, "Select")
    wait_page(
        browser,
        "the suggestion selected",
        "return document.getElementById('selection').textContent.includes(', the suggestion')",
    )
    press(browser, "6")  # ReadResearch
    wait_page(
        browser,
        "the answer",
        "return document.getElementById('msg').textContent.includes('as ReadResearch')",
    )
    assert "ReadResearch" in setup.label("list")
    wait_page(
        browser,
        "the answered suggestion gone",
        f"return !document.querySelector('#asks li[data-id=\"{first_id}\"]')",
    )
    second_id = first_ask(browser)
    click_in_ask(browser, second_id, "Skip")
    wait_page(
        browser,
        "the skip",
        f"return !document.querySelector('#asks li[data-id=\"{second_id}\"]')",
    )
    asked = {(a["id"], a["status"]) for a in asks_file(setup)}
    assert asked == {(first_id, "answered"), (second_id, "skipped")}
    wait_page(
        browser,
        "the budget counted",
        "return document.getElementById('asksum').textContent.includes('2 of 20 asked today')",
    )
    assert setup.label("list").count("u-ada") == 2  # the span and the total line
    no_errors(browser)


def test_the_page_follows_new_records_without_a_reload(
    setup: Setup, ui: UiProcess, browser: Any
) -> None:
    open_day(browser, ui)
    browser.execute_script("window.__same_page = true")
    before = text(browser, "daysum")
    day_file = setup.data_dir / "labels" / "2026-03-23.jsonl"
    last = json.loads(day_file.read_text().splitlines()[-1])
    with day_file.open("a") as fh:
        for minute in range(5):
            start = f"2026-03-23T19:{minute:02d}:00Z"
            end = f"2026-03-23T19:{minute + 1:02d}:00Z"
            fh.write(json.dumps({**last, "bucket_start_ts": start, "bucket_end_ts": end}) + "\n")
    windows = int(before.split(" windows")[0].split("· ")[-1])
    wait_page(
        browser,
        "five more windows",
        f"return document.getElementById('daysum').textContent.includes('{windows + 5} windows')",
        timeout=15,
    )
    assert browser.execute_script("return window.__same_page === true")  # no reload
    no_errors(browser)


# every kind of text on the page: body, muted, buttons, keys, table heads, the alerts
TEXTS = (
    "h1", "h2", ".brand", "#daysum", "#selection", ".lab", "kbd", "#asks .why", "#asks button",
    ".totals th", ".totals td", ".facts dt", ".facts dd", ".pill", ".alert", ".legend", "summary",
)  # fmt: skip


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrasts(driver: Any) -> list[tuple[str, float]]:
    """WCAG contrast of each kind of text against what is behind it (the nearest ancestor
    with a background), as the browser computed the colours."""
    found = driver.execute_script(
        r"""
        function rgb(s) { return s.match(/[\d.]+/g).map(Number); }
        return arguments[0].map(function (sel) {
          var el = document.querySelector(sel);
          if (!el) return null;
          var bg = el;
          while (bg && rgb(getComputedStyle(bg).backgroundColor)[3] === 0) bg = bg.parentElement;
          var back = bg ? rgb(getComputedStyle(bg).backgroundColor) : [255, 255, 255];
          return [sel, rgb(getComputedStyle(el).color), back];
        }).filter(Boolean);
        """,
        list(TEXTS),
    )
    assert len(found) >= len(TEXTS) - 2, found  # .alert may be absent; the rest are there
    out = []
    for selector, fg, bg in found:
        a, b = _luminance(tuple(fg)), _luminance(tuple(bg))
        out.append((selector, (max(a, b) + 0.05) / (min(a, b) + 0.05)))
    return out


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 420])
def test_screenshots(setup: Setup, ui: UiProcess, tmp_path: Path, scheme: str, width: int) -> None:
    """The page in both colour schemes and at 420 px: drawn, nothing off the side, no error.
    Kept in $UI_SCREENSHOTS to look at."""
    setup.label("add", "--from", "2026-03-23 10:00", "--to", "2026-03-23 11:00", "Debug")
    with chrome(tmp_path / "shots", width=width, height=900) as driver:
        driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
        )
        open_day(driver, ui)
        dark = driver.execute_script("return matchMedia('(prefers-color-scheme: dark)').matches")
        assert dark == (scheme == "dark")
        background = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(18, 21, 25)") == (scheme == "dark"), background
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        wait_page(driver, "the suggestions", "return document.querySelectorAll('#asks li').length")
        for selector, ratio in contrasts(driver):
            assert ratio >= 4.5, f"{scheme}: {selector} has contrast {ratio:.2f}"
        no_errors(driver)
        if SHOTS is not None:
            SHOTS.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(SHOTS / f"ui-{scheme}-{width}-top.png"))
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(width, height + 120)
            driver.save_screenshot(str(SHOTS / f"ui-{scheme}-{width}.png"))


def test_personalize_dry_run_shown_then_shipped_and_the_swap_seen(
    daemons: Daemons, tmp_path: Path, bundle: ModelBundle, browser: Any
) -> None:
    """The real daemon labels five days of three users; their spans are imported; on the page,
    the dry run's per-user table comes first (nothing written), then "Ship it" writes the
    store, and the page says when the running daemon swapped to it."""
    from selenium.webdriver.common.by import By

    stores = tmp_path / "stores"
    save_calibrator_store(
        CalibratorStore(
            global_calibrator=TemperatureCalibrator(1.3),
            method="temperature",
            model_bundle_id=bundle.bundle_id,
            model_schema_hash=bundle.schema_hash,
            created_at="2026-01-10T00:00:00Z",
        ),
        stores / "first",
    )
    link = stores / "current"
    link.symlink_to("first")
    d = daemons.new(calibrator_store=str(link))
    d.start()
    first_id = d.status()["store"]["id"]  # type: ignore[index]
    windows = generate_windows(days=5, seed=23, start=datetime(2026, 1, 12, tzinfo=UTC))
    d.drop("days.jsonl", "".join(json.dumps(w) + "\n" for w in window_stream(windows)))
    d.wait_labelled(window_stream(windows), timeout=60)
    spans_csv = tmp_path / "spans.csv"
    spans_csv.write_text(spans_to_csv(spans_from(windows)))
    assert d.cli("label", "import", str(spans_csv)).returncode == 0

    ui = UiProcess(d.root, {**d.env, "TZ": "UTC"}, "--config", str(d.config))
    try:
        browser.get(f"{ui.url}#2026-01-16")
        wait_page(browser, "the timeline", "return document.documentElement.dataset.drawn")
        wait_page(
            browser,
            "the daemon's store",
            f"return document.getElementById('status').textContent.includes('{first_id}')",
        )
        action = browser.find_element(By.CSS_SELECTOR, ".action[data-name=personalize]")
        action.find_element(By.XPATH, ".//button[starts-with(text(), 'Dry run')]").click()
        wait_page(
            browser,
            "the dry run's report",
            "return document.querySelector('.action[data-name=personalize] table.report')",
            timeout=120,
        )
        table = action.find_element(By.CSS_SELECTOR, "table.report").text
        for user in ("u-ada", "u-ben", "u-cy"):
            assert user in table
        assert "kept" in table  # the guard's decision per user
        assert "Dry run done" in action.text
        assert os.readlink(link) == "first"  # nothing written
        assert not (d.data_dir / "personalize").exists()

        ship = action.find_element(By.XPATH, ".//button[text()='Ship it']")
        assert ship.is_enabled()
        ship.click()
        wait_page(
            browser,
            "the ship",
            "return document.querySelector('.action[data-name=personalize]')"
            ".textContent.includes('Ship done')",
            timeout=120,
        )
        new_id = json.loads((d.data_dir / "personalize" / "last.json").read_text())["store"]["id"]
        assert os.readlink(link) == new_id != first_id
        notice = wait_page(
            browser,
            "the swap on the page",
            "var t=document.querySelector('.action[data-name=personalize] .swapped').textContent;"
            "return t.startsWith('The daemon swapped') && t",
            timeout=30,
        )
        assert f"store {first_id} → {new_id}" in notice
        assert d.status()["store"]["id"] == new_id  # type: ignore[index]
        no_errors(browser)
    finally:
        assert ui.stop() == 0, ui.tail()
    d.stop()


def shoot(driver: Any, element: Any, name: str) -> None:
    """Keep a screenshot of the page from ``element`` down, in $UI_SCREENSHOTS (if set)."""
    if SHOTS is None:
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, height + 120)
    driver.execute_script("arguments[0].scrollIntoView()", element)
    driver.save_screenshot(str(SHOTS / name))
    driver.set_window_size(width, 1000)


def test_retrain_refused_then_dry_run_shown_then_shipped_and_the_model_swapped(
    daemons: Daemons, tmp_path: Path, browser: Any
) -> None:
    """The real daemon labels five days of three careful labellers and their spans are
    imported. On the page, retrain's dry run against a champion no challenger can match says
    it is refused, by which gate, and offers nothing to ship; against a weak champion it says
    the challenger would be deployed, with every gate, champion and challenger, and nothing
    written; "Ship it" deploys it and the page names the model the running daemon swapped to."""
    from selenium.webdriver.common.by import By

    people, strong, weak = retrain_scenario(tmp_path)  # as tests/test_daemon_retrain.py
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert run_cli("init", "--model", str(strong)).returncode == 0
    data = default_data_dir()
    policy = data / "models" / "inference_policy.json"
    d = daemons.new(
        data_dir=str(data),
        spool_dir=str(data / "spool"),
        model_dir=None,
        policy_file=str(policy),
        log_format="json",
    )
    d.start()
    d.drop_windows([{k: v for k, v in w.items() if k != "label"} for w in people], prefix="a")
    d.wait_labelled(people, timeout=120)
    spans_csv = tmp_path / "spans.csv"
    spans_csv.write_text(spans_to_csv(spans_from(people)))
    assert d.cli("label", "import", str(spans_csv)).returncode == 0

    def retrained() -> list[str]:
        return sorted(p.name for p in (data / "models").glob("retrain-*"))

    ui = UiProcess(d.root, {**d.env, "TZ": "UTC"}, "--config", str(d.config))
    try:
        browser.get(f"{ui.url}#{(today - timedelta(days=1)).date().isoformat()}")
        wait_page(browser, "the timeline", "return document.documentElement.dataset.drawn")
        wait_page(
            browser,
            "the daemon's model",
            "return document.getElementById('status').textContent.includes('strong')",
        )
        action = browser.find_element(By.CSS_SELECTOR, ".action[data-name=retrain]")
        dry = action.find_element(By.XPATH, ".//button[starts-with(text(), 'Dry run')]")
        ship = action.find_element(By.XPATH, ".//button[text()='Ship it']")
        before = policy.read_bytes()

        def dry_run() -> None:
            dry.click()
            wait_page(
                browser,
                "the dry run's report",
                "return document.querySelector('.action[data-name=retrain]')"
                ".textContent.includes('Dry run done')",
                timeout=300,
            )

        dry_run()
        shoot(browser, action, "ui-retrain-refused.png")
        verdict = action.find_element(By.CSS_SELECTOR, ".verdict").text
        assert verdict.startswith("Refused: the challenger retrain-"), verdict
        assert "macro_f1_no_regression" in verdict
        assert "the model in force, strong (macro-F1" in verdict
        assert "Nothing to ship." in verdict
        assert not ship.is_enabled()  # a refused challenger has nothing to deploy
        assert action.find_element(By.CSS_SELECTOR, ".why").text == (
            "Nothing to ship: the dry run decided refused."
        )
        failed = [row.text.split()[0] for row in action.find_elements(By.CSS_SELECTOR, "tr.alert")]
        assert "macro_f1_no_regression" in failed
        assert policy.read_bytes() == before
        assert retrained() == []
        # nor can it be shipped past the page: the server refuses it, naming the decision
        refusal = request(
            ui.port,
            "POST",
            "/api/learn/retrain/ship",
            headers={"X-Taskclf-Token": ui.token},
            body={"dry_run_id": "whatever"},
        )
        assert refusal.status == 409, refusal.body
        assert "nothing to ship: Refused" in refusal.json()["error"]

        # a weak champion: the same data now trains a challenger that beats it
        assert d.cli("deploy", "--model", str(weak)).returncode == 0
        d.wait_status(lambda s: s["model"]["bundle_id"] == "weak", 30, "weak in force")
        wait_page(
            browser,
            "the page seeing weak",
            "return document.getElementById('status').textContent.includes('weak')",
        )
        before = policy.read_bytes()
        dry_run()
        shoot(browser, action, "ui-retrain-dry-run.png")
        verdict = action.find_element(By.CSS_SELECTOR, ".verdict").text
        assert verdict.startswith("Would deploy: the challenger retrain-"), verdict
        assert "against the model in force, weak (macro-F1" in verdict
        assert "Nothing is written until you ship it." in verdict
        facts = "\n".join(dl.text for dl in action.find_elements(By.CSS_SELECTOR, "dl.facts"))
        assert "decision\ndeployed" in facts
        assert "champion\nbundle_id weak, macro_f1" in facts
        assert "challenger\nbundle_id retrain-" in facts
        gates = action.find_element(By.CSS_SELECTOR, "table.report")
        heads = [th.text for th in gates.find_elements(By.CSS_SELECTOR, "th")]
        assert heads == ["name", "value", "threshold", "passed"], heads
        rows = {
            tr.find_elements(By.CSS_SELECTOR, "td")[0].text: tr.text
            for tr in gates.find_elements(By.CSS_SELECTOR, "tbody tr")
        }
        for gate in ("breakidle_precision", "macro_f1", "weighted_f1", "macro_f1_no_regression"):
            assert rows[gate].endswith(" yes"), rows[gate]
        assert not action.find_elements(By.CSS_SELECTOR, "tr.alert")
        assert policy.read_bytes() == before  # nothing written
        assert retrained() == []
        assert ship.is_enabled()
        assert action.find_element(By.CSS_SELECTOR, ".why").text == ""
        ship.click()
        wait_page(
            browser,
            "the ship",
            "return document.querySelector('.action[data-name=retrain]')"
            ".textContent.includes('Ship done')",
            timeout=300,
        )
        [challenger] = retrained()
        verdict = action.find_element(By.CSS_SELECTOR, ".verdict").text
        assert verdict.startswith(f"Deployed: the challenger {challenger} (macro-F1"), verdict
        notice = wait_page(
            browser,
            "the swap on the page",
            "var t=document.querySelector('.action[data-name=retrain] .swapped').textContent;"
            "return t.startsWith('The daemon swapped') && t",
            timeout=30,
        )
        assert f"model weak → {challenger}" in notice
        assert d.status()["model"]["bundle_id"] == challenger  # type: ignore[index]
        assert policy.read_bytes() != before
        no_errors(browser)
    finally:
        assert ui.stop() == 0, ui.tail()
    d.stop()
