"""The Dask backend on a real local cluster (worker processes on loopback).

Same rows and weights as local workers; the training data reaches the workers once; a
worker killed mid-sweep loses no configuration; clear errors without Dask or a scheduler.
"""

from __future__ import annotations

import os
import signal
import sys
from types import SimpleNamespace

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from sweep_nn import cli, config
from sweep_nn.data import TrainingData
from sweep_nn.errors import MissingExtraError
from sweep_nn.results import params as params_mod
from sweep_nn.results import store
from sweep_nn.sweep import dask as cluster
from sweep_nn.sweep import dispatch, jobs, run, schedule
from sweep_nn.sweep.worker import run_task

SMALL = {  # 8 jobs, 16 rows, a fraction of a second each
    "name": "small",
    "data": {"dataset": "moons", "n_samples": 400},
    "grid": {
        "hidden_sizes": [2, 4],
        "activations": ["tanh", "relu"],
        "learning_rates": [0.6, 0.1],
        "iterations": [50, 200],
    },
}
LONGER = {  # 8 jobs of some tenths of a second: workers are busy when the first row lands
    "name": "longer",
    "data": {"dataset": "moons", "n_samples": 1000},
    "grid": {
        "hidden_sizes": [4, 8],
        "activations": ["tanh", "relu"],
        "learning_rates": [0.6, 0.1],
        "iterations": [1500],
    },
}
WEIGHTS = ("W1", "b1", "W2", "b2")


@pytest.fixture(scope="module")
def dask_cluster():
    """Two single-threaded worker processes and a scheduler on 127.0.0.1."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # a free port (None would still take 8787)
        ) as local,
        distributed.Client(local, set_as_default=False) as client,
    ):
        yield SimpleNamespace(address=local.scheduler_address, client=client, local=local)


def _rows_by_key(results_path):
    df = store.read_results(results_path).drop(columns="fit_seconds")
    return df.sort_values("key").reset_index(drop=True)


def _local_and_dask(runner, path, address, tmp_path):
    """Run the sweep file ``path`` with one local worker, then on the cluster: the two folders."""
    local, remote = tmp_path / "local", tmp_path / "dask"
    for out, how in ((local, ["-j", "1"]), (remote, ["--backend", "dask", "--scheduler", address])):
        done = runner.invoke(cli.app, ["run", str(path), "--out", str(out), *how, "-q"])
        assert done.exit_code == 0, done.output
    return local, remote


def test_dask_sweep_writes_the_same_rows_and_weights_as_local_workers(
    dask_cluster, write_config, runner, tmp_path
):
    import pandas as pd

    path = write_config(SMALL)
    local, remote = _local_and_dask(runner, path, dask_cluster.address, tmp_path)
    expected, got = _rows_by_key(local / "results.csv"), _rows_by_key(remote / "results.csv")
    assert len(got) == 16 and (got["status"] == "ok").all()
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    for rel in expected["params_path"]:
        a, b = params_mod.load_params(local / rel), params_mod.load_params(remote / rel)
        for name in WEIGHTS:
            np.testing.assert_array_equal(b[name], a[name], err_msg=f"{rel} {name}")
        assert b["loss_curve"] == a["loss_curve"]


def test_training_data_reaches_the_cluster_once_not_with_each_job(
    dask_cluster, write_config, tmp_path, monkeypatch
):
    with_data, by_reference = [], []
    real_submit = distributed.Client.submit

    def submit(self, func, *args, **kwargs):
        if any(isinstance(a, TrainingData) for a in args):
            with_data.append(func)  # the one task that holds the data
        for _, task_args, _ in kwargs.get("tasks", []):
            by_reference.append(task_args[1])  # a task: run_task(task, data)
        return real_submit(self, func, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "submit", submit)
    cfg = config.load(write_config(SMALL))
    summary = run.run_sweep(
        cfg, tmp_path / "out", n_jobs=2, backend="dask", scheduler=dask_cluster.address
    )

    assert summary.counts["ok"] == 16
    assert with_data == [cluster._same]
    # these runs are too short for checkpoints or round trips: a worker trains each to its
    # last budget in one go, so every task goes out once
    planned = schedule.plan_tasks(jobs.expand(cfg, "sigmoid"), 2, 320)
    assert len(by_reference) == len(planned)
    assert all(isinstance(arg, distributed.Future) for arg in by_reference)


def test_killing_a_worker_mid_sweep_still_records_every_configuration_once(
    dask_cluster, write_config, tmp_path
):
    client = dask_cluster.client
    pids = client.run(os.getpid)  # worker address -> process id
    killed = []

    def kill_a_busy_worker(row: dict) -> None:
        if killed:
            return
        busy = [address for address, keys in client.processing().items() if keys]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(pids[busy[0]])

    cfg = config.load(write_config(LONGER))
    summary = run.run_sweep(
        cfg,
        tmp_path / "out",
        n_jobs=2,
        backend="dask",
        scheduler=dask_cluster.address,
        on_row=kill_a_busy_worker,
    )

    assert killed, "no worker was busy when rows arrived: the sweep was too short to test"
    assert killed[0] not in client.run(os.getpid).values()
    keys = [row["key"] for row in store.read_rows(summary.results_path)]
    assert len(keys) == len(set(keys)) == summary.total == 8
    assert summary.counts == {"ok": 8}


def test_task_that_keeps_killing_workers_is_recognised_as_a_lost_worker(dask_cluster):
    import joblib

    data = TrainingData(*(np.zeros((1, 2)),) * 4, None, None, "classification")
    scheduler = dask_cluster.local.scheduler
    monkey = pytest.MonkeyPatch()
    monkey.setattr(scheduler, "allowed_failures", 0)  # give up after the first death
    try:
        with cluster.dask_backend(dask_cluster.address, 1, data):
            parallel = joblib.Parallel(return_as="generator_unordered", batch_size=1)
            with pytest.raises(Exception) as caught:
                list(parallel([joblib.delayed(os._exit)(1)]))
    finally:
        monkey.undo()
    assert cluster.worker_lost(caught.value), repr(caught.value)
    assert cluster.worker_lost(distributed.client.FutureCancelledError("k", "lost data"))
    assert not cluster.worker_lost(ValueError("an ordinary error"))


def _poisoned(task, data):
    """A worker task that kills its own process when it meets h4 relu lr 0.1."""
    if any(
        (j.hidden_size, j.activation, j.learning_rate) == (4, "relu", 0.1)
        for stack in task
        for j in stack
    ):
        os._exit(1)
    return run_task(task, data)


def test_sweep_records_a_job_that_kills_its_dask_workers_as_failed_and_the_rest_ok(
    dask_cluster, write_config, tmp_path, monkeypatch
):
    from sweep_nn import data as data_mod

    cfg = config.load(write_config(SMALL))
    ds = data_mod.load(cfg.data, cfg.task)
    expanded = jobs.expand(cfg, "sigmoid")
    monkeypatch.setattr(dask_cluster.local.scheduler, "allowed_failures", 0)
    rows = []
    dispatch.run_tasks(
        [[[job]] for job in expanded],
        data_mod.to_training(ds, "sigmoid"),
        2,
        "dask",
        dask_cluster.address,
        lambda results: rows.extend(r.row.values() for r in results),
        work=_poisoned,
    )
    status = {r["config_id"]: r["status"] for r in rows}
    assert len(rows) == len(status) == 16
    assert {cid for cid, s in status.items() if s != "ok"} == {
        "h4-relu-lr0.1-it50",
        "h4-relu-lr0.1-it200",
    }
    assert {s for s in status.values()} == {"ok", "failed"}


def test_dask_backend_without_scheduler_starts_a_local_cluster_and_stops_it(
    write_config, runner, tmp_path, monkeypatch
):
    started, submitted = [], []
    real_cluster, real_submit = distributed.LocalCluster, distributed.Client.submit

    def start(*args, **kwargs):
        started.append((kwargs, real_cluster(*args, **kwargs)))
        return started[-1][1]

    def submit(self, *args, **kwargs):
        submitted.append(self.scheduler.address)
        return real_submit(self, *args, **kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", start)
    monkeypatch.setattr(distributed.Client, "submit", submit)
    out = tmp_path / "out"
    done = runner.invoke(
        cli.app,
        ["run", str(write_config(SMALL)), "--out", str(out), "--backend", "dask", "-j", "1", "-q"],
    )

    assert done.exit_code == 0, done.output
    [(kwargs, local)] = started
    assert kwargs["n_workers"] == 1 and kwargs["threads_per_worker"] == 1
    assert kwargs["processes"] is True and kwargs["host"] == "127.0.0.1"
    assert local.status.name == "closed"
    assert submitted and set(submitted) == {local.scheduler_address}  # not run in this process
    rows = store.read_rows(out / "results.csv")
    assert len(rows) == 16 and {r["status"] for r in rows} == {"ok"}


def test_dask_backend_without_dask_installed_says_what_to_install(
    write_config, runner, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now fails
    data = TrainingData(*(np.zeros((1, 2)),) * 4, None, None, "classification")
    missing = pytest.raises(MissingExtraError, match=r'pip install "sweep-nn\[dask\]"')
    with missing, cluster.dask_backend(None, 1, data):
        pass

    args = ["run", str(write_config(SMALL)), "--out", str(tmp_path / "out"), "--backend", "dask"]
    done = runner.invoke(cli.app, args)
    assert done.exit_code == 2
    assert 'needs Dask, which is not installed; install it with: pip install "sweep-nn[dask]"' in (
        done.output
    )
    assert "Traceback" not in done.output


def test_unreachable_scheduler_is_a_one_line_error(write_config, runner, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 0.5)
    args = ["run", str(write_config(SMALL)), "--out", str(tmp_path / "out"), "--backend", "dask"]
    done = runner.invoke(cli.app, [*args, "--scheduler", "tcp://127.0.0.1:1"])
    assert done.exit_code == 2
    assert "error: cannot connect to the Dask scheduler at tcp://127.0.0.1:1" in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "out").exists()  # nothing written: no folder for ls to list as 0/8


def test_halving_on_dask_takes_the_same_decisions_and_writes_the_same_rows(
    dask_cluster, write_config, runner, tmp_path
):
    import pandas as pd

    path = write_config(SMALL | {"search": {"method": "halving", "eta": 2}})
    local, remote = _local_and_dask(runner, path, dask_cluster.address, tmp_path)
    expected, got = _rows_by_key(local / "results.csv"), _rows_by_key(remote / "results.csv")
    assert len(got) == 8 + 4  # 8 configurations to 50 iterations, the best half to 200
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert (local / "halving.csv").read_text() == (remote / "halving.csv").read_text()
