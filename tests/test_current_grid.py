"""Rows of an earlier grid in the same folder are kept, and hidden from filter unless asked."""

from __future__ import annotations

import copy
import json

import pytest
from sweeps import CLASSIFICATION, run_sweep
from test_report_page import blob
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.plots.sweep import load_sweep
from sweep_nn.results.query import Criteria


def _run(runner, path, out, *options):
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "-j", "1", "-q", *options])
    assert result.exit_code == 0, result.output
    return result


def test_filter_shows_the_current_grid_and_says_what_it_hides(
    write_config, tiny_config, runner, tmp_path
):
    out = tmp_path / "o"
    tiny_config["grid"]["hidden_sizes"] = [2, 3]
    _run(runner, write_config(tiny_config), out)  # 4 rows
    tiny_config["grid"]["hidden_sizes"] = [3]
    tiny_config["grid"]["learning_rates"] = [0.5, 0.1]
    _run(runner, write_config(tiny_config), out)  # 4 current rows, 2 of them new
    shown = runner.invoke(app, ["filter", str(out), "--format", "json"])
    ids = {row["config_id"] for row in json.loads(shown.stdout)}
    assert ids == {f"h3-tanh-lr{lr}-it{it}" for lr in (0.5, 0.1) for it in (10, 50)}
    assert "2 rows of earlier grids in this folder not shown (--all-rows shows them)" in (
        shown.stderr
    )
    everything = runner.invoke(app, ["filter", str(out), "--format", "json", "--all-rows"])
    assert len(json.loads(everything.stdout)) == 6
    assert "not shown" not in everything.stderr


def test_run_says_at_its_start_how_many_earlier_rows_it_keeps(
    write_config, tiny_config, runner, tmp_path
):
    out = tmp_path / "o"
    said = "from earlier grids"
    assert said not in _run(runner, write_config(tiny_config), out).stderr  # a new folder
    assert said not in _run(runner, write_config(tiny_config), out).stderr  # the same grid
    tiny_config["grid"]["iterations"] = [50]
    lines = _run(runner, write_config(tiny_config), out).stderr.splitlines()
    assert (
        f"{out}: 1 row from earlier grids is kept but not part of this one "
        "(filter --all-rows shows them)"
    ) in lines[:2]  # at the start (after 'resuming' when some of this grid are recorded)
    tiny_config["grid"] |= {"hidden_sizes": [3], "iterations": [10]}
    lines = _run(runner, write_config(tiny_config), out).stderr.splitlines()
    assert (
        f"{out}: 2 rows from earlier grids are kept but not part of this one "
        "(filter --all-rows shows them)"
    ) in lines[:2]
    assert said not in _run(runner, write_config(tiny_config), out, "--fresh").stderr


# --- plot and report choose the same rows as filter -----------------------------------------

CURRENT = {f"h3-tanh-lr{lr}-it{it}" for lr in (0.5, 0.1) for it in (10, 50)}
EVERY = CURRENT | {f"h2-tanh-lr0.5-it{it}" for it in (10, 50)}


@pytest.fixture(scope="module")
def two_grids(tmp_path_factory):
    """A folder run with hidden 2 and 3, then rerun with hidden 3 and two learning rates."""
    root = tmp_path_factory.mktemp("grids")
    cfg = copy.deepcopy(CLASSIFICATION)
    cfg["grid"]["hidden_sizes"] = [2, 3]
    run_sweep(root, cfg, "o")
    cfg["grid"] |= {"hidden_sizes": [3], "learning_rates": [0.5, 0.1]}
    return run_sweep(root, cfg, "o")


def test_the_figures_draw_the_current_grid_unless_all_rows(two_grids):
    current = load_sweep(two_grids / "results.csv", Criteria())
    assert set(current.runs["config_id"]) == CURRENT
    every = load_sweep(two_grids / "results.csv", Criteria(), all_rows=True)
    assert set(every.runs["config_id"]) == EVERY


@pytest.mark.parametrize("all_rows", [False, True])
def test_plot_says_what_it_leaves_out(two_grids, tmp_path, all_rows):
    args = ["plot", str(two_grids), "--only", "overview", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args + (["--all-rows"] if all_rows else []))
    assert result.exit_code == 0, result.output
    said = "2 rows of earlier grids in this folder not shown (--all-rows shows them)"
    assert (said in result.stderr) is not all_rows
    assert (tmp_path / "overview.png").exists()


@pytest.mark.parametrize("all_rows", [False, True])
def test_the_report_shows_the_current_grid_unless_all_rows(two_grids, tmp_path, all_rows):
    out = tmp_path / "r.html"
    args = ["report", str(two_grids), "--no-figures", "--out", str(out)]
    result = CliRunner().invoke(app, args + (["--all-rows"] if all_rows else []))
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    data = blob(page)
    assert {row["config_id"] for row in data["rows"]} == (EVERY if all_rows else CURRENT)
    assert data["hidden_rows"] == (0 if all_rows else 2)
    assert ("id='hidden-rows'" in page) is not all_rows
    assert ("not shown" in result.stderr) is not all_rows


def test_the_report_data_counts_the_same_rows(two_grids, tmp_path):
    from sweep_nn.report.collect import collect

    data = collect(two_grids / "results.csv", Criteria(), tmp_path / "r.html", figures=False)
    assert data["n_rows"] == len(CURRENT)
    every = collect(
        two_grids / "results.csv", Criteria(), tmp_path / "r.html", figures=False, all_rows=True
    )
    assert every["n_rows"] == len(EVERY)
