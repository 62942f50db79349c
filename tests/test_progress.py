"""Progress in work: the meter's accounting, the plain lines without a terminal, and the
best configuration named at the end of ``run``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import pytest
import yaml

from sweep_nn import data as data_mod
from sweep_nn.cli import show
from sweep_nn.config import parse
from sweep_nn.nn import engine
from sweep_nn.sweep import jobs as grid
from sweep_nn.sweep import progress, worker
from sweep_nn.sweep.progress import Progress, WorkMeter
from sweep_nn.sweep.run import run_sweep
from sweep_nn.sweep.schedule import plan_tasks
from sweep_nn.sweep.segments import Segment, SegmentOutcome, TrainState, continuation


def record(meter: WorkMeter, outcome, rows: int):
    """Count a finished segment as the recorder does, then price the progress."""
    meter.count(outcome, rows)
    return meter.now()

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
        seen.append(record(meter, outcome, sum(1 for _ in outcome)))
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


class _Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _fake_outcome(segment, iterations, seconds):
    """What a worker would send back after ``iterations`` steps that took ``seconds``."""
    step = segment.start + iterations
    states = [TrainState(step, {}, ()) for _ in segment.jobs]
    return SegmentOutcome(segment, [[] for _ in segment.jobs], states, seconds)


def _fake_meter(hidden_sizes, n_workers=1, iterations=(100,)):
    cfg = _cfg(hidden_sizes=list(hidden_sizes), iterations=list(iterations))
    jobs = grid.expand(cfg, "sigmoid")
    segments = {s.jobs[0].hidden_size: s for t in plan_tasks(jobs, 1, 96) for s in t}
    clock = _Clock()
    meter = WorkMeter(96, len(jobs), 0, n_workers=n_workers, clock=clock)
    meter.add(list(segments.values()))
    return meter, segments, clock


def test_time_left_is_the_cpu_time_of_the_work_left_over_the_throughput():
    meter, segments, clock = _fake_meter([1, 8])
    clock.now = 4.0
    p = record(meter, _fake_outcome(segments[8], 25, 2.0), 0)  # 25 of 100 steps in 2 s of CPU
    # hidden 8: 75 steps left at 0.08 s; hidden 1: 100 steps at the cost model's share
    cost = {h: s.jobs[0].cost(96) / 100 for h, s in segments.items()}
    cpu_left = 75 * 0.08 + 100 * 0.08 * cost[1] / cost[8]
    throughput = 2.0 / 4.0  # CPU seconds per wall second, all 4 s being recent
    assert p.seconds_left is not None
    assert abs(p.seconds_left - cpu_left / throughput) < 1e-9


def test_an_unmeasured_hidden_size_is_priced_between_the_sizes_measured_around_it():
    meter, segments, clock = _fake_meter([1, 3, 5, 50])
    clock.now = 1.0
    for h in (1, 5):
        record(meter, _fake_outcome(segments[h], 100, 100 * (2 + 0.5 * (h + 1))), 0)
    kind = next(iter(meter.measured))
    assert meter.step_seconds(kind, 5) == 2 + 0.5 * 6  # measured
    assert abs(meter.step_seconds(kind, 3) - (2 + 0.5 * 4)) < 1e-12  # on the line between
    # above the largest size measured: the nearest one's, scaled by the cost model
    scale = segments[50].jobs[0].cost(96) / segments[5].jobs[0].cost(96)
    assert abs(meter.step_seconds(kind, 50) - 5.0 * scale) < 1e-12


def test_a_kind_not_measured_yet_is_priced_at_the_rate_per_unit_of_the_others():
    meter, segments, _ = _fake_meter([8])
    kind = next(iter(meter.unit_cost))[0]
    assert meter.step_seconds(kind, 8) is None  # nothing measured: no guess
    other = ("relu",) + kind[1:]
    meter.measured[other] = {8: [3.0, 10.0]}
    meter.unit_cost[(other, 8)] = 2 * meter.unit_cost[(kind, 8)]  # half the seconds per unit
    assert abs(meter.step_seconds(kind, 8) - 0.15) < 1e-12


def test_the_throughput_is_measured_over_the_recent_past_not_since_the_start():
    meter, segments, clock = _fake_meter([8], iterations=[1000])
    clock.now = 5.0
    record(meter, _fake_outcome(segments[8], 10, 0.5), 0)
    # before RECENT_MIN seconds have passed, all of them count
    assert meter.throughput(8.0) == 0.5 / 8.0
    for t, seconds in ((10.0, 0.5), (60.0, 50.0), (90.0, 20.0), (100.0, 20.0)):
        clock.now = t
        record(meter, _fake_outcome(segments[8], 10, seconds), 0)
    # 100 s elapsed: the window is the last 25 s, which saw 40 s of CPU time in two segments
    assert meter.throughput(100.0) == 40.0 / (progress.RECENT * 100.0)


def test_a_window_that_saw_too_few_segments_end_gives_way_to_all_the_time_elapsed():
    meter, segments, clock = _fake_meter([8], iterations=[1000])
    for t, seconds in ((40.0, 30.0), (80.0, 30.0)):  # one long segment after another
        clock.now = t
        record(meter, _fake_outcome(segments[8], 10, seconds), 0)
    # the last 25 s saw one segment end at most: rather than 0 or 30 / 25, all 100 s count
    assert meter.throughput(100.0) == 60.0 / 100.0
    assert meter.now().seconds_left is not None


def test_the_end_comes_no_sooner_than_the_longest_run_left_on_one_worker():
    meter, segments, clock = _fake_meter([1, 2, 50], n_workers=2)
    clock.now = 10.0
    record(meter, _fake_outcome(segments[1], 100, 10.0), 0)  # hidden 1 done: 0.1 s a step
    p = meter.now()
    # two runs left on two workers: the hidden-50 one takes longer on its worker's half
    # of the throughput (1.0) than both take on the whole of it
    step = {h: 0.1 * segments[h].jobs[0].cost(96) / segments[1].jobs[0].cost(96) for h in (2, 50)}
    assert p.seconds_left is not None
    assert abs(p.seconds_left - 100 * step[50] * 2 / 1.0) < 1e-9
    assert p.seconds_left > 100 * (step[2] + step[50]) / 1.0


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
        assert update is None  # the sweep then never prices the work left
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


def test_run_names_its_best_without_importing_pandas(tmp_path):
    """pandas takes a fifth of a second to import, with every worker idle at a sweep's end."""
    (tmp_path / "g.yaml").write_text(yaml.safe_dump({
        "name": "light", "data": {"dataset": "moons", "n_samples": 100},
        "grid": {"hidden_sizes": [2], "activations": ["tanh"], "learning_rates": [0.6, 0.1],
                 "iterations": [20], "seeds": [0, 1]},
    }))  # fmt: skip
    code = (
        "import sys; from sweep_nn.config import load; from sweep_nn.sweep.run import run_sweep; "
        "s = run_sweep(load(sys.argv[1]), sys.argv[2], n_jobs=1); "
        "print(s.best['config_id'], s.best['n_seeds'], 'pandas' in sys.modules)"
    )
    args = [sys.executable, "-c", code, str(tmp_path / "g.yaml"), str(tmp_path / "out")]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[1:] == ["2", "False"], proc.stdout


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


def test_a_compiled_step_is_priced_with_a_smaller_fixed_part_than_a_numpy_step():
    (numpy_job,) = grid.expand(_cfg(hidden_sizes=[1], iterations=[100]), "sigmoid")
    compiled = dataclasses.replace(numpy_job.settings, engine="compiled")
    compiled_job = dataclasses.replace(numpy_job, settings=compiled)
    examples = 96 * 2 * 100  # examples x (hidden + output units) x iterations
    fixed = {job.settings.engine: job.cost(96) - examples for job in (numpy_job, compiled_job)}
    assert fixed == {e: grid.STEP_OVERHEAD[e] * 100 for e in ("numpy", "compiled")}
    assert fixed["compiled"] < fixed["numpy"]


def test_progress_is_priced_once_per_group_of_rows_made_durable(tmp_path, monkeypatch):
    """Pricing the work left goes over every job left: once per segment would make a grid
    of many small runs quadratic in the parent. Small runs travel in groups of segments."""
    cfg = parse(yaml.safe_dump({
        "name": "groups", "data": {"dataset": "moons", "n_samples": 100},
        "grid": {"hidden_sizes": [1, 2, 3, 4], "activations": ["tanh", "relu"],
                 "learning_rates": [0.6, 0.1], "iterations": [5, 20], "seeds": list(range(25))},
        "train": {"loss_points": 2},
    }))  # fmt: skip
    counted, priced, seen = [], [], []
    real_count, real_now = WorkMeter.count, WorkMeter.now
    monkeypatch.setattr(WorkMeter, "count", lambda self, *a: counted.append(1) or real_count(self, *a))
    monkeypatch.setattr(WorkMeter, "now", lambda self: priced.append(1) or real_now(self))
    run_sweep(cfg, tmp_path / "out", n_jobs=1, on_progress=seen.append)
    assert len(counted) >= 400  # every segment counted (400 runs)...
    assert len(priced) < len(counted) / 4  # ...but priced once per group
    assert seen[-1].work_done == pytest.approx(seen[-1].work_total)


def _small_grid():
    return parse(yaml.safe_dump({
        "name": "throttle", "data": {"dataset": "moons", "n_samples": 100},
        "grid": {"hidden_sizes": [1, 2], "activations": ["tanh", "relu"],
                 "learning_rates": [0.6, 0.1], "iterations": [5, 20], "seeds": list(range(10))},
    }))  # fmt: skip


def test_progress_is_reported_at_most_every_interval_and_where_each_stage_ends(
    tmp_path, monkeypatch
):
    """Groups of rows can become durable many times a second; pricing each would cost the
    parent more than a small run's training. The last report still shows all the work done."""
    from sweep_nn.sweep import run as run_mod

    monkeypatch.setattr(run_mod, "PROGRESS_EVERY", 3600.0)
    seen = []
    summary = run_sweep(_small_grid(), tmp_path / "out", n_jobs=1, on_progress=seen.append)
    assert summary.counts["ok"] == 160
    assert len(seen) == 2  # when the work was known, and where the stage ended
    assert seen[0].work_done == 0 and seen[-1].rows_done == 160
    assert seen[-1].work_done == pytest.approx(seen[-1].work_total)


def test_nobody_watching_means_nothing_priced(tmp_path, monkeypatch):
    def refuse(self):
        raise AssertionError("priced for nobody")

    monkeypatch.setattr(WorkMeter, "now", refuse)
    summary = run_sweep(_small_grid(), tmp_path / "out", n_jobs=1, on_progress=None)
    assert summary.counts["ok"] == 160


def test_a_resumed_sweep_s_progress_goes_on_from_the_work_already_done(tmp_path):
    """The jobs recorded before count as work done: the bar of a sweep that gains a hidden
    size starts at the share of the work already recorded, not at 0%."""
    out, seen = tmp_path / "out", []
    run_sweep(_cfg(hidden_sizes=[1]), out, n_jobs=1)
    both = _cfg(hidden_sizes=[1, 8])
    run_sweep(both, out, n_jobs=1, on_progress=seen.append)
    n_train = len(data_mod.load(both.data, both.task).y_train)
    h1, h8 = (job.cost(n_train) for job in grid.expand(both, "sigmoid"))
    assert seen[0].rows_done == 2 and seen[0].fraction == pytest.approx(h1 / (h1 + h8))
    assert seen[-1].fraction == 1.0
    seen.clear()
    run_sweep(both, out, n_jobs=1, on_progress=seen.append)  # nothing left to train
    assert seen and all(p.fraction == 1.0 for p in seen)


def test_a_run_resuming_from_a_checkpoint_counts_the_iterations_it_did():
    cfg = _cfg()
    jobs = grid.expand(cfg, "sigmoid")
    meter = WorkMeter(100, 4, 1)
    states = [TrainState(25, {}, ())]
    meter.add([Segment([jobs[0]], states, 100), Segment([jobs[1]], None, 100)])
    quarter = jobs[0].cost(100) / 4
    assert (meter.work_done, meter.work_total) == pytest.approx(
        (quarter, jobs[0].cost(100) + jobs[1].cost(100))
    )
    halving = WorkMeter(100, 4, 1)  # a rung of halving counts its own work only
    halving.add([Segment([jobs[0]], states, 100)], stage="rung 2 of 3")
    assert halving.work_done == 0.0
