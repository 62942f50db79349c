"""The command line end to end: run, filter and eval through typer's CliRunner."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import shlex
import subprocess
import sys

import numpy as np
import pytest
import yaml
from sklearn.datasets import make_moons

from sweep_nn.cli import app
from sweep_nn.config import load
from sweep_nn.results import params as params_mod
from sweep_nn.results import store

REQUIRED_COLUMNS = [
    "config_id", "hidden_size", "activation", "learning_rate", "iterations", "train_acc",
    "dev_acc", "gap", "train_loss", "dev_loss", "fit_seconds", "status", "params_path",
]  # fmt: skip
WIDE = {"COLUMNS": "200"}  # room for the whole table
SWEEP = {
    "name": "tiny-cli",
    "data": {"dataset": "moons", "n_samples": 200, "noise": 0.25},
    "grid": {
        "hidden_sizes": [1, 2],
        "activations": ["tanh"],
        "learning_rates": [0.5],
        "iterations": [10, 50],
    },
}


def plain_accuracy(p: dict, activation: str, X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy % of a sigmoid-output network, computed directly (samples-first X)."""
    g = {
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0.0),
        "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    }[activation]
    a2 = 1.0 / (1.0 + np.exp(-(p["W2"] @ g(p["W1"] @ X.T + p["b1"]) + p["b2"])))
    return 100.0 * float(np.mean((a2[0] > 0.5) == y))


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """One tiny sweep run with default options from its own folder: the folder."""
    from typer.testing import CliRunner

    root = tmp_path_factory.mktemp("swept")
    (root / "tiny.yaml").write_text(yaml.safe_dump(SWEEP))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        result = CliRunner().invoke(app, ["run", "tiny.yaml", "--n-jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "4 configurations: 4 ok" in result.stderr
    return root


# --- run ---------------------------------------------------------------------------------------


def test_run_writes_results_with_the_required_columns(swept):
    results = swept / "output" / "tiny-cli" / "results.csv"
    with open(results, newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
        rows = list(reader)
    assert set(REQUIRED_COLUMNS) <= set(header)
    assert header[0] == "config_id"
    assert sorted(r["config_id"] for r in rows) == [
        "h1-tanh-lr0.5-it10",
        "h1-tanh-lr0.5-it50",
        "h2-tanh-lr0.5-it10",
        "h2-tanh-lr0.5-it50",
    ]
    for r in rows:
        assert r["status"] == "ok"
        assert 0 <= float(r["train_acc"]) <= 100 and 0 <= float(r["dev_acc"]) <= 100
        assert float(r["gap"]) == pytest.approx(float(r["train_acc"]) - float(r["dev_acc"]))
        assert float(r["fit_seconds"]) > 0
        assert float(r["train_loss"]) > 0 and float(r["dev_loss"]) > 0


def test_run_writes_a_self_describing_parameters_file_per_row(swept):
    folder = swept / "output" / "tiny-cli"
    rows = store.read_rows(folder / "results.csv")
    assert sorted(p.name for p in (folder / "params").iterdir()) == sorted(
        f"{r['config_id']}.pkl" for r in rows
    )
    for r in rows:
        assert r["params_path"] == f"params/{r['config_id']}.pkl"  # relative to results.csv
        p = params_mod.load_params(folder / r["params_path"])
        assert p["W1"].shape == (r["hidden_size"], 2)
        assert p["W2"].shape == (1, r["hidden_size"])
        assert p["config"]["activation"] == "tanh"
        assert p["config"]["hidden_size"] == r["hidden_size"]
        assert p["config"]["iterations"] == r["iterations"]
        assert p["config"]["learning_rate"] == 0.5
        assert p["data"]["n_samples"] == 200
        assert p["data"]["noise"] == 0.25
        assert p["format"] == "sweep-nn/params"
        assert isinstance(p["version"], int)


def test_run_keeps_a_copy_of_the_resolved_config(swept):
    copy = load(swept / "output" / "tiny-cli" / "config.yaml")
    original = load(swept / "tiny.yaml")
    assert copy == original
    text = (swept / "output" / "tiny-cli" / "config.yaml").read_text()
    assert "split_random_state: 42" in text  # defaults are written out


def test_run_prints_paths_as_they_are_not_as_markup(runner, write_config, tmp_path):
    out = tmp_path / "[bold]o"  # rich would take this for a style and drop it
    result = runner.invoke(app, ["run", str(write_config()), "--out", str(out), "-j", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert f"results: {out / 'results.csv'}" in result.stderr


# --- filter ------------------------------------------------------------------------------------


CRAFTED = [  # config_id, train_acc, dev_acc, fit_seconds
    ("at-min-acc-and-max-gap", 95.0, 94.0, 2.0),
    ("below-min-acc", 94.99, 94.5, 0.5),
    ("gap-too-negative", 97.0, 98.5, 1.0),
    ("gap-at-minus-one", 96.0, 97.0, 1.5),
    ("too-slow", 99.0, 98.5, 2.01),
    ("fastest-good", 98.0, 97.5, 0.1),
]


def write_results(path, rows=CRAFTED):
    """A results.csv written the way a sweep writes it, with chosen figures."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with store.ResultsWriter(path) as writer:
        for i, (cid, train, dev, seconds) in enumerate(rows):
            writer.append(
                {
                    "config_id": cid, "key": f"k{i}", "hidden_size": i + 1, "activation": "tanh",
                    "learning_rate": 0.5, "iterations": 100, "batch_size": "full", "seed": 0,
                    "dtype": "float64", "train_acc": train, "dev_acc": dev, "gap": train - dev,
                    "train_loss": 0.3, "dev_loss": 0.4, "fit_seconds": seconds, "status": "ok",
                    "params_path": f"params/{cid}.pkl",
                }
            )  # fmt: skip
    return path


@pytest.fixture
def crafted(tmp_path):
    return write_results(tmp_path / "results.csv")


def filter_ids(runner, *args) -> list[str]:
    result = runner.invoke(app, ["filter", *map(str, args), "--format", "csv"])
    assert result.exit_code == 0, result.output
    return [r["config_id"] for r in csv.DictReader(io.StringIO(result.stdout))]


def test_filter_min_acc_keeps_train_accuracy_at_or_above(runner, crafted):
    ids = filter_ids(runner, crafted, "--min-acc", 95)
    assert "at-min-acc-and-max-gap" in ids
    assert "below-min-acc" not in ids
    assert len(ids) == 5


def test_filter_max_gap_bounds_the_absolute_gap(runner, crafted):
    ids = filter_ids(runner, crafted, "--max-gap", 1)
    assert "gap-too-negative" not in ids  # dev 1.5 points above train is still a gap
    assert {"at-min-acc-and-max-gap", "gap-at-minus-one"} <= set(ids)
    assert len(ids) == 5


def test_filter_max_time_bounds_fit_seconds(runner, crafted):
    ids = filter_ids(runner, crafted, "--max-time", 2)
    assert "too-slow" not in ids
    assert "at-min-acc-and-max-gap" in ids
    assert len(ids) == 5


def test_filter_combines_conditions_and_sorts_by_fit_seconds(runner, crafted):
    ids = filter_ids(runner, crafted, "--min-acc", 95, "--max-gap", 1, "--max-time", 2)
    assert ids == ["fastest-good", "gap-at-minus-one", "at-min-acc-and-max-gap"]


def test_filter_sorts_by_a_column_ascending_or_descending(runner, crafted):
    by_train = [r[0] for r in sorted(CRAFTED, key=lambda r: r[1])]
    assert filter_ids(runner, crafted, "--sort", "train_acc") == by_train
    assert filter_ids(runner, crafted, "--sort", "train_acc", "--desc") == by_train[::-1]


def test_filter_top_keeps_the_first_rows(runner, crafted):
    assert filter_ids(runner, crafted, "--sort", "train_acc", "--desc", "--top", 2) == [
        "too-slow",
        "fastest-good",
    ]


def test_filter_csv_uses_the_results_column_names(runner, crafted):
    result = runner.invoke(app, ["filter", str(crafted), "--format", "csv"])
    assert result.exit_code == 0
    header = result.stdout.splitlines()[0]
    assert header == crafted.read_text().splitlines()[0]
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    first = next(r for r in rows if r["config_id"] == "at-min-acc-and-max-gap")
    assert float(first["train_acc"]) == 95.0 and float(first["fit_seconds"]) == 2.0


def test_filter_json_lists_records(runner, crafted):
    result = runner.invoke(app, ["filter", str(crafted), "--min-acc", "95", "--format", "json"])
    assert result.exit_code == 0
    records = json.loads(result.stdout)
    assert len(records) == 5
    assert {"config_id", "train_acc", "dev_acc", "gap", "fit_seconds"} <= set(records[0])
    assert records[0]["config_id"] == "fastest-good"


def test_filter_table_names_the_kept_rows(runner, crafted):
    result = runner.invoke(app, ["filter", str(crafted), "--min-acc", "98"], env=WIDE)
    assert result.exit_code == 0
    assert "2 of 6 configurations" in result.stdout
    assert "fastest-good" in result.stdout and "too-slow" in result.stdout
    assert "gap-at-minus-one" not in result.stdout


def test_filter_table_columns_are_the_sweeps_whichever_rows_pass(runner, crafted):
    rows = store.read_rows(crafted)
    rows[1]["batch_size"] = 64  # below-min-acc: the sweep varies its batch size
    crafted.write_text(crafted.read_text().splitlines()[0] + "\n")
    with store.ResultsWriter(crafted) as writer:
        for row in rows:
            writer.append(row)
    for bound in ("98", "99.5"):  # two rows pass, all of batch full; then none
        result = runner.invoke(app, ["filter", str(crafted), "--min-acc", bound], env=WIDE)
        assert result.exit_code == 0, result.output
        (header,) = [line for line in result.stdout.splitlines() if "┃" in line]
        assert [c.strip() for c in header.strip("┃").split("┃")] == [
            "config_id", "batch_size", "train_acc", "dev_acc", "gap", "fit_seconds"
        ]  # fmt: skip


def test_filter_reads_a_results_folder(runner, crafted):
    assert len(filter_ids(runner, crafted.parent)) == len(CRAFTED)


def test_filter_without_results_reads_the_newest_under_output(runner, tmp_path, monkeypatch):
    older = write_results(tmp_path / "output" / "z-older" / "results.csv", CRAFTED[:2])
    newer = write_results(tmp_path / "output" / "a-newer" / "results.csv", CRAFTED[2:])
    os.utime(older, (1_000_000_000, 1_000_000_000))
    monkeypatch.chdir(tmp_path)

    result = runner.invoke(app, ["filter", "--format", "csv"])

    assert result.exit_code == 0, result.output
    assert "output/a-newer/results.csv" in result.stderr
    ids = {r["config_id"] for r in csv.DictReader(io.StringIO(result.stdout))}
    assert ids == {r[0] for r in CRAFTED[2:]}
    assert newer.exists()


def test_filter_without_results_and_no_sweep_says_so(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["filter"])
    assert result.exit_code == 2
    assert "no results.csv found under output" in result.stderr
    assert "Traceback" not in result.output


def test_filter_sort_by_unknown_column_is_refused(runner, crafted):
    result = runner.invoke(app, ["filter", str(crafted), "--sort", "accuracy"])
    assert result.exit_code == 2
    assert "--sort: no column 'accuracy'" in result.stderr


def test_filter_on_a_real_sweep(runner, swept):
    ids = filter_ids(runner, swept / "output" / "tiny-cli" / "results.csv", "--top", 3)
    assert len(ids) == 3
    assert all(cid.startswith("h") for cid in ids)


# --- eval --------------------------------------------------------------------------------------


def eval_json(runner, *args) -> dict:
    result = runner.invoke(app, ["eval", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_eval_of_a_sweep_file_scores_fresh_data(runner, swept):
    path = swept / "output" / "tiny-cli" / "params" / "h2-tanh-lr0.5-it50.pkl"
    report = eval_json(runner, path, "--n-samples", 300, "--seed", 5)

    assert set(report) == {"accuracy", "loss", "n_samples"}
    assert report["n_samples"] == 300
    X, y = make_moons(n_samples=300, noise=0.25, random_state=5)
    with open(path, "rb") as fh:  # written by this test run: safe to load plainly
        p = pickle.load(fh)
    assert report["accuracy"] == pytest.approx(plain_accuracy(p, "tanh", X, y))
    assert 0 < report["loss"] < 1


def test_eval_default_seed_differs_from_training(runner, swept):
    path = swept / "output" / "tiny-cli" / "params" / "h2-tanh-lr0.5-it50.pkl"
    default = eval_json(runner, path)
    assert default["n_samples"] == 500
    assert default == eval_json(runner, path, "--seed", 1)  # training's seed (0) + 1
    assert default != eval_json(runner, path, "--seed", 0)


def test_eval_prints_a_readable_line(runner, swept):
    path = swept / "output" / "tiny-cli" / "params" / "h1-tanh-lr0.5-it10.pkl"
    result = runner.invoke(app, ["eval", str(path), "--n-samples", "100", "--seed", "3"])
    assert result.exit_code == 0
    assert "accuracy" in result.stdout and "%" in result.stdout
    assert "100 samples" in result.stdout


def test_eval_of_the_study_file_matches_a_direct_computation(runner, data_dir):
    path = data_dir / "study_params_3_tanh_0.6_10000.pkl"
    assert b"numpy.core" in path.read_bytes()  # written with NumPy 1.x

    report = eval_json(runner, path, "--activation", "tanh", "--n-samples", 500, "--seed", 0)

    X, y = make_moons(n_samples=500, noise=0.25, random_state=0)
    with open(path, "rb") as fh:  # the study's file, shipped with the tests: trusted
        p = pickle.load(fh)
    assert report["accuracy"] == pytest.approx(plain_accuracy(p, "tanh", X, y))
    assert round(report["accuracy"], 2) == 93.6
    assert report["n_samples"] == 500


def test_eval_of_a_weights_only_file_needs_the_activation(runner, data_dir):
    result = runner.invoke(app, ["eval", str(data_dir / "study_params_3_tanh_0.6_10000.pkl")])
    assert result.exit_code == 2
    assert "--activation" in result.stderr
    assert "Traceback" not in result.output


def test_eval_of_a_missing_file_exits_2(runner, tmp_path):
    result = runner.invoke(app, ["eval", str(tmp_path / "none.pkl")])
    assert result.exit_code == 2
    assert "parameters file not found" in result.stderr


class _RunsCommand:
    """Unpickles as a call to os.system: what a hostile parameters file can do."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_eval_refuses_a_pickle_that_would_run_a_command(runner, tmp_path):
    marker = tmp_path / "command-ran"
    hostile = tmp_path / "hostile.pkl"
    hostile.write_bytes(pickle.dumps({"W1": _RunsCommand(f"touch {shlex.quote(str(marker))}")}))

    result = runner.invoke(app, ["eval", str(hostile), "--activation", "tanh"])

    assert result.exit_code == 2
    assert "refused" in result.stderr
    assert "Traceback" not in result.output
    assert not marker.exists()

    # the file is live: an ordinary pickle.load (in another process) does run the command
    subprocess.run(
        [sys.executable, "-c", "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))", hostile],
        check=True,
    )
    assert marker.exists()
