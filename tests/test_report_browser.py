"""report.html in a real browser (Playwright driving Chromium): it loads offline, the table
sorts and filters like `sweep-nn filter`, rows draw their learning curves, the importance
shown sums to 1.

Needs ``pip install playwright`` and a Chromium on PATH (``apt-get install chromium``);
skipped without them, except under CI (the variable CI set), where that is a failure.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest
import yaml
from report_data import HOSTILE_ERROR, HOSTILE_ID, write_results
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.report import build_report
from sweep_nn.results import params as params_mod
from sweep_nn.results import query as analysis
from sweep_nn.results import store

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL = "install one with `apt-get install chromium` and `pip install playwright`"


def _unavailable(reason: str):
    message = f"{reason}; {INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so the browser tests must run: {message}")
    pytest.skip(message)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed")
    executable = _chromium()
    if executable is None:
        _unavailable("no Chromium found on PATH")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Opened:
    """A report open in a page, with every request and console error it caused."""

    def __init__(self, browser, path: Path):
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready='1']")

    def visible_ids(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "#results-table tbody tr", "trs => trs.map(tr => tr.dataset.id)"
        )

    def set_range(self, column: str, bound: str, value) -> None:
        self.page.fill(f"thead input[data-key='{column}'][data-bound='{bound}']", str(value))


@pytest.fixture
def opened(browser):
    pages = []

    def open_(path: Path) -> Opened:
        o = Opened(browser, path)
        pages.append(o)
        return o

    yield open_
    for o in pages:
        o.page.close()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic") / "sweep"
    write_results(folder, hostile=True)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A real two-budget sweep with parameter files and figures."""
    root = tmp_path_factory.mktemp("trained")
    config = {
        "name": "browser",
        "data": {"dataset": "moons", "n_samples": 200, "noise": 0.25},
        "grid": {
            "hidden_sizes": [2, 3],
            "activations": ["tanh"],
            "learning_rates": [0.5],
            "iterations": [10, 50],
        },
    }
    (root / "s.yaml").write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["run", str(root / "s.yaml"), "--out", str(root / "s"), "-q"])
    assert result.exit_code == 0, result.output
    build_report(root / "s")
    return root / "s"


def test_loads_offline_without_errors(opened, trained):
    o = opened(trained / "report.html")
    o.page.click("#results-table tbody tr.has-curve")
    assert o.errors == []
    others = [u for u in o.requests if u != o.url and not u.startswith("data:")]
    assert others == [], others
    assert o.requests and o.requests[0] == o.url
    assert o.page.locator("#figures img").count() >= 3


def test_one_row_per_result_and_hostile_strings_are_text(opened, synthetic):
    build_report(synthetic, figures=False)
    o = opened(synthetic / "report.html")
    df = store.read_results(synthetic / "results.csv")
    assert sorted(o.visible_ids()) == sorted(df["config_id"])
    assert o.page.evaluate("typeof window.__pwned") == "undefined"
    hostile = o.page.locator("#results-table tbody tr td.config_id").all_text_contents()
    assert HOSTILE_ID in hostile
    o.page.click("#column-picker summary")
    o.page.check("#column-toggles input[data-key='error']")
    errors = o.page.locator("#results-table tbody td.error").all_text_contents()
    assert HOSTILE_ERROR in errors
    assert o.errors == []


def test_clicking_the_dev_acc_header_sorts(opened, synthetic):
    build_report(synthetic, figures=False)
    o = opened(synthetic / "report.html")
    dev = store.read_results(synthetic / "results.csv").set_index("config_id")["dev_acc"]

    def shown() -> list[float]:
        return [v for v in (dev[i] for i in o.visible_ids()) if not math.isnan(v)]

    before = shown()
    assert before != sorted(before) and before != sorted(before, reverse=True)
    header = "#results-table thead tr.head th[data-key='dev_acc']"
    o.page.click(header)
    assert shown() == sorted(before, reverse=True)
    assert all(math.isnan(dev[i]) for i in o.visible_ids()[-2:])  # rows with no score last
    o.page.click(header)
    assert shown() == sorted(before)


def test_range_filters_keep_what_filter_keeps(opened, synthetic):
    build_report(synthetic, figures=False)
    o = opened(synthetic / "report.html")
    df = store.read_results(synthetic / "results.csv")
    criteria = analysis.Criteria(min_acc=95, max_gap=1)
    expected = sorted(analysis.filter_results(df, criteria)["config_id"])
    # the data tells |gap| from gap: a signed bound would keep more
    signed = df[(df.status == "ok") & (df.train_acc >= 95) & (df.gap <= 1)]
    assert 0 < len(expected) < len(signed)

    o.page.select_option("#status-filter", "ok")
    o.set_range("train_acc", "min", 95)
    o.set_range("abs_gap", "max", 1)
    assert sorted(o.visible_ids()) == expected
    o.page.click("#reset-filters")
    assert len(o.visible_ids()) == len(df)

    # a report built with the criteria opens with them set
    build_report(synthetic, criteria, figures=False)
    o2 = opened(synthetic / "report.html")
    assert sorted(o2.visible_ids()) == expected
    assert o2.page.input_value("thead input[data-key='train_acc'][data-bound='min']") == "95"


def test_text_filter_and_hiding_a_column(opened, synthetic):
    build_report(synthetic, figures=False)
    o = opened(synthetic / "report.html")
    o.page.fill("#text-filter", "relu")
    acts = o.page.locator("#results-table tbody td.activation").all_text_contents()
    assert acts and set(acts) == {"relu"}
    assert o.page.locator("thead th[data-key='gap']").count() == 1
    o.page.click("#column-picker summary")
    o.page.uncheck("#column-toggles input[data-key='gap']")
    assert o.page.locator("thead th[data-key='gap']").count() == 0


def test_brushing_an_axis_filters_the_table(opened, synthetic):
    build_report(synthetic, figures=False)
    o = opened(synthetic / "report.html")
    df = store.read_results(synthetic / "results.csv").set_index("config_id")
    hit = o.page.locator("#parallel-svg rect.hit[data-axis='dev_acc']")
    hit.scroll_into_view_if_needed()
    box = hit.bounding_box()
    x = box["x"] + box["width"] / 2
    o.page.mouse.move(x, box["y"] + 2)
    o.page.mouse.down()
    o.page.mouse.move(x, box["y"] + box["height"] * 0.3, steps=5)
    o.page.mouse.up()
    ids = o.visible_ids()
    assert 0 < len(ids) < (df.status == "ok").sum()
    kept = df.loc[ids, "dev_acc"]
    assert kept.min() > df.loc[df.status == "ok", "dev_acc"].min()
    off = o.page.locator("#parallel-svg polyline.pline.off").count()
    assert off == (df.status == "ok").sum() - len(ids)
    o.page.click("#clear-brushes")
    assert len(o.visible_ids()) == len(df)


def test_clicking_a_row_draws_its_learning_curve(opened, trained):
    o = opened(trained / "report.html")
    df = store.read_results(trained / "results.csv")
    target = df["config_id"].iloc[-1]
    curve = params_mod.load_params(trained / df["params_path"].iloc[-1])["loss_curve"]
    row = o.page.locator(f"#results-table tbody tr[data-id='{target}']")
    line = o.page.locator(f"#curve-svg polyline.curve[data-id='{target}']")
    if line.count():  # the best row starts picked; unpick it first
        row.click()
    assert line.count() == 0
    row.click()
    assert line.count() == 1
    points = line.get_attribute("points").split()
    assert len(points) == len(curve["iterations"])
    row.click()
    assert line.count() == 0


def test_importance_shown_sums_to_one_and_a_constant_axis_gets_zero(opened, synthetic):
    build_report(synthetic, figures=False)
    o = opened(synthetic / "report.html")
    shares = o.page.eval_on_selector_all(
        "#importance-bars .imp-row", "rs => rs.map(r => [r.dataset.part, Number(r.dataset.share)])"
    )
    parts = dict(shares)
    assert sum(parts.values()) == pytest.approx(1.0, abs=1e-9)
    assert parts["activation"] == pytest.approx(0.0, abs=1e-9)
    assert parts["hidden_size"] > 0.5
    assert "exact functional ANOVA" in o.page.text_content("#importance-method")


def test_numbers_are_rounded_as_filter_rounds_them(opened, tmp_path):
    """A tie (95.125 to 2 places) goes to the even digit, as Python writes filter's table."""
    from report_data import _row

    values = {"a": 95.125, "b": 87.375, "c": 2.675, "d": 0.125, "e": 50.0, "f": 99.99}
    with store.ResultsWriter(tmp_path / "results.csv") as writer:
        for cid, v in values.items():
            writer.append(_row(cid, 1, "tanh", 0.5, train_acc=v, dev_acc=v, gap=0.0,
                               fit_seconds=0.1))  # fmt: skip
    build_report(tmp_path, figures=False)
    o = opened(tmp_path / "report.html")
    shown = dict(zip(o.visible_ids(), o.page.locator(
        "#results-table tbody td.train_acc").all_text_contents()))  # fmt: skip
    assert shown == {cid: f"{v:.2f}" for cid, v in values.items()}
    assert shown["a"] == "95.12" and shown["b"] == "87.38"
    assert o.errors == []
