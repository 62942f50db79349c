"""The data each figure shows: highlighted points, the Pareto front, seed means, grids, curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sweep_nn.plots import prepare
from sweep_nn.plots.sweep import Sweep
from sweep_nn.results import query
from sweep_nn.results.schema import METRICS

ACC = METRICS["classification"]


def _rows(specs) -> pd.DataFrame:
    """Seed-mean rows from (hidden, activation, lr, iterations, batch, train, dev, seconds)."""
    records = []
    for h, act, lr, it, batch, train, dev, sec in specs:
        records.append({
            "config_id": f"h{h}-{act}-lr{lr:g}-it{it}" + ("" if batch == "full" else f"-bs{batch}"),
            "hidden_size": h, "activation": act, "learning_rate": lr, "iterations": it,
            "batch_size": batch, "dtype": "float64", "train_acc": train, "dev_acc": dev,
            "gap": train - dev, "fit_seconds": sec, "seed": 0,
            "params_path": f"params/h{h}-{act}-lr{lr:g}-it{it}-b{batch}.pkl",
        })  # fmt: skip
    return pd.DataFrame(records)


def _sweep(runs: pd.DataFrame, criteria: query.Criteria) -> Sweep:
    rows = query.aggregate(runs)
    kept = query.filter_results(rows, criteria, include_failed=True)
    rows["survives"] = rows.index.isin(kept.index)
    return Sweep(None, "t", ACC, runs, rows, criteria, left_out=0, clipped=False)


GRID = _rows([
    # one run per (hidden, activation, lr, batch); budgets 100 and 1000 share it
    (3, "tanh", 0.6, 100, "full", 88.0, 87.4, 0.1),
    (3, "tanh", 0.6, 1000, "full", 95.2, 94.2, 1.0),
    (5, "tanh", 0.6, 100, "full", 94.0, 93.8, 0.2),
    (5, "tanh", 0.6, 1000, "full", 95.0, 93.8, 2.0),
    (3, "relu", 1.2, 100, "full", 50.0, 47.5, 0.1),
    (3, "relu", 1.2, 1000, "full", 50.0, 47.5, 0.9),
    (5, "relu", 1.2, 100, 64, 96.5, 93.0, 0.3),
    (5, "relu", 1.2, 1000, 64, 96.0, 94.0, 3.0),
])  # fmt: skip


def test_highlighted_points_are_the_survivors_and_the_legend_lists_their_activations():
    s = _sweep(GRID, query.Criteria(min_acc=95, max_gap=1.5))

    assert s.rows.loc[s.hit, "config_id"].tolist() == [
        "h3-tanh-lr0.6-it1000",
        "h5-tanh-lr0.6-it1000",
    ]
    assert prepare.shown_activations(s.rows, s.hit) == ["tanh"]  # relu has none: not listed


def test_the_front_is_that_of_the_survivors_and_empty_when_nothing_passes():
    s = _sweep(GRID, query.Criteria(min_acc=95, max_gap=2.5))

    front = prepare.time_front(s)

    # h5-relu-1000 (94.0, 3 s) is beaten by h3-tanh-1000 (94.2, 1 s); h5-tanh-1000 too
    assert front["config_id"].tolist() == ["h3-tanh-lr0.6-it1000"]
    none = _sweep(GRID, query.Criteria(min_acc=99))
    assert none.none_pass and prepare.time_front(none).empty
    assert "nothing passes the filter" in none.subtitle()


def test_seed_means_are_what_the_figures_draw():
    seeds = pd.concat([GRID.assign(seed=0), GRID.assign(seed=1, dev_acc=GRID["dev_acc"] - 1)])
    s = _sweep(seeds.reset_index(drop=True), query.Criteria())

    row = s.rows.set_index("config_id").loc["h3-tanh-lr0.6-it1000"]
    assert row["dev_acc"] == pytest.approx(93.7)
    assert row["dev_acc_std"] == pytest.approx(0.5)
    assert row["n_seeds"] == 2


def test_panels_split_budgets_into_rows_and_batch_sizes_into_columns():
    lay = prepare.layout(GRID, aspect=1.0)

    cols = sorted({p.col_label for p in lay.panels})
    assert cols == ["relu, batch 64", "relu, batch full", "tanh, batch full"]
    assert {p.row_label for p in lay.panels} == {"100 iterations", "1000 iterations"}
    assert all(len(p.frame) for p in lay.panels)


def test_a_long_strip_of_panels_is_wrapped_into_a_squarer_grid():
    one = _rows([(3, "tanh", 0.6, it, "full", 90.0, 89.0, 0.1) for it in range(10, 70, 10)])
    lay = prepare.layout(one, aspect=1.3)  # one activation, six budgets: a 6 x 1 strip

    assert lay.wrapped and 1 / 2.2 <= lay.ncols * 1.3 / lay.nrows <= 2.2
    assert len(lay.panels) == 6
    assert all(p.title.startswith("tanh, ") and "iterations" in p.title for p in lay.panels)
    assert len({(p.r, p.c) for p in lay.panels}) == 6


def test_heatmap_grid_places_scores_and_passes_by_hidden_size_and_rate():
    s = _sweep(GRID, query.Criteria(min_acc=95, max_gap=1.5))
    frame = s.rows[(s.rows["activation"] == "tanh") & (s.rows["iterations"] == 1000)]

    grid, passes = prepare.heatmap_grid(frame, [3, 5], [0.1, 0.6], ACC)

    assert np.isnan(grid[:, 0]).all()
    assert grid[:, 1].tolist() == [94.2, 93.8]
    assert passes[:, 1].tolist() == [True, True]


def test_colour_range_starts_above_chance_level_cells():
    scores = [47.5] * 10 + [87.0, 87.5, 93.5, 94.2, 94.5]

    lo, hi, clipped = prepare.color_range(scores)  # most cells at chance level

    # from a quarter of the kept range below 87.0, so 87.0 is not drawn as a clipped cell
    assert (lo, hi, clipped) == (pytest.approx(87.0 - 0.25 * 7.5), 94.5, True)
    lo, hi, clipped = prepare.color_range([47.5] * 5 + [87.0] * 6 + [93.5, 94.2, 94.5])
    assert clipped and lo == pytest.approx(87.0 - 0.25 * 7.5) and hi == 94.5
    lo, _, _ = prepare.color_range([87.0] * 8 + [93.8, 94.0, 94.2])  # most cells at 87
    assert lo == pytest.approx(93.8 - 0.25 * 0.4)
    assert prepare.color_range([90.0, 91.0, 92.0, 93.0]) == (90.0, 93.0, False)


def test_learning_curves_rank_runs_by_their_best_budget():
    s = _sweep(GRID, query.Criteria())

    runs = prepare.curve_runs(s, top=3)

    best = [r.best["config_id"] for r in runs]
    assert best == ["h3-tanh-lr0.6-it1000", "h5-relu-lr1.2-it1000-bs64", "h5-tanh-lr0.6-it100"]
    assert runs[2].budgets["iterations"].tolist() == [100, 1000]
    assert runs[2].paths == ["params/h5-tanh-lr0.6-it1000-bfull.pkl"]  # the whole curve


def test_a_filtered_run_s_curve_still_marks_the_budgets_that_fail_the_filter():
    s = _sweep(GRID, query.Criteria(min_acc=91))  # 100 iterations of this run fails it

    runs = prepare.curve_runs(s, top=3)

    run = next(r for r in runs if r.best["config_id"] == "h3-tanh-lr0.6-it1000")
    assert run.budgets["iterations"].tolist() == [100, 1000]


def test_best_by_hidden_takes_the_best_learning_rate_at_each_size():
    frame = _rows([(3, "tanh", 0.6, 100, "full", 90, 88, 1), (3, "tanh", 1.2, 100, "full", 91, 90, 1),
                   (5, "tanh", 0.6, 100, "full", 92, 91, 1)])  # fmt: skip

    best = prepare.best_by_hidden(frame, ACC)

    assert best[["hidden_size", "learning_rate"]].values.tolist() == [[3, 1.2], [5, 0.6]]


def test_boundary_grid_covers_the_data_with_a_margin():
    X = np.array([[0.0, 0.0], [10.0, 2.0]])

    xx, yy, plane = prepare.boundary_grid(X, 5)

    assert xx.shape == yy.shape == (5, 5) and plane.shape == (25, 2)
    assert plane[:, 0].min() == pytest.approx(-1.0) and plane[:, 0].max() == pytest.approx(11.0)
    assert plane[:, 1].min() == pytest.approx(-0.2) and plane[:, 1].max() == pytest.approx(2.2)


def test_loss_axis_is_logarithmic_only_for_positive_losses_of_wide_range():
    assert prepare.log_loss_axis([np.array([500.0, 100.0, 90.0])])
    assert not prepare.log_loss_axis([np.array([0.0, 1.0])])
    assert not prepare.log_loss_axis([np.array([0.30, 0.25])])


def test_learning_curves_break_ties_as_run_names_its_best():
    rows = [(5, "relu", 0.5, 50, "full", 98.0, 97.0, 0.1),  # the quicker one, larger
            (2, "relu", 0.5, 50, "full", 98.0, 97.0, 0.3),
            (2, "relu", 0.5, 10, "full", 90.0, 89.0, 0.1)]  # fmt: skip
    s = _sweep(_rows(rows), query.Criteria())

    runs = prepare.curve_runs(s, top=2)

    named = query.best_configuration(s.rows.assign(status="ok"), "classification")
    assert [r.best["config_id"] for r in runs][0] == named["config_id"] == "h2-relu-lr0.5-it50"
