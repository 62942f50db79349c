"""Progress in work: the meter's accounting, the plain lines without a terminal, and the
best configuration named at the end of ``run``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import yaml

from sweep_nn import data as data_mod
from sweep_nn.cli import show
from sweep_nn.config import parse
from sweep_nn.nn import engine
from sweep_nn.sweep import jobs as grid
from sweep_nn.sweep import worker
from sweep_nn.sweep.progress import Progress, WorkMeter
from sweep_nn.sweep.run import run_sweep
from sweep_nn.sweep.schedule import plan_tasks
from sweep_nn.sweep.segments import continuation


def _cfg(**grid_axes):
    raw = {
        "name": "progress",
        "data": {"dataset": "moons", "n_samples": 120},
        "grid": {"hidden_sizes": [1, 8], "activations": ["tanh"], "learning_rates": [0.6],
                 "iterations": [20, 100], **grid_axes},
        "train": {"checkpoint_every": 25},
    }  # fmt: skip
    return parse(yaml.safe_dump(raw))


def _meter_run(cfg):
    """Train every segment in this process, as the parent would see them; the progress
    after each."""
    ds = data_mod.load(cfg.data, cfg.task)
    data = data_mod.to_training(ds, "sigmoid")
    jobs = grid.expand(cfg, "sigmoid")
    n_train = len(ds.y_train)
    tasks = plan_tasks(jobs, 1, n_train)
    meter = WorkMeter(n_train, 2 * len(jobs), 0)
    meter.add([s for t in tasks for s in t])
    seen = [meter.now()]
    queue = [s for t in tasks for s in t]
    while queue:
        outcome = worker.advance(queue.pop(0), data)
        seen.append(meter.record(outcome, sum(1 for _ in outcome)))
        if (following := continuation(outcome)) is not None:
            queue.append(following)
    return jobs, n_train, seen


def test_work_is_the_cost_model_and_moves_with_every_segment_not_only_with_rows():
    jobs, n_train, seen = _meter_run(_cfg())
    total = sum(j.cost(n_train) for j in jobs)
    assert seen[0].work_done == 0 and seen[0].work_total == total
    assert seen[0].seconds_left is None  # nothing measured yet: not a guess
    # segments end at 20 (a budget), 25, 50, 75 (checkpoints) and 100 (a budget)
    assert len(seen) == 1 + 2 * 5
    assert [p.work_done for p in seen] == sorted(p.work_done for p in seen)
    assert abs(seen[-1].work_done - total) < 1e-6 * total and seen[-1].rows_done == 4
    # a checkpoint writes no row, yet the work moves: progress is not counted in rows
    moved_without_rows = [
        b for a, b in zip(seen, seen[1:]) if b.rows_done == a.rows_done and b.work_done > a.work_done
    ]
    assert moved_without_rows
    # the hidden-8 run is most of the work, as the cost model says
    big = next(j for j in jobs if j.hidden_size == 8).cost(n_train)
    assert big > total - big
    assert seen[-1].seconds_left == 0.0


def test_a_run_that_diverges_takes_the_rest_of_its_work_off_the_total_left():
    _, _, seen = _meter_run(_cfg(hidden_sizes=[4], learning_rates=[1e300]))
    assert seen[-1].fraction == 1.0  # finished at once, not stuck below 100%


def test_time_left_prices_the_work_left_at_the_rates_measured():
    jobs, n_train, _ = _meter_run(_cfg())
    cfg = _cfg()
    ds = data_mod.load(cfg.data, cfg.task)
    data = data_mod.to_training(ds, "sigmoid")
    tasks = plan_tasks(jobs, 1, n_train)
    segments = [s for t in tasks for s in t]
    meter = WorkMeter(n_train, 4, 0)
    meter.add(segments)
    outcome = worker.advance(segments[0], data)
    outcome.seconds = 2.0  # as if its 20 or 25 iterations had taken 2 s
    p = meter.record(outcome, 1)
    # the same job has 75 or 80 of its 100 iterations left; the other job is priced at
    # the nearest hidden size measured (the same rate per unit)
    done_units = p.work_done
    rate = 2.0 / done_units
    assert p.seconds_left is not None
    throughput = 2.0 / p.elapsed
    expected = (p.work_total - done_units) * rate / throughput
    assert abs(p.seconds_left - expected) < 0.05 * expected


def test_without_a_terminal_a_plain_line_comes_every_few_seconds(capsys):
    p = Progress(work_done=25.0, work_total=100.0, rows_done=3, rows_total=12, elapsed=4.0,
                 seconds_left=90.0)  # fmt: skip
    with show.progress(quiet=False, every=0.3) as update:
        update(p)
        time.sleep(1.05)
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("progress:")]
    assert len(lines) >= 2
    assert "25% of the work" in lines[0] and "3/12 rows" in lines[0]
    left = [line.rsplit("time left ", 1)[1] for line in lines]
    assert left[0] == "1:30" and left[-1] < left[0]  # counted down between lines


def test_quiet_prints_no_progress(capsys):
    with show.progress(quiet=True, every=0.05) as update:
        update(Progress(1.0, 2.0, 0, 2, 1.0, 5.0))
        time.sleep(0.2)
    assert capsys.readouterr().err == ""


def test_run_names_the_best_configuration_mean_over_seeds(tmp_path):
    cfg = _cfg(seeds=[0, 1], learning_rates=[0.6, 0.001])
    summary = run_sweep(cfg, tmp_path / "out", n_jobs=1)
    best = summary.best
    assert best is not None and best["n_seeds"] == 2
    import pandas as pd

    df = pd.read_csv(summary.results_path)
    means = df[df.status == "ok"].groupby(["hidden_size", "learning_rate", "iterations"])
    top = means["dev_acc"].mean().max()
    assert best["dev_acc"] == top
    line = show.best_line(best, "classification")
    assert line.startswith(f"best: {best['config_id']} (mean of 2 seeds): dev accuracy")


def test_run_without_a_terminal_prints_progress_lines_and_the_best(tmp_path):
    grid_file = tmp_path / "g.yaml"
    raw = {
        "name": "lines",
        "data": {"dataset": "moons", "n_samples": 400},
        "grid": {"hidden_sizes": [20], "activations": ["tanh"], "learning_rates": [0.6, 0.1],
                 "iterations": [4000, 8000]},
    }  # fmt: skip
    grid_file.write_text(yaml.safe_dump(raw))
    env_code = (
        "import sys; from sweep_nn.cli import show; show.PLAIN_EVERY = 0.5; "
        "from sweep_nn.cli import main; sys.argv = ['sweep-nn', 'run', sys.argv[1], "
        "'--out', sys.argv[2], '-j', '1']; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", env_code, str(grid_file), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith("progress:")]
    assert lines, proc.stderr
    assert "rows" in lines[0] and "time left" in lines[0]
    assert "\nbest: h20-tanh-lr" in proc.stderr


def test_fit_seconds_is_cpu_time_of_the_training_thread_not_wall_time(monkeypatch):
    """Waiting for a core (here: sleeping) is not training: fit_seconds leaves it out."""
    cfg = _cfg(hidden_sizes=[2])
    ds = data_mod.load(cfg.data, cfg.task)
    data = data_mod.to_training(ds, "sigmoid")
    (job,) = grid.expand(cfg, "sigmoid")
    real = engine.Workspace.stack_trainer

    def slow(self, *args):
        run = real(self, *args)

        def waiting(n):  # inside the timed stretch
            time.sleep(0.05)  # descheduled, as on an oversubscribed machine
            run(n)

        return waiting

    monkeypatch.setattr(engine.Workspace, "stack_trainer", slow)
    started = time.perf_counter()
    results = worker.train(job, data)
    wall = time.perf_counter() - started
    assert wall > 0.5  # 12 stops x 0.05 s of sleep
    assert results[-1].row.fit_seconds < wall / 3


def test_an_unmeasured_hidden_size_is_priced_on_the_line_through_those_measured():
    meter = WorkMeter(n_train=100, rows_total=0, rows_done=0)
    kind = ("tanh", None, "numpy", "float64")
    for h in (1, 5, 50):
        meter.unit_cost[(kind, h)] = 100 * (h + 1) + 5000.0
    # seconds per iteration 2 + 0.5 (h + 1) at h = 1 and 50, measured over 1000 iterations
    for h in (1, 50):
        per_iteration = 2 + 0.5 * (h + 1)
        meter.rates.setdefault(kind, {})[h] = [per_iteration * 1000, meter.unit_cost[(kind, h)] * 1000]
    rate = meter._rate(kind, 5)
    assert abs(rate * meter.unit_cost[(kind, 5)] - (2 + 0.5 * 6)) < 1e-9


def test_a_compiled_step_is_priced_with_a_smaller_fixed_part_than_a_numpy_step():
    (numpy_job,) = grid.expand(_cfg(hidden_sizes=[1], iterations=[100]), "sigmoid")
    compiled = dataclasses.replace(numpy_job.settings, engine="compiled")
    compiled_job = dataclasses.replace(numpy_job, settings=compiled)
    examples = 96 * 2 * 100  # examples x (hidden + output units) x iterations
    fixed = {job.settings.engine: job.cost(96) - examples for job in (numpy_job, compiled_job)}
    assert fixed == {e: grid.STEP_OVERHEAD[e] * 100 for e in ("numpy", "compiled")}
    assert fixed["compiled"] < fixed["numpy"]
