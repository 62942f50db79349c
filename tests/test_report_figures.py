"""`sweep-nn plot`'s importance and parallel-coordinates figures."""

from __future__ import annotations

import pandas as pd
from report_data import write_results
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.plots import draw_analysis as figures
from sweep_nn.plots import sweep as plots
from sweep_nn.results import query as analysis
from sweep_nn.results import store

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_plot_draws_importance_and_parallel(tmp_path):
    write_results(tmp_path / "s")
    out = tmp_path / "plots"
    result = CliRunner().invoke(
        app,
        ["plot", str(tmp_path / "s"), "--out", str(out), "--min-acc", "95", "--max-gap", "1",
         "--only", "importance", "--only", "parallel"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["importance.png", "parallel.png"]
    for p in out.iterdir():
        assert p.read_bytes()[:8] == PNG_SIGNATURE and p.stat().st_size > 10_000


def test_importance_figure_shows_every_axis_and_the_method(tmp_path):
    write_results(tmp_path)
    sweep = plots.load_sweep(tmp_path / "results.csv", analysis.Criteria())
    fig = figures.importance_figure(sweep)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert {"hidden_size", "activation", "learning_rate", "higher-order"} <= set(labels)
    assert fig.axes[0].get_title(loc="left").startswith("exact functional ANOVA")  # said once
    widths = sum(p.get_width() for p in fig.axes[0].patches)
    assert abs(widths - 100) < 1e-6  # the bars add up to all of the variance


def test_figures_that_do_not_apply_are_skipped(tmp_path):
    write_results(tmp_path)
    df = store.read_results(tmp_path / "results.csv")
    one = df[df["config_id"] == "h1-tanh-lr0.1-it100"]
    path = tmp_path / "one" / "results.csv"
    path.parent.mkdir()
    with store.ResultsWriter(path) as w:
        for row in one.to_dict("records"):
            w.append({k: (None if isinstance(v, float) and pd.isna(v) else v)
                      for k, v in row.items()})  # fmt: skip
    result = CliRunner().invoke(
        app,
        [
            "plot",
            str(path),
            "--out",
            str(tmp_path / "p"),
            "--only",
            "importance",
            "--only",
            "parallel",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "skipped importance: no hyperparameter varies" in result.stderr
    assert "skipped parallel: no hyperparameter varies" in result.stderr
