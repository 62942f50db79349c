"""Where a serial ``sweep-nn run`` spends its time: a cProfile of ``-j 1``, phase by phase.

With ``-j 1`` the workers' code runs in the command's own process, so one profile holds
everything: start-up, training, the loss-curve samples, the snapshots, the params files,
the fsyncs and the rows. (The logistic baseline is fitted in a background thread, which
cProfile does not see.) This prints, for one benchmark grid and one way of training:

* the wall time of the serial command without the profiler and with it;
* a table of phases (cumulative seconds inside the profile, calls, per row);
* the profile's top entries by own time and by cumulative time.

The compiled engine's kernel cache is filled first (untimed), so the profile shows a
warm start, as a second run on a machine would have.

    .venv/bin/python benchmarks/profile_sweep.py --grid many-small --sweep numpy64
    .venv/bin/python benchmarks/profile_sweep.py --grid many-small --sweep compiled32 --seeds 1
"""

from __future__ import annotations

import argparse
import io
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402 - after the path it is found on

# phases: (label, file the function is defined in (its path ends so), function name[,
# (file, name) of the one caller to count]); cumulative time, so a phase includes the
# phases nested inside it
PHASES = [
    ("setting up each run: Workspace or kernel, initial weights (worker._make_advance)",
     "sweep/worker.py", "_make_advance"),
    ("  of it, loading or compiling the kernel (compiled.warm_up)", "nn/compiled.py", "warm_up"),
    ("training, NumPy engine: the trainer's run(n), what fit_seconds times", "nn/engine.py", "run"),
    ("training, compiled engine: advance(n), what fit_seconds times", "sweep/worker.py", "advance"),
    ("  of it, Numba's dispatch of each kernel call (_compile_for_args from compiled.train)",
     "numba/core/dispatcher.py", "_compile_for_args", ("nn/compiled.py", "train")),
    ("loss-curve samples (plain.loss)", "nn/plain.py", "loss"),
    ("finiteness checks after each stretch (worker._finite)", "sweep/worker.py", "_finite"),
    ("snapshots: train and dev scores, weights copied (worker._snapshot)",
     "sweep/worker.py", "_snapshot"),
    ("the worker's whole task (worker.run_task)", "sweep/worker.py", "run_task"),
    ("recording results in the parent (run._Recorder.__call__)", "sweep/run.py", "__call__"),
    ("  params files: pickling (pickle.dumps)", "~", "<built-in method _pickle.dumps>"),
    ("  params files: atomic write, two fsyncs each (store.atomic_write)",
     "results/store.py", "atomic_write"),
    ("  rows: formatting (store.format_row)", "results/store.py", "format_row"),
    ("  rows: append, one fsync each (ResultsWriter.append)", "results/store.py", "append"),
    ("fsync, everywhere (os.fsync)", "~", "<built-in method posix.fsync>"),
    ("expanding the grid into jobs (jobs.expand)", "sweep/jobs.py", "expand"),
    ("planning the tasks (schedule.plan_tasks)", "sweep/schedule.py", "plan_tasks"),
    ("loading the data (data.load)", "data/__init__.py", "load"),
    ("imports (importlib _find_and_load)", "<frozen importlib._bootstrap>", "_find_and_load"),
]  # fmt: skip


def _doc(grid: bench.Grid, sweep: str) -> dict:
    label, dtype, engine_name, stack = bench.sweep_settings(sweep)
    return bench.sweep_config(grid, "profile", dtype, engine_name, stack)


def _run(cmd: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def phase_table(stats: pstats.Stats) -> list[tuple[str, float, int]]:
    """(label, cumulative seconds, primitive calls) of each phase found in ``stats``."""
    table = []
    for label, file_end, name, *caller in PHASES:
        seconds, calls = 0.0, 0
        # cumulative time counts a recursive function's outermost calls only
        for (file, _line, func), (cc, _nc, _tt, ct, callers) in stats.stats.items():
            if func != name or not file.endswith(file_end):
                continue
            if caller:  # only the calls from that caller
                ((caller_file, caller_name),) = caller
                for (f, _l, fn), (c_cc, _c_nc, _c_tt, c_ct) in callers.items():
                    if fn == caller_name and f.endswith(caller_file):
                        seconds += c_ct
                        calls += c_cc
                continue
            seconds += ct
            calls += cc
        if calls:
            table.append((label, seconds, calls))
    return table


def top_entries(stats: pstats.Stats, sort: str, n: int) -> str:
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats(sort).print_stats(n)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return "\n".join(lines[start:])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=list(bench.GRIDS), default="many-small")
    parser.add_argument("--sweep", choices=list(bench.SWEEPS), default="numpy64")
    parser.add_argument(
        "--seeds", type=int, default=None, help="keep only the grid's first N seeds (a smaller run)"
    )
    parser.add_argument("--top", type=int, default=25, help="entries in each top list")
    parser.add_argument("--skip-unprofiled", action="store_true")
    args = parser.parse_args(argv)

    grid = bench.grid_of(args.grid)
    if args.seeds is not None:
        axes = {**grid.axes, "seeds": list(grid.axes.get("seeds", [0]))[: args.seeds]}
        grid = bench.Grid(grid.name, axes, grid.data)
    n_runs = len(bench.configurations(grid.axes))
    rows = n_runs * len(grid.axes["iterations"])
    label = bench.sweep_settings(args.sweep)[0]
    print(f"# Profile of a serial run (-j 1): {grid.name} grid, {label}")
    print(f"command: {bench.command_line()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; machine: {bench.machine()}")
    print(f"grid: {grid.axes}; data: {grid.data}")
    print(f"{n_runs} training runs, {rows} rows")
    print(f"load average at the start: {bench.load_average()}", flush=True)

    with tempfile.TemporaryDirectory(prefix="sweep-nn-profile-") as tmp_name:
        tmp = Path(tmp_name)
        env = bench.kernel_cache_env(tmp / "kernel-cache")
        bench.fill_kernel_cache(grid, [args.sweep], tmp, env)
        print("fsync of a small append on this disk now: median %.2f ms, 90th percentile "
              "%.2f ms" % bench.fsync_latency(tmp), flush=True)  # fmt: skip
        config = tmp / "sweep.yaml"
        config.write_text(yaml.safe_dump(_doc(grid, args.sweep), sort_keys=False))
        run = [sys.executable, "-m", "sweep_nn", "run", str(config), "-j", "1", "--quiet"]
        if not args.skip_unprofiled:
            wall = _run([*run, "--out", str(tmp / "plain")], env)
            result_rows = bench.read_results(tmp / "plain" / "results.csv")
            training = bench.training_seconds(result_rows)
            print(f"\nwithout the profiler: {wall:.1f} s wall, training (sum of fit_seconds "
                  f"over runs) {training:.2f} s, wall / training {wall / training:.2f}x, "
                  f"{len(result_rows)} rows", flush=True)  # fmt: skip
        prof = tmp / "run.prof"
        profiled = [sys.executable, "-m", "cProfile", "-o", str(prof), *run[1:]]
        wall = _run([*profiled, "--out", str(tmp / "profiled")], env)
        training = bench.training_seconds(bench.read_results(tmp / "profiled" / "results.csv"))
        print(f"with the profiler: {wall:.1f} s wall, training {training:.2f} s", flush=True)
        print(
            "fsync after the runs: median %.2f ms, 90th percentile %.2f ms"
            % bench.fsync_latency(tmp)
        )

        stats = pstats.Stats(str(prof))
        total = stats.total_tt
        print(f"\n## Phases (cumulative seconds inside the profile; {total:.1f} s profiled "
              "in all; nested phases are indented and included in the line above)\n")  # fmt: skip
        print("| phase | seconds | share | calls | ms per row |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, seconds, calls in phase_table(stats):
            print(f"| {name} | {seconds:.2f} | {seconds / total:.0%} | {calls:,} | "
                  f"{seconds / rows * 1e3:.2f} |")  # fmt: skip
        stats.strip_dirs()
        print(f"\n## Top {args.top} by own time (tottime)\n")
        print("```\n" + top_entries(stats, "tottime", args.top) + "\n```")
        print(f"\n## Top {args.top} by cumulative time\n")
        print("```\n" + top_entries(stats, "cumulative", args.top) + "\n```")
    print(f"\nload average at the end: {bench.load_average()}")


if __name__ == "__main__":
    main()
