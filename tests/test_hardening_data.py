"""Data settings the generators cannot honour are refused when the config is read, and
eval's seeds stay in the range NumPy accepts."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from conftest import TINY_CONFIG
from typer.testing import CliRunner

from sweep_nn import config
from sweep_nn.cli import app
from sweep_nn.errors import ConfigError

BAD_DATA = [
    ({"random_state": -1}, "random_state"),
    ({"random_state": 2**32}, "random_state"),
    ({"split_random_state": -1}, "split_random_state"),
    ({"split_random_state": 2**40}, "split_random_state"),
    ({"dataset": "classification", "n_informative": 5, "n_features": 3}, "n_informative"),
    ({"dataset": "classification", "n_classes": 40}, "n_classes 40 needs n_informative >= 7"),
    ({"dataset": "classification", "n_classes": 3}, "n_informative >= 3"),
    ({"dataset": "gaussian_quantiles", "n_classes": 40, "n_samples": 30}, "more than n_samples"),
    ({"dataset": "classification", "n_classes": 5, "n_informative": 4, "n_samples": 4},
     "more than n_samples"),
    ({"dataset": "blobs", "centers": 10, "n_samples": 5}, "centers (10)"),
    ({"n_samples": 10**12}, "n_samples"),
    ({"dataset": "regression", "n_samples": 10**6, "n_features": 1000}, "limit of 50,000,000"),
    ({"dataset": "gaussian_quantiles", "n_features": 50_000, "n_samples": 10}, "limit of 1,000"),
    ({"dataset": "classification", "n_features": 5000, "n_informative": 5000, "n_samples": 10},
     "limit of 1,000"),
]  # fmt: skip


def with_data(**data) -> dict:
    cfg = copy.deepcopy(TINY_CONFIG)
    cfg["data"] = {"dataset": "moons", **data}
    if data.get("dataset", "moons") != "moons":
        cfg["data"].pop("noise", None)
    return cfg


@pytest.mark.parametrize("data, message", BAD_DATA)
def test_data_settings_the_generator_refuses_are_a_config_error(data, message):
    with pytest.raises(ConfigError, match="data") as info:
        config.parse(yaml.safe_dump(with_data(**data)))
    assert message in str(info.value)


@pytest.mark.parametrize("data, message", BAD_DATA[:6])
def test_the_cli_refuses_them_with_exit_2_writing_nothing(tmp_path, data, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(with_data(**data)))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and message in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "data",
    [{"random_state": 2**32 - 1, "split_random_state": 2**32 - 1},
     {"dataset": "classification", "n_classes": 4, "n_informative": 3},
     {"dataset": "classification", "n_classes": 2},
     {"dataset": "gaussian_quantiles", "n_classes": 3, "n_features": 3}],
)  # fmt: skip
def test_settings_at_the_edges_are_accepted_and_build(data):
    from sweep_nn import data as data_mod

    cfg = config.parse(yaml.safe_dump(with_data(**data)))
    ds = data_mod.load(cfg.data)
    assert len(ds.X_train) > 0


@pytest.fixture(scope="module")
def params_at_the_largest_seed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("largest-seed")
    path = folder / "s.yaml"
    cfg = with_data(random_state=2**32 - 1, n_samples=100)
    cfg["grid"]["iterations"] = [10]
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(folder / "out"), "-j", "1"])
    assert result.exit_code == 0, result.output
    return next((folder / "out" / "params").glob("*.pkl"))


@pytest.mark.parametrize("seed", ["4294967296", str(2**70)])
def test_eval_refuses_a_seed_numpy_cannot_take(params_at_the_largest_seed, seed):
    result = CliRunner().invoke(app, ["eval", str(params_at_the_largest_seed), "--seed", seed])
    assert result.exit_code == 2, result.output
    assert "--seed must be between 0 and 2**32 - 1" in result.stderr


def test_eval_accepts_the_largest_seed(params_at_the_largest_seed):
    result = CliRunner().invoke(
        app, ["eval", str(params_at_the_largest_seed), "--seed", "4294967295", "--json"]
    )
    assert result.exit_code == 0, result.output


def test_eval_s_default_seed_after_the_largest_training_seed_works(params_at_the_largest_seed):
    # the default is the training seed + 1 = 2**32: drawn as seed 0
    result = CliRunner().invoke(app, ["eval", str(params_at_the_largest_seed), "--json"])
    assert result.exit_code == 0, result.output
    with_zero = CliRunner().invoke(
        app, ["eval", str(params_at_the_largest_seed), "--json", "--seed", "0"]
    )
    assert json.loads(result.stdout) == json.loads(with_zero.stdout)


def test_eval_refuses_more_samples_than_a_dataset_may_hold(params_at_the_largest_seed):
    result = CliRunner().invoke(
        app, ["eval", str(params_at_the_largest_seed), "--n-samples", str(10**12)]
    )
    assert result.exit_code == 2 and "--n-samples must be at most" in result.stderr


def eval_line(params, *options: str) -> str:
    result = CliRunner().invoke(app, ["eval", str(params), "--n-samples", "50", *options])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_eval_shows_the_seed_it_drew_with_after_the_largest_training_seed(
    params_at_the_largest_seed,
):
    # the default is the seed after training's: 2**32 wraps to 0, and 0 is what is shown
    line = eval_line(params_at_the_largest_seed)
    assert "fresh samples, seed 0, the one after training's 4294967295)" in line, line
    assert "4294967296" not in line
    assert eval_line(params_at_the_largest_seed, "--seed", "0").split(": ", 1)[1] == (
        line.split(": ", 1)[1].replace(", the one after training's 4294967295", "")
    )  # the same samples, the same scores


def test_eval_shows_the_largest_seed_given_as_it_is(params_at_the_largest_seed):
    line = eval_line(params_at_the_largest_seed, "--seed", "4294967295")
    assert line.rstrip().endswith("fresh samples, seed 4294967295)"), line


def test_eval_shows_the_default_seed_after_training_seed_0(tmp_path):
    path = tmp_path / "s.yaml"
    cfg = copy.deepcopy(TINY_CONFIG)
    cfg["grid"]["iterations"] = [10]
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "-j", "1"])
    assert result.exit_code == 0, result.output
    params = next((tmp_path / "out" / "params").glob("*.pkl"))
    assert "seed 1, the one after training's 0)" in eval_line(params)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"seed": 2**32}, "seed must be a whole number from 0 to 2**32 - 1 (4294967295)"),
        ({"seed": -1}, "seed must be a whole number from 0"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"seed": True}, "seed must be a whole number"),
        ({"n_samples": 10**12}, "n_samples must be at most 10,000,000"),
        ({"n_samples": 0}, "n_samples must be >= 1"),
        ({"n_samples": True}, "n_samples must be a whole number"),
        ({"noise": float("inf")}, "noise must be a finite number"),
        ({"noise": -0.5}, "noise must be a finite number >= 0"),
        ({"noise": 10**400}, "noise must be a finite number"),
    ],
)
def test_the_python_api_checks_eval_s_options_as_the_command_does(
    params_at_the_largest_seed, options, message
):
    import sweep_nn
    from sweep_nn.errors import UsageError

    with pytest.raises(UsageError) as caught:
        sweep_nn.evaluate(params_at_the_largest_seed, **options)
    assert message in str(caught.value)


def test_the_python_api_takes_the_largest_seed(params_at_the_largest_seed):
    import numpy as np

    import sweep_nn

    a = sweep_nn.evaluate(params_at_the_largest_seed, seed=2**32 - 1)
    assert a == sweep_nn.evaluate(params_at_the_largest_seed, seed=np.uint32(2**32 - 1))
