"""sweep-nn reproduces the reference study's published accuracies (a slice of its grid).

``tests/data/study_results_slice.csv`` holds the study's own rows, copied unchanged.
Its accuracies are rounded to 2 decimals. Train accuracy counts 1600 examples (steps of
0.0625 points) and dev accuracy 400 (steps of 0.25), so a match within 0.01 means the
same examples are classified correctly. Rounding ties such as 85.6875 are not compared
exactly, because the study's own rounding of ties is not known.
"""

from __future__ import annotations

import csv
import json

import pytest

from sweep_nn.cli import app
from sweep_nn.config import parse
from sweep_nn.results import store
from sweep_nn.sweep.run import run_sweep

TOLERANCE = 0.01  # well under one example of the 400 in the dev set (0.25 points)


def study_rows(data_dir) -> dict[tuple, tuple[float, float]]:
    """(hidden, activation, learning rate, iterations) -> (train %, dev %), as published."""
    with open(data_dir / "study_results_slice.csv", newline="") as fh:
        return {
            (int(r["Number of nodes"]), r["Activation"], float(r["Learning rate"]), int(r["Iterations"])):
            (float(r["Train"]), float(r["Dev"]))
            for r in csv.DictReader(fh)
        }  # fmt: skip


def run(tmp_path, hidden, activations, rates, iterations):
    """Sweep a slice of the study's grid with the study's data defaults; rows by axes."""
    cfg = parse(
        "name: study-slice\n"
        "grid:\n"
        f"  hidden_sizes: {hidden}\n"
        f"  activations: {activations}\n"
        f"  learning_rates: {rates}\n"
        f"  iterations: {iterations}\n"
    )
    out = tmp_path / "out"
    summary = run_sweep(cfg, out, n_jobs=1)
    rows = store.read_rows(summary.results_path)
    return out, {
        (r["hidden_size"], r["activation"], r["learning_rate"], r["iterations"]): r for r in rows
    }


def differences(ours: dict, published: dict) -> list[str]:
    bad = []
    for axes, (train, dev) in published.items():
        row = ours[axes]
        if abs(row["train_acc"] - train) > TOLERANCE or abs(row["dev_acc"] - dev) > TOLERANCE:
            bad.append(
                f"{row['config_id']}: train {row['train_acc']:.4f} dev {row['dev_acc']:.4f}, "
                f"published {train} / {dev}"
            )
    return bad


def test_slice_of_the_study_grid_reproduces_published_accuracies(tmp_path, data_dir):
    published = {k: v for k, v in study_rows(data_dir).items() if k[3] in (100, 1000)}
    assert len(published) == 2 * 3 * 2 * 2

    _, ours = run(tmp_path, [1, 3], ["tanh", "sigmoid", "relu"], [0.6, 0.1], [100, 1000])

    assert {r["status"] for r in ours.values()} == {"ok"}
    assert differences(ours, published) == []


def test_study_pick_reproduces_and_its_parameters_evaluate_like_the_study_file(
    tmp_path, data_dir, runner
):
    # the study's choice: 3 hidden units, tanh, learning rate 0.6, 10000 iterations
    pick = (3, "tanh", 0.6, 10000)
    published = {pick: study_rows(data_dir)[pick]}
    assert published[pick] == (95.12, 94.25)

    out, ours = run(tmp_path, [3], ["tanh"], [0.6], [10000])

    assert differences(ours, published) == []
    results = {}
    for name, args in {
        "sweep-nn": [str(out / ours[pick]["params_path"])],
        "study": [str(data_dir / "study_params_3_tanh_0.6_10000.pkl"), "--activation", "tanh"],
    }.items():
        result = runner.invoke(app, ["eval", *args, "--n-samples", "500", "--seed", "0", "--json"])
        assert result.exit_code == 0, result.output
        results[name] = json.loads(result.stdout)
    assert results["sweep-nn"]["accuracy"] == pytest.approx(results["study"]["accuracy"])
    assert results["sweep-nn"]["accuracy"] == pytest.approx(93.6)
    assert results["sweep-nn"]["loss"] == pytest.approx(results["study"]["loss"], rel=1e-6)
