"""train: {stack: true}: models that differ only in rate or seed train side by side, unchanged.

A stack must be invisible in the results: every model takes exactly (bit for bit) the steps
it would take alone, a diverging model does not disturb its stack-mates, and the setting is
execution-only, so results recorded without it are resumed with it.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import types

import numpy as np
import pytest
import yaml
from problems import examples

from sweep_nn import data as data_mod
from sweep_nn.cli import app
from sweep_nn.config import load, parse
from sweep_nn.errors import ConfigError
from sweep_nn.nn import engine, plain
from sweep_nn.results import params as params_mod
from sweep_nn.results import store
from sweep_nn.results.schema import PARAMS_DIR, RESULTS_FILE
from sweep_nn.sweep import jobs as grid
from sweep_nn.sweep import schedule
from sweep_nn.sweep import worker as train_mod
from sweep_nn.sweep.run import run_sweep

NAMES = plain.PARAM_NAMES
N_TRAIN = 160  # moons with n_samples 200 and the default dev_size 0.2
EXECUTION_COLUMNS = ("fit_seconds", "stack_size")  # the only columns a stack may change


def _without(row, columns=EXECUTION_COLUMNS):
    return {k: v for k, v in row.items() if k not in columns}


# --- the network: a stack steps each model exactly as it steps alone ------------------------


def _data(output, m=37, n_in=3, dtype=np.float64):
    X, Y = examples(output, np.random.RandomState(0), m, n_in)
    return X.astype(dtype), Y.astype(dtype)


def _models(k, n_in, n_hidden, n_out, dtype):
    """``k`` models of one shape, each drawn from its own seed (different initial weights)."""
    return [
        plain.init_params(
            n_in, n_hidden, n_out, np.random.RandomState(10 + i), init_scale=0.5, dtype=dtype
        )
        for i in range(k)
    ]


def _copy(p):
    return {k: v.copy() for k, v in p.items()}


def _finite(p):
    return all(np.isfinite(p[k]).all() for k in NAMES)


# Rates per model. 50 overflows some linear-output networks; the huge rate overflows relu or
# linear networks in a step or two (saturated tanh / sigmoid networks with a bounded output take
# any rate without overflowing: their gradients vanish or stay bounded).
HUGE = {np.float64: 1e300, np.float32: 1e30}


def _rates(dtype):
    return [0.3, 50.0, 1.2, HUGE[dtype], 0.5]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("activation", "output"), list(itertools.product(plain.ACTIVATIONS, plain.OUTPUTS))
)
def test_each_model_of_a_stack_steps_exactly_as_it_would_alone(activation, output, dtype):
    X, Y = _data(output, dtype=dtype)
    n_in, m, n_out, h = X.shape[0], X.shape[1], Y.shape[0], 4
    rates = _rates(dtype)
    stacked = _models(len(rates), n_in, h, n_out, dtype)
    stacked[-1]["W2"][0, 0] = np.inf  # the last model starts broken: its nan must stay its own
    alone = [_copy(p) for p in stacked]
    start = [_copy(p) for p in stacked]

    with np.errstate(all="ignore"):
        ws = engine.Workspace(n_in, h, n_out, m, activation, output, dtype, len(rates))
        run = ws.stack_trainer(stacked, X, Y, rates)
        run(10)
        run(15)  # a stack resumes where it stopped, as a single model does
        for p, lr in zip(alone, rates):
            engine.Workspace(n_in, h, n_out, m, activation, output, dtype).trainer(p, X, Y, lr)(25)

    for i, (p, q) in enumerate(zip(stacked, alone)):
        for k in NAMES:
            assert p[k].dtype == dtype
            assert np.array_equal(p[k], q[k], equal_nan=True), (i, rates[i], k)
    # not vacuous: the models moved and differ; some overflowed, and their stack-mates did not
    finite = [i for i, p in enumerate(stacked) if _finite(p)]
    assert 0 in finite and 2 in finite and 4 not in finite
    if activation == "relu" or output == "linear":
        assert 3 not in finite
    assert not np.array_equal(stacked[0]["W1"], start[0]["W1"])
    assert not np.array_equal(stacked[0]["W1"], stacked[2]["W1"])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_stack_of_one_is_the_single_model_trainer(dtype):
    X, Y = _data("sigmoid", m=50, n_in=2, dtype=dtype)
    (p,) = _models(1, 2, 3, 1, dtype)
    q = _copy(p)
    engine.Workspace(2, 3, 1, 50, "tanh", "sigmoid", dtype).stack_trainer([p], X, Y, [1.2])(30)
    engine.Workspace(2, 3, 1, 50, "tanh", "sigmoid", dtype).trainer(q, X, Y, 1.2)(30)
    for k in NAMES:
        np.testing.assert_array_equal(p[k], q[k], err_msg=k)
    assert not np.array_equal(p["W1"], _models(1, 2, 3, 1, dtype)[0]["W1"])


def test_a_stack_keeps_each_model_in_its_own_row_of_one_buffer():
    ps = _models(3, 2, 3, 1, np.float64)
    before = [_copy(p) for p in ps]
    flat = engine.pack_stack(ps)
    assert flat.shape == (3, 3 * 2 + 3 + 1 * 3 + 1)
    for row, p, b in zip(flat, ps, before):
        for k in NAMES:
            np.testing.assert_array_equal(p[k], b[k])
            assert np.shares_memory(p[k], row)


def test_a_workspace_refuses_a_stack_of_another_size():
    X, Y = _data("sigmoid")
    ws = engine.Workspace(3, 4, 1, X.shape[1], "tanh", "sigmoid", n_models=3)
    with pytest.raises(ValueError, match="2 models for a workspace of 3"):
        ws.stack_trainer(_models(2, 3, 4, 1, np.float64), X, Y, [0.1, 0.2])


# --- grid.stacks: which jobs train together --------------------------------------------------

SETTINGS = grid.TrainSettings(
    budgets=(10, 100), dtype="float64", output="sigmoid",
    loss_points=100, stack=True,
)  # fmt: skip
BASE_JOB = grid.Job(
    hidden_size=3, activation="tanh", learning_rate=0.5, batch_size=None, seed=0,
    settings=SETTINGS, config_ids=("a", "b"), keys=("ka", "kb"),
)  # fmt: skip
SETTING_NAMES = {f.name for f in dataclasses.fields(grid.TrainSettings)}


def _job(n, **changes):
    """A stackable job, numbered ``n`` (its learning rate) so each one is distinct.

    ``changes`` may name job fields or training settings."""
    settings = {k: changes.pop(k) for k in list(changes) if k in SETTING_NAMES}
    if settings:
        changes["settings"] = dataclasses.replace(SETTINGS, **settings)
    return dataclasses.replace(BASE_JOB, learning_rate=0.1 * (n + 1), **changes)


def _check_partition(runs, jobs):
    flat = [j for run in runs for j in run]
    assert sorted(map(id, flat)) == sorted(map(id, jobs)), "every job exactly once"
    assert len(flat) == len(jobs)


def test_jobs_that_differ_only_in_rate_and_seed_stack_together():
    jobs = [_job(i, seed=s) for i in range(3) for s in (0, 1)]
    runs = grid.stacks(jobs, N_TRAIN)
    assert runs == [jobs]  # one stack, in the jobs' order


def test_jobs_that_differ_in_initialisation_stack_together():
    # an init changes only the starting weights, which each model of a stack has its own of
    jobs = [_job(0), _job(1, init="he", init_scale=None), _job(2, init_scale=0.1)]
    assert grid.stacks(jobs, N_TRAIN) == [jobs]


@pytest.mark.parametrize(
    "change",
    [
        {"hidden_size": 4},
        {"activation": "relu"},
        {"dtype": "float32"},
        {"budgets": (10, 200)},
        {"output": "softmax"},
        {"loss_points": 0},
    ],
    ids=lambda c: next(iter(c)),
)
def test_jobs_that_differ_in_anything_else_do_not_stack(change):
    a = [_job(i) for i in range(3)]
    b = [_job(i, **change) for i in range(3, 6)]
    runs = grid.stacks([a[0], b[0], a[1], b[1], a[2], b[2]], N_TRAIN)
    assert runs == [a, b]  # in the order of their first job


def test_mini_batch_jobs_never_stack():
    jobs = [_job(i, batch_size=32) for i in range(4)] + [_job(i, batch_size=1000) for i in range(2)]
    assert grid.stacks(jobs, N_TRAIN) == [[j] for j in jobs]


def test_jobs_that_do_not_allow_it_never_stack():
    jobs = [_job(i, stack=False) for i in range(5)]
    assert grid.stacks(jobs, N_TRAIN) == [[j] for j in jobs]
    mixed = [_job(0), _job(1, stack=False), _job(2), _job(3, stack=False)]
    assert grid.stacks(mixed, N_TRAIN) == [[mixed[0], mixed[2]], [mixed[1]], [mixed[3]]]


def test_only_small_layers_stack():
    limit = grid.STACK_MAX_ELEMENTS
    at_limit = [_job(i, hidden_size=limit // N_TRAIN) for i in range(3)]  # h x m == limit
    assert (limit // N_TRAIN) * N_TRAIN == limit
    assert grid.stacks(at_limit, N_TRAIN) == [at_limit]
    above = [_job(i, hidden_size=limit // N_TRAIN + 1) for i in range(3)]
    assert grid.stacks(above, N_TRAIN) == [[j] for j in above]
    # the same jobs on fewer examples are small again
    assert grid.stacks(above, N_TRAIN // 2) == [above]


@pytest.mark.parametrize(
    ("n", "sizes"),
    [(1, [1]), (8, [8]), (9, [5, 4]), (10, [5, 5]), (16, [8, 8]), (17, [6, 6, 5])],
)
def test_a_large_group_is_cut_into_near_equal_stacks(n, sizes):
    assert grid.STACK_MAX_MODELS == 8
    jobs = [_job(i) for i in range(n)]
    runs = grid.stacks(jobs, N_TRAIN)
    assert [len(r) for r in runs] == sizes
    assert [j for r in runs for j in r] == jobs  # order kept, each job once


def test_a_mixed_grid_puts_every_job_in_exactly_one_run():
    raw = {
        "name": "mixed",
        "grid": {
            "hidden_sizes": [1, 3, 60],  # 60 x 160 is above STACK_MAX_ELEMENTS
            "activations": ["tanh", "relu"],
            "learning_rates": [1.2, 0.6, 0.1, 0.01, 0.001],
            "batch_sizes": ["full", 32],
            "seeds": [0, 1],
            "iterations": [10, 100],
        },
        "train": {"stack": True},
    }
    jobs = grid.expand(parse(yaml.safe_dump(raw)), "sigmoid")
    runs = grid.stacks(jobs, N_TRAIN)
    _check_partition(runs, jobs)
    for run in runs:
        assert len(run) <= grid.STACK_MAX_MODELS
        if len(run) > 1:
            assert len({(j.hidden_size, j.activation) for j in run}) == 1
            assert all(j.batch_size is None and j.hidden_size < 60 for j in run)
    # 2 small sizes x 2 activations, 10 full-batch jobs each: stacks of 5 and 5
    assert sorted(len(r) for r in runs if len(r) > 1) == [5] * 8
    assert sum(len(r) == 1 for r in runs) == len(jobs) - 40


# --- plan_tasks: a stack travels whole ------------------------------------------------------


@pytest.mark.parametrize("n_workers", [1, 2, 8])
def test_every_stack_lands_whole_in_one_task(n_workers):
    raw = {
        "name": "plan",
        "grid": {
            "hidden_sizes": [1, 2, 3, 5, 8, 60],
            "activations": ["tanh", "sigmoid", "relu"],
            "learning_rates": [1.2, 0.6, 0.3, 0.1, 0.01],
            "batch_sizes": ["full", 64],
            "seeds": [0, 1],
            "iterations": [100, 2000],
        },
        "train": {"stack": True},
    }
    jobs = grid.expand(parse(yaml.safe_dump(raw)), "sigmoid")
    tasks = schedule.plan_tasks(jobs, n_workers, N_TRAIN)
    _check_partition([run for task in tasks for run in task], jobs)
    task_of = {id(j): t for t, task in enumerate(tasks) for run in task for j in run}
    runs = grid.stacks(jobs, N_TRAIN)
    stacked = [run for run in runs if len(run) > 1]
    assert len(stacked) == 5 * 3 * 2  # five small sizes, three activations, 10 jobs -> 5 + 5
    for run in stacked:
        assert len({task_of[id(j)] for j in run}) == 1, [j.config_ids[0] for j in run]
    # and tasks carry exactly those stacks, whole, to the workers
    carried = [run for task in tasks for run in task]
    assert sorted(tuple(map(id, r)) for r in carried) == sorted(tuple(map(id, r)) for r in runs)


# --- train_stack: one stack, the results of each job alone -----------------------------------


def _stack_jobs(tiny_config, **grid_changes):
    raw = copy.deepcopy(tiny_config)  # moons, 200 samples
    raw["grid"].update(grid_changes)
    raw["train"] = {"stack": True, "loss_points": 10}
    cfg = parse(yaml.safe_dump(raw))
    return grid.expand(cfg, "sigmoid"), data_mod.to_training(
        data_mod.load(cfg.data, cfg.task), "sigmoid"
    )


def test_train_stack_gives_each_job_its_results_alone(tiny_config):
    jobs, data = _stack_jobs(
        tiny_config, activations=["relu"], learning_rates=[1.2, 1e300, 0.01], seeds=[0, 3],
        iterations=[15, 40],
    )  # fmt: skip
    assert grid.stacks(jobs, data.X_train.shape[1]) == [jobs]
    stacked = train_mod.train_stack(jobs, data)
    assert len(stacked) == len(jobs)
    for job, results in zip(jobs, stacked):
        alone = train_mod.train(job, data)
        assert len(results) == len(alone) == 2
        for res, ref in zip(results, alone):
            row = res.row.values()
            assert _without(row) == _without(ref.row.values()), row["config_id"]
            assert (row["stack_size"], ref.row.stack_size) == (6, 1)
            if job.learning_rate == 1e300:
                assert row["status"] == "diverged" and res.params is None
                continue
            assert row["status"] == "ok"
            assert res.params.keys() == ref.params.keys()
            for k in NAMES:
                np.testing.assert_array_equal(res.params[k], ref.params[k])
            assert res.params["loss_curve"] == ref.params["loss_curve"]
    # the seeds drew different starts: same rate, other seed, other weights
    assert not np.array_equal(stacked[0][0].params["W1"], stacked[1][0].params["W1"])


def test_a_stack_of_initialisations_gives_each_job_its_results_alone(tiny_config):
    jobs, data = _stack_jobs(
        tiny_config, learning_rates=[0.5], inits=["normal", "xavier"], init_scales=[0.01, 1.0],
        iterations=[15, 40],
    )  # fmt: skip
    assert [(j.init, j.init_scale) for j in jobs] == [("normal", 0.01), ("normal", 1.0),
                                                      ("xavier", None)]  # fmt: skip
    assert grid.stacks(jobs, data.X_train.shape[1]) == [jobs]
    for job, results in zip(jobs, train_mod.train_stack(jobs, data)):
        for res, ref in zip(results, train_mod.train(job, data)):
            assert _without(res.row.values()) == _without(ref.row.values())
            for k in NAMES:
                np.testing.assert_array_equal(res.params[k], ref.params[k])
    starts = [train_mod.train(j, data)[0].params["W1"] for j in jobs]
    assert not np.array_equal(starts[0], starts[1]) and not np.array_equal(starts[1], starts[2])


def test_a_stacked_row_is_charged_its_share_of_the_stack_time(tiny_config, monkeypatch):
    ticks = itertools.count()  # a clock that advances one second per reading
    monkeypatch.setattr(
        train_mod, "time", types.SimpleNamespace(thread_time=lambda: float(next(ticks)))
    )
    jobs, data = _stack_jobs(tiny_config, learning_rates=[1.2, 0.6, 0.3, 0.1], iterations=[5, 10])
    # stops at 0, 1, 2, ..., 10 (loss_points 10): one second of stepping each
    for results in train_mod.train_stack(jobs, data):
        assert [r.row.fit_seconds for r in results] == [6 / 4, 11 / 4]
    assert [r.row.fit_seconds for r in train_mod.train(jobs[0], data)] == [6.0, 11.0]


# --- end to end: a stacked sweep records what an unstacked one does ---------------------------

DIVERGING = 1e300  # takes relu networks to inf / nan within a few steps (tanh saturates)


def _e2e_config(tiny_config, stack: bool) -> dict:
    raw = copy.deepcopy(tiny_config)  # moons, 200 samples
    raw["grid"].update(
        hidden_sizes=[1, 3],
        activations=["tanh", "relu"],
        learning_rates=[1.2, 0.6, 0.01, DIVERGING],
        seeds=[0, 1],
        iterations=[20, 200],
    )
    raw["train"] = {"stack": stack}
    return raw


def _rows_by_key(folder):
    rows = store.read_rows(folder / RESULTS_FILE)
    by_key = {r["key"]: r for r in rows}
    assert len(by_key) == len(rows), "each configuration recorded once"
    return by_key


def test_a_stacked_sweep_records_exactly_what_an_unstacked_one_does(
    tiny_config, write_config, tmp_path
):
    plain_cfg = load(write_config(_e2e_config(tiny_config, False), "plain.yaml"))
    stack_cfg = load(write_config(_e2e_config(tiny_config, True), "stack.yaml"))
    assert stack_cfg.train.stack and not plain_cfg.train.stack
    plain = run_sweep(plain_cfg, tmp_path / "plain", n_jobs=1)
    stacked = run_sweep(stack_cfg, tmp_path / "stack", n_jobs=1)
    assert plain.total == stacked.total == 2 * 2 * 4 * 2 * 2
    assert plain.counts == stacked.counts == {"ok": 56, "diverged": 8}

    a, b = _rows_by_key(tmp_path / "plain"), _rows_by_key(tmp_path / "stack")
    assert a.keys() == b.keys()
    for key, row in a.items():
        assert _without(row) == _without(b[key]), row["config_id"]
        assert row["stack_size"] == 1
        assert b[key]["stack_size"] == 8  # 4 rates x 2 seeds per hidden size and activation
        assert row["fit_seconds"] > 0 and b[key]["fit_seconds"] > 0

    # a stack's rows of one budget share its time; rows trained alone each have their own
    for rows, shared in ((a, False), (b, True)):
        ok = [r for r in rows.values() if r["status"] == "ok"]
        groups = {(r["hidden_size"], r["activation"], r["iterations"]) for r in ok}
        assert (len({r["fit_seconds"] for r in ok}) == len(groups)) == shared

    # relu at the diverging rate is diverged alone and in its stack; its stack-mates are ok
    for row in b.values():
        diverging = row["learning_rate"] == DIVERGING and row["activation"] == "relu"
        assert row["status"] == ("diverged" if diverging else "ok"), row["config_id"]
        assert (row["diverged_at"] is not None) == diverging

    for row in a.values():
        if row["status"] != "ok":
            assert not row["params_path"]
            continue
        p = params_mod.load_params(tmp_path / "plain" / row["params_path"])
        q = params_mod.load_params(tmp_path / "stack" / row["params_path"])
        for k in NAMES:
            assert p[k].dtype == q[k].dtype == np.float64
            np.testing.assert_array_equal(p[k], q[k], err_msg=f"{row['config_id']} {k}")
        assert p["loss_curve"] == q["loss_curve"]
        assert np.isfinite(q["loss_curve"]["loss"]).all()
        assert p["config"] == q["config"]
        assert q["train"]["stack"] is True and p["train"]["stack"] is False


def test_results_recorded_without_stacking_are_resumed_with_it(
    tiny_config, write_config, tmp_path, runner
):
    plain_cfg = load(write_config(_e2e_config(tiny_config, False), "plain.yaml"))
    stack_path = write_config(_e2e_config(tiny_config, True), "stack.yaml")
    stack_cfg = load(stack_path)
    keys = [k for j in grid.expand(plain_cfg, "sigmoid") for k in j.keys]
    assert [k for j in grid.expand(stack_cfg, "sigmoid") for k in j.keys] == keys
    assert grid.fingerprint(stack_cfg.resolved()) == grid.fingerprint(plain_cfg.resolved())

    out = tmp_path / "out"
    first = run_sweep(plain_cfg, out, n_jobs=1)
    assert (first.skipped, first.total) == (0, 64)
    results = out / RESULTS_FILE
    before = results.read_bytes()
    params_before = {p.name: p.read_bytes() for p in (out / PARAMS_DIR).iterdir()}
    assert sorted(r["key"] for r in store.read_rows(results)) == sorted(keys)

    result = runner.invoke(app, ["run", str(stack_path), "--out", str(out), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert "(64 already recorded, 0 to run)" in result.stderr
    assert results.read_bytes() == before  # nothing retrained, nothing appended
    assert {p.name: p.read_bytes() for p in (out / PARAMS_DIR).iterdir()} == params_before


# --- the default: stacks for the compiled engine only -------------------------------------


def test_by_default_the_compiled_engine_stacks_and_its_rows_are_those_it_records_alone(
    tiny_config, write_config, tmp_path
):
    raw = _e2e_config(tiny_config, False)
    raw["train"] = {"dtype": "float32"}  # engine auto: compiled; stack auto: on
    alone_raw = copy.deepcopy(raw)
    alone_raw["train"]["stack"] = False
    auto_cfg, alone_cfg = load(write_config(raw, "auto.yaml")), load(write_config(alone_raw))
    assert auto_cfg.train.stack == "auto"
    run_sweep(auto_cfg, tmp_path / "auto", n_jobs=1)
    run_sweep(alone_cfg, tmp_path / "alone", n_jobs=1)

    a, b = _rows_by_key(tmp_path / "auto"), _rows_by_key(tmp_path / "alone")
    assert a.keys() == b.keys()
    for key, row in a.items():
        assert _without(row) == _without(b[key]), row["config_id"]
        assert row["stack_size"] == 8 and b[key]["stack_size"] == 1
    # each model of a compiled stack is timed on its own: no time is shared out
    ok = [r for r in a.values() if r["status"] == "ok"]
    assert len({r["fit_seconds"] for r in ok}) == len(ok)


def test_by_default_the_numpy_engine_trains_each_configuration_alone(tiny_config):
    cfg = parse(yaml.safe_dump(_e2e_config(tiny_config, False) | {"train": {}}))  # NumPy
    assert cfg.train.stack == "auto"
    runs = grid.stacks(grid.expand(cfg, "sigmoid"), 160)
    assert all(len(run) == 1 for run in runs)
    compiled = parse(
        yaml.safe_dump(_e2e_config(tiny_config, False) | {"train": {"engine": "compiled"}})
    )
    assert {len(run) for run in grid.stacks(grid.expand(compiled, "sigmoid"), 160)} == {8}


@pytest.mark.parametrize("value", ["yes", "AUTO", "true", 1, 0, 1.0, None, [True], {}])
def test_stack_is_true_false_or_auto_and_nothing_else(tiny_config, value):
    raw = _e2e_config(tiny_config, False)
    raw["train"] = {"stack": value}
    with pytest.raises(ConfigError, match=r"train\.stack: must be true, false or auto"):
        parse(yaml.safe_dump(raw))
