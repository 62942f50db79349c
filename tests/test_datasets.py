"""Datasets, tasks and output layers through the command line: real data, CSV files,
multi-class softmax, regression, mini-batches, scaling, the baseline and data errors."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import sweep_nn
from sweep_nn import config, data
from sweep_nn.cli import app
from sweep_nn.errors import UsageError
from sweep_nn.results.params import load_params

CONFIGS = Path(__file__).parent.parent / "configs"


def one_grid(hidden=8, activation="tanh", rate=0.5, iterations=(300,), **axes) -> dict:
    """A grid with one configuration per axis unless told otherwise."""
    return {
        "hidden_sizes": [hidden],
        "activations": [activation],
        "learning_rates": [rate],
        "iterations": list(iterations),
        **axes,
    }


def sweep(folder: Path, cfg: dict, name: str = "sweep") -> Path:
    """Write ``cfg`` as ``folder/name.yaml``, run it with one worker; the output folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, **cfg}, sort_keys=False))
    out = folder / f"out-{name}"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "-j", "1", "-q"])
    assert result.exit_code == 0, result.output
    return out


def rows(out: Path) -> list[dict]:
    """The results as filter prints them (every status), one dict per row."""
    result = CliRunner().invoke(app, ["filter", str(out), "--all-status", "--format", "csv"])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def eval_json(params: Path, *options: str) -> dict:
    result = CliRunner().invoke(app, ["eval", str(params), "--json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def best_dev(out: Path, column: str = "dev_acc") -> float:
    return max(float(r[column]) for r in rows(out) if r["status"] == "ok")


# --- real datasets and softmax ------------------------------------------------------------


def test_iris_trains_a_softmax_output_to_90_percent_dev_accuracy(tmp_path):
    out = sweep(tmp_path, {"data": {"dataset": "iris", "scale": "standard"}, "grid": one_grid(5)})
    assert best_dev(out) >= 90
    p = load_params(out / rows(out)[0]["params_path"])
    assert p["train"]["output"] == "softmax"
    assert p["W2"].shape == (3, 5)  # one output unit per class


def test_digits_trains_a_softmax_output_to_90_percent_dev_accuracy(tmp_path):
    cfg = {
        "data": {"dataset": "digits", "scale": "standard"},
        "train": {"init": "xavier"},
        "grid": one_grid(32, iterations=(100,)),
    }
    out = sweep(tmp_path, cfg)
    assert best_dev(out) >= 90
    assert load_params(out / rows(out)[0]["params_path"])["W2"].shape == (10, 32)


@pytest.fixture(scope="module")
def breast_cancer(tmp_path_factory) -> Path:
    """A scaled breast_cancer sweep: its output folder."""
    cfg = {"data": {"dataset": "breast_cancer", "scale": "standard"}, "grid": one_grid(8)}
    return sweep(tmp_path_factory.mktemp("bc"), cfg)


def test_breast_cancer_scaled_reaches_94_percent_dev_accuracy(breast_cancer):
    assert best_dev(breast_cancer) >= 94


def test_scaling_statistics_come_from_the_training_split_and_are_stored(breast_cancer):
    p = load_params(breast_cancer / rows(breast_cancer)[0]["params_path"])
    ds = data.load(config.DataConfig(dataset="breast_cancer"))  # unscaled, same split
    np.testing.assert_allclose(p["scaler"]["mean"], ds.X_train.mean(axis=0))
    np.testing.assert_allclose(p["scaler"]["scale"], ds.X_train.std(axis=0))
    assert not np.allclose(p["scaler"]["mean"], np.vstack([ds.X_train, ds.X_dev]).mean(axis=0))


def test_eval_without_data_rescores_the_dev_split_of_a_real_dataset(breast_cancer):
    row = rows(breast_cancer)[0]
    result = CliRunner().invoke(app, ["eval", str(breast_cancer / row["params_path"])])
    assert result.exit_code == 0, result.output
    assert f"accuracy {float(row['dev_acc']):.2f}%" in result.stdout
    assert "on 114 samples" in result.stdout
    assert "dev split" in result.stdout
    assert eval_json(breast_cancer / row["params_path"])["accuracy"] == float(row["dev_acc"])


def test_scaling_round_trips_through_eval_on_a_csv_of_the_raw_dev_split(breast_cancer, tmp_path):
    # the file holds the dev split unscaled: eval must apply the stored training statistics
    ds = data.load(config.DataConfig(dataset="breast_cancer"))
    table = np.column_stack([ds.X_dev, ds.y_dev])
    names = [f"f{i}" for i in range(ds.X_dev.shape[1])] + ["target"]
    np.savetxt(tmp_path / "dev.csv", table, delimiter=",", header=",".join(names), comments="")
    row = rows(breast_cancer)[0]
    result = eval_json(breast_cancer / row["params_path"], "--data", str(tmp_path / "dev.csv"))
    assert result["accuracy"] == pytest.approx(float(row["dev_acc"]))
    assert result["n_samples"] == len(ds.y_dev)


@pytest.mark.parametrize(
    "option", [["--seed", "3"], ["--n-samples", "100"], ["--noise", "0.1"], ["--n-samples", "500"]]
)
def test_eval_refuses_drawing_options_for_a_dataset_that_cannot_draw_fresh_samples(
    breast_cancer, option
):
    params = breast_cancer / rows(breast_cancer)[0]["params_path"]
    result = CliRunner().invoke(app, ["eval", str(params), *option])
    assert result.exit_code == 2
    assert (
        f"{option[0]} does not apply: dataset 'breast_cancer' cannot draw fresh samples"
        in result.stderr
    )
    with pytest.raises(UsageError, match=f"{option[0]} does not apply"):
        sweep_nn.evaluate(params, **_keyword(option))


@pytest.mark.parametrize("option", [["--seed", "3"], ["--n-samples", "10"], ["--noise", "0"]])
def test_eval_refuses_drawing_options_with_a_file_of_samples(breast_cancer, tmp_path, option):
    ds = data.load(config.DataConfig(dataset="breast_cancer"))
    np.savetxt(tmp_path / "dev.csv", np.column_stack([ds.X_dev, ds.y_dev]), delimiter=",",
               header=",".join(f"c{i}" for i in range(31)), comments="")  # fmt: skip
    params = breast_cancer / rows(breast_cancer)[0]["params_path"]
    result = CliRunner().invoke(
        app, ["eval", str(params), "--data", str(tmp_path / "dev.csv"), *option]
    )
    assert result.exit_code == 2
    assert f"{option[0]} does not apply: --data gives the samples" in result.stderr
    with pytest.raises(UsageError, match=f"{option[0]} does not apply: data gives the samples"):
        sweep_nn.evaluate(params, data=(ds.X_dev, ds.y_dev), **_keyword(option))


def _keyword(option: list[str]) -> dict:
    """``["--n-samples", "10"]`` as ``sweep_nn.evaluate``'s ``{"n_samples": 10}``."""
    name = option[0][2:].replace("-", "_")
    return {name: float(option[1]) if name == "noise" else int(option[1])}


# --- a CSV with text labels ----------------------------------------------------------------


def write_labelled_csv(path: Path, n: int, seed: int) -> None:
    """Three blobs in 2-D labelled by colour name, with a spare column before the features."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n, centers=[[0, 0], [4, 0], [2, 4]], random_state=seed)
    names = np.array(["red", "green", "blue"])[y]
    lines = ["colour,x,y"] + [f"{c},{a:.4f},{b:.4f}" for c, (a, b) in zip(names, X)]
    path.write_text("\n".join(lines) + "\n")


def test_csv_with_text_labels_sweeps_and_evals_on_another_csv_of_the_same_columns(tmp_path):
    write_labelled_csv(tmp_path / "train.csv", 150, seed=0)
    write_labelled_csv(tmp_path / "new.csv", 60, seed=1)
    cfg = {
        "data": {"dataset": "csv", "path": "train.csv", "target": "colour"},  # relative path
        "grid": one_grid(5),
    }
    out = sweep(tmp_path, cfg)
    row = rows(out)[0]
    assert float(row["dev_acc"]) >= 90
    params = out / row["params_path"]
    assert load_params(params)["classes"] == ["blue", "green", "red"]
    result = eval_json(params, "--data", str(tmp_path / "new.csv"))
    assert result["n_samples"] == 60
    assert result["accuracy"] >= 90


def test_eval_data_matches_csv_columns_by_name_not_position(tmp_path):
    write_labelled_csv(tmp_path / "train.csv", 150, seed=0)
    write_labelled_csv(tmp_path / "new.csv", 60, seed=1)
    out = sweep(
        tmp_path,
        {"data": {"dataset": "csv", "path": "train.csv", "target": "colour"}, "grid": one_grid(5)},
    )
    params = out / rows(out)[0]["params_path"]
    with open(tmp_path / "new.csv") as fh:
        table = list(csv.reader(fh))
    header = table[0]
    order = [header.index(c) for c in reversed(header)]  # same columns, reversed
    with open(tmp_path / "reordered.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([[r[i] for i in order] for r in table])
    straight = eval_json(params, "--data", str(tmp_path / "new.csv"))
    assert eval_json(params, "--data", str(tmp_path / "reordered.csv")) == straight

    feature = next(c for c in header if c != "colour")
    with open(tmp_path / "short.csv", "w", newline="") as fh:
        keep = [i for i, c in enumerate(header) if c != feature]
        csv.writer(fh).writerows([[r[i] for i in keep] for r in table])
    result = CliRunner().invoke(app, ["eval", str(params), "--data", str(tmp_path / "short.csv")])
    assert result.exit_code == 2
    assert f"missing feature column(s) {feature}" in result.stderr


def test_eval_data_with_a_label_unseen_in_training_is_a_clear_error(tmp_path):
    write_labelled_csv(tmp_path / "train.csv", 90, seed=0)
    out = sweep(
        tmp_path,
        {
            "data": {"dataset": "csv", "path": "train.csv", "target": "colour"},
            "grid": one_grid(2, iterations=(5,)),
        },
    )
    (tmp_path / "odd.csv").write_text("colour,x,y\npurple,1.0,2.0\nred,0.0,0.0\n")
    result = CliRunner().invoke(
        app, ["eval", str(out / rows(out)[0]["params_path"]), "--data", str(tmp_path / "odd.csv")]
    )
    assert result.exit_code == 2
    assert "label 'purple' was not among the training classes" in result.stderr


def test_every_config_file_validates_and_its_csv_files_exist():
    files = sorted(CONFIGS.glob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        cfg = config.load(path)
        if cfg.data.dataset == "csv":
            assert Path(cfg.data.path).is_file()
    _, y, names = data.read_csv(CONFIGS / "data" / "fruit_new.csv", "fruit")
    assert names == data.read_csv(CONFIGS / "data" / "fruit.csv", "fruit")[2]
    assert set(y) == {"apple", "lemon", "orange"}


# --- synthetic problems and the baseline ---------------------------------------------------


def test_gaussian_quantiles_beat_the_logistic_baseline_by_a_wide_margin(tmp_path):
    cfg = {
        "data": {"dataset": "gaussian_quantiles", "n_samples": 600},
        "grid": one_grid(8, "relu", 1.2, (2000,)),
    }
    out = sweep(tmp_path, cfg)
    baseline = json.loads((out / "baseline.json").read_text())
    assert baseline["model"] == "logistic regression"
    assert baseline["dev_acc"] < 70  # rings: a straight line is close to chance
    assert best_dev(out) >= baseline["dev_acc"] + 25


def test_run_summary_shows_the_baseline(tmp_path, write_config):
    result = CliRunner().invoke(
        app, ["run", str(write_config()), "--out", str(tmp_path / "o"), "-j", "1", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "baseline (logistic regression): train" in result.stderr


def test_minibatch_rows_carry_their_batch_size_and_differ_from_full_batch(tmp_path):
    cfg = {
        "data": {"dataset": "moons", "n_samples": 200},
        "grid": one_grid(3, iterations=(20,), batch_sizes=["full", 32]),
    }
    by_batch = {r["batch_size"]: r for r in rows(sweep(tmp_path, cfg))}
    assert set(by_batch) == {"full", "32"}
    assert by_batch["32"]["config_id"].endswith("-bs32")
    assert by_batch["32"]["train_loss"] != by_batch["full"]["train_loss"]
    # 20 passes of 5 steps each against 20 single steps: mini-batches learn faster here
    assert float(by_batch["32"]["train_loss"]) < float(by_batch["full"]["train_loss"])


def test_the_study_setting_keeps_one_sigmoid_unit_in_float64(tmp_path, tiny_config):
    out = sweep(tmp_path, tiny_config)
    p = load_params(out / rows(out)[0]["params_path"])
    assert p["train"]["output"] == "sigmoid" and p["train"]["dtype"] == "float64"
    assert p["W2"].shape == (1, 2) and p["W1"].dtype == np.float64
    assert p["scaler"] is None


def test_softmax_can_be_chosen_for_two_classes(tmp_path, tiny_config):
    cfg = {**tiny_config, "train": {"output": "softmax"}, "grid": one_grid(2, iterations=(300,))}
    row = rows(sweep(tmp_path, cfg))[0]
    p = load_params(tmp_path / "out-sweep" / row["params_path"])
    assert p["train"]["output"] == "softmax" and p["W2"].shape == (2, 2)
    assert float(row["dev_acc"]) > 80


# --- regression ----------------------------------------------------------------------------

REGRESSION = {"dataset": "regression", "n_samples": 300, "n_features": 3, "noise": 5}


@pytest.fixture(scope="module")
def two_targets(tmp_path_factory) -> Path:
    """A regression sweep with two targets: its output folder."""
    cfg = {
        "data": {**REGRESSION, "n_targets": 2, "scale": "standard"},
        "grid": one_grid(8, "relu", 0.01, (300,)),
    }
    return sweep(tmp_path_factory.mktemp("reg"), cfg)


def test_regression_reaches_a_clearly_positive_dev_r2_with_rmse_columns(tmp_path):
    out = sweep(tmp_path, {"data": REGRESSION, "grid": one_grid(8, "relu", 0.01, (300,))})
    row = rows(out)[0]
    assert float(row["dev_r2"]) > 0.8
    assert float(row["train_r2"]) > 0.8
    assert 0 < float(row["dev_rmse"]) < 30 and float(row["train_rmse"]) > 0
    assert row["train_acc"] == row["dev_acc"] == ""
    assert load_params(out / row["params_path"])["train"]["output"] == "linear"
    dev_r2 = float(row["dev_r2"])
    for threshold, expected in ((dev_r2 - 1e-6, 1), (dev_r2 + 1e-6, 0)):
        kept = CliRunner().invoke(
            app, ["filter", str(out), "--min-dev-r2", repr(threshold), "--format", "csv"]
        )
        assert len(kept.stdout.strip().splitlines()) - 1 == expected


def test_a_regression_run_names_its_baseline_s_and_its_best_r2_alike(tmp_path):
    path = tmp_path / "reg.yaml"
    cfg = {"name": "reg", "data": REGRESSION, "grid": one_grid(4, "relu", 0.01, (50,))}
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "o"), "-j", "1"])
    assert result.exit_code == 0, result.output
    baseline = re.search(r"baseline \(linear regression\): train R² (-?\d\.\d{4}), dev R² -?\d\.\d{4}$",
                         result.stderr, flags=re.MULTILINE)  # fmt: skip
    assert baseline, result.stderr
    assert re.search(r"best: .*: dev R² -?\d\.\d{4}, train -?\d\.\d{4}", result.stderr)


def test_a_continuous_csv_target_is_inferred_as_regression(tmp_path):
    rng = np.random.RandomState(0)
    x = rng.uniform(-2, 2, size=(120, 2))
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] + 0.05 * rng.randn(120)
    np.savetxt(
        tmp_path / "curve.csv",
        np.column_stack([x, y]),
        delimiter=",",
        header="a,b,y",
        comments="",
        fmt="%.5f",
    )
    out = sweep(
        tmp_path,
        {"data": {"dataset": "csv", "path": "curve.csv"}, "grid": one_grid(8, "tanh", 0.1, (500,))},
    )
    row = rows(out)[0]
    assert float(row["dev_r2"]) > 0.5 and row["dev_acc"] == ""
    assert json.loads((out / "baseline.json").read_text())["model"] == "linear regression"


def test_two_target_regression_evaluates_on_fresh_samples_of_the_same_problem(two_targets):
    row = rows(two_targets)[0]
    params = two_targets / row["params_path"]
    assert load_params(params)["W2"].shape == (2, 8)
    assert float(row["dev_r2"]) > 0.8
    result = CliRunner().invoke(app, ["eval", str(params), "--n-samples", "200"])
    assert result.exit_code == 0, result.output
    assert "R2 0." in result.stdout and "RMSE" in result.stdout
    assert "200 fresh samples" in result.stdout
    # fresh inputs, the training coefficients: as good as on the dev split, better without noise
    fresh = eval_json(params)["r2"]
    assert fresh > 0.8
    assert eval_json(params, "--noise", "0")["r2"] > fresh


def test_fresh_regression_samples_keep_the_training_coefficients():
    from sklearn.linear_model import LinearRegression

    spec = config.DataConfig(**REGRESSION, n_targets=2)
    X, y = data.build_raw(spec)
    X_new, y_new = data.draw_fresh(spec, 400, random_state=7)
    assert not np.allclose(X_new[:5], X[:5])
    a, b = LinearRegression().fit(X, y), LinearRegression().fit(X_new, y_new)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1.5)
    X_clean, y_clean = data.draw_fresh(spec, 50, random_state=7, noise=0.0)
    np.testing.assert_allclose(a.predict(X_clean), y_clean, atol=3.0)  # the same plane


def test_fresh_blobs_keep_the_training_centres():
    spec = config.DataConfig(dataset="blobs", n_samples=300, centers=4)
    X, y = data.build_raw(spec)
    X_new, y_new = data.draw_fresh(spec, 400, random_state=7)
    for k in range(4):
        np.testing.assert_allclose(X_new[y_new == k].mean(0), X[y == k].mean(0), atol=0.4)


# --- errors --------------------------------------------------------------------------------

GRID = one_grid(2, iterations=(5,))


@pytest.mark.parametrize(
    ("data_section", "files", "message"),
    [
        ({"dataset": "mnist"}, {}, "data.dataset: Input should be 'moons'"),
        ({"dataset": "csv", "path": "absent.csv"}, {}, "data file not found:"),
        (
            {"dataset": "csv", "path": "d.csv", "target": "label"},
            {"d.csv": "a,b,c\n1,2,x\n3,4,y\n"},
            "target column 'label' not found (columns: a, b, c)",
        ),
        (
            {"dataset": "csv", "path": "d.csv"},
            {"d.csv": "a,b,c\n1,u,x\n3,4,y\n"},
            "feature columns must be numeric; not numeric: b",
        ),
        (
            {"dataset": "iris", "noise": 0.1},
            {},
            "noise not used by dataset 'iris' (the keys it takes: cv, dev_size, scale, "
            "split_random_state)",
        ),
        ({"dataset": "csv"}, {}, "dataset 'csv' needs path:"),
    ],
    ids=[
        "unknown-dataset",
        "missing-file",
        "missing-target",
        "text-feature",
        "noise-for-iris",
        "csv-without-path",
    ],
)
def test_data_errors_exit_2_naming_the_problem_and_write_nothing(
    tmp_path, data_section, files, message
):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "bad", "data": data_section, "grid": GRID}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "-j", "1", "-q"])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()
