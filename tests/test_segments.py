"""A run as a chain of segments: the same results as one straight run, and resumes that
redo at most one checkpoint interval after a kill -9."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
import yaml

from sweep_nn import data as data_mod
from sweep_nn.config import load, parse
from sweep_nn.results import params as params_mod
from sweep_nn.results import store
from sweep_nn.results.schema import RESULTS_FILE
from sweep_nn.sweep import checkpoints, segments, worker
from sweep_nn.sweep import jobs as grid
from sweep_nn.sweep.run import run_sweep

EXECUTION_COLUMNS = ("fit_seconds",)


def _setup(grid_axes: dict, train: dict, n_samples: int = 90):
    raw = {
        "name": "seg",
        "data": {"dataset": "moons", "n_samples": n_samples},
        "grid": {"hidden_sizes": [3], "activations": ["tanh"], **grid_axes},
        "train": {"loss_points": 10, **train},
    }
    cfg = parse(yaml.safe_dump(raw))
    ds = data_mod.load(cfg.data, cfg.task)
    return cfg, grid.expand(cfg, "sigmoid"), data_mod.to_training(ds, "sigmoid")


def _through_files(state: segments.TrainState, top: int) -> segments.TrainState:
    """The state as it comes back from a checkpoint file: pickled, read via the allowlist."""
    blob = pickle.dumps(state.to_plain(top), protocol=pickle.HIGHEST_PROTOCOL)
    return segments.TrainState.from_plain(params_mod.safe_unpickle(blob), top)


def _chain(run: list, data) -> tuple[list, int]:
    """Train ``run`` segment by segment, every state passing through a file; results per job."""
    results: list[list] = [[] for _ in run]
    segment, n_segments = segments.first_segment(run, None), 0
    while segment is not None:
        outcome = worker.advance(segment, data)
        n_segments += 1
        for mine, theirs in zip(results, outcome.results):
            mine.extend(theirs)
        top = run[0].budgets[-1]
        outcome.states = [_through_files(s, top) for s in outcome.states]
        segment = segments.continuation(outcome)
    return results, n_segments


def _assert_same(chained: list, straight: list, skip=EXECUTION_COLUMNS) -> None:
    for a_job, b_job in zip(chained, straight, strict=True):
        assert len(a_job) == len(b_job)
        for a, b in zip(a_job, b_job):
            ra, rb = a.row.values(), b.row.values()
            assert {k: v for k, v in ra.items() if k not in skip} == {
                k: v for k, v in rb.items() if k not in skip
            }
            assert (a.params is None) == (b.params is None)
            if a.params is not None:
                for k in segments.PARAM_NAMES:
                    assert a.params[k].dtype == b.params[k].dtype
                    assert np.array_equal(a.params[k], b.params[k]), k  # bit for bit
                assert a.params["loss_curve"] == b.params["loss_curve"]
                assert a.params["resume"]["step"] == b.params["resume"]["step"]
                keys_a, keys_b = (x.params["resume"]["rng"]["keys"] for x in (a, b))
                assert np.array_equal(keys_a, keys_b)


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch", ["full", 16])  # 72 training examples: a last batch of 8
def test_a_chain_of_segments_gives_the_straight_runs_results_bit_for_bit(engine, dtype, batch):
    _, jobs, data = _setup(
        {"learning_rates": [0.6], "iterations": [30, 100], "batch_sizes": [batch]},
        {"dtype": dtype, "checkpoint_every": 7, "engine": engine},
    )
    assert jobs[0].settings.engine == engine
    assert data.X_train.shape[1] % 16 == 8
    (job,) = jobs
    chained, n_segments = _chain([job], data)
    assert n_segments == 16  # 7, 14, ..., 28, 30 (a budget), 35, ..., 98, 100
    _assert_same(chained, [worker.train(job, data)])


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_a_stack_in_segments_gives_each_job_its_straight_results(engine):
    _, jobs, data = _setup(
        {"activations": ["relu"], "learning_rates": [0.1, 0.6, 1.2, 1e300], "iterations": [20, 60],
         "seeds": [0, 1]},
        {"stack": True, "checkpoint_every": 9, "engine": engine},
    )
    (run,) = grid.stacks(jobs, data.X_train.shape[1])
    assert len(run) == 8
    chained, _ = _chain(run, data)
    _assert_same(chained, worker.train_stack(run, data))
    alone = [worker.train(job, data) for job in run]
    _assert_same(chained, alone, skip=("fit_seconds", "stack_size"))  # and as each alone
    statuses = {r.row.status for job_results in chained for r in job_results}
    assert statuses == {"ok", "diverged"}


def test_checkpoint_every_stays_out_of_the_result_key():
    _, a, _ = _setup({"learning_rates": [0.6], "iterations": [30]}, {})
    _, b, _ = _setup({"learning_rates": [0.6], "iterations": [30]}, {"checkpoint_every": 3})
    assert a[0].keys == b[0].keys
    assert segments.checkpoint_every(a[0].settings) == 3  # a tenth of the largest budget


# --- kill -9 late in a long configuration, then resume ----------------------------------------

LONG = {
    "name": "long",
    "data": {"dataset": "moons", "n_samples": 1000},
    "grid": {"hidden_sizes": [20], "activations": ["tanh"], "learning_rates": [0.5],
             "iterations": [1000, 12000]},
    "train": {"checkpoint_every": 400, "loss_points": 30},
}  # fmt: skip


@pytest.mark.slow
def test_kill_9_late_in_a_run_then_resume_redoes_at_most_one_checkpoint_interval(
    tmp_path, monkeypatch
):
    cfg_path = tmp_path / "long.yaml"
    cfg_path.write_text(yaml.safe_dump(LONG))
    cfg = load(cfg_path)
    ds = data_mod.load(cfg.data, cfg.task)
    (job,) = grid.expand(cfg, "sigmoid")
    top, every, out = job.budgets[-1], 400, tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweep_nn", "run", str(cfg_path), "--out", str(out), "-j", "1",
         "--quiet"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while True:  # late: past two thirds of the run
            state = checkpoints.load_checkpoint(out, job)
            if state is not None and state.step >= 2 * top // 3:
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    newest = checkpoints.load_checkpoint(out, job).step  # read after the kill
    assert newest >= 2 * top // 3 and newest % every == 0

    trained = []  # (start, iterations) of every segment the resumed run trains
    real = worker.advance

    def counting(segment, data):
        outcome = real(segment, data)
        trained.append((segment.start, outcome.iterations))
        return outcome

    monkeypatch.setattr(worker, "advance", counting)
    summary = run_sweep(cfg, out, n_jobs=1)  # in this process: the counter sees every segment
    assert summary.counts == {"ok": 2}
    assert trained[0][0] == newest  # from the newest checkpoint, not from zero
    assert sum(n for _, n in trained) == top - newest
    # what the kill cost: the run had trained less than one interval past that checkpoint
    print(f"killed after checkpoint {newest} of {top}; resumed there and trained "
          f"{top - newest} iterations (a fresh run: {top}); at most {every} redone")  # fmt: skip
    assert not (out / checkpoints.CHECKPOINT_DIR / f"{job.config_ids[-1]}.pkl").exists()

    straight = worker.train(job, data_mod.to_training(ds, "sigmoid"))
    rows = {r["iterations"]: r for r in store.read_rows(out / RESULTS_FILE)}
    for res in straight:
        row = rows[res.row.iterations]
        for column in ("train_acc", "dev_acc", "train_loss", "dev_loss", "gap", "status"):
            assert row[column] == res.row.values()[column], column
        saved = params_mod.load_params(out / row["params_path"])
        for k in segments.PARAM_NAMES:
            assert np.array_equal(saved[k], res.params[k]), k
        assert saved["loss_curve"] == res.params["loss_curve"]


def test_a_run_too_short_to_be_worth_checkpoints_is_one_segment_through_its_budgets():
    _, jobs, data = _setup({"learning_rates": [0.6], "iterations": [30, 100]}, {})
    (job,) = jobs
    n_train = data.X_train.shape[1]
    segment = segments.first_segment([job], None, n_train)
    assert segment.target == 100 and segment.every >= 100  # no checkpoint before its end
    assert segments.first_segment([job], None, n_train, stop=30).target == 30  # a rung's end
    outcome = worker.advance(segment, data)
    assert [res.row.iterations for res in outcome] == [30, 100]  # a row and state for each
    _assert_same([list(outcome)], [worker.train(job, data)])
    # asked for checkpoints, it goes from budget to budget (and checkpoint) again
    alone = replace(job, settings=replace(job.settings, checkpoint_every=1000))
    assert segments.first_segment([alone], None, n_train).target == 30
    # a long run still gets one every tenth of its largest budget
    big = segments.checkpoint_every(job.settings, step_cost=segments.MIN_SEGMENT_COST / 5)
    assert big == 10


def test_a_worker_takes_a_cheap_run_through_its_budgets_and_stops_where_asked():
    _, jobs, data = _setup({"learning_rates": [0.6], "iterations": [10, 30, 100]}, {})
    (job,) = jobs
    # from budget 10 on, what is left is cheap: the worker goes on without a round trip
    first = segments.Segment([job], None, 10, every=10_000)
    outcomes = worker.run_task([first], data)
    assert [o.segment.target for o in outcomes] == [10, 100]  # one task, no round trips
    assert segments.continuation(outcomes[-1]) is None
    _assert_same([[r for o in outcomes for r in o]], [worker.train(job, data)])
    paused = worker.run_task([segments.Segment([job], None, 10, every=10_000, stop=30)], data)
    assert [o.segment.target for o in paused] == [10, 30]  # a halving rung ends at 30
    assert segments.continuation(paused[-1]) is None


def test_the_pool_reads_only_the_outcomes_it_must_continue():
    _, jobs, data = _setup({"learning_rates": [0.6, 1.2], "iterations": [10, 30, 1000]},
                           {"checkpoint_every": 20})  # fmt: skip
    asked, straight = (segments.Segment([job], None, 10, every=20) for job in jobs)
    straight.jobs[0] = replace(straight.jobs[0], settings=replace(straight.jobs[0].settings,
                                                                 checkpoint_every=None))  # fmt: skip
    straight.every = 10_000  # from 10 on, the worker takes it to its end
    sent = worker.run_task_sealed([asked, straight], data)
    plain = worker.run_task([asked, straight], data)
    assert [o.ident for o in sent] == [o.ident for o in plain] == [
        (jobs[0].keys[0], 0), (jobs[1].keys[0], 0), (jobs[1].keys[0], 10)
    ]  # fmt: skip
    # the first run goes on from its one outcome (checkpoint_every: back to the parent)
    assert isinstance(sent[0], segments.SegmentOutcome) and segments.continuation(sent[0])
    assert all(isinstance(o, segments.SealedOutcome) for o in sent[1:])  # nothing to plan
    for sealed, made in zip(sent[1:], plain[1:]):
        opened = pickle.loads(sealed.pickled)
        assert opened.segment.target == made.segment.target
        _assert_same([list(opened)], [list(made)])


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_only_runs_that_draw_their_batches_build_a_generator(engine, monkeypatch):
    """Building a RandomState from a state costs more than a small run's training, so a
    full-batch run goes without one; its state's generator stays as the seed left it."""
    _, jobs, data = _setup(
        {"learning_rates": [0.6], "iterations": [5, 10], "batch_sizes": ["full", 16]},
        {"engine": engine},
    )
    full, mini = jobs
    built = []
    real = worker._generators
    monkeypatch.setattr(worker, "_generators", lambda states: built.append(1) or real(states))
    start = segments.initial_state(full, data.X_train.shape[0], 1)
    outcome = worker.advance(segments.Segment([full], [start], 10), data)
    assert built == []
    (state,) = outcome.states
    assert all(np.array_equal(a, b) for a, b in zip(state.rng[1:], start.rng[1:]))
    resume = outcome.results[0][-1].params["resume"]["rng"]
    assert np.array_equal(resume["keys"], start.rng[1]) and resume["pos"] == start.rng[2]
    outcome = worker.advance(segments.Segment([mini], None, 10), data)
    assert built == [1]
    assert not np.array_equal(outcome.states[0].rng[1], start.rng[1])  # 10 orders drawn


def test_initial_weights_come_from_the_seed_alone_whatever_was_drawn_before():
    """The initial state reuses one generator per thread, reseeded: as RandomState(seed)."""
    from sweep_nn.nn import plain

    _, jobs, data = _setup({"learning_rates": [0.6], "iterations": [5], "seeds": [0, 7]}, {})
    n_in = data.X_train.shape[0]
    segments._seeded(3).standard_normal(3)  # leaves a cached gaussian behind
    for job in jobs:
        state = segments.initial_state(job, n_in, 1)
        fresh = np.random.RandomState(job.seed)
        weights = plain.init_params(n_in, job.hidden_size, 1, fresh, job.init, job.init_scale)
        for name in segments.PARAM_NAMES:
            assert np.array_equal(state.params[name], weights[name])
        name, keys, *rest = fresh.get_state()
        assert state.rng[0] == name and np.array_equal(state.rng[1], keys)
        assert list(state.rng[2:]) == rest


def test_on_a_sweeps_data_a_worker_returns_each_parameters_file_made():
    """The parent only writes the bytes: the worker pickles each budget's parameters file,
    whose contents are the plain result's, with what the data says a file carries."""
    cfg, jobs, data = _setup({"learning_rates": [0.6], "iterations": [20, 40]}, {})
    meta = {"train": {"dtype": "float64"}, "data": {"dataset": "moons"}, "task": data.task,
            "classes": [0, 1], "scaler": None, "n_features": 2, "features": None}  # fmt: skip
    plain = worker.train(jobs[0], data)
    sealed = worker.train(jobs[0], replace(data, params_meta=meta))
    assert [r.row.values() | {"fit_seconds": 0} for r in sealed] == [
        r.row.values() | {"fit_seconds": 0} for r in plain
    ]
    for mine, theirs in zip(sealed, plain):
        assert mine.params is None and theirs.params_file is None
        loaded = params_mod.safe_unpickle(mine.params_file)
        assert loaded["config"]["iterations"] == mine.row.iterations
        assert {k: loaded[k] for k in meta} == meta
        for k in segments.PARAM_NAMES:
            assert np.array_equal(loaded[k], theirs.params[k]), k
        assert loaded["loss_curve"] == theirs.params["loss_curve"]
