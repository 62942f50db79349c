"""Successive halving and random search: the rows they write are the full grid's rows,
their decisions are deterministic, and they survive an interruption."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import yaml

from sweep_nn.config import parse
from sweep_nn.config.search import points
from sweep_nn.errors import ConfigError
from sweep_nn.results import params as params_mod
from sweep_nn.results import store
from sweep_nn.sweep import halving
from sweep_nn.sweep import jobs as grid
from sweep_nn.sweep.run import run_sweep

EXECUTION = ("fit_seconds", "stack_size")


def _cfg(search=None, train=None, **axes):
    raw = {
        "name": "search",
        "data": {"dataset": "moons", "n_samples": 150},
        "grid": {"hidden_sizes": [1, 3, 6], "activations": ["tanh", "relu"],
                 "learning_rates": [1.2, 0.1], "iterations": [10, 40, 120], **axes},
        "train": {"loss_points": 5, **(train or {})},
    }  # fmt: skip
    if search is not None:
        raw["search"] = search
    return parse(yaml.safe_dump(raw))


def _rows(out):
    return {r["key"]: r for r in store.latest_rows(store.read_rows(out / "results.csv"))}


def _same_rows(part_dir, whole_dir) -> None:
    """Every row (and parameters file) in ``part_dir`` is the one in ``whole_dir``."""
    part, whole = _rows(part_dir), _rows(whole_dir)
    assert part and set(part) <= set(whole)
    for key, row in part.items():
        a = {k: v for k, v in row.items() if k not in EXECUTION}
        b = {k: v for k, v in whole[key].items() if k not in EXECUTION}
        assert a == b, key
        if row["params_path"]:
            pa = params_mod.load_params(part_dir / row["params_path"])
            pb = params_mod.load_params(whole_dir / whole[key]["params_path"])
            for name in ("W1", "b1", "W2", "b2"):
                assert np.array_equal(pa[name], pb[name]), (key, name)


@pytest.fixture(scope="module")
def full_grid(tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "out"
    run_sweep(_cfg(seeds=[0, 1]), out, n_jobs=1)
    return out


@pytest.mark.parametrize("train", [{}, {"stack": True}], ids=["alone", "stack"])
def test_every_row_halving_writes_is_the_full_grids_row(full_grid, tmp_path, train):
    out = tmp_path / "halving"
    summary = run_sweep(_cfg({"method": "halving", "eta": 3}, train, seeds=[0, 1]), out, n_jobs=2)
    part = _rows(out)
    _same_rows(out, full_grid)
    # 12 configurations x 2 seeds to 10, ceil(12/3) = 4 to 40, ceil(4/3) = 2 to 120
    assert summary.stages == [(10, 12), (40, 4), (120, 2)]
    assert len(part) == (12 + 4 + 2) * 2 == summary.total
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir())


def test_the_survivors_are_the_best_by_the_mean_over_seeds(full_grid):
    cfg = _cfg({"method": "halving"}, seeds=[0, 1])
    rows = _rows(full_grid)
    groups = halving.configurations(grid.expand(cfg, "sigmoid"))
    kept = halving.survivors(groups, rows, 10, "dev_acc", 3)

    def mean(group):
        return np.mean([rows[j.keys[0]]["dev_acc"] for j in group])

    worst_kept = min(mean(g) for g in kept)
    assert all(mean(g) <= worst_kept for g in groups if g not in kept)


def test_ties_go_to_the_configuration_listed_first():
    cfg = _cfg({"method": "halving"})
    groups = halving.configurations(grid.expand(cfg, "sigmoid"))
    rows = {g[0].keys[0]: {"status": "ok", "dev_acc": 50.0} for g in groups}  # all equal
    kept = halving.survivors(groups, rows, 10, "dev_acc", 3)
    assert kept == groups[:4]
    # a seed that diverged ranks the configuration below every complete one
    rows[groups[0][0].keys[0]] = {"status": "diverged", "dev_acc": None}
    assert groups[0] not in halving.survivors(groups, rows, 10, "dev_acc", 3)


def test_losses_rank_lowest_first():
    cfg = _cfg({"method": "halving", "metric": "dev_loss"})
    groups = halving.configurations(grid.expand(cfg, "sigmoid"))
    rows = {g[0].keys[0]: {"status": "ok", "dev_loss": float(i)} for i, g in enumerate(groups)}
    rows[groups[-1][0].keys[0]]["dev_loss"] = -1.0
    assert halving.survivors(groups, rows, 10, "dev_loss", 4)[-1] is groups[-1]


def test_an_interrupted_halving_search_resumes_to_the_same_rows(tmp_path):
    cfg = _cfg({"method": "halving", "eta": 2})
    straight = tmp_path / "straight"
    run_sweep(cfg, straight, n_jobs=1)
    out = tmp_path / "stopped"
    seen = []

    def stop_in_the_second_rung(row):
        seen.append(row)
        if row.iterations == 40 and sum(r.iterations == 40 for r in seen) == 2:
            raise KeyboardInterrupt

    first = run_sweep(cfg, out, n_jobs=1, on_row=stop_in_the_second_rung)
    assert first.interrupted
    resumed = run_sweep(cfg, out, n_jobs=1)
    assert not resumed.interrupted and resumed.skipped == len(seen)
    assert _rows(out).keys() == _rows(straight).keys()
    _same_rows(out, straight)
    assert (out / halving.STOPPED_FILE).read_text() == (straight / halving.STOPPED_FILE).read_text()


def test_a_metric_for_the_other_task_is_refused():
    with pytest.raises(ConfigError, match="search.metric 'dev_r2' needs a regression sweep"):
        halving.resolve_metric("dev_r2", "classification")


def test_random_search_draws_the_same_points_for_a_seed_and_others_for_another():
    space = {"hidden_sizes": {"int_uniform": [1, 64]}, "learning_rates": {"log_uniform": [1e-3, 1.5]},
             "batch_sizes": ["full", 32]}  # fmt: skip
    a = points(_cfg({"method": "random", "n_trials": 30, "seed": 7}, **space))
    assert a == points(_cfg({"method": "random", "n_trials": 30, "seed": 7}, **space))
    assert a != points(_cfg({"method": "random", "n_trials": 30, "seed": 8}, **space))
    assert len(set(a)) == 30
    assert all(1 <= h <= 64 and 1e-3 <= lr <= 1.5 and b in ("full", 32) for h, _, lr, b, *_ in a)
    assert all(float(f"{lr:.3g}") == lr for _, _, lr, *_ in a)  # three significant digits
    lrs = np.log10([lr for _, _, lr, *_ in a])
    assert lrs.min() < -2 and lrs.max() > -0.5  # log-uniform: spread over the decades


def test_int_log_uniform_stays_in_range_and_favours_small_values():
    cfg = _cfg({"method": "random", "n_trials": 200, "seed": 1},
               hidden_sizes={"int_log_uniform": [1, 512]}, learning_rates={"uniform": [0.1, 1.0]},
               activations=["tanh", "relu", "sigmoid"])  # fmt: skip
    hs = [p[0] for p in points(cfg)]
    assert min(hs) >= 1 and max(hs) <= 512
    assert np.median(hs) < 100  # a uniform draw would put the median near 256


def test_random_search_over_a_space_too_small_says_so():
    with pytest.raises(ConfigError, match="n_trials: 13 distinct configurations"):
        points(_cfg({"method": "random", "n_trials": 13}))  # the lists hold 12


def test_a_random_search_it_cannot_draw_writes_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="n_trials: 13 distinct configurations"):
        run_sweep(_cfg({"method": "random", "n_trials": 13}), out, n_jobs=1)
    assert not out.exists()


def test_a_distribution_needs_random_search():
    with pytest.raises(ConfigError, match="grid.learning_rates is a distribution"):
        _cfg(learning_rates={"log_uniform": [1e-3, 1.0]})


@pytest.mark.parametrize(
    "search, message",
    [
        ({"method": "random"}, "needs n_trials"),
        ({"method": "grid", "eta": 3}, "eta applies to halving"),
        ({"method": "halving", "seed": 1}, "seed applies to method random"),
        ({"method": "halving", "halving": True}, "halving applies to method random"),
        ({"method": "halving", "eta": 1}, "greater than or equal to 2"),
        ({"method": "halving", "metric": "dev_accuracy"}, "search.metric"),
        ({"method": "random", "n_trials": 0}, "greater than or equal to 1"),
        ({"method": "bayes"}, "search.method"),
        ({"method": "random", "n_trials": 5, "n_trails": 5}, "did you mean 'n_trials'"),
    ],
)
def test_search_settings_that_cannot_apply_are_named(search, message):
    with pytest.raises(ConfigError, match=message):
        _cfg(search)


@pytest.mark.parametrize(
    "axes, message",
    [
        ({"learning_rates": {"uniform": [1.0, 0.5]}}, "uniform: the low end 1.0 is above the high end 0.5"),
        ({"hidden_sizes": {"int_uniform": [9, 3]}}, "int_uniform: the low end 9 is above the high end 3"),
        ({"learning_rates": {"uniform": [0.1, 1.0], "log_uniform": [0.1, 1.0]}},
         "give exactly one of log_uniform, uniform"),
        ({"hidden_sizes": {}}, "give exactly one of int_uniform, int_log_uniform"),
    ],
)  # fmt: skip
def test_a_distribution_is_one_range_from_low_to_high(axes, message):
    with pytest.raises(ConfigError, match=message):
        _cfg({"method": "random", "n_trials": 2}, **axes)


def test_random_search_with_halving_trains_the_draw_and_halves_it(tmp_path):
    space = {"hidden_sizes": {"int_uniform": [1, 8]}, "learning_rates": {"log_uniform": [0.01, 1.5]}}
    cfg = _cfg({"method": "random", "n_trials": 6, "seed": 3, "halving": True, "eta": 2}, **space)
    summary = run_sweep(cfg, tmp_path / "out", n_jobs=1)
    assert summary.stages == [(10, 6), (40, 3), (120, 2)]
    rows = _rows(tmp_path / "out")
    drawn = set(points(cfg))
    assert {(r["hidden_size"], r["activation"], r["learning_rate"], r["batch_size"], r["init"],
             r["init_scale"]) for r in rows.values()} == drawn  # fmt: skip
    from sweep_nn.results.query import current_rows

    df = store.read_results(tmp_path / "out" / "results.csv")
    current, others = current_rows(df, tmp_path / "out")
    assert len(current) == len(df) and others == 0


def test_the_command_line_halves_with_a_flag_and_checks_eta(tmp_path):
    config = tmp_path / "g.yaml"
    config.write_text(yaml.safe_dump({
        "name": "flag", "data": {"dataset": "moons", "n_samples": 100},
        "grid": {"hidden_sizes": [1, 2, 3], "activations": ["tanh"], "learning_rates": [0.6],
                 "iterations": [5, 20]},
    }))  # fmt: skip
    cli = [sys.executable, "-m", "sweep_nn", "run", str(config), "--out", str(tmp_path / "o")]
    bad = subprocess.run([*cli, "--eta", "2"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--eta goes with --halving" in bad.stderr
    assert "Traceback" not in bad.stderr
    for eta in ("1", "0", "-3", "1001"):  # named as the option given, not as the config's key
        bad = subprocess.run([*cli, "--halving", "--eta", eta], capture_output=True, text=True)
        assert bad.returncode == 2, bad.stderr
        assert f"--eta must be a whole number from 2 to 1000; got {eta}" in bad.stderr
        assert "Traceback" not in bad.stderr and not (tmp_path / "o").exists()
    ok = subprocess.run([*cli, "--halving", "--eta", "2", "-j", "1"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "halving: 3 to 5, 2 to 20 iterations" in ok.stderr
    assert (tmp_path / "o" / halving.STOPPED_FILE).exists()
