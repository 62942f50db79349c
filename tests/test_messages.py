"""Files mixed up or not filled yet get a message that says what they are and what to do."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import yaml
from sweeps import CLASSIFICATION, run_each_task, run_sweep
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.errors import DataError, ParamsError
from sweep_nn.results import params as params_mod
from sweep_nn.results.schema import COLUMNS


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    return run_each_task(tmp_path_factory.mktemp("sweeps"))


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def a_params_file(folder):
    return sorted((folder / "params").glob("*.pkl"))[0]


# --- eval given something else than a parameters file ----------------------------------------


def test_eval_of_a_results_file_says_so_and_points_to_params_and_data(sweeps):
    results = sweeps["classification"] / "results.csv"
    result = invoke("eval", results)
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert f"{results} is a sweep's results file, not a parameters file" in message
    assert str(a_params_file(sweeps["classification"])) in message  # an example to copy
    assert "--data" in message
    assert "could run code" not in message and "Traceback" not in result.output


@pytest.mark.parametrize("name", ["results.csv", "copy.txt", "no-suffix"])
def test_a_results_file_is_recognised_by_its_header_under_any_name(tmp_path, name):
    path = tmp_path / name
    path.write_text(",".join(COLUMNS) + "\n")  # a header only: the params folder is empty
    with pytest.raises(ParamsError, match="results file, not a parameters file") as caught:
        params_mod.load_params(path)
    assert "params/<config_id>.pkl" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("samples.csv", "x1,x2,label\n0.5,0.2,1\n", "is a CSV file, not a parameters file"),
        ("samples.dat", "x1,x2,label\n0.5,0.2,1\n", "is a CSV file, not a parameters file"),
        ("grid.yaml", "name: quick\ngrid: {}\n", "is a text file, not a parameters file"),
        ("grid.yml", "# a sweep, small, quick\nname: q\n", "is a text file, not a parameters file"),
    ],
)
def test_eval_of_another_text_file_says_what_it_is(tmp_path, name, text, said):
    path = tmp_path / name
    path.write_text(text)
    result = invoke("eval", path)
    assert result.exit_code == 2, result.output
    assert said in result.stderr
    assert "invalid load key" not in result.stderr


def test_damaged_pickles_are_still_called_unreadable(tmp_path):
    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps({"W1": np.zeros((2, 2))})[:-5])
    with pytest.raises(ParamsError, match="is not a readable parameters file") as caught:
        params_mod.load_params(path)
    assert "damaged, cut short" in str(caught.value) and "Error" not in str(caught.value)


@pytest.mark.parametrize("data", [b"garbage\n", b"\x80\x05garbage", b"(dp0\nS'W1'\n", b"\x00" * 64])
def test_bytes_that_are_no_pickle_are_said_so_without_the_unpickler_s_words(tmp_path, data):
    path = tmp_path / "net.pkl"
    path.write_bytes(data)
    result = invoke("eval", path)
    assert result.exit_code == 2, result.output
    assert f"{path} is not a readable parameters file: it is damaged" in result.stderr
    assert "Error" not in result.stderr and "literal" not in result.stderr


def test_a_real_parameters_file_named_csv_still_loads(sweeps, tmp_path):
    path = tmp_path / "net.csv"
    path.write_bytes(a_params_file(sweeps["classification"]).read_bytes())
    assert params_mod.load_params(path)["W1"].ndim == 2


# --- results with no rows yet ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["filter", "plot", "report"])
def test_a_results_file_with_only_a_header_has_no_rows_yet(tmp_path, command):
    folder = tmp_path / "started"
    folder.mkdir()
    (folder / "results.csv").write_text(",".join(COLUMNS) + "\n")
    result = invoke(command, folder)
    assert result.exit_code == 2, result.output
    assert "has no rows yet" in result.stderr
    assert "Traceback" not in result.output
    assert not (folder / "plots").exists() and not (folder / "report.html").exists()


@pytest.mark.parametrize("command", ["filter", "plot", "report"])
def test_a_grid_with_no_rows_yet_says_how_many_earlier_rows_it_holds(sweeps, tmp_path, command):
    folder = run_sweep(tmp_path, CLASSIFICATION)
    copy = folder / "config.yaml"
    config = yaml.safe_load(copy.read_text())
    config["grid"]["hidden_sizes"] = [7]  # a new grid whose first row is not written yet
    copy.write_text(yaml.safe_dump(config))
    result = invoke(command, folder, "--out", tmp_path / "x") if command != "filter" else None
    result = result or invoke(command, folder)
    assert result.exit_code == 2, result.output
    assert "no rows of its current grid yet, only 2 of earlier grids" in result.stderr
    assert "--all-rows" in result.stderr


def test_all_rows_shows_the_earlier_rows_of_a_grid_not_started(sweeps, tmp_path):
    folder = run_sweep(tmp_path, CLASSIFICATION)
    copy = folder / "config.yaml"
    config = yaml.safe_load(copy.read_text())
    config["grid"]["hidden_sizes"] = [7]
    copy.write_text(yaml.safe_dump(config))
    result = invoke("filter", folder, "--all-rows", "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 2


# --- eval --data with one row, or none -------------------------------------------------------


def _rows(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("label", [0, 1])
def test_eval_scores_a_classifier_on_one_row(sweeps, tmp_path, label):
    data = _rows(tmp_path / "one.csv", ["x1", "x2", "y"], [[0.5, 0.25, label]])
    result = invoke("eval", a_params_file(sweeps["classification"]), "--data", data, "--json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout)
    assert scored["n_samples"] == 1 and scored["accuracy"] in (0.0, 100.0)
    two = _rows(tmp_path / "two.csv", ["x1", "x2", "y"], [[0.5, 0.25, label]] * 2)
    twice = json.loads(invoke("eval", a_params_file(sweeps["classification"]), "--data", two,
                              "--json").stdout)  # fmt: skip
    assert twice["accuracy"] == scored["accuracy"] and twice["loss"] == pytest.approx(
        scored["loss"]
    )


def test_eval_of_a_regression_on_one_row_has_an_rmse_and_no_r2(sweeps, tmp_path):
    data = _rows(tmp_path / "one.csv", ["a", "b", "c", "t"], [[0.1, -0.2, 0.3, 12.5]])
    params = a_params_file(sweeps["regression"])
    result = invoke("eval", params, "--data", data, "--json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout)
    assert scored["r2"] is None and scored["rmse"] > 0 and scored["n_samples"] == 1
    text = invoke("eval", params, "--data", data)
    assert "R2 undefined (one sample)" in text.stdout and "on 1 sample " in text.stdout


def test_eval_of_a_data_file_with_only_a_header_says_so(sweeps, tmp_path):
    data = _rows(tmp_path / "none.csv", ["x1", "x2", "y"], [])
    result = invoke("eval", a_params_file(sweeps["classification"]), "--data", data)
    assert result.exit_code == 2, result.output
    assert "no rows of data, only a header" in result.stderr
    assert "must be numeric" not in result.stderr


def test_training_still_needs_two_rows(tmp_path):
    from sweep_nn.data import read_csv

    one = _rows(tmp_path / "one.csv", ["x1", "y"], [[1.0, 0]])
    with pytest.raises(DataError, match="need at least 2 rows of data; it has 1"):
        read_csv(one, None)
    assert read_csv(one, None, min_rows=1)[0].shape == (1, 1)


def test_the_best_line_never_rounds_a_short_training_time_to_zero():
    from sweep_nn.cli import show

    best = {"config_id": "h8-relu-lr0.5-it100", "train_acc": 98.5, "dev_acc": 97.9, "gap": 0.6,
            "fit_seconds": 0.0021, "n_seeds": 1}  # fmt: skip
    assert show.best_line(best, "classification").endswith(", 0.0021 s to train")
    assert show.best_line({**best, "fit_seconds": 12.345}, "classification").endswith(
        ", 12.35 s to train")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("x0,x1\n1,2\n3,4,5\n", "line 3 has 3 fields, the lines before it 2"),
        ("x0,x1\n1,2\n3,4\n5,6,7,8\n", "line 4 has 4 fields, the lines before it 2"),
        ('"x0,x1\n1,2\n', "a quote opened near line 1 is never closed"),
        ('x0,x1\n1,2\n3,"4\n5,6\n', "a quote opened near line 3 is never closed"),
    ],
)
@pytest.mark.parametrize("command", ["predict", "eval --data"])
def test_a_malformed_csv_is_said_in_its_own_lines_not_the_parser_s(sweeps, tmp_path, text, said,
                                                                   command):  # fmt: skip
    path = tmp_path / "rows.csv"
    path.write_text(text)
    params = a_params_file(sweeps["classification"])
    args = [params, path] if command == "predict" else [params, "--data", path]
    result = invoke(command.split()[0], *args)
    assert result.exit_code == 2, result.output
    assert f"cannot read {path} as CSV: {said}" in result.stderr
    assert "tokenizing" not in result.stderr and "C error" not in result.stderr
