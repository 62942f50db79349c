"""Numbers written as Python and YAML 1.2 write them, and names derived from file names."""

from __future__ import annotations

import re

import pytest

from sweep_nn import config
from sweep_nn.errors import ConfigError

GRID = "grid: {hidden_sizes: [1], activations: [tanh], iterations: [10], learning_rates: [%s]}\n"


@pytest.mark.parametrize(
    "text, value",
    [("1e-3", 1e-3), ("1E3", 1e3), ("5e+2", 500.0), (".5", 0.5), ("2.5e-1", 0.25),
     ("+1e-2", 0.01), ("1.", 1.0), ("1_0e1", 100.0), ("3E-02", 0.03)],
)  # fmt: skip
def test_a_learning_rate_in_exponent_notation_is_a_number(text, value):
    cfg = config.parse(GRID % text, "n.yaml")
    assert cfg.grid.learning_rates == [value]


def test_exponent_notation_works_wherever_a_number_goes():
    cfg = config.parse(
        (GRID % "1e-1") + "data: {dataset: moons, noise: 2e-1, dev_size: 25e-2}\n"
        "train: {init_scale: 1E-2}\n",
        "n.yaml",
    )
    assert (cfg.data.noise, cfg.data.dev_size, cfg.train.init_scale) == (0.2, 0.25, 0.01)


def test_text_that_only_looks_like_a_number_stays_text():
    for text in ["e3", "1e", "1e-", "1.2.3", "0x1e3"]:
        raw = config.load_yaml(f"a: {text}")
        assert not isinstance(raw["a"], float), text
    assert config.load_yaml("a: 1e3x") == {"a": "1e3x"}
    assert config.load_yaml("a: '1e-3'") == {"a": "1e-3"}  # quoted: still text


def test_a_whole_number_in_exponent_notation_is_that_whole_number():
    cfg = config.parse(
        "grid: {hidden_sizes: [1e1], activations: [tanh], iterations: [1e2, 5E+3],\n"
        "       learning_rates: [1e0], batch_sizes: [5e1], seeds: [1e0]}\n"
        "data: {dataset: moons, n_samples: 2e3}\n",
        "n.yaml",
    )
    assert (cfg.grid.hidden_sizes, cfg.grid.iterations, cfg.grid.batch_sizes) == (
        [10], [100, 5000], [50]
    )
    assert (cfg.data.n_samples, cfg.grid.seeds, cfg.grid.learning_rates) == (2000, [1], [1.0])
    assert type(cfg.data.n_samples) is int and type(cfg.grid.learning_rates[0]) is float


@pytest.mark.parametrize(("text", "got"), [("2.5e3", "2500.0"), ("1e-1", "0.1"), ("1e19", "1e+19")])
def test_a_budget_with_a_point_a_fraction_or_past_10_18_is_refused_clearly(text, got):
    with pytest.raises(ConfigError, match=rf"iterations\[0\]: .*integer \(got {re.escape(got)}\)"):
        config.parse((GRID % "0.1").replace("[10]", f"[{text}]"), "n.yaml")


@pytest.mark.parametrize(
    "filename, name",
    [("_grid.yaml", "grid"), ("-x.yaml", "x"), ("..a b.yaml", "a-b"), ("ok.yaml", "ok"),
     ("a" * 150 + ".yaml", "a" * 100)],
)  # fmt: skip
def test_a_name_derived_from_the_file_name_is_always_valid(tmp_path, filename, name):
    path = tmp_path / filename
    path.write_text(GRID % "0.5")
    assert config.load(path).name == name


def test_a_file_name_that_cannot_be_a_name_says_to_set_one(tmp_path):
    path = tmp_path / "___.yaml"
    path.write_text(GRID % "0.5")
    with pytest.raises(ConfigError, match=r"'___.yaml' cannot be a sweep name.*set name:"):
        config.load(path)
    path.write_text("name: fine\n" + GRID % "0.5")
    assert config.load(path).name == "fine"
