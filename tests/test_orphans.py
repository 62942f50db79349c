"""Workers of a sweep killed with ``kill -9`` exit within seconds, busy or idle.

Before, the two loky workers (and the resource trackers they keep alive) trained on for
nobody, then sat until loky's idle timeout, about five minutes. The sweeps here run in
their own session, so that every process they start can be found in /proc by session id
(psutil is not needed); only the parent is killed, as ``kill -9 PID`` does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml
from procs import alive, session_processes, workers_of
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.results import store
from sweep_nn.results.schema import RESULTS_FILE
from sweep_nn.sweep import orphan

SWEEP_NN = [sys.executable, "-m", "sweep_nn"]
BUSY = {  # tens of seconds of work on two workers: they are mid-task when the parent dies
    "name": "busy",
    "data": {"dataset": "moons", "n_samples": 400, "noise": 0.25},
    "grid": {"hidden_sizes": [2, 3], "activations": ["tanh", "relu"],
             "learning_rates": [0.5, 0.1], "iterations": [300, 8000]},
    "train": {"loss_points": 0},
}  # fmt: skip
ONE_JOB = {  # one long job for two workers: one trains, the other waits without a task
    "name": "one",
    "data": {"dataset": "moons", "n_samples": 400, "noise": 0.25},
    "grid": {"hidden_sizes": [5], "activations": ["tanh"], "learning_rates": [0.5],
             "iterations": [100000]},
    "train": {"loss_points": 0},
}  # fmt: skip


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout} s")
        time.sleep(0.02)
    return value


def start(tmp_path: Path, cfg: dict) -> tuple[subprocess.Popen, Path, Path]:
    path = tmp_path / f"{cfg['name']}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*SWEEP_NN, "run", str(path), "--out", str(out), "-j", "2"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return proc, path, out


def rows(out: Path) -> int:
    path = out / RESULTS_FILE
    return max(path.read_bytes().count(b"\n") - 1, 0) if path.exists() else 0


def kill_parent_and_time_the_rest(proc: subprocess.Popen, timeout: float = 5.0) -> float:
    """kill -9 the sweep alone; seconds until no process of its session is left."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed = time.monotonic()
    deadline = killed + timeout
    while left := session_processes(proc.pid):
        if time.monotonic() > deadline:
            for pid in left:  # clean up after the failure, by pid
                os.kill(pid, signal.SIGKILL)
            pytest.fail(f"{len(left)} process(es) of the killed sweep still running: {left}")
        time.sleep(0.05)
    return time.monotonic() - killed


@pytest.mark.slow
def test_busy_workers_of_a_killed_sweep_exit_within_seconds_and_nothing_is_lost(tmp_path):
    proc, path, out = start(tmp_path, BUSY)
    wait_for(lambda: rows(out) >= 2 or proc.poll() is not None, 300, "rows")
    assert proc.poll() is None, "the sweep ended before it could be killed"
    workers = workers_of(proc.pid)
    assert len(workers) == 2
    assert kill_parent_and_time_the_rest(proc) < 5.0
    assert not [pid for pid in workers if alive(pid)]
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "-j", "1", "-q"])
    assert result.exit_code == 0, result.output
    final = store.latest_rows(store.read_rows(out / RESULTS_FILE))
    assert len(final) == 16 and {r["status"] for r in final} == {"ok"}


@pytest.mark.slow
def test_an_idle_worker_of_a_killed_sweep_exits_too(tmp_path):
    proc, _, out = start(tmp_path, ONE_JOB)
    wait_for(lambda: len(workers_of(proc.pid)) == 2, 120, "two workers")
    time.sleep(1.0)  # the job reaches one worker; the other waits for work that never comes
    assert proc.poll() is None and rows(out) == 0
    assert kill_parent_and_time_the_rest(proc) < 5.0


def test_run_stops_its_idle_workers_before_it_ends(tmp_path):
    # joblib keeps its workers for a next sweep, and as Python exits it asks each to end
    # and waits; the command has no next sweep, so it stops them itself, at once
    cfg = {**ONE_JOB, "grid": {**ONE_JOB["grid"], "hidden_sizes": [1, 2, 3], "iterations": [10]}}
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "-j", "2"])
    assert result.exit_code == 0, result.output
    assert "3 configurations: 3 ok" in result.output  # they trained, on workers
    assert workers_of(os.getpid()) == []


def test_a_process_multiprocessing_started_exits_when_its_parent_is_killed(tmp_path):
    script = textwrap.dedent(
        """
        import multiprocessing, sys, time
        from sweep_nn.sweep import orphan

        def child():
            assert orphan.exit_with_parent(0.05)
            time.sleep(120)

        if __name__ == "__main__":
            c = multiprocessing.get_context("spawn").Process(target=child)
            c.start()
            print(c.pid, flush=True)
            time.sleep(120)
        """
    )
    (tmp_path / "parent.py").write_text(script)
    parent = subprocess.Popen(
        [sys.executable, str(tmp_path / "parent.py")], stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    child = int(parent.stdout.readline())
    time.sleep(1.0)  # let the child start its watcher
    assert alive(child)
    assert kill_parent_and_time_the_rest(parent, timeout=3.0) < 3.0


def test_the_sweeps_own_process_is_never_watched():
    # n_jobs=1 trains in the sweep's process: the death of whoever started it (a shell,
    # nohup, a service manager) must not stop it
    assert not orphan.exit_with_parent()
    assert "sweep-nn-orphan-watch" not in {t.name for t in threading.enumerate()}


def test_a_sweep_in_one_process_outlives_its_parent(tmp_path):
    cfg = {**ONE_JOB, "grid": {**ONE_JOB["grid"], "iterations": [300, 3000]}}
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    launcher = textwrap.dedent(
        f"""
        import subprocess, sys
        p = subprocess.Popen({[*SWEEP_NN, "run", str(path), "--out", str(out), "-j", "1"]!r},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(p.pid, flush=True)
        """
    )  # the launcher exits at once; the sweep is handed to another parent
    done = subprocess.run(
        [sys.executable, "-c", launcher], capture_output=True, text=True, timeout=60,
        start_new_session=True,
    )  # fmt: skip
    sweep = int(done.stdout)
    wait_for(lambda: not alive(sweep), 300, "end of the sweep")
    assert rows(out) == 2
