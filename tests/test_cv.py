"""Cross-validation, `data: {cv: k}`: every configuration trained on each of k folds.

The folds cut the whole data (stratified for classification, shuffled with the split
seed); each fold's held-out part is its dev set and its scaling comes from its own
training part. Rows carry `fold`; ids and keys tell folds apart, so resume and halving
work per fold; aggregate, halving and the best configuration average over folds.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from sweeps import run_sweep as run_folder
from typer.testing import CliRunner

from sweep_nn import data as data_mod
from sweep_nn.cli import app
from sweep_nn.config import parse
from sweep_nn.errors import ConfigError, DataError
from sweep_nn.results import params as params_mod
from sweep_nn.results import query, store
from sweep_nn.sweep import halving
from sweep_nn.sweep import jobs as grid
from sweep_nn.sweep.run import run_sweep

GRID = {"hidden_sizes": [3], "activations": ["tanh", "relu"], "learning_rates": [0.5],
        "iterations": [20, 60]}  # fmt: skip


def cfg(data: dict, **sections):
    return parse(yaml.safe_dump({"name": "cv", "data": data, "grid": GRID, **sections}))


# --- the folds ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset, task", [("moons", "classification"), ("regression", "regression")])
def test_fold_dev_sets_are_disjoint_and_cover_the_data(dataset, task):
    spec = cfg({"dataset": dataset, "n_samples": 203, "cv": 4}).data
    X, y = data_mod.build_raw(spec)
    rows = data_mod.split_rows(spec, y, task)
    assert len(rows) == 4
    devs = [dev for _, dev in rows]
    assert sorted(np.concatenate(devs).tolist()) == list(range(203))  # disjoint, and all of it
    for train, dev in rows:
        assert not set(train) & set(dev) and len(train) + len(dev) == 203
    assert sorted(len(d) for d in devs) == [50, 51, 51, 51]
    folds = data_mod.load_folds(spec, task)  # the datasets the sweep trains on
    held_out = np.concatenate([f.X_dev for f in folds])
    assert sorted(map(tuple, held_out)) == sorted(map(tuple, X))


def test_folds_are_stratified_and_follow_the_split_seed():
    spec = cfg({"dataset": "gaussian_quantiles", "n_samples": 300, "n_classes": 3, "cv": 5}).data
    _, y = data_mod.build_raw(spec)
    rows = data_mod.split_rows(spec, y, "classification")
    for _, dev in rows:
        assert sorted(np.bincount(y[dev])) == [20, 20, 20]  # each class in its share
    again = data_mod.split_rows(spec, y, "classification")
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(rows, again))  # deterministic
    other = spec.model_copy(update={"split_random_state": 7})
    assert not np.array_equal(rows[0][1], data_mod.split_rows(other, y, "classification")[0][1])


def test_each_fold_is_scaled_by_its_own_training_part():
    spec = cfg({"dataset": "moons", "n_samples": 200, "cv": 3, "scale": "standard"}).data
    X, y = data_mod.build_raw(spec)
    for (train, _), ds in zip(data_mod.split_rows(spec, y, "classification"),
                              data_mod.load_folds(spec)):  # fmt: skip
        np.testing.assert_allclose(ds.scaler["mean"], X[train].mean(axis=0))
        np.testing.assert_allclose(ds.scaler["scale"], X[train].std(axis=0))
        np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-12)
        assert np.abs(ds.X_dev.mean(axis=0)).max() > 1e-6  # the dev part was not fitted


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, message",
    [
        ("0", "data.cv: Input should be greater than or equal to 2 (got 0)"),
        ("1", "data.cv: Input should be greater than or equal to 2 (got 1)"),
        ("-3", "data.cv: Input should be greater than or equal to 2 (got -3)"),
        ("2.5", "data.cv: Input should be a valid integer (got 2.5)"),
        ("five", "data.cv: Input should be a valid integer (got 'five')"),
        ("true", "data.cv: Input should be a valid integer (got True)"),
        ("101", "data.cv: Input should be less than or equal to 100 (got 101)"),
    ],
)
def test_invalid_cv_values_are_refused_naming_data_cv(tmp_path, write_config, value, message):
    path = write_config(f"name: c\ndata: {{cv: {value}}}\ngrid: {json.dumps(GRID)}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert not out.exists()


def test_more_folds_than_the_smallest_class_has_members_are_refused(tmp_path, write_config):
    (tmp_path / "d.csv").write_text("x,label\n" + "".join(f"{i},{'ab'[i < 2]}\n" for i in range(9)))
    path = write_config({"name": "c", "data": {"dataset": "csv", "path": "d.csv", "cv": 3},
                         "grid": GRID})  # fmt: skip
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "data.cv: 3 stratified folds need at least 3 samples of every class" in result.stderr
    assert "class 'b' has 2; use cv: 2 or fewer" in result.stderr
    assert not out.exists()
    with pytest.raises(DataError, match="data.cv: 5 folds need at least 5 samples; the data has 4"):
        data_mod.split_rows(cfg({"dataset": "regression", "n_samples": 4, "cv": 5}).data,
                            np.zeros(4), "regression")  # fmt: skip


def test_dev_size_does_not_go_with_cv():
    with pytest.raises(ConfigError, match=r"data: dev_size does not apply with cv: 4"):
        cfg({"dev_size": 0.3, "cv": 4})
    resolved = cfg({"cv": 4}).resolved()
    assert "dev_size" not in resolved["data"] and parse(yaml.safe_dump(resolved)).data.cv == 4


# --- a cross-validated sweep --------------------------------------------------------------------


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """Two configurations x two seeds x three folds on `classification` data (eval scores
    its dev split), standardised: the folder."""
    raw = {"name": "cv", "data": {"dataset": "classification", "n_samples": 150,
                                  "n_features": 4, "cv": 3, "scale": "standard"},
           "grid": GRID | {"seeds": [0, 1]}}  # fmt: skip
    return run_folder(tmp_path_factory.mktemp("cv"), raw)


def test_every_configuration_has_a_row_per_fold(swept):
    out = swept
    df = store.read_results(out / "results.csv")
    assert len(df) == 2 * 2 * 3 * 2 and set(df["status"]) == {"ok"}
    per = df.groupby(["activation", "seed", "iterations"])["fold"].apply(sorted)
    assert all(folds == [0, 1, 2] for folds in per)
    assert df["key"].is_unique and df["config_id"].is_unique
    assert set(df[df["fold"] == 1]["config_id"]) >= {"h3-tanh-lr0.5-it20-f1", "h3-relu-lr0.5-it60-s1-f1"}


def test_parameters_files_record_the_fold_and_its_scaling(swept):
    out = swept
    df = store.read_results(out / "results.csv")
    spec = parse((out / "config.yaml").read_text()).data
    X, y = data_mod.build_raw(spec)
    rows = data_mod.split_rows(spec, y, "classification")
    for row in df[df["iterations"] == 60].itertuples():
        p = params_mod.load_params(out / row.params_path)
        assert p["config"]["fold"] == row.fold and p["data"]["cv"] == 3
        np.testing.assert_allclose(p["scaler"]["mean"], X[rows[row.fold][0]].mean(axis=0))


def test_eval_says_the_fold_and_rebuilds_its_dev_split(swept):
    out = swept
    df = store.read_results(out / "results.csv")
    for row in df[(df["iterations"] == 60) & (df["seed"] == 1)].itertuples():
        path = str(out / row.params_path)
        text = CliRunner().invoke(app, ["eval", path])
        assert text.exit_code == 0, text.output
        assert f"the dev split of fold {row.fold} held out by the sweep" in text.stdout
        assert f"trained on cross-validation fold {row.fold} of 3" in text.stdout
        result = json.loads(CliRunner().invoke(app, ["eval", path, "--json"]).stdout)
        assert result["fold"] == row.fold
        assert result["accuracy"] == pytest.approx(row.dev_acc)  # the very rows it held out


def test_aggregate_gives_mean_and_std_over_folds_and_seeds(swept):
    out = swept
    rows = pd.DataFrame(json.loads(CliRunner().invoke(app, ["filter", str(out), "--format", "json"]).stdout))
    result = CliRunner().invoke(app, ["filter", str(out), "--aggregate", "--format", "json"])
    groups = json.loads(result.stdout)
    assert len(groups) == 2 * 2
    for g in groups:
        runs = rows[(rows["activation"] == g["activation"]) & (rows["iterations"] == g["iterations"])]
        assert (g["n_seeds"], g["n_folds"], len(runs)) == (2, 3, 6)
        assert g["config_id"] == f"h3-{g['activation']}-lr0.5-it{g['iterations']}"
        for col in ("train_acc", "dev_acc", "dev_loss"):
            assert g[col] == pytest.approx(runs[col].mean())
            assert g[f"{col}_std"] == pytest.approx(runs[col].std(ddof=0))
    one_seed = rows[rows["seed"] == 0]
    by_fold = query.aggregate(one_seed)  # the same rule with a single seed: over folds
    assert set(by_fold["n_seeds"]) == {1} and set(by_fold["n_folds"]) == {3}
    table = CliRunner().invoke(app, ["filter", str(out), "--aggregate"], env={"COLUMNS": "200"})
    assert "folds" in table.stdout and "±" in table.stdout


def test_the_best_configuration_is_the_best_mean_over_folds(swept):
    df = store.read_results(swept / "results.csv")
    best = query.best_configuration(df, "classification")
    assert best["dev_acc"] == query.aggregate(df)["dev_acc"].max()
    again = CliRunner().invoke(app, ["run", str(swept.parent / "cv.yaml"), "--out", str(swept)])
    assert f"best: {best['config_id']} (mean of 2 seeds x 3 folds)" in again.stderr, again.output
    # one lucky fold does not win: a's best fold beats every fold of b, b's mean beats a's
    frame = pd.DataFrame([
        {"config_id": f"{c}-f{f}", "hidden_size": h, "activation": "tanh", "learning_rate": 0.5,
         "iterations": 10, "batch_size": "full", "seed": 0, "fold": f, "dtype": "float64",
         "status": "ok", "train_acc": acc, "dev_acc": acc, "gap": 0.0, "fit_seconds": 1.0}
        for c, h, accs in (("a", 1, (99.0, 70.0, 70.0)), ("b", 2, (90.0, 90.0, 90.0)))
        for f, acc in enumerate(accs)
    ])  # fmt: skip
    assert query.best_configuration(frame, "classification")["config_id"] == "b"


def test_halving_ranks_a_configuration_by_its_mean_over_seeds_and_folds():
    c = cfg({"cv": 3}, grid=GRID | {"seeds": [0, 1]}, search={"method": "halving", "eta": 2})
    groups = halving.configurations(grid.expand(c, "sigmoid"))
    assert [len(g) for g in groups] == [6, 6]  # every seed on every fold
    first, second = groups
    rows = {j.keys[0]: {"status": "ok", "dev_acc": 80.0} for j in first + second}
    rows[first[0].keys[0]]["dev_acc"] = 100.0  # one fold of the first does very well
    for j in second:
        rows[j.keys[0]]["dev_acc"] = 85.0  # the second is better on average
    assert halving.survivors(groups, rows, 20, "dev_acc", 2) == [second]


def test_a_resumed_sweep_does_not_retrain_finished_folds(tmp_path):
    c = cfg({"dataset": "moons", "n_samples": 120, "cv": 3}, grid=GRID | {"iterations": [20]})
    out = tmp_path / "out"
    first = []

    def stop_after_three(row):
        first.append(row.config_id)
        if len(first) == 3:
            raise KeyboardInterrupt

    assert run_sweep(c, out, n_jobs=1, on_row=stop_after_three).interrupted
    before = (out / "results.csv").read_text()
    again = []
    resumed = run_sweep(c, out, n_jobs=1, on_row=lambda row: again.append(row.config_id))
    assert not resumed.interrupted and resumed.skipped == 3
    assert (out / "results.csv").read_text().startswith(before)  # finished rows untouched
    assert not set(again) & set(first) and len(first) + len(again) == 2 * 3
    ids = {r["config_id"] for r in store.read_rows(out / "results.csv")}
    assert ids == {f"h3-{a}-lr0.5-it20-f{f}" for a in ("tanh", "relu") for f in range(3)}


def test_a_fold_in_a_parameters_file_must_fit_its_data(swept, tmp_path):
    import pickle

    out = swept
    payload = params_mod.load_params(next((out / "params").glob("*-f2.pkl")))
    for change, message in (({"fold": 3}, "config.fold must be a fold of data.cv: 3, from 0 to 2"),
                            ({"fold": None}, "config.fold must be a fold of data.cv: 3")):  # fmt: skip
        bad = payload | {"config": payload["config"] | change}
        (tmp_path / "p.pkl").write_bytes(pickle.dumps(bad))
        result = CliRunner().invoke(app, ["eval", str(tmp_path / "p.pkl")])
        assert result.exit_code == 2 and message in result.stderr, result.output
    data = {k: v for k, v in payload["data"].items() if k != "cv"}
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(payload | {"data": data}))
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "p.pkl")])
    assert result.exit_code == 2 and "config.fold must be None without data.cv" in result.stderr
