"""Repeated seeds: `filter --aggregate` groups rows that differ only in seed into mean ± std."""

from __future__ import annotations

import csv
import io
import itertools
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.results import query as analysis
from sweep_nn.results import schema

WIDE = {"COLUMNS": "200"}
SEEDS = [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def five_seeds(tmp_path_factory):
    """A sweep of two configurations (tanh, sigmoid), each over five seeds: the folder."""
    root = tmp_path_factory.mktemp("seeds")
    cfg = {
        "name": "seeds",
        "data": {"dataset": "moons", "n_samples": 200},
        "train": {"init": "xavier"},  # wide enough that the seeds differ
        "grid": {
            "hidden_sizes": [3],
            "activations": ["tanh", "sigmoid"],
            "learning_rates": [0.5],
            "iterations": [30],
            "seeds": SEEDS,
        },
    }
    (root / "seeds.yaml").write_text(yaml.safe_dump(cfg))
    out = root / "out"
    result = CliRunner().invoke(
        app, ["run", str(root / "seeds.yaml"), "--out", str(out), "-j", "1"]
    )
    assert result.exit_code == 0, result.output
    return out


def filter_json(out, *options):
    result = CliRunner().invoke(app, ["filter", str(out), "--format", "json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_seed_rows_carry_their_seed(five_seeds):
    result = CliRunner().invoke(app, ["filter", str(five_seeds), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted(int(r["seed"]) for r in rows if r["activation"] == "tanh") == SEEDS
    assert {r["config_id"] for r in rows if r["seed"] == "3"} == {
        "h3-tanh-lr0.5-it30-s3",
        "h3-sigmoid-lr0.5-it30-s3",
    }


def test_five_seeds_aggregate_to_mean_and_std(five_seeds):
    per_seed = pd.DataFrame(filter_json(five_seeds))
    groups = {g["activation"]: g for g in filter_json(five_seeds, "--aggregate")}
    assert set(groups) == {"tanh", "sigmoid"}
    for activation, g in groups.items():
        runs = per_seed[per_seed["activation"] == activation]
        assert g["n_seeds"] == 5
        assert g["config_id"] == f"h3-{activation}-lr0.5-it30"  # the seed suffix dropped
        for col in ("train_acc", "dev_acc", "train_loss", "fit_seconds"):
            assert g[col] == pytest.approx(runs[col].mean())
            assert g[f"{col}_std"] == pytest.approx(runs[col].std(ddof=0))
        assert g["gap"] == pytest.approx(g["train_acc"] - g["dev_acc"])
    assert groups["tanh"]["train_loss_std"] > 0  # the seeds did change the runs


def test_aggregate_table_shows_mean_plus_minus_std(five_seeds):
    result = CliRunner().invoke(app, ["filter", str(five_seeds), "--aggregate"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "±" in result.stdout and "seeds" in result.stdout
    assert "h3-sigmoid-lr0.5-it30 " in result.stdout


def test_aggregate_applies_the_other_options_to_the_means(five_seeds):
    groups = filter_json(five_seeds, "--aggregate")
    means = sorted(g["train_loss"] for g in groups)
    top = filter_json(five_seeds, "--aggregate", "--sort", "train_loss", "--top", "1")
    assert [g["train_loss"] for g in top] == [means[0]]


def frame(rows: list[dict]) -> pd.DataFrame:
    base = {
        "hidden_size": 3,
        "activation": "tanh",
        "learning_rate": 0.5,
        "iterations": 10,
        "batch_size": "full",
        "dtype": "float64",
        "status": "ok",
        "fit_seconds": 1.0,
    }
    full = []
    for r in rows:
        metric = "acc" if "train_acc" in r else "r2"
        full.append({**base, "gap": r[f"train_{metric}"] - r[f"dev_{metric}"], **r})
    return pd.DataFrame(full, columns=schema.COLUMNS)


def test_a_mean_passes_a_threshold_that_one_seed_misses():
    df = frame(
        [
            {"config_id": "a", "seed": 0, "train_acc": 90.0, "dev_acc": 88.0},
            {"config_id": "a-s1", "seed": 1, "train_acc": 98.0, "dev_acc": 96.0},
        ]
    )
    kept = analysis.filter_results(df, analysis.Criteria(min_acc=93), aggregate_seeds=True)
    assert list(kept["train_acc"]) == [94.0] and list(kept["train_acc_std"]) == [4.0]
    assert analysis.filter_results(df, analysis.Criteria(min_acc=93)).shape[0] == 1


def test_aggregate_of_regression_rows_reports_r2_mean_and_std():
    df = frame(
        [
            {"config_id": "r", "seed": 0, "train_r2": 0.8, "dev_r2": 0.7, "dev_rmse": 2.0},
            {"config_id": "r-s1", "seed": 1, "train_r2": 0.9, "dev_r2": 0.9, "dev_rmse": 1.0},
        ]
    )
    out = analysis.aggregate(df)
    assert out.loc[0, "dev_r2"] == pytest.approx(0.8)
    assert out.loc[0, "dev_r2_std"] == pytest.approx(0.1)
    assert out.loc[0, "gap"] == pytest.approx(0.05)
    assert np.isnan(out.loc[0, "train_acc"])  # kept, empty: the table has the rows' shape
    kept = analysis.filter_results(df, analysis.Criteria(min_dev_r2=0.75), aggregate_seeds=True)
    assert len(kept) == 1


def test_rows_that_differ_in_more_than_seed_stay_apart():
    df = frame(
        [
            {"config_id": "a", "seed": 0, "train_acc": 90.0, "dev_acc": 88.0},
            {
                "config_id": "a-bs32",
                "seed": 0,
                "batch_size": 32,
                "train_acc": 98.0,
                "dev_acc": 96.0,
            },
        ]
    )
    out = analysis.aggregate(df)
    assert list(out["n_seeds"]) == [1, 1]
    assert list(out["config_id"]) == ["a", "a-bs32"]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_best_configuration_is_the_first_of_aggregates_means(task):
    """run's answer, in plain Python over rows as read or as a frame, is the first of
    aggregate's groups sorted by dev score then the tie order: the same means, bit for bit."""
    rng = np.random.default_rng(7)
    metric = "acc" if task == "classification" else "r2"
    unit = 1.0 if metric == "acc" else 0.01
    rows = []
    for h, scale, seed, fold in itertools.product((1, 2), (None, 0.5), range(3), (0, 1)):
        dev = float(rng.choice([80.0, 85.0, 90.0])) * unit  # equal means happen: the tie order
        rows.append({"config_id": f"h{h}-x{scale}-s{seed}-f{fold}", "hidden_size": h,
                     "init_scale": scale, "seed": seed, "fold": fold,
                     f"train_{metric}": dev + rng.random(), f"dev_{metric}": dev,
                     "fit_seconds": rng.random() / 7})  # fmt: skip
    df = frame(rows)
    df.loc[3, "status"] = "diverged"  # left out, as every mean leaves it out
    column = f"dev_{metric}"
    means = analysis.aggregate(df[df["status"] == "ok"]).sort_values(
        [column, *analysis.TIE_ORDER], ascending=[False] + [True] * 4, kind="stable")  # fmt: skip
    expected = means.iloc[0].to_dict()
    read = df.astype(object).where(df.notna(), None).to_dict("records")  # None, as rows are read
    for best in (analysis.best_configuration(df, task), analysis.best_configuration(read, task)):
        assert best["config_id"] == expected["config_id"] and best["n_folds"] == 2
        for key, value in best.items():
            empty = expected[key] != expected[key]  # NaN: a frame's empty cell
            assert value == expected[key] or (empty and (value is None or value != value)), key
