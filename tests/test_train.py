"""Training a job: shared budgets equal separate runs, timing, and parallel runs agree."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import yaml

from sweep_nn import data as data_mod
from sweep_nn.config import load, parse
from sweep_nn.nn import plain
from sweep_nn.results import params as params_mod
from sweep_nn.results import store
from sweep_nn.results.schema import RESULTS_FILE
from sweep_nn.sweep import jobs as grid
from sweep_nn.sweep import worker as train_mod
from sweep_nn.sweep.run import run_sweep

WEIGHTS = ("W1", "b1", "W2", "b2")
METRICS = ("train_acc", "dev_acc", "gap", "train_loss", "dev_loss")


def _config(tiny_config, **grid_changes):
    raw = copy.deepcopy(tiny_config)
    raw["grid"].update(grid_changes)
    return parse(yaml.safe_dump(raw))


@pytest.fixture
def tiny_data(tiny_config):
    cfg = _config(tiny_config)
    return data_mod.to_training(data_mod.load(cfg.data, cfg.task), "sigmoid")


def _train(cfg, data) -> dict[str, dict]:
    """Train every job of ``cfg``; results by config id."""
    out = {}
    for job in grid.expand(cfg, "sigmoid"):
        for result in train_mod.train(job, data):
            out[result.row.config_id] = result
    return out


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_budget_snapshots_equal_separate_runs(tiny_config, tiny_data, activation):
    budgets = [10, 50, 200]
    shared = _train(
        _config(tiny_config, activations=[activation], iterations=budgets, learning_rates=[1.2]),
        tiny_data,
    )
    assert len(shared) == 3
    for budget in budgets:
        alone = _train(
            _config(
                tiny_config, activations=[activation], iterations=[budget], learning_rates=[1.2]
            ),
            tiny_data,
        )
        (cid,) = alone
        a, b = shared[cid], alone[cid]
        assert a.row.status == b.row.status == "ok"
        assert a.row.key == b.row.key
        for m in METRICS:
            assert getattr(a.row, m) == getattr(b.row, m), (cid, m)
        for w in WEIGHTS:
            np.testing.assert_array_equal(a.params[w], b.params[w], err_msg=f"{cid} {w}")
    # the snapshots are really different points of one run
    assert not np.array_equal(shared[f"h2-{activation}-lr1.2-it10"].params["W1"],
                              shared[f"h2-{activation}-lr1.2-it200"].params["W1"])  # fmt: skip


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_training_is_the_study_gradient_descent(tiny_config, tiny_data, activation):
    cfg = _config(tiny_config, hidden_sizes=[3], activations=[activation], iterations=[60])
    (result,) = _train(cfg, tiny_data).values()
    start = plain.init_params(2, 3, 1, np.random.RandomState(0))
    expected = plain.train(start, tiny_data.X_train, tiny_data.Y_train, 0.5, 60, activation, "sigmoid")
    for w in WEIGHTS:
        np.testing.assert_array_equal(result.params[w], expected[w], err_msg=w)


def test_fit_seconds_grows_with_the_budget(tiny_config, tiny_data):
    cfg = _config(tiny_config, iterations=[10, 100, 1000])
    rows = [r.row.values() for r in _train(cfg, tiny_data).values()]
    times = [r["fit_seconds"] for r in sorted(rows, key=lambda r: r["iterations"])]
    assert 0 < times[0] < times[1] < times[2]


def test_fit_seconds_leaves_out_evaluation(tiny_config, tiny_data, monkeypatch):
    real_score = plain.score

    def slow_score(*args, **kwargs):
        time.sleep(0.1)
        return real_score(*args, **kwargs)

    monkeypatch.setattr(plain, "score", slow_score)
    cfg = _config(tiny_config, iterations=[1, 2, 3])
    rows = [r.row.values() for r in _train(cfg, tiny_data).values()]
    # three budgets, two splits each: 0.6 s of scoring in all, none of it counted
    assert max(r["fit_seconds"] for r in rows) < 0.1


# --- through the real sweep ------------------------------------------------------------------


def _sweep_config(tiny_config, write_config):
    raw = copy.deepcopy(tiny_config)
    raw["grid"].update(hidden_sizes=[1, 3], activations=["tanh", "relu"], iterations=[10, 50])
    return load(write_config(raw))


def _rows_without_time(results_path):
    rows = sorted(store.read_rows(results_path), key=lambda r: r["config_id"])
    return [{k: v for k, v in r.items() if k != "fit_seconds"} for r in rows]


def test_one_and_two_workers_give_identical_results(tiny_config, write_config, tmp_path):
    cfg = _sweep_config(tiny_config, write_config)
    one = run_sweep(cfg, tmp_path / "one", n_jobs=1)
    two = run_sweep(cfg, tmp_path / "two", n_jobs=2)

    rows_one, rows_two = _rows_without_time(one.results_path), _rows_without_time(two.results_path)
    assert len(rows_one) == 2 * 2 * 2
    assert {r["status"] for r in rows_one} == {"ok"}
    assert rows_one == rows_two
    for row in rows_one:
        a = params_mod.load_params(tmp_path / "one" / row["params_path"])
        b = params_mod.load_params(tmp_path / "two" / row["params_path"])
        for w in WEIGHTS:
            assert a[w].dtype == b[w].dtype == np.float64
            np.testing.assert_array_equal(a[w], b[w], err_msg=f"{row['config_id']} {w}")


def test_each_row_is_on_disk_when_reported(tiny_config, write_config, tmp_path):
    cfg = _sweep_config(tiny_config, write_config)
    out = tmp_path / "out"
    seen = []

    def on_row(row):
        on_disk = {r["config_id"] for r in store.read_rows(out / RESULTS_FILE)}
        assert row.config_id in on_disk
        assert (out / row.params_path).is_file()
        seen.append(row.config_id)

    summary = run_sweep(cfg, out, n_jobs=1, on_row=on_row)

    assert len(seen) == summary.total == 8
    assert summary.counts == {"ok": 8}
