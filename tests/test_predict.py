"""sweep-nn predict: a saved network's predictions for the rows of a CSV, or why it cannot."""

from __future__ import annotations

import copy
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sweeps import CLASSIFICATION, REGRESSION, run_sweep
from typer.testing import CliRunner

from sweep_nn import data as data_mod
from sweep_nn.cli import app
from sweep_nn.nn import plain
from sweep_nn.results import evaluate
from sweep_nn.results import params as params_mod
from sweep_nn.results.predict import predict_csv

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
STUDY = Path(__file__).parent / "data" / "study_params_3_tanh_0.6_10000.pkl"


def _csv_config(root: Path) -> dict:
    shutil.copy(CONFIGS / "data" / "fruit.csv", root / "fruit.csv")
    return {
        "name": "fruit",
        "data": {"dataset": "csv", "path": "fruit.csv", "target": "fruit", "scale": "standard"},
        "grid": {"hidden_sizes": [4], "activations": ["tanh"], "learning_rates": [0.5],
                 "iterations": [300]},
    }  # fmt: skip


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """A parameters file of each kind: moons, a CSV with text labels, one and two targets."""
    root = tmp_path_factory.mktemp("nets")
    two = copy.deepcopy(REGRESSION)
    two["name"] = "two-targets"
    two["data"]["n_targets"] = 2
    folders = {
        "moons": run_sweep(root, CLASSIFICATION),
        "fruit": run_sweep(root, _csv_config(root)),
        "regression": run_sweep(root, REGRESSION),
        "two-targets": run_sweep(root, two),
    }
    return {kind: sorted((f / "params").glob("*.pkl"))[-1] for kind, f in folders.items()}


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def write(path: Path, frame: pd.DataFrame, header: bool = True) -> Path:
    frame.to_csv(path, index=False, header=header)
    return path


def by_hand(pkl: Path, X: np.ndarray) -> np.ndarray:
    """The network's outputs for X, computed here from the raw parameters file."""
    p = params_mod.load_params(pkl)
    scaler = p["scaler"]
    Xs = X if scaler is None else (X - scaler["mean"]) / scaler["scale"]
    A1 = plain.ACTIVATIONS[p["config"]["activation"]].g(p["W1"] @ Xs.T + p["b1"])
    return p["W2"] @ A1 + p["b2"]


def moons(n: int = 40, seed: int = 7):
    X, y = data_mod.make_moons(n, noise=0.25, random_state=seed)
    return pd.DataFrame(X, columns=["a", "b"]), y


# --- what is predicted -----------------------------------------------------------------------


def test_moons_predictions_are_the_networks_and_agree_with_eval(nets, tmp_path):
    features, y = moons()
    result = invoke("predict", nets["moons"], write(tmp_path / "in.csv", features))
    assert result.exit_code == 0, result.output
    out = pd.read_csv(io.StringIO(result.stdout))
    assert list(out.columns) == ["a", "b", "prediction"]
    expected = (by_hand(nets["moons"], features.to_numpy())[0] > 0).astype(int)
    assert (out["prediction"].to_numpy() == expected).all()
    labelled = write(tmp_path / "labelled.csv", features.assign(y=y))
    scored = json.loads(invoke("eval", nets["moons"], "--data", labelled, "--json").stdout)
    assert scored["accuracy"] == pytest.approx(100 * np.mean(out["prediction"] == y))


def test_a_file_without_a_header_is_read_as_data(nets, tmp_path):
    features, _ = moons(5)
    with_header = invoke("predict", nets["moons"], write(tmp_path / "h.csv", features)).stdout
    bare = invoke("predict", nets["moons"], write(tmp_path / "n.csv", features, header=False))
    assert bare.exit_code == 0, bare.output
    assert bare.stdout.splitlines()[0] == "x1,x2,prediction"
    assert [line.rsplit(",", 1)[1] for line in bare.stdout.splitlines()[1:]] == [
        line.rsplit(",", 1)[1] for line in with_header.splitlines()[1:]
    ]
    assert len(bare.stdout.splitlines()) == 6  # no row taken for a header


def test_a_csv_network_matches_columns_by_name_and_passes_others_through(nets, tmp_path):
    fruit = pd.read_csv(CONFIGS / "data" / "fruit_new.csv")
    out = predict_csv(evaluate.load_model(nets["fruit"]), write(tmp_path / "f.csv", fruit))
    assert list(out.columns) == [*fruit.columns, "prediction"]
    assert set(out["prediction"]) <= {"apple", "orange", "lemon"}
    shuffled = fruit[list(reversed(fruit.columns))].assign(note="x")
    again = predict_csv(evaluate.load_model(nets["fruit"]), write(tmp_path / "s.csv", shuffled))
    assert list(again["prediction"]) == list(out["prediction"])
    assert (again["note"] == "x").all()


def test_the_labels_are_the_networks_best_guesses(nets):
    model = evaluate.load_model(nets["fruit"])
    X, y, _ = data_mod.read_csv(CONFIGS / "data" / "fruit_new.csv", "fruit", model.features)
    out = predict_csv(model, CONFIGS / "data" / "fruit_new.csv")
    scores = by_hand(nets["fruit"], X)
    assert list(out["prediction"]) == [model.classes[i] for i in scores.argmax(axis=0)]


@pytest.mark.parametrize(("kind", "columns"), [("regression", ["prediction"]),
                                               ("two-targets", ["prediction_1", "prediction_2"])])  # fmt: skip
def test_a_regression_predicts_a_value_per_target(nets, tmp_path, kind, columns):
    X = np.random.default_rng(0).normal(size=(6, 3))
    path = write(tmp_path / "r.csv", pd.DataFrame(X, columns=["f1", "f2", "f3"]))
    out = predict_csv(evaluate.load_model(nets[kind]), path)
    assert list(out.columns) == ["f1", "f2", "f3", *columns]
    np.testing.assert_allclose(out[columns].to_numpy(), by_hand(nets[kind], X).T)


def test_eval_data_of_several_targets_takes_them_from_the_last_columns(nets, tmp_path):
    model = evaluate.load_model(nets["two-targets"])
    X, y, _ = evaluate.fresh_data(model, 40, 7, None)  # y: (40, 2)
    frame = pd.DataFrame(X, columns=["f1", "f2", "f3"]).assign(t1=y[:, 0], t2=y[:, 1])
    labelled = write(tmp_path / "t.csv", frame)
    result = invoke("eval", nets["two-targets"], "--data", labelled, "--json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout)
    fresh = invoke("eval", nets["two-targets"], "--n-samples", 40, "--seed", 7, "--json")
    assert scored == json.loads(fresh.stdout)  # the same samples, drawn or read
    features = write(tmp_path / "f.csv", frame[["f1", "f2", "f3"]])
    predicted = predict_csv(model, features)[["prediction_1", "prediction_2"]].to_numpy()
    assert scored["r2"] == pytest.approx(plain.r2(y.T, predicted.T))


def test_eval_data_with_a_target_too_few_says_how_many_columns_it_takes(nets, tmp_path):
    X = np.random.default_rng(0).normal(size=(6, 4))
    path = write(tmp_path / "r.csv", pd.DataFrame(X, columns=["f1", "f2", "f3", "t1"]))
    result = invoke("eval", nets["two-targets"], "--data", path)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: {path}: the network takes 3 input features, then 2 targets: 5 columns in "
        "training order; the file has 4\n"
    )


def test_one_row_is_enough(nets, tmp_path):
    result = invoke("predict", nets["moons"], write(tmp_path / "one.csv", moons(1)[0]))
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2


def test_a_prediction_column_in_the_input_is_kept(nets, tmp_path):
    fruit = pd.read_csv(CONFIGS / "data" / "fruit_new.csv").head(3).assign(prediction="mine")
    out = predict_csv(evaluate.load_model(nets["fruit"]), write(tmp_path / "p.csv", fruit))
    assert (out["prediction"] == "mine").all()
    assert set(out["prediction_2"]) <= {"apple", "orange", "lemon"}


def test_the_studys_weights_only_files_need_their_activation(tmp_path):
    path = write(tmp_path / "in.csv", moons(4)[0])
    refused = invoke("predict", STUDY, path)
    assert refused.exit_code == 2 and "--activation" in refused.stderr
    result = invoke("predict", STUDY, path, "--activation", "Tanh")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "a,b,prediction"


def test_out_writes_a_file_and_makes_its_folder(nets, tmp_path):
    features = moons(4)[0]
    target = tmp_path / "new" / "dir" / "p.csv"
    result = invoke("predict", nets["moons"], write(tmp_path / "in.csv", features), "-o", target)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"4 predictions: {target}" in result.stderr
    assert pd.read_csv(target).shape == (4, 3)


# --- what is refused -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("a,b,c\n1,2,3\n", "the network takes 2 input features; the file has 3 columns (a, b, c)"),
        ("a\n1\n", "the network takes 2 input features; the file has 1 column (a)"),
        ("a,b\n1,x\n2,3\n", "column 'b' must hold finite numbers, not 'x' (line(s) 2)"),
        ("a,b\n1,2\n3,4\n5,six\n", "column 'b' must hold finite numbers, not 'six' (line(s) 4)"),
        ("a,b\n1,inf\n", "column 'b' must hold finite numbers, not 'inf'"),
        ("a,b\n1,2\n,3\n", "column 'a' is empty on line(s) 3"),
        ("a,b\n", "no rows of data, only a header"),
    ],
)
def test_bad_input_is_refused_with_exit_2_naming_what_is_wrong(nets, tmp_path, text, said):
    path = tmp_path / "in.csv"
    path.write_text(text)
    result = invoke("predict", nets["moons"], path, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2, result.output
    assert said in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.csv").exists()


def test_a_csv_network_names_the_columns_it_misses(nets, tmp_path):
    fruit = pd.read_csv(CONFIGS / "data" / "fruit_new.csv").drop(columns=["hue_deg"])
    result = invoke("predict", nets["fruit"], write(tmp_path / "f.csv", fruit))
    assert result.exit_code == 2, result.output
    assert "missing feature column(s) hue_deg" in result.stderr


@pytest.mark.parametrize("what", ["missing", "results"])
def test_a_parameters_file_that_is_not_one_is_refused(nets, tmp_path, what):
    given = tmp_path / "none.pkl"
    if what == "results":
        given = nets["moons"].parent.parent / "results.csv"
    result = invoke("predict", given, write(tmp_path / "in.csv", moons(2)[0]))
    assert result.exit_code == 2, result.output
    assert ("not found" if what == "missing" else "not a parameters file") in result.stderr


def test_an_input_file_that_is_missing_is_named(nets, tmp_path):
    result = invoke("predict", nets["moons"], tmp_path / "nowhere.csv")
    assert result.exit_code == 2, result.output
    assert "data file not found" in result.stderr
