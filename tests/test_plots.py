"""Figures: `sweep-nn plot` on small sweeps, `eval --plot`, and the Pareto front they mark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.plots import figures as plots
from sweep_nn.results import query as analysis
from sweep_nn.results.schema import METRICS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_FIGURES = sorted(plots.FIGURES)

MOONS = {  # two seeds and two budgets: every figure has seeds to average
    "name": "plot-moons",
    "data": {"dataset": "moons", "n_samples": 200, "noise": 0.2},
    "grid": {
        "hidden_sizes": [2, 4],
        "activations": ["tanh", "relu"],
        "learning_rates": [0.5, 0.05],
        "iterations": [20, 100],
        "seeds": [0, 1],
    },
}
REGRESSION = {  # two features, so the data figure is drawn too
    "name": "plot-regression",
    "task": "regression",
    "data": {"dataset": "regression", "n_samples": 200, "n_features": 2, "noise": 5.0,
             "scale": "standard"},
    "grid": {
        "hidden_sizes": [2, 4],
        "activations": ["tanh"],
        "learning_rates": [0.1, 0.01],
        "iterations": [20, 100],
    },
}  # fmt: skip
THREE_FEATURES = {
    "name": "plot-3d",
    "data": {"dataset": "classification", "n_samples": 100, "n_features": 3},
    "grid": {"hidden_sizes": [2], "activations": ["tanh"], "learning_rates": [0.5],
             "iterations": [5]},
}  # fmt: skip


def run_sweep(root: Path, config: dict) -> Path:
    """Run ``config`` through the CLI into ``root``; return the results folder."""
    (root / "sweep.yaml").write_text(yaml.safe_dump(config))
    out = root / config["name"]
    result = CliRunner().invoke(
        app, ["run", str(root / "sweep.yaml"), "--out", str(out), "-j", "1", "-q"]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def moons(tmp_path_factory) -> Path:
    return run_sweep(tmp_path_factory.mktemp("moons"), MOONS)


@pytest.fixture(scope="module")
def regression(tmp_path_factory) -> Path:
    return run_sweep(tmp_path_factory.mktemp("regression"), REGRESSION)


@pytest.fixture(scope="module")
def three_features(tmp_path_factory) -> Path:
    return run_sweep(tmp_path_factory.mktemp("three"), THREE_FEATURES)


def assert_png(path: Path) -> None:
    """``path`` is a real, non-blank PNG image of a sensible size."""
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4), image.shape
    assert image.shape[0] >= 300 and image.shape[1] >= 300, image.shape
    assert image[..., :3].std() > 0.02, f"{path} looks blank"


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_plot_draws_every_figure_of_a_seeded_sweep_beside_its_results(moons):
    result = invoke("plot", moons, "--min-acc", "80", "--max-gap", "5", "--max-time", "10")

    assert result.exit_code == 0, result.output
    written = sorted(Path(line) for line in result.stdout.split())
    assert written == sorted(moons / "plots" / f"{name}.png" for name in ALL_FIGURES)
    for path in written:
        assert_png(path)


def test_plot_draws_r2_for_a_regression_sweep(regression, tmp_path):
    result = invoke("plot", regression / "results.csv", "--out", tmp_path, "--min-r2", "0.5")

    assert result.exit_code == 0, result.output
    assert sorted(p.stem for p in tmp_path.glob("*.png")) == ALL_FIGURES
    for path in tmp_path.glob("*.png"):
        assert_png(path)
    sweep = plots.load_sweep(regression / "results.csv", analysis.Criteria(min_r2=0.5))
    assert sweep.metric is METRICS["regression"]
    assert sweep.rows["survives"].any()


def test_plot_only_draws_the_named_figures(moons, tmp_path):
    result = invoke("plot", moons, "--out", tmp_path, "--only", "heatmap", "--only", "time_vs_dev")

    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heatmap.png", "time_vs_dev.png"]


def test_plot_unknown_figure_name_exits_2_naming_the_choices(moons, tmp_path):
    result = invoke("plot", moons, "--out", tmp_path, "--only", "pie")

    assert result.exit_code == 2
    assert "no figure 'pie'" in result.stderr and "heatmap" in result.stderr
    assert not list(tmp_path.iterdir())


def test_plot_skips_the_data_figure_when_the_data_is_not_2d(three_features, tmp_path):
    result = invoke(
        "plot", three_features, "--out", tmp_path, "--only", "data", "--only", "overview"
    )

    assert result.exit_code == 0, result.output
    assert "skipped data: the data has 3 features" in result.stderr
    assert not (tmp_path / "data.png").exists()
    assert (tmp_path / "overview.png").exists()


def test_plot_without_results_reports_a_clear_error(tmp_path):
    result = invoke("plot", tmp_path / "missing.csv")

    assert result.exit_code == 2
    assert "results file not found" in result.stderr


def test_eval_plot_writes_the_decision_boundary(moons, tmp_path):
    target = tmp_path / "boundary.png"
    params = moons / "params" / "h4-tanh-lr0.5-it100.pkl"

    result = invoke("eval", params, "--seed", "3", "--n-samples", "150", "--plot", target)

    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout
    assert_png(target)


def test_eval_plot_on_a_network_without_2d_inputs_exits_2(three_features, tmp_path):
    target = tmp_path / "boundary.png"
    params = next((three_features / "params").glob("*.pkl"))

    result = invoke("eval", params, "--plot", target)

    assert result.exit_code == 2
    assert (
        "--plot draws a decision boundary over 2 input features; this network takes 3"
        in result.stderr
    )
    assert not target.exists()


def test_pareto_front_keeps_only_points_nothing_beats_on_time_and_score():
    table = pd.DataFrame(
        [  # config, seconds, dev accuracy, on the front?
            ("fastest", 0.5, 50.0, True),
            ("slow-and-bad", 3.0, 60.0, False),
            ("beaten-at-same-time", 1.0, 80.0, False),
            ("best-at-1s", 1.0, 85.0, True),
            ("same-score-slower", 2.0, 85.0, False),
            ("better-at-2s", 2.0, 90.0, True),
            ("twin-a", 4.0, 95.0, True),  # exact twins: neither beats the other
            ("twin-b", 4.0, 95.0, True),
            ("same-score-much-slower", 9.0, 95.0, False),
            ("best-overall", 10.0, 97.0, True),
        ],
        columns=["config_id", "fit_seconds", "dev_acc", "expected"],
    ).sample(frac=1, random_state=0)  # the input order must not matter

    front = analysis.pareto_front(table["fit_seconds"], table["dev_acc"])

    assert front.tolist() == table["expected"].tolist()


def test_seed_means_keep_the_whole_config_id():
    runs = pd.DataFrame(
        {
            "config_id": ["h3-sigmoid-lr0.6-it100", "h3-sigmoid-lr0.6-it100-s1"],
            "hidden_size": [3, 3], "activation": ["sigmoid"] * 2, "learning_rate": [0.6] * 2,
            "iterations": [100, 100], "batch_size": ["full"] * 2, "dtype": ["float64"] * 2,
            "train_acc": [90.0, 92.0], "dev_acc": [89.0, 91.0], "train_r2": [np.nan] * 2,
            "dev_r2": [np.nan] * 2, "train_rmse": [np.nan] * 2, "dev_rmse": [np.nan] * 2,
            "train_loss": [0.3, 0.2], "dev_loss": [0.3, 0.2], "fit_seconds": [1.0, 1.0],
        }
    )  # fmt: skip

    means = analysis.aggregate(runs)

    assert means["config_id"].tolist() == ["h3-sigmoid-lr0.6-it100"]
    assert means["dev_acc"].tolist() == [90.0]
