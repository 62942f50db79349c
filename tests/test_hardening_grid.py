"""A grid too large to sweep is refused when the config is read, before anything is built."""

from __future__ import annotations

import time

import pytest

from sweep_nn import config
from sweep_nn.errors import ConfigError


def grid(n_hidden: int, n_lr: int, n_seeds: int = 1) -> str:
    hidden = ", ".join(str(i) for i in range(1, n_hidden + 1))
    rates = ", ".join(str(0.001 * i) for i in range(1, n_lr + 1))
    seeds = ", ".join(str(i) for i in range(n_seeds))
    return (
        f"name: big\ngrid: {{hidden_sizes: [{hidden}], activations: [tanh], "
        f"learning_rates: [{rates}], iterations: [10], seeds: [{seeds}]}}\n"
    )


def test_a_grid_of_a_million_configurations_is_refused_naming_count_and_limit():
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"1,000,000 configurations; the limit is 100,000"):
        config.parse(grid(1000, 100, 10))
    assert time.perf_counter() - started < 2.0


def test_a_grid_at_the_limit_is_accepted():
    assert len(config.parse(grid(1000, 100)).grid.hidden_sizes) == 1000  # 100,000
    with pytest.raises(ConfigError, match="100,100 configurations"):
        config.parse(grid(1001, 100))
