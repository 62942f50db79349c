"""report.html without a browser: self-contained, data escaped, what filter keeps, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from report_data import HOSTILE_ERROR, HOSTILE_ID, write_results
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.report import build_report
from sweep_nn.report.page import script_json
from sweep_nn.results import params as params_mod
from sweep_nn.results import query as analysis
from sweep_nn.results import store


def blob(page: str) -> dict:
    m = re.search(
        r'<script id="report-data" type="application/json">(.*?)</script>', page, re.DOTALL
    )
    assert m, "no data blob"
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory) -> Path:
    from conftest import TINY_CONFIG

    root = tmp_path_factory.mktemp("tiny")
    (root / "tiny.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    out = root / "tiny"
    result = CliRunner().invoke(app, ["run", str(root / "tiny.yaml"), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


def test_script_json_cannot_close_its_tag_and_round_trips():
    value = {"a": HOSTILE_ID, "b": [HOSTILE_ERROR, "<!-- x -->", "a & b"]}
    text = script_json(value)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value


def test_hostile_strings_stay_inside_the_data(tmp_path):
    write_results(tmp_path, hostile=True)
    page = build_report(tmp_path, figures=False).read_text(encoding="utf-8")
    # only the page's own two script tags close; the strings come back intact from the blob
    assert page.lower().count("</script") == 2
    assert page.count("<script") == 2
    data = blob(page)
    ids = [r["config_id"] for r in data["rows"]]
    assert HOSTILE_ID in ids
    assert HOSTILE_ERROR in [r["error"] for r in data["rows"]]
    before, _, after = page.partition('<script id="report-data" type="application/json">')
    outside = before + after.partition("</script>")[2]
    assert "<script>window" not in outside and "<img src=x" not in outside


def test_the_page_is_self_contained(tiny_sweep):
    page = build_report(tiny_sweep).read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<link" not in page
    for attr in re.findall(r'\b(?:src|href)="([^"]*)"', page):
        assert attr.startswith(("data:image/png;base64,", "#")), attr
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert page.count("data:image/png;base64,") >= 3  # the figures of `plot`


def test_default_path_params_links_and_curves(tiny_sweep, tmp_path):
    path = build_report(tiny_sweep, figures=False)
    assert path == tiny_sweep / "report.html"
    data = blob(path.read_text(encoding="utf-8"))
    df = store.read_results(tiny_sweep / "results.csv")
    assert [r["config_id"] for r in data["rows"]] == list(df["config_id"])
    for r in data["rows"]:
        assert r["href"] == r["params_path"]
        assert (path.parent / r["href"]).is_file()
        curve = params_mod.load_params(tiny_sweep / r["params_path"])["loss_curve"]
        assert data["curves"][r["config_id"]][0] == list(curve["iterations"])
    elsewhere = build_report(tiny_sweep, out=tmp_path / "sub" / "r.html", figures=False)
    data = blob(elsewhere.read_text(encoding="utf-8"))
    for r in data["rows"]:
        assert (elsewhere.parent / r["href"]).resolve() == (tiny_sweep / r["params_path"]).resolve()


def test_summary_and_the_rows_filter_keeps(tmp_path):
    write_results(tmp_path)
    criteria = analysis.Criteria(min_acc=95, max_gap=1)
    page = build_report(tmp_path, criteria, figures=False).read_text(encoding="utf-8")
    data = blob(page)
    expected = analysis.filter_results(store.read_results(tmp_path / "results.csv"), criteria)
    assert 0 < len(expected) < len(data["rows"])
    assert sorted(data["kept"]) == sorted(expected["config_id"])
    assert data["initial"] == {
        "ranges": {"train_acc": {"min": 95}, "abs_gap": {"max": 1}},
        "status": "ok",
    }
    assert f"<b id='kept-count'>{len(expected)}</b>" in page
    assert data["status_counts"] == {"ok": 12, "diverged": 1, "failed": 1}
    assert "logistic regression" in page and "87.50%" in page
    # tied with h4-tanh-lr1: run's rule takes the first activation by name among equals
    assert data["best"]["config_id"] == "h4-relu-lr1-it100"


def test_importance_is_in_the_page(tmp_path):
    write_results(tmp_path)
    imp = blob(build_report(tmp_path, figures=False).read_text(encoding="utf-8"))["importance"]
    assert imp["exact"] and imp["main"]["activation"] == pytest.approx(0, abs=1e-12)
    assert sum(share for _, share in imp["ranked"]) == pytest.approx(1.0)


def test_cli_report_prints_the_path(tmp_path):
    write_results(tmp_path / "s")
    out = tmp_path / "page.html"
    result = CliRunner().invoke(
        app,
        [
            "report",
            str(tmp_path / "s"),
            "--out",
            str(out),
            "--min-acc",
            "95",
            "--max-gap",
            "1",
            "--no-figures",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert blob(out.read_text(encoding="utf-8"))["criteria"] == {"min_acc": 95, "max_gap": 1}


def test_cli_report_refuses_a_negative_gap_and_a_missing_file(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--max-gap", "-1"])
    assert result.exit_code == 2 and "--max-gap" in result.output
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nothing.csv")])
    assert result.exit_code == 2 and "not found" in result.output


def test_the_summary_says_the_settings_in_words(tmp_path):
    """A random search's distributions and its search settings, yes / no for flags, nothing
    unset (None) shown, and no scale beside an init that uses none."""
    cfg = {
        "name": "words",
        "data": {"dataset": "moons", "n_samples": 120},
        "grid": {"hidden_sizes": {"int_log_uniform": [1, 16]}, "activations": ["tanh"],
                 "learning_rates": {"log_uniform": [0.01, 1.0]}, "iterations": [5]},
        "train": {"init": "he"},
        "search": {"method": "random", "n_trials": 3, "seed": 1},
    }  # fmt: skip
    (tmp_path / "words.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(tmp_path / "words.yaml"), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    page = build_report(out, figures=True).read_text(encoding="utf-8")
    summary = page[page.index("<h2>Summary</h2>") : page.index("<h2>Results</h2>")]
    assert "whole numbers, log-uniform from 1 to 16" in summary
    assert "log-uniform from 0.01 to 1" in summary
    assert "<dt>method</dt><dd>random</dd>" in summary and "<dt>n_trials</dt><dd>3</dd>" in summary
    assert "<dd>no</dd>" in summary  # stack: false
    assert "None" not in summary and "False" not in summary and "init_scale" not in summary
    caption = re.search(r"<figcaption><b>data</b>: (.*?)</figcaption>", page).group(1)
    assert caption.endswith("those of its first fold).")  # its docstring's whole first paragraph


def _results(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with store.ResultsWriter(folder / "results.csv") as writer:
        for row in rows:
            writer.append(row)
    return folder


def test_a_sweep_whose_every_row_diverged_gets_a_page(tmp_path):
    from report_data import _row

    rows = [_row(f"h{h}-relu-lr100-it10", h, "relu", 100.0, status="diverged", diverged_at=3)
            for h in (3, 10)]  # fmt: skip
    data = blob(build_report(_results(tmp_path, rows), figures=False).read_text(encoding="utf-8"))
    assert data["best"] is None and [r["status"] for r in data["rows"]] == ["diverged"] * 2


def test_scores_that_overflow_are_left_empty_not_a_broken_page(tmp_path):
    """A run can stay finite yet overflow what is computed from it (its R² squared)."""
    from report_data import _row

    huge = {"train_acc": None, "dev_acc": None, "train_r2": -2.5e289, "dev_r2": -3.3e289,
            "gap": 7.9e288, "train_loss": 1.9e293, "dev_loss": 1.8e293, "fit_seconds": 0.01}
    good = {"train_acc": None, "dev_acc": None, "train_r2": 0.95, "dev_r2": 0.93, "gap": 0.02,
            "train_loss": 300.0, "dev_loss": 310.0, "fit_seconds": 0.01}  # fmt: skip
    rows = [_row(f"h3-tanh-lr{lr:g}-it10", 3, "tanh", lr, **(huge if lr > 1 else good))
            for lr in (100.0, 50.0, 1.0, 0.1)]  # fmt: skip
    page = build_report(_results(tmp_path, rows)).read_text(encoding="utf-8")
    data = blob(page)
    assert data["best"]["config_id"] in ("h3-tanh-lr1-it10", "h3-tanh-lr0.1-it10")
    raw = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page,
                    re.DOTALL).group(1)  # fmt: skip
    assert "NaN" not in raw and "Infinity" not in raw  # JSON.parse would refuse the page


def test_the_best_card_names_what_run_names_the_mean_over_seeds(tmp_path):
    from report_data import _row

    from sweep_nn.results.query import best_configuration

    rows = []
    for lr, devs in ((1.0, [99.0, 80.0]), (0.5, [92.0, 91.0])):  # one lucky seed at lr 1
        for seed, dev in enumerate(devs):
            row = _row(f"h3-tanh-lr{lr:g}-it100-s{seed}", 3, "tanh", lr, train_acc=dev + 1,
                       dev_acc=dev, gap=1.0, fit_seconds=0.0004)  # fmt: skip
            rows.append(row | {"seed": seed})
    folder = _results(tmp_path, rows)
    page = build_report(folder, figures=False).read_text(encoding="utf-8")
    best = blob(page)["best"]
    named = best_configuration(store.read_results(folder / "results.csv"), "classification")
    assert best["config_id"] == named["config_id"] == "h3-tanh-lr0.5-it100"
    assert best["curve_id"] in ("h3-tanh-lr0.5-it100-s0", "h3-tanh-lr0.5-it100-s1")
    card = page[page.index("Best by dev accuracy") :]
    assert "mean of 2 seeds" in card[:600] and "dev 91.50%" in card[:600]
    assert "0.0004 s to train" in card[:600]  # as run says it, not 0.000


def test_the_search_card_of_halving_says_what_it_does(tmp_path):
    from conftest import TINY_CONFIG

    (tmp_path / "t.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(tmp_path / "t.yaml"), "--out", str(out),
                                      "--halving", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    page = build_report(out, figures=False).read_text(encoding="utf-8")
    card = re.search(r"<h3>Search</h3>(.*?)</div>", page).group(1)
    assert "<dt>method</dt><dd>halving</dd>" in card and "<dt>eta</dt><dd>3 (the default)" in card
    assert "<dt>halving</dt>" not in card  # 'halving: no' under method halving said the opposite
