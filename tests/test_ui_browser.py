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
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from daemon_harness import run_cli
from ui_kit import UiProcess, chrome, wait_page

from taskclf_core.synthetic import generate_label_log

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


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    made = Setup(tmp_path)
    write_log(
        made.data_dir,
        generate_label_log(user_id="u-ada", start=DAY, days=1, tz=BERLIN, seed=3),
    )
    return made


@pytest.fixture
def ui(setup: Setup) -> Iterator[UiProcess]:
    process = UiProcess(setup.root, setup.env, "--config", str(setup.config))
    try:
        yield process
    finally:
        assert process.stop() == 0, process.tail()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chrome(tmp_path / "profile") as driver:
        yield driver


def open_day(driver: Any, ui: UiProcess) -> None:
    driver.get(f"{ui.url}#{DAY.isoformat()}")
    wait_page(driver, "the timeline", "return document.documentElement.dataset.drawn")
    wait_page(driver, "the day", "return document.getElementById('day').value === '2026-03-23'")


def epoch(hh: int, mm: int) -> float:
    from datetime import datetime

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


def test_answer_one_suggestion_and_skip_another(setup: Setup, ui: UiProcess, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    open_day(browser, ui)
    wait_page(browser, "the suggestions", "return document.querySelectorAll('#asks li').length")
    first = browser.find_element(By.CSS_SELECTOR, "#asks li")
    first_id = first.get_attribute("data-id")
    first.find_element(By.XPATH, ".//button[text()='Select']").click()
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

    second = browser.find_element(By.CSS_SELECTOR, "#asks li")
    second_id = second.get_attribute("data-id")
    second.find_element(By.XPATH, ".//button[text()='Skip']").click()
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
