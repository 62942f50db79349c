"""The worker pool kept between sweeps (``sweep-nn workers``): a run on it records what its
own workers would, and a pool that cannot be used, or goes away, costs no row."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import procs
import pytest
import yaml
from conftest import TINY_CONFIG
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.sweep import pool

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "AF_UNIX") or len(os.sched_getaffinity(0)) < 2,
    reason="a pool needs Unix sockets and 2 cores",
)

ON_POOL = "training on the worker pool"
CLI = [sys.executable, "-m", "sweep_nn"]
# runs that go back to the parent between segments, several stages, float32 and float64
CONTINUED = copy.deepcopy(TINY_CONFIG) | {"name": "continued"}
CONTINUED["grid"] |= {"hidden_sizes": [2, 5], "activations": ["tanh", "relu"],
                      "iterations": [30, 90, 270]}  # fmt: skip
CONTINUED["train"] = {"dtype": "float32", "checkpoint_every": 40}
LONG = copy.deepcopy(TINY_CONFIG) | {"name": "long"}  # some seconds on two workers
LONG["data"]["n_samples"] = 1000
LONG["grid"] = {"hidden_sizes": [50], "activations": ["tanh", "sigmoid", "relu"],
                "learning_rates": [0.1, 0.3, 0.6, 1.0], "iterations": [20000, 60000]}  # fmt: skip
LONG["train"] = {"dtype": "float32"}


def _env(folder: Path) -> dict:
    return {**os.environ, pool.FOLDER_ENV: str(folder)}


def _cli(folder: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=_env(folder), capture_output=True, text=True,
                          timeout=300, **kwargs)  # fmt: skip


def _write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _rows(folder: Path) -> pd.DataFrame:
    rows = pd.read_csv(folder / "results.csv").drop(columns=["fit_seconds"])
    return rows.sort_values("key").reset_index(drop=True)


@pytest.fixture
def pool_folder(tmp_path, monkeypatch):
    """A folder of its own for the pool of a test, in this process too; the pool stopped after."""
    folder = tmp_path / "pool"
    monkeypatch.setenv(pool.FOLDER_ENV, str(folder))
    yield folder
    pool.stop()


def _start(folder: Path, *args: str) -> pool.PoolInfo:
    started = _cli(folder, "workers", "start", "-j", "2", *args)
    assert started.returncode == 0, started.stderr
    info = pool.running()
    assert info is not None and info.n_jobs == 2
    return info


@pytest.mark.parametrize("config", [CONTINUED, TINY_CONFIG], ids=["continued", "tiny"])
def test_a_sweep_on_the_pool_records_what_its_own_workers_record(tmp_path, pool_folder, config):
    path = _write(tmp_path, config)
    alone = _cli(
        tmp_path / "no-pool", "run", str(path), "--out", str(tmp_path / "alone"), "-j", "2"
    )
    assert alone.returncode == 0 and ON_POOL not in alone.stderr
    _start(pool_folder)
    for twice in ("first", "again"):  # the second sweep finds the workers the first left
        out = tmp_path / twice
        on = _cli(pool_folder, "run", str(path), "--out", str(out), "-j", "2")
        assert on.returncode == 0, on.stderr
        assert ON_POOL in on.stderr
        pd.testing.assert_frame_equal(_rows(out), _rows(tmp_path / "alone"))
    halving = _cli(pool_folder, "run", str(path), "--out", str(tmp_path / "h"), "--halving")
    alone = _cli(tmp_path / "no-pool", "run", str(path), "--out", str(tmp_path / "ha"), "--halving")
    assert halving.returncode == alone.returncode == 0 and ON_POOL in halving.stderr
    pd.testing.assert_frame_equal(_rows(tmp_path / "h"), _rows(tmp_path / "ha"))


def test_start_status_stop(pool_folder):
    none = _cli(pool_folder, "workers", "status")
    assert none.returncode == 1 and none.stdout == "no worker pool is running\n"
    pool_folder.mkdir(mode=0o700)
    (pool_folder / pool.LOG).write_bytes(b"old error\n" * 100_000)  # a log of many starts
    info = _start(pool_folder)
    assert (pool_folder / pool.LOG).read_bytes().endswith(b"old error\n")  # its end kept
    assert (pool_folder / pool.LOG).stat().st_size <= 64 * 1024  # not the megabyte
    again = _cli(pool_folder, "workers", "start", "-j", "2")
    assert again.returncode == 0 and "already running" in again.stderr
    assert pool.running() == info  # the same pool
    status = _cli(pool_folder, "workers", "status")
    assert status.returncode == 0 and status.stdout.startswith(
        f"running: 2 workers, pid {info.pid}"
    )
    assert "another build" not in status.stdout and "busy" not in status.stdout
    assert (pool_folder.stat().st_mode & 0o777) == 0o700
    stopped = _cli(pool_folder, "workers", "stop")
    assert stopped.returncode == 0 and f"stopped (pid {info.pid})" in stopped.stderr
    assert pool.running() is None and not (pool_folder / pool.SOCKET).exists()
    assert "no worker pool is running" in _cli(pool_folder, "workers", "stop").stderr


def test_a_pool_that_cannot_be_used_is_passed_over(tmp_path, pool_folder, monkeypatch):
    """Another build, a busy pool, another number of workers: the run trains on workers of
    its own and says why."""
    _start(pool_folder)
    path = _write(tmp_path, TINY_CONFIG)
    runner = CliRunner()

    def run(out: str, *more: str):
        result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / out), *more])
        assert result.exit_code == 0, result.output
        assert ON_POOL not in result.output
        return result.output

    build_id = pool.build_id
    monkeypatch.setattr(pool, "build_id", lambda: "another")
    assert "runs another build of sweep-nn" in run("other-build", "-j", "2")
    monkeypatch.setattr(pool, "build_id", build_id)
    from filelock import FileLock

    with FileLock(str(pool_folder / pool.LOCK)):
        assert "busy with another sweep" in run("busy", "-j", "2")
    monkeypatch.setattr("sweep_nn.sweep.run.resolve_n_jobs", lambda n, backend="local": 3)
    assert "has 2 workers and this run asks for 3" in run("three", "-j", "3")


def test_a_pool_folder_others_may_enter_is_not_used(tmp_path, pool_folder):
    info = _start(pool_folder)
    path = _write(tmp_path, TINY_CONFIG)
    pool_folder.chmod(0o755)
    try:
        ran = _cli(pool_folder, "run", str(path), "--out", str(tmp_path / "out"), "-j", "2")
        assert ran.returncode == 0 and ON_POOL not in ran.stderr
        assert "may be entered by others" in ran.stderr and "chmod 700" in ran.stderr
        start = _cli(pool_folder, "workers", "start")
        assert start.returncode == 2 and "may be entered by others" in start.stderr
        assert str(pool_folder) in start.stderr and "Traceback" not in start.stderr
        status = _cli(pool_folder, "workers", "status")  # it runs, and says why runs pass it
        assert status.returncode == 1 and status.stdout.startswith("running: 2 workers")
        assert "runs do not use it: its folder" in status.stdout
        assert _cli(pool_folder, "workers", "stop").returncode == 0  # it can still be stopped
        deadline = time.monotonic() + 10
        while procs.alive(info.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not procs.alive(info.pid)
    finally:
        pool_folder.chmod(0o700)
    link = tmp_path / "link"  # a symbolic link to a private folder is not that folder
    link.symlink_to(pool_folder)
    start = _cli(link, "workers", "start")
    assert start.returncode == 2 and "is a symbolic link" in start.stderr
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    start = _cli(file, "workers", "start")
    assert start.returncode == 2 and "is a file, not a folder" in start.stderr


def test_the_files_of_a_pool_that_died_are_not_a_pool(tmp_path, pool_folder):
    pool_folder.mkdir(mode=0o700)
    for pid in (os.getpid(), 2**22 + 7):  # alive but not a pool; no such process
        info = pool.PoolInfo(pid, 2, pool.build_id(), 30.0, time.time())
        (pool_folder / pool.INFO).write_text(json.dumps(dataclasses.asdict(info)))
        (pool_folder / pool.SOCKET).write_text("")
        assert pool.running() is None
        assert _cli(pool_folder, "workers", "status").stdout == "no worker pool is running\n"
    path = _write(tmp_path, TINY_CONFIG)
    ran = _cli(pool_folder, "run", str(path), "--out", str(tmp_path / "out"), "-j", "2")
    assert ran.returncode == 0 and ON_POOL not in ran.stderr
    info = _start(pool_folder)  # over the files left behind
    assert info.pid != os.getpid()


def _until_rows(out: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    results = out / "results.csv"
    while not (results.exists() and len(results.read_text().splitlines()) > 1):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)


def _sweep(folder: Path, path: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "run", str(path), "--out", str(out), "-j", "2"],
                            env=_env(folder), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


@pytest.mark.parametrize("how", ["workers stop", "kill -9"])
def test_a_pool_that_stops_mid_sweep_costs_no_row(tmp_path, pool_folder, how):
    info = _start(pool_folder)
    path, out = _write(tmp_path, LONG), tmp_path / "out"
    sweep = _sweep(pool_folder, path, out)
    _until_rows(out, sweep)
    if how == "kill -9":
        os.kill(info.pid, signal.SIGKILL)
    else:
        assert _cli(pool_folder, "workers", "stop").returncode == 0
    _, stderr = sweep.communicate(timeout=60)
    assert sweep.returncode == 4, stderr
    assert "the worker pool stopped in the middle of the sweep" in stderr
    assert "run the same command again to resume" in stderr and "Traceback" not in stderr
    kept = len(_rows(out))
    assert 0 < kept < 24
    resumed = _cli(pool_folder, "run", str(path), "--out", str(out), "-j", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{kept} of 24 rows already recorded" in resumed.stderr and ON_POOL not in resumed.stderr


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill -9"])
def test_a_sweep_that_stops_leaves_the_pool_to_the_next(tmp_path, pool_folder, how):
    """Its training stops at once, as its own workers' would: one run of minutes, a segment
    alone, still training on the pool would leave the next sweep to start its own workers."""
    info = _start(pool_folder)
    endless = copy.deepcopy(LONG) | {"name": "endless"}
    endless["grid"] |= {"activations": ["tanh"], "learning_rates": [0.1], "iterations": [10**6]}
    endless["train"] |= {"checkpoint_every": 10**6}
    sweep = _sweep(pool_folder, _write(tmp_path, endless), tmp_path / "endless")
    assert sweep.stderr is not None
    assert ON_POOL in sweep.stderr.readline()
    time.sleep(1)  # training
    sweep.send_signal(how)
    sweep.communicate(timeout=60)
    assert sweep.returncode == (130 if how == signal.SIGINT else -signal.SIGKILL)
    quick = _write(tmp_path, TINY_CONFIG)
    nxt = _cli(pool_folder, "run", str(quick), "--out", str(tmp_path / "next"), "-j", "2")
    assert nxt.returncode == 0 and ON_POOL in nxt.stderr, nxt.stderr
    assert pool.running() == info


def test_an_idle_pool_stops_by_itself(pool_folder):
    info = _start(pool_folder, "--idle-minutes", "0.02")
    deadline = time.monotonic() + 30
    while procs.alive(info.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not procs.alive(info.pid) and pool.running() is None
    assert not (pool_folder / pool.SOCKET).exists() and not (pool_folder / pool.INFO).exists()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--idle-minutes", "0"], "--idle-minutes must be more than 0"),
        (["--idle-minutes", "1e9"], "at most a week"),
        (["--idle-minutes", "soon"], "'soon' is not a number"),
        (["-j", "1"], "-j must be 2 or more, or -1 (every core); got 1"),
        (["-j", "0"], "-j must be 2 or more, or -1 (every core); got 0"),
        (["-j", "-5"], "-j must be 2 or more, or -1 (every core); got -5"),
        (["--idle-minutes", "nan"], "--idle-minutes must be more than 0"),
        (["-j", "two"], "'two' is not a whole number"),
    ],
)
def test_workers_start_refuses_bad_options(pool_folder, args, says):
    result = _cli(pool_folder, "workers", "start", *args)
    assert result.returncode == 2 and says in result.stderr, result.stderr
    assert pool.running() is None


def test_a_message_cut_short_is_a_closed_connection():
    left, right = socket.socketpair()
    with left, right:
        pool.send(left, ("outcome", list(range(1000))))
        assert pool.receive(right) == ("outcome", list(range(1000)))
        left.sendall((100).to_bytes(pool._HEADER, "big") + b"only a few bytes")
        left.close()
        with pytest.raises(ConnectionError):
            pool.receive(right)


def test_two_starts_at_once_make_one_pool(pool_folder):
    starts = [subprocess.Popen([*CLI, "workers", "start", "-j", "2"], env=_env(pool_folder),
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    said = [start.communicate(timeout=120)[1] for start in starts]
    assert [start.returncode for start in starts] == [0, 0], said
    assert sorted(line.split(":")[0] for line in said) == ["already running", "started"]
    info = pool.running()
    assert info is not None
    pids = {int(line.split("pid ")[1].split(",")[0]) for line in said}
    assert pids == {info.pid}


def test_a_pool_folder_with_a_long_path(tmp_path, monkeypatch):
    """Longer than a Unix socket's path may be (about 107 bytes)."""
    folder = tmp_path / ("a-long-folder-name-" * 8) / "pool"
    assert len(str(folder / pool.SOCKET)) > 110
    monkeypatch.setenv(pool.FOLDER_ENV, str(folder))
    try:
        _start(folder)
        path = _write(tmp_path, TINY_CONFIG)
        ran = _cli(folder, "run", str(path), "--out", str(tmp_path / "out"), "-j", "2")
        assert ran.returncode == 0 and ON_POOL in ran.stderr, ran.stderr
    finally:
        pool.stop()


def test_a_pool_whose_own_file_is_damaged_can_still_be_found_and_stopped(pool_folder):
    info = _start(pool_folder)
    (pool_folder / pool.INFO).write_bytes(b"\x00\xff not json")
    status = _cli(pool_folder, "workers", "status")
    assert status.returncode == 1 and f"a worker pool (pid {info.pid}) serves" in status.stdout
    assert "cannot be read" in status.stdout
    started = time.monotonic()
    start = _cli(pool_folder, "workers", "start")
    assert start.returncode == 4 and "cannot be read" in start.stderr and "stop it" in start.stderr
    assert time.monotonic() - started < 30
    stop = _cli(pool_folder, "workers", "stop")
    assert stop.returncode == 0 and f"stopped (pid {info.pid})" in stop.stderr
    deadline = time.monotonic() + 10  # stop returns as it exits; its end may take a moment
    while procs.alive(info.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not procs.alive(info.pid)


def test_a_relative_pool_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(pool.FOLDER_ENV, "relative-pool")
    try:
        started = _cli(Path("relative-pool"), "workers", "start", "-j", "2", cwd=tmp_path)
        assert started.returncode == 0, started.stderr
        path = _write(tmp_path, TINY_CONFIG)
        ran = _cli(Path("relative-pool"), "run", str(path), "--out", "out", "-j", "2", cwd=tmp_path)
        assert ran.returncode == 0 and ON_POOL in ran.stderr, ran.stderr
    finally:
        pool.stop()


def test_ctrl_c_while_a_pool_starts_leaves_none(pool_folder):
    start = subprocess.Popen([*CLI, "workers", "start", "-j", "2"], env=_env(pool_folder),
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not pool.servers() and time.monotonic() < deadline:
        time.sleep(0.02)
    start.send_signal(signal.SIGINT)
    _, stderr = start.communicate(timeout=60)
    assert start.returncode == 130 and "Traceback" not in stderr
    deadline = time.monotonic() + 15
    while pool.servers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.servers() == [] and pool.running() is None


def test_start_says_when_the_running_pool_is_of_another_build(pool_folder, monkeypatch):
    _start(pool_folder)
    monkeypatch.setattr(pool, "build_id", lambda: "another")
    result = CliRunner().invoke(app, ["workers", "start", "-j", "2"])
    assert result.exit_code == 0 and "already running" in result.output
    assert "runs another build of sweep-nn" in result.output
