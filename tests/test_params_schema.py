"""Parameters files that pass the allowlist but not the schema are refused, naming the key.

Each case starts from a file a real sweep wrote and changes one thing. The library raises
ParamsError naming the key; ``eval`` prints one line and exits 2, never a traceback.
A CSV is reread only when its digest matches the one the file recorded.
"""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import sweep_nn
from sweep_nn.cli import app
from sweep_nn.errors import DataError, ParamsError
from sweep_nn.plots.sweep import loss_curve
from sweep_nn.results import params as params_mod

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def sweep(folder: Path, data: dict, name: str = "s") -> Path:
    """Run a one-configuration sweep on ``data`` into ``folder``; its parameters file."""
    cfg = {
        "name": name,
        "data": data,
        "grid": {"hidden_sizes": [3], "activations": ["tanh"], "learning_rates": [0.5],
                 "iterations": [30]},
        "train": {"loss_points": 10},
    }  # fmt: skip
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(folder / name), "-j", "1"])
    assert result.exit_code == 0, result.output
    return next((folder / name / "params").glob("*.pkl"))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict:
    """The payload a sweep on moons wrote (after the loader, as eval sees it)."""
    path = sweep(tmp_path_factory.mktemp("moons"), {"dataset": "moons", "n_samples": 200})
    return params_mod.load_params(path)


@pytest.fixture
def payload(written) -> dict:
    return copy.deepcopy(written)


def refused(tmp_path: Path, payload: dict, message: str) -> str:
    """Pickle ``payload``; both the library and ``eval`` must refuse it with ``message``."""
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(ParamsError) as caught:
        sweep_nn.evaluate(path, n_samples=20)
    assert message in str(caught.value), caught.value
    result = CliRunner().invoke(app, ["eval", str(path), "--n-samples", "20"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    return result.stderr


def test_the_file_a_sweep_writes_passes_and_evaluates(tmp_path, payload):
    assert len(payload["loss_curve"]["loss"]) == POINTS
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(payload))
    assert 0 <= sweep_nn.evaluate(path, n_samples=20)["accuracy"] <= 100


def change(payload: dict, where: str, value) -> dict:
    """``payload`` with the key at dotted ``where`` set to ``value`` (``DELETE`` removes it)."""
    *parents, last = where.split(".")
    target = payload
    for part in parents:
        target = target[part]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return payload


DELETE = object()
POINTS = 11  # the loss curve of 30 iterations sampled every 3 (loss_points: 10)
SHARED = [[[0.5] * 200] * 200] * 200  # 8 million losses in a few kilobytes of pickle
CASES = {
    # the cases
    "classes-nested": ("classes", [[0], [1]], "classes[0] must be a number or a text label"),
    "curve-a-list": ("loss_curve", [0.5, 0.4], "loss_curve must be a dict"),
    "curve-lengths": ("loss_curve.loss", [0.5], "loss_curve.iterations holds 11 points but"),
    "curve-strings": ("loss_curve.loss", ["0.5"] * POINTS, "loss_curve.loss[0] must be a finite"),
    "curve-shared": ("loss_curve.loss", SHARED, "loss_curve.loss holds 200 points; at most 31"),
    "n-samples": ("data.n_samples", 300_000_000, "data.n_samples: Input should be less than"),
    # the arrays and the network they make
    "W1-float16": ("W1", np.zeros((3, 2), np.float16), "W1 must be float32 or float64"),
    "W2-rows": ("W2", np.zeros((2, 3)), "b2 has shape (1, 1), but W2 (2, 3) needs (2, 1)"),
    "b1-dtype": ("b1", np.zeros((3, 1), np.float32), "b1 is float32 but W1 is float64"),
    "W1-object": ("W1", np.array([[1.0, None]] * 3), "W1 must be a 2-D float array"),
    "hidden-size": ("config.hidden_size", 4, "config.hidden_size must be 3 (W1's rows)"),
    "n-features": ("n_features", 5, "n_features must be 2 (W1's columns)"),
    "features": ("features", ["a", "b", "c"], "features must be None or a list of 2"),
    # types that would break a comparison or a lookup
    "task-array": ("task", np.array(["classification"]), "task must be classification or"),
    "format": ("format", np.array([1, 2]), "format must be 'sweep-nn/params'"),
    "version-bool": ("version", True, "version True is not supported"),
    "version-missing": ("version", DELETE, "version None is not supported"),
    "activation": ("config.activation", np.str_("gelu"), "config.activation 'gelu' is not"),
    # settings out of a sweep file's range
    "seed": ("config.seed", 2**32, "config.seed must be an integer from 0 to 4294967295"),
    "learning-rate": ("config.learning_rate", float("nan"), "config.learning_rate must be"),
    "iterations-huge": ("config.iterations", 10**400, "config.iterations must be a positive"),
    "batch-size": ("config.batch_size", 0, "config.batch_size must be 'full' or a positive"),
    "init": ("config.init", "glorot", "config.init must be one of normal, xavier, he, found str"),
    "init-scale": ("config.init_scale", -0.5, "config.init_scale must be None or a positive"),
    "init-scale-missing": ("config.init_scale", None, "config.init_scale must be a positive number "
                           "for init 'normal'"),
    "loss-points": ("train.loss_points", 10**9, "train.loss_points: Input should be less"),
    "train-dtype": ("train.dtype", "float32", "train.dtype 'float32' does not match"),
    "train-unknown": ("train.momentum", 0.9, "train.momentum: unknown key"),
    "data-unknown": ("data.n_features", 3, "n_features not used by dataset 'moons'"),
    "data-seed": ("data.random_state", -1, "data.random_state: Input should be greater"),
    "data-not-dict": ("data", [("dataset", "moons")], "data must be a dict, found list"),
    "data-csv-nul": ("data", {"dataset": "csv", "path": "a\x00b"}, "data.path: String should"),
    # labels, scaling, curve values
    "classes-twice": ("classes", [1, 1], "classes lists a label twice"),
    "classes-three": ("classes", [0, 1, 2], "classes holds 3 labels, but the sigmoid output"),
    "classes-inf": ("classes", [0, float("inf")], "classes[1] must be a number or a text"),
    "scaler-zero": ("scaler", {"mean": np.zeros(2), "scale": np.zeros(2)}, "scaler.scale must"),
    "scaler-extra": ("scaler", {"mean": np.zeros(2), "scale": np.ones(2), "x": 1}, "scaler: unk"),
    "curve-falls": (
        "loss_curve.iterations",
        [0, 3] * 5 + [6],
        "loss_curve.iterations[2] must be an",
    ),
    "curve-beyond": (
        "loss_curve.iterations",
        list(range(25, 25 + POINTS)),
        "iterations[6] must be an iteration after 30 and at most 30",
    ),
    "curve-negative": ("loss_curve.loss", [-1.0] * POINTS, "loss_curve.loss[0] must be a finite"),
    "curve-extra": ("loss_curve.seconds", [], "loss_curve: unknown key 'seconds'"),
    "unknown-key": ("extra", 1, "unknown key 'extra'"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_payload_off_its_schema_is_refused_naming_the_key(tmp_path, payload, case):
    where, value, message = CASES[case]
    refused(tmp_path, change(payload, where, value), message)


def test_a_sweep_file_without_its_format_is_not_taken_for_weights_only(tmp_path, payload):
    del payload["format"]
    refused(tmp_path, payload, "format is missing, but the file holds config, train")


def test_a_regression_file_must_have_no_classes(tmp_path, payload):
    payload.update(task="regression", classes=[0, 1])
    payload["train"]["output"] = "linear"
    refused(tmp_path, payload, "classes must be None for a regression network")


def test_a_loss_curve_of_shared_references_is_refused_quickly_in_little_memory(tmp_path, payload):
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(change(payload, "loss_curve.loss", SHARED)))
    assert path.stat().st_size < 10_000
    tracemalloc.start()
    started = time.perf_counter()
    try:
        assert loss_curve(path) is None  # what plot draws from: nothing, and no error
        with pytest.raises(ParamsError, match="loss_curve.loss holds 200 points"):
            params_mod.load_params(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 1.0 and peak < 5 * 2**20


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("classes", [[0], [1]], "classes[0] must be a number or a text label"),
        ("task", np.array(["classification"]), "task must be classification or regression"),
        ("loss_curve.loss", ["x"] * POINTS, "loss_curve.loss[0] must be a finite number"),
    ],
)
def test_the_command_itself_prints_one_line_and_exits_2(tmp_path, payload, where, value, message):
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(change(payload, where, value)))
    done = subprocess.run(
        [sys.executable, "-m", "sweep_nn", "eval", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"error: {path}: {done.stderr.split(': ', 2)[2]}"
    assert message in done.stderr and done.stderr.count("\n") == 1 and not done.stdout


# --- the training CSV: reread only when its digest matches ------------------------------------


@pytest.fixture
def csv_sweep(tmp_path) -> tuple[Path, Path]:
    data = tmp_path / "fruit.csv"
    data.write_bytes((CONFIGS / "data" / "fruit.csv").read_bytes())
    spec = {"dataset": "csv", "path": str(data), "target": "fruit", "scale": "standard"}
    return sweep(tmp_path, spec, "fruit"), data


def test_the_digest_of_the_training_csv_is_recorded_and_checked(csv_sweep):
    params, data = csv_sweep
    recorded = params_mod.load_params(params)["data"]["sha256"]
    assert recorded == hashlib.sha256(data.read_bytes()).hexdigest()
    before = sweep_nn.evaluate(params)
    original = data.read_bytes()
    data.write_bytes(original.replace(b"\n", b"\r\n"))  # the same table, other bytes
    with pytest.raises(DataError, match="has changed since the network was trained"):
        sweep_nn.evaluate(params)
    result = CliRunner().invoke(app, ["eval", str(params)])
    assert result.exit_code == 2 and "has changed since the network was trained" in result.stderr
    data.write_bytes(original)
    assert sweep_nn.evaluate(params) == before


def test_a_csv_changed_after_training_is_skipped_by_plot_not_drawn(csv_sweep):
    params, data = csv_sweep
    with data.open("a") as f:
        f.write("150,7.0,30,apple\n")
    result = CliRunner().invoke(app, ["plot", str(params.parent.parent), "--only", "data"])
    assert result.exit_code == 0, result.output
    assert "skipped data:" in result.stderr and "has changed since" in result.stderr


def test_a_csv_path_in_a_file_never_shows_that_files_content(tmp_path, csv_sweep):
    params, _ = csv_sweep
    secret = tmp_path / "secret.csv"
    secret.write_text("TOP_SECRET_COLUMN,other\n1,2\n3,4\n")
    payload = params_mod.load_params(params)
    payload["data"]["path"] = str(secret)
    for digest in (None, "0" * 64):  # none recorded; a made-up one
        if digest is None:
            del payload["data"]["sha256"]
        else:
            payload["data"]["sha256"] = digest
        path = tmp_path / "p.pkl"
        path.write_bytes(pickle.dumps(payload))
        result = CliRunner().invoke(app, ["eval", str(path)])
        assert result.exit_code == 2, result.output
        assert "TOP_SECRET" not in result.output
        assert ("data.sha256 is missing" if digest is None else "has changed") in result.stderr


def test_a_csv_file_without_a_digest_still_evaluates_on_a_given_file(tmp_path, csv_sweep):
    params, data = csv_sweep
    payload = params_mod.load_params(params)
    del payload["data"]["sha256"]
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(payload))
    assert "accuracy" in sweep_nn.evaluate(path, data=data)


def test_a_pinned_digest_in_the_config_refuses_another_file(tmp_path, write_config):
    data = tmp_path / "fruit.csv"
    data.write_bytes((CONFIGS / "data" / "fruit.csv").read_bytes())
    cfg = {
        "name": "pinned",
        "data": {"dataset": "csv", "path": str(data), "target": "fruit", "sha256": "a" * 64},
        "grid": {"hidden_sizes": [2], "activations": ["tanh"], "learning_rates": [0.5],
                 "iterations": [5]},
    }  # fmt: skip
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(write_config(cfg)), "--out", str(out)])
    assert result.exit_code == 2, result.output
    said = "its sha256 is 377248014990a4bf..., but the config's data.sha256 is aaaaaaaaaaaaaaaa"
    assert said in result.stderr
    assert "network" not in result.stderr  # no network has been trained: eval's words would not do
    assert not out.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX")
def test_a_csv_path_naming_a_fifo_is_refused_without_hanging(tmp_path, csv_sweep):
    params, _ = csv_sweep
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    payload = params_mod.load_params(params)
    payload["data"]["path"] = str(fifo)
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(DataError, match="is a FIFO"):
        sweep_nn.evaluate(path)
