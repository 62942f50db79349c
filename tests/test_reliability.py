"""Nothing lost: kills, Ctrl-C, dead workers, diverging and failing configurations, locks,
damaged results files and bad input, each checked against what is on disk afterwards.

The process-level tests start ``python -m sweep_nn run`` in its own session (so it has
its own process group, as a terminal gives it) and signal it once ``results.csv`` holds
a given number of rows.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from disks import FillingDisk
from procs import session_left_after

import sweep_nn
from sweep_nn import config
from sweep_nn import data as data_mod
from sweep_nn.cli import app
from sweep_nn.cli.invocation import command_name
from sweep_nn.results import params as params_mod
from sweep_nn.results import store
from sweep_nn.results.schema import PARAMS_DIR, RESULTS_FILE
from sweep_nn.sweep import dispatch
from sweep_nn.sweep import jobs as grid
from sweep_nn.sweep.run import run_sweep

SWEEP_NN = [sys.executable, "-m", "sweep_nn"]

# Seconds of work on two workers: kills land while training is really under way.
KILL_GRID = {
    "name": "kill",
    "data": {"dataset": "moons", "n_samples": 400, "noise": 0.25},
    "grid": {
        "hidden_sizes": [2, 3, 4, 5],
        "activations": ["tanh", "relu"],
        "learning_rates": [0.5, 0.1],
        "iterations": [300, 1000, 2000],
    },
    "train": {"loss_points": 0},
}
# About a second of work: long enough to signal mid-sweep, short enough to finish in-process.
SHORT_GRID = {
    "name": "short",
    "data": {"dataset": "moons", "n_samples": 400, "noise": 0.25},
    "grid": {
        "hidden_sizes": [2, 3, 4],
        "activations": ["tanh", "relu"],
        "learning_rates": [0.5],
        "iterations": [300, 1500],
    },
    "train": {"loss_points": 0},
}
TINY_GRID = {
    "name": "tiny",
    "data": {"dataset": "moons", "n_samples": 100, "noise": 0.25},
    "grid": {
        "hidden_sizes": [1, 2],
        "activations": ["tanh"],
        "learning_rates": [0.5],
        "iterations": [10, 50],
    },
}
HUGE = 2**62  # a hidden size NumPy refuses to allocate: the configuration fails, nothing else


def grid_config(base: dict, **grid_changes) -> dict:
    return {**base, "grid": {**base["grid"], **grid_changes}}


@pytest.fixture
def sweep_file(tmp_path):
    def write(cfg: dict, name: str = "sweep.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    return write


def expected_ids(cfg_path: Path) -> list[str]:
    return sorted(
        cid for job in grid.expand(config.load(cfg_path), "sigmoid") for cid in job.config_ids
    )


def run_cli(runner, cfg_path: Path, out: Path, *extra: str):
    return runner.invoke(app, ["run", str(cfg_path), "--out", str(out), *extra])


# --- watching a sweep in another process -----------------------------------------------------


def start_sweep(cfg_path: Path, out: Path, *extra: str) -> subprocess.Popen:
    log = open(out.parent / f"{out.name}.log", "ab")  # noqa: SIM115 - closed by finish()
    return subprocess.Popen(
        [*SWEEP_NN, "run", str(cfg_path), "--out", str(out), "-j", "2", *extra],
        start_new_session=True,
        stdout=log,
        stderr=log,
    )


def log_of(out: Path) -> str:
    return (out.parent / f"{out.name}.log").read_text()


def rows_on_disk(out: Path) -> int:
    """Complete rows in the results file (its header excluded)."""
    path = out / RESULTS_FILE
    return max(path.read_bytes().count(b"\n") - 1, 0) if path.exists() else 0


def wait_for_rows(proc: subprocess.Popen, out: Path, n: int, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    while (have := rows_on_disk(out)) < n:
        if proc.poll() is not None:
            pytest.fail(
                f"the sweep ended (exit {proc.returncode}) with {have} < {n} rows:\n{log_of(out)}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"no {n} rows after {timeout} s")
        time.sleep(0.005)
    return have


def wait_until_session_gone(sid: int, timeout: float = 10) -> None:
    left = session_left_after(sid, timeout)
    assert not left, f"processes of the sweep still running (killed): {left}"


def worker_processes(pid: int) -> list[int]:
    """The loky worker processes of the sweep ``pid``."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == pid and b"popen_loky_posix" in cmdline:
            workers.append(int(entry.name))
    return workers


def check_folder(out: Path) -> list[dict]:
    """The folder is consistent: results readable, every parameters file loads, no duplicate."""
    rows = store.read_rows(out / RESULTS_FILE)  # tolerates a torn last line, repairs nothing
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys)), "a configuration recorded twice"
    for r in rows:
        if r["status"] == "ok":
            assert (out / r["params_path"]).is_file(), r["config_id"]
    for params in (out / PARAMS_DIR).glob("*.pkl"):
        params_mod.load_params(params)
    return rows


def assert_complete(out: Path, cfg_path: Path) -> list[dict]:
    """Every configuration recorded exactly once, all ok, and nothing half-written left."""
    rows = check_folder(out)
    assert sorted(r["config_id"] for r in rows) == expected_ids(cfg_path)
    assert {r["status"] for r in rows} == {"ok"}
    assert (out / RESULTS_FILE).read_bytes().endswith(b"\n")
    assert not [p.name for p in (out / PARAMS_DIR).iterdir() if p.name.startswith(".")]
    return rows


# --- kill -9, Ctrl-C, dead workers -----------------------------------------------------------


@pytest.mark.slow
def test_sweep_killed_at_several_points_resumes_to_every_configuration_once(tmp_path, sweep_file):
    cfg_path = sweep_file(KILL_GRID)
    out = tmp_path / "out"
    total = len(expected_ids(cfg_path))
    for target in (2, total // 2, total - 8):  # early, middle, late (some jobs still to come)
        proc = start_sweep(cfg_path, out)
        wait_for_rows(proc, out, target)
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL  # killed mid-sweep, not finished
        wait_until_session_gone(proc.pid)
        assert len(check_folder(out)) < total
        assert (out / ".sweep-nn.lock").exists()  # left behind, and must not block the next run

    proc = start_sweep(cfg_path, out)
    assert proc.wait(timeout=300) == 0, log_of(out)
    rows = assert_complete(out, cfg_path)
    assert len(list((out / PARAMS_DIR).glob("*.pkl"))) == len(rows) == total


@pytest.mark.slow
def test_ctrl_c_stops_within_10_s_keeps_rows_and_the_rerun_completes(tmp_path, sweep_file, runner):
    cfg_path = sweep_file(SHORT_GRID)
    out = tmp_path / "out"
    proc = start_sweep(cfg_path, out)
    before = wait_for_rows(proc, out, 2)
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert proc.wait(timeout=10) == 130
    assert time.monotonic() - sent < 10
    wait_until_session_gone(proc.pid)  # the workers stopped too
    log = log_of(out)
    again = command_name(str(Path(sweep_nn.__file__).with_name("__main__.py")), sys.executable)
    assert f"resume with: {again} run {cfg_path} --out {out}" in log, log
    assert "Traceback" not in log
    kept = check_folder(out)
    assert before <= len(kept) < len(expected_ids(cfg_path))

    result = run_cli(runner, cfg_path, out, "-j", "1")
    assert result.exit_code == 0, result.output
    assert f"({len(kept)} already recorded" in result.stderr
    assert_complete(out, cfg_path)


def test_an_interrupt_swallowed_on_its_way_still_stops_the_sweep(tmp_path):
    # Python only prints a KeyboardInterrupt raised inside a finalizer or a callback; the
    # sweep must stop anyway, with the rows written so far kept
    cfg = config.parse(yaml.safe_dump(grid_config(TINY_GRID, hidden_sizes=[1, 2, 3, 4])))
    seen = []

    def on_row(row):
        seen.append(row.config_id)
        if len(seen) == 1:
            try:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, handled right here...
            except KeyboardInterrupt:
                pass  # ...and lost, as in a finalizer

    summary = run_sweep(cfg, tmp_path / "out", n_jobs=1, on_row=on_row)
    assert summary.interrupted
    kept = store.read_rows(tmp_path / "out" / RESULTS_FILE)
    assert 1 <= len(kept) < 8 and [r["config_id"] for r in kept] == seen


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_costs_only_a_rerun_of_its_work(tmp_path, sweep_file):
    cfg_path = sweep_file(SHORT_GRID)
    out = tmp_path / "out"
    proc = start_sweep(cfg_path, out)
    wait_for_rows(proc, out, 2)
    workers = worker_processes(proc.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    assert proc.wait(timeout=300) == 0, log_of(out)
    assert "restarted after their worker process died" in log_of(out)
    assert_complete(out, cfg_path)


def kill_own_worker(task, data, *, poison: int, delay: float):
    """Stands in for worker.run_task: the job with hidden size ``poison`` kills its process."""
    from sweep_nn.sweep.worker import run_task

    if any(job.hidden_size == poison for run in task for job in run):
        time.sleep(delay)  # let the other worker take a job: it is lost with the pool
        os.kill(os.getpid(), signal.SIGKILL)
    return run_task(task, data)


@pytest.mark.slow
def test_a_configuration_that_always_kills_its_worker_fails_alone():
    cfg = config.parse(yaml.safe_dump(grid_config(SHORT_GRID, hidden_sizes=[7, 2, 3, 4])))
    ds = data_mod.load(cfg.data, cfg.task)
    jobs = grid.expand(cfg, "sigmoid")  # the two poisoned jobs (tanh, relu) first
    results = []
    rerun = dispatch.run_tasks(
        [[[job]] for job in jobs], data_mod.to_training(ds, "sigmoid"), 2, "local", None,
        results.append, work=functools.partial(kill_own_worker, poison=7, delay=0.3),
    )  # fmt: skip
    rows = [res.row.values() for job_results in results for res in job_results]
    assert sorted(r["config_id"] for r in rows) == sorted(c for j in jobs for c in j.config_ids)
    failed = {r["config_id"] for r in rows if r["status"] == "failed"}
    assert failed == {cid for job in jobs if job.hidden_size == 7 for cid in job.config_ids}
    assert all("worker process died twice" in r["error"] for r in rows if r["status"] == "failed")
    assert rerun >= 2  # the poisoned job and at least one innocent lost with it, both rerun


# --- failures are results --------------------------------------------------------------------


def test_a_diverging_learning_rate_is_recorded_diverged_and_the_sweep_exits_0(
    tmp_path, sweep_file, runner
):
    cfg_path = sweep_file(
        grid_config(TINY_GRID, hidden_sizes=[2], activations=["relu"], learning_rates=[0.5, 1e300])
    )
    out = tmp_path / "out"
    result = run_cli(runner, cfg_path, out, "-j", "1")
    assert result.exit_code == 0, result.output
    assert "4 configurations: 2 diverged, 2 ok" in result.stderr
    rows = store.read_rows(out / RESULTS_FILE)
    for r in rows:
        if r["learning_rate"] == 1e300:
            assert r["status"] == "diverged" and 0 < r["diverged_at"] <= 10 and not r["params_path"]
        else:
            assert r["status"] == "ok" and r["diverged_at"] is None
    before = (out / RESULTS_FILE).read_bytes()
    result = run_cli(runner, cfg_path, out, "-j", "1")  # a diverged run is a result: not rerun
    assert result.exit_code == 0 and "(4 already recorded, 0 to run)" in result.stderr
    assert (out / RESULTS_FILE).read_bytes() == before


def test_a_sweep_where_every_configuration_fails_exits_1(tmp_path, sweep_file, runner):
    cfg_path = sweep_file(grid_config(TINY_GRID, hidden_sizes=[HUGE]))
    result = run_cli(runner, cfg_path, tmp_path / "out", "-j", "1")
    assert result.exit_code == 1, result.output
    assert "2 configurations: 2 failed" in result.stderr
    assert f"failed: h{HUGE}-tanh-lr0.5-it10: ValueError" in result.stderr


def test_one_failure_exits_0_but_1_with_strict(tmp_path, sweep_file, runner):
    cfg_path = sweep_file(grid_config(TINY_GRID, hidden_sizes=[2, HUGE]))
    out = tmp_path / "out"
    result = run_cli(runner, cfg_path, out, "-j", "1")
    assert result.exit_code == 0, result.output
    assert "4 configurations: 2 failed, 2 ok" in result.stderr
    failed = [r for r in store.read_rows(out / RESULTS_FILE) if r["status"] == "failed"]
    assert len(failed) == 2 and all("array is too big" in r["error"] for r in failed)
    result = run_cli(runner, cfg_path, out, "-j", "1", "--strict")
    assert result.exit_code == 1
    assert "(2 already recorded, 2 to run)" in result.stderr  # failures are tried again


# --- locks -----------------------------------------------------------------------------------


def test_a_second_run_on_a_busy_folder_is_refused_and_a_killed_runs_lock_does_not_block(
    tmp_path, sweep_file, runner
):
    cfg_path = sweep_file(SHORT_GRID)
    out = tmp_path / "out"
    proc = start_sweep(cfg_path, out)
    while not (out / RESULTS_FILE).exists():  # the first run is at work
        assert proc.poll() is None, log_of(out)
        time.sleep(0.005)
    result = run_cli(runner, cfg_path, out, "-j", "1")
    assert proc.poll() is None, "the first run ended too soon for this test"
    assert result.exit_code == 3
    assert f"error: {out} is in use by another sweep-nn run" in result.stderr

    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert (out / ".sweep-nn.lock").exists()
    result = run_cli(runner, cfg_path, out, "-j", "1")
    assert result.exit_code == 0, result.output
    assert_complete(out, cfg_path)


# --- the results file: torn, damaged, foreign ------------------------------------------------


@pytest.fixture
def tiny_run(tmp_path, sweep_file, runner):
    """A finished tiny sweep: (config path, output folder)."""
    cfg_path = sweep_file(TINY_GRID)
    out = tmp_path / "out"
    result = run_cli(runner, cfg_path, out, "-j", "1")
    assert result.exit_code == 0, result.output
    return cfg_path, out


def test_a_torn_last_line_is_tolerated_then_recomputed_on_resume(tiny_run, runner):
    cfg_path, out = tiny_run
    path = out / RESULTS_FILE
    whole = path.read_bytes()
    last = whole.rstrip(b"\n").rsplit(b"\n", 1)[1]
    path.write_bytes(whole[: len(whole) - len(last) // 2 - 1])  # a power cut mid-append
    result = runner.invoke(app, ["filter", str(path), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1 + 3  # header and the three whole rows

    result = run_cli(runner, cfg_path, out, "-j", "1")
    assert result.exit_code == 0, result.output
    assert "(3 already recorded, 1 to run)" in result.stderr
    assert_complete(out, cfg_path)
    again = path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[1]
    metrics = lambda line: line.split(b",")[:16]  # every column before fit_seconds
    assert metrics(again) == metrics(last)  # the same numbers, recomputed


def test_damage_inside_the_results_file_is_refused_with_its_line_by_filter_and_run(
    tiny_run, runner
):
    cfg_path, out = tiny_run
    path = out / RESULTS_FILE
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2][:40] + "\n"
    path.write_text("".join(lines))
    damaged = path.read_bytes()
    for args in (["filter", str(path)], ["run", str(cfg_path), "--out", str(out), "-j", "1"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert f"{path}, line 3: damaged row" in result.stderr and "Traceback" not in result.output
    assert path.read_bytes() == damaged


def test_a_results_file_that_is_not_ours_is_refused_by_filter_and_run(tmp_path, sweep_file, runner):
    out = tmp_path / "out"
    out.mkdir()
    path = out / RESULTS_FILE
    path.write_text("name,score\nalice,3\n")
    for args in (
        ["filter", str(path)],
        ["run", str(sweep_file(TINY_GRID)), "--out", str(out), "-j", "1"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "is not a sweep-nn results file" in result.stderr
    assert path.read_text() == "name,score\nalice,3\n"


# --- resume and --fresh ----------------------------------------------------------------------


def test_fresh_moves_the_old_results_aside_and_starts_over(tiny_run, runner):
    cfg_path, out = tiny_run
    old = (out / RESULTS_FILE).read_bytes()
    result = run_cli(runner, cfg_path, out, "-j", "1", "--fresh")
    assert result.exit_code == 0, result.output
    assert "already recorded" not in result.stderr
    moved = [p for p in out.parent.iterdir() if p.name.startswith("out.old-")]
    assert len(moved) == 1 and f"previous results moved to {moved[0]}" in result.stderr
    assert (moved[0] / RESULTS_FILE).read_bytes() == old
    assert len(list((moved[0] / PARAMS_DIR).glob("*.pkl"))) == 4
    assert_complete(out, cfg_path)


def test_a_grid_with_a_larger_budget_runs_only_the_new_rows(tiny_run, sweep_file, runner):
    _, out = tiny_run
    before = (out / RESULTS_FILE).read_bytes()
    wider = sweep_file(grid_config(TINY_GRID, iterations=[10, 50, 80]), "wider.yaml")
    result = run_cli(runner, wider, out, "-j", "1")
    assert result.exit_code == 0, result.output
    assert "(4 already recorded, 2 to run)" in result.stderr
    assert (out / RESULTS_FILE).read_bytes().startswith(before)  # old rows untouched
    assert_complete(out, wider)


# --- bad input everywhere ----------------------------------------------------------------------


@pytest.mark.parametrize("n_jobs", ["-2", "0"])
def test_a_negative_or_zero_worker_count_is_refused(tmp_path, sweep_file, runner, n_jobs):
    result = run_cli(runner, sweep_file(TINY_GRID), tmp_path / "out", "--n-jobs", n_jobs)
    assert result.exit_code == 2
    assert (
        f"--n-jobs must be a positive number of workers or -1 (all cores); got {n_jobs}"
        in result.stderr
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["run", "missing.yaml"], "config file not found: missing.yaml"),
        (["filter", "missing.csv"], "results file not found: missing.csv"),
        (["eval", "missing.pkl"], "parameters file not found: missing.pkl"),
        (["eval", "missing.pkl", "--activation", "tanh"], "parameters file not found"),
    ],
)
def test_missing_files_are_named_with_exit_2(tmp_path, runner, monkeypatch, command, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, command)
    assert result.exit_code == 2
    assert f"error: {message}" in result.stderr and "Traceback" not in result.output


def test_eval_data_without_the_target_column_is_refused(tmp_path, sweep_file, runner):
    rows = "\n".join(f"{i / 10},{(i * 7 % 10) / 10},{i % 2}" for i in range(40))
    (tmp_path / "train.csv").write_text("x0,x1,label\n" + rows + "\n")
    (tmp_path / "other.csv").write_text("x0,x1,y\n" + rows + "\n")
    cfg = {"name": "csv", "data": {"dataset": "csv", "path": "train.csv", "target": "label"},
           "grid": {"hidden_sizes": [2], "activations": ["tanh"], "learning_rates": [0.5],
                    "iterations": [5]}}  # fmt: skip
    out = tmp_path / "out"
    assert run_cli(runner, sweep_file(cfg), out, "-j", "1").exit_code == 0
    params = next((out / PARAMS_DIR).glob("*.pkl"))
    result = runner.invoke(app, ["eval", str(params), "--data", str(tmp_path / "other.csv")])
    assert result.exit_code == 2
    assert "target column 'label' not found (columns: x0, x1, y)" in result.stderr


def test_an_output_folder_blocked_by_a_file_is_bad_input(tmp_path, sweep_file, runner):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_cli(runner, sweep_file(TINY_GRID), blocker / "out", "-j", "1")
    assert result.exit_code == 2
    assert (
        f"error: cannot create output folder {blocker / 'out'}: {blocker} is a file"
        in result.stderr
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_a_storage_error(tmp_path, sweep_file, runner):
    parent = tmp_path / "ro"
    parent.mkdir(mode=0o500)
    try:
        result = run_cli(runner, sweep_file(TINY_GRID), parent / "out", "-j", "1")
    finally:
        parent.chmod(0o700)
    assert result.exit_code == 4
    assert "Permission denied" in result.stderr


def test_a_full_disk_stops_with_exit_4_keeping_whole_rows_then_resumes(
    tiny_run, runner, monkeypatch
):
    cfg_path, done = tiny_run
    header, first = done.joinpath(RESULTS_FILE).read_bytes().split(b"\n")[:2]
    out = done.parent / "full"
    monkeypatch.setattr(store, "os", FillingDisk(len(header) + len(first) + 2 + 30, RESULTS_FILE))
    result = run_cli(runner, cfg_path, out, "-j", "1")
    monkeypatch.undo()
    assert result.exit_code == 4, result.output
    assert (
        "No space left on device" in result.stderr and "run the same command again" in result.stderr
    )
    assert "Traceback" not in result.output
    kept = (out / RESULTS_FILE).read_bytes()
    assert kept.startswith(header + b"\n") and kept.endswith(b"\n")  # whole rows only
    # rows that finish together are committed together: all of a group, or none of it
    complete = {r["config_id"]: r for r in store.read_rows(done / RESULTS_FILE)}
    for row in store.read_rows(out / RESULTS_FILE):
        assert row["config_id"] in complete and row["status"] == "ok"

    assert run_cli(runner, cfg_path, out, "-j", "1").exit_code == 0
    assert_complete(out, cfg_path)
