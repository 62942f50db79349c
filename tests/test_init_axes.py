"""`grid.inits` and `grid.init_scales`: the weight initialisation as axes of the grid.

Absent, they are the `train:` settings of the same name, so existing sweeps keep their
ids and keys; present, rows carry the values, ids name what differs from the default, and
every command downstream (parameters files, eval, filter, plot, report) follows.
"""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pandas as pd
import pytest
import yaml
from sweeps import run_sweep as run_folder
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.config import parse
from sweep_nn.config.search import points
from sweep_nn.errors import ConfigError
from sweep_nn.nn import plain
from sweep_nn.results import params as params_mod
from sweep_nn.results import store
from sweep_nn.results.importance import importance
from sweep_nn.sweep import jobs as grid
from sweep_nn.sweep.segments import initial_state

GRID = {"hidden_sizes": [3], "activations": ["tanh"], "learning_rates": [0.6], "iterations": [100]}


def cfg(grid_changes=None, **sections):
    raw = {"name": "i", "grid": GRID | (grid_changes or {}), **sections}
    return parse(yaml.safe_dump(raw))


def ids_and_keys(c) -> dict[str, str]:
    return {cid: k for j in grid.expand(c, "sigmoid") for cid, k in zip(j.config_ids, j.keys)}


# --- the configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"inits": ["swish"]}, "grid.inits[0]: Input should be 'normal', 'xavier' or 'he' (got 'swish')"),
        ({"inits": []}, "grid.inits: must not be empty (got [])"),
        ({"inits": ["he", "he"]}, "grid.inits: Value error, 'he' is listed twice"),
        ({"inits": "he"}, "grid.inits: Input should be a valid list (got 'he')"),
        ({"init_scales": [0]}, "grid.init_scales[0]: Input should be greater than 0 (got 0)"),
        ({"init_scales": [-1.5]}, "grid.init_scales[0]: Input should be greater than 0 (got -1.5)"),
        ({"init_scales": ["big"]}, "grid.init_scales[0]: Input should be a valid number (got 'big')"),
        ({"init_scales": [float("inf")]}, "grid.init_scales[0]: Input should be a finite number"),
        ({"init_scales": [0.1, 0.1]}, "grid.init_scales: Value error, 0.1 is listed twice"),
        ({"init_scales": {"log_uniform": [1, 0.1]}}, "the low end 1.0 is above the high end 0.1"),
        ({"init_scales": {"log_unifrom": [0.1, 1]}}, "unknown key (did you mean 'log_uniform'?)"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_init_axes_are_named_with_key_and_value(changes, message):
    with pytest.raises(ConfigError) as caught:
        cfg(changes, search={"method": "random", "n_trials": 1}) if "log_" in str(changes) else cfg(changes)
    assert message.replace("Value error, ", "") in str(caught.value), caught.value


def test_an_axis_and_its_train_setting_together_are_refused():
    with pytest.raises(ConfigError, match=r"grid.inits and train.init are both given"):
        cfg({"inits": ["he"]}, train={"init": "xavier"})
    with pytest.raises(ConfigError, match=r"grid.init_scales and train.init_scale are both given"):
        cfg({"init_scales": [0.1]}, train={"init_scale": 0.1})


def test_init_scales_without_an_init_that_uses_a_scale_are_refused():
    with pytest.raises(ConfigError, match=r"grid.init_scales applies only to init normal.*he, xavier"):
        cfg({"inits": ["he", "xavier"], "init_scales": [0.1, 1.0]})
    with pytest.raises(ConfigError) as caught:
        cfg({"init_scales": [0.1]}, train={"init": "he"})
    # a rule of the whole sweep names its own keys: no "(top level):" before them
    assert "\n  grid.init_scales applies only to init normal" in str(caught.value)


def test_a_scale_distribution_needs_random_search():
    with pytest.raises(ConfigError, match=r"grid.init_scales is a distribution: only random search"):
        cfg({"init_scales": {"log_uniform": [0.001, 1.0]}})


def test_the_resolved_copy_loads_back_to_the_same_sweep():
    c = cfg({"inits": ["normal", "he"], "init_scales": [0.01, 0.5]})
    resolved = c.resolved()
    assert "init" not in resolved["train"] and "init_scale" not in resolved["train"]
    assert parse(yaml.safe_dump(resolved)) == c
    plain_cfg = cfg()
    assert "inits" not in plain_cfg.resolved()["grid"]  # a sweep without the axes: unchanged


# --- ids, keys and the points trained --------------------------------------------------------


def test_without_the_axes_ids_and_keys_are_those_of_before():
    # pinned: the reference study's ids and keys, and those of the train: settings
    study = cfg({"iterations": [100, 10000], "seeds": [0, 1], "batch_sizes": ["full", 64]})
    assert ids_and_keys(study) == {
        "h3-tanh-lr0.6-it100": "0f094ae854913448", "h3-tanh-lr0.6-it10000": "969a2e786cfd72d8",
        "h3-tanh-lr0.6-it100-s1": "c5dbad50ece26dca", "h3-tanh-lr0.6-it10000-s1": "3507ece89b630163",
        "h3-tanh-lr0.6-it100-bs64": "7719925cc9cdd7c7",
        "h3-tanh-lr0.6-it10000-bs64": "d28cbfc134b93057",
        "h3-tanh-lr0.6-it100-bs64-s1": "bbdd042ae9a52fbe",
        "h3-tanh-lr0.6-it10000-bs64-s1": "4ebcd8975caee1b2",
    }  # fmt: skip
    assert ids_and_keys(cfg(train={"init": "he", "init_scale": 0.5})) == {
        "h3-tanh-lr0.6-it100": "cb3f8d079afd2bfa"
    }
    assert ids_and_keys(cfg(train={"init_scale": 0.1})) == {"h3-tanh-lr0.6-it100": "5f2f8f6d9d90fd74"}


def test_ids_name_what_differs_from_the_default_and_scales_of_xavier_and_he_collapse():
    c = cfg({"inits": ["normal", "he", "xavier"], "init_scales": [0.01, 0.1], "seeds": [0, 2]})
    jobs = grid.expand(c, "sigmoid")
    assert [(j.config_ids[0], j.init, j.init_scale) for j in jobs] == [
        ("h3-tanh-lr0.6-it100", "normal", 0.01),
        ("h3-tanh-lr0.6-it100-s2", "normal", 0.01),
        ("h3-tanh-lr0.6-it100-scale0.1", "normal", 0.1),
        ("h3-tanh-lr0.6-it100-scale0.1-s2", "normal", 0.1),
        ("h3-tanh-lr0.6-it100-he", "he", None),  # one he, not one per scale
        ("h3-tanh-lr0.6-it100-he-s2", "he", None),
        ("h3-tanh-lr0.6-it100-xavier", "xavier", None),
        ("h3-tanh-lr0.6-it100-xavier-s2", "xavier", None),
    ]
    assert len({k for j in jobs for k in j.keys}) == len(jobs)


def test_an_axis_value_keys_like_the_setting_so_an_added_axis_resumes():
    with_axis = ids_and_keys(cfg({"inits": ["normal", "he"], "init_scales": [0.01, 0.1]}))
    assert with_axis["h3-tanh-lr0.6-it100"] == ids_and_keys(cfg())["h3-tanh-lr0.6-it100"]
    assert with_axis["h3-tanh-lr0.6-it100-scale0.1"] == "5f2f8f6d9d90fd74"  # train: {init_scale: 0.1}
    he = ids_and_keys(cfg(train={"init": "he"}))["h3-tanh-lr0.6-it100"]
    assert with_axis["h3-tanh-lr0.6-it100-he"] == he


def test_each_job_draws_its_own_initial_weights():
    c = cfg({"inits": ["normal", "xavier"], "init_scales": [0.01, 1.0]})
    for job in grid.expand(c, "sigmoid"):
        want = plain.init_params(2, 3, 1, np.random.RandomState(0), job.init, job.init_scale or 0.01)
        got = initial_state(job, 2, 1).params
        for k in plain.PARAM_NAMES:
            np.testing.assert_array_equal(got[k], want[k])
    stds = [initial_state(j, 2, 1).params["W1"].std() for j in grid.expand(c, "sigmoid")]
    assert stds[0] < 0.05 < stds[1]  # scale 0.01, then scale 1.0


def test_random_search_draws_init_scales_from_a_log_uniform_range():
    search = {"method": "random", "n_trials": 40, "seed": 5}
    c = cfg({"hidden_sizes": {"int_uniform": [1, 8]}, "inits": ["normal", "he"],
             "init_scales": {"log_uniform": [1e-3, 1.0]}}, search=search)  # fmt: skip
    drawn = points(c)
    assert len(set(drawn)) == 40
    scales = [p[5] for p in drawn if p[4] == "normal"]
    assert all(p[5] is None for p in drawn if p[4] == "he")
    assert all(1e-3 <= s <= 1.0 and float(f"{s:.3g}") == s for s in scales)
    assert min(scales) < 0.01 and max(scales) > 0.1  # spread over the decades
    # a file without the axes draws the points it drew before they existed
    before = cfg({"hidden_sizes": {"int_uniform": [1, 64]}, "activations": ["tanh", "relu", "sigmoid"],
                  "learning_rates": {"log_uniform": [1e-3, 1.5]}, "batch_sizes": ["full", 64]},
                 search={"method": "random", "n_trials": 3, "seed": 3})  # fmt: skip
    assert [p[:4] for p in points(before)] == [(52, "tanh", 0.00565, "full"),
                                               (52, "sigmoid", 0.00199, 64), (22, "relu", 0.0332, "full")]


# --- a sweep over initialisations, end to end ---------------------------------------------------


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A sweep on `classification` data (eval scores its dev split) over three initialisations."""
    raw = {
        "name": "inits",
        "data": {"dataset": "classification", "n_samples": 200, "n_features": 4},
        "grid": GRID | {"iterations": [20, 60], "inits": ["normal", "he"],
                        "init_scales": [0.01, 0.5], "seeds": [0, 1]},
    }  # fmt: skip
    return run_folder(tmp_path_factory.mktemp("inits"), raw)


def test_rows_carry_the_initialisation(swept):
    out = swept
    df = store.read_results(out / "results.csv")
    assert len(df) == 3 * 2 * 2  # (normal 0.01, normal 0.5, he) x seeds x budgets
    got = {(r.init, None if pd.isna(r.init_scale) else r.init_scale) for r in df.itertuples()}
    assert got == {("normal", 0.01), ("normal", 0.5), ("he", None)}
    he = df[df["init"] == "he"]
    assert he["config_id"].str.contains("-he").all() and he["init_scale"].isna().all()


def test_parameters_files_carry_it_and_eval_rebuilds_the_network(swept):
    out = swept
    df = store.read_results(out / "results.csv")
    for row in df[df["iterations"] == 60].itertuples():
        p = params_mod.load_params(out / row.params_path)  # the strict schema accepts it
        assert p["config"]["init"] == row.init
        assert p["config"]["init_scale"] == (None if pd.isna(row.init_scale) else row.init_scale)
        assert "init" not in p["train"]  # one place says it: the network's own config
        result = CliRunner().invoke(app, ["eval", str(out / row.params_path), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["accuracy"] == pytest.approx(row.dev_acc)


def test_aggregate_keeps_initialisations_apart_and_the_table_shows_them(swept):
    out = swept
    result = CliRunner().invoke(app, ["filter", str(out), "--aggregate", "--format", "json"])
    groups = json.loads(result.stdout)
    assert len(groups) == 3 * 2 and {g["n_seeds"] for g in groups} == {2}
    assert {g["config_id"] for g in groups if g["iterations"] == 20} == {
        "h3-tanh-lr0.6-it20", "h3-tanh-lr0.6-it20-scale0.5", "h3-tanh-lr0.6-it20-he",
    }  # fmt: skip
    table = CliRunner().invoke(app, ["filter", str(out)], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and " init " in table.stdout and "init_scale" in table.stdout


def test_plot_report_and_importance_take_the_axes(swept, tmp_path):
    out = swept
    plotted = CliRunner().invoke(app, ["plot", str(out), "--out", str(tmp_path), "--only",
                                       "learning_curves", "--only", "hidden_size"])  # fmt: skip
    assert plotted.exit_code == 0, plotted.output
    assert (tmp_path / "learning_curves.png").exists()
    report = CliRunner().invoke(app, ["report", str(out), "--no-figures", "--out",
                                      str(tmp_path / "r.html")])  # fmt: skip
    assert report.exit_code == 0, report.output
    df = store.read_results(out / "results.csv")
    imp = importance(df[df["status"] == "ok"], score="train_loss")
    # both vary, and he has no scale: one axis of three inits (normal 0.01 and 0.5, he)
    assert "init" in imp.axes and "init_scale" not in imp.axes and len(imp.levels["init"]) == 3


def test_adding_the_axes_to_a_sweep_trains_only_what_is_new(tmp_path):
    raw = {"name": "grow", "data": {"dataset": "moons", "n_samples": 200}, "grid": GRID}
    path = tmp_path / "grow.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["run", str(path), "--out", str(out), "-j", "1"]).exit_code == 0
    grown = copy.deepcopy(raw)
    grown["grid"] |= {"inits": ["normal", "he"]}
    path.write_text(yaml.safe_dump(grown))
    again = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "-j", "1"])
    assert again.exit_code == 0, again.output
    assert "(1 already recorded" in again.stderr
    rows = store.read_rows(out / "results.csv")
    assert [(r["config_id"], r["init"]) for r in rows] == [
        ("h3-tanh-lr0.6-it100", "normal"), ("h3-tanh-lr0.6-it100-he", "he"),
    ]  # fmt: skip
    blob = pickle.loads((out / rows[1]["params_path"]).read_bytes())
    assert blob["config"]["init"] == "he"
