"""What workers that outlive a command save: the command alone, with a worker pool, and
against a Python session.

``sweep-nn run`` starts everything at every command: Python and the tool's modules in
the command's process, then the workers, and NumPy and Numba (its compiler, its cached
kernels) in each. In one Python process, ``sweep_nn.run`` called a second time finds
joblib's workers still up from the first call (joblib keeps them for the next one) and
every module already imported, so the time of a later call is what a sweep would take if
the workers, and the command's own start-up, were kept warm between commands.

Per repeat, side by side: the command, in a new process as a user runs it; the same
command with a worker pool running (``sweep-nn workers start``, started once before the
repeats, and given one untimed sweep first); then one new Python process that calls ``sweep_nn.run`` ``--calls`` times, each into a new folder
(its first call starts everything; the later ones start nothing); with ``--gridsearch``,
GridSearchCV + MLPClassifier on the same grid. The kernel cache is filled first, so
nothing compiles. Outputs go under the temporary folder (``TMPDIR``); what creating a
file there costs is measured at the start and the end, as a sweep creates one
parameters file per row. Reported: medians of each, the wall time against the sweep's training
time (the sum of ``fit_seconds`` over its runs) and against GridSearchCV.

    .venv/bin/python benchmarks/warm_workers.py --grid many-small --repeats 3
    .venv/bin/python benchmarks/warm_workers.py --grid proxy --repeats 3 --gridsearch
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench
import yaml

from sweep_nn.sweep import pool

WAYS = {  # key -> label
    "command": "the command (`sweep-nn run`, a new process)",
    "pool": "the command, a worker pool running (`sweep-nn workers start`)",
    "first": "a Python session, first `sweep_nn.run` (starts everything)",
    "warm": "a Python session, later `sweep_nn.run` calls (workers and modules warm)",
}


def session(config: Path, out_root: Path, calls: int) -> None:
    """In this process: ``sweep_nn.run`` ``calls`` times, printing a JSON line for each
    (its wall seconds and its training seconds)."""
    import sweep_nn

    for i in range(calls):
        out = out_root / f"call-{i}"
        started = time.perf_counter()
        sweep_nn.run(config, out=out, n_jobs=-1)
        seconds = time.perf_counter() - started
        training = bench.training_seconds(bench.read_results(out / "results.csv"))
        print(json.dumps({"call": i, "seconds": seconds, "training": training}), flush=True)


def run_session(config: Path, out_root: Path, calls: int, env: dict) -> list[dict]:
    argv = [sys.executable, __file__, "--session", str(config), str(out_root), str(calls)]
    done = subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def print_table(times: dict, training: dict, repeats: int) -> None:
    has_grid_search = bool(times["gridsearch"])
    print(f"\n## Wall seconds, training seconds (medians of {repeats} repeats; later calls: "
          "every call after the first, pooled)\n")  # fmt: skip
    head = "| way | wall s | training s | wall ÷ training |"
    print(head + (" GridSearchCV ÷ this |" if has_grid_search else ""))
    print("| --- | ---: | ---: | ---: |" + (" ---: |" if has_grid_search else ""))
    grid_search = bench.median(times["gridsearch"])
    for key, label in WAYS.items():
        walls, fits = times[key], training[key]
        ratio = bench.median([w / t for w, t in zip(walls, fits) if t > 0])
        line = f"| {label} | {bench.median(walls):.2f} | {bench.median(fits):.2f} | {ratio:.2f}x |"
        if has_grid_search:
            line += f" {grid_search / bench.median(walls):.2f}x |"
        print(line)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=["proxy", "many-small"], default="many-small")
    parser.add_argument("--sweep", default="compiled32", choices=sorted(bench.SWEEPS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=3, help="sweep_nn.run calls per session")
    parser.add_argument("--gridsearch", action="store_true", help="time GridSearchCV too")
    parser.add_argument("--session", nargs=3, metavar=("CONFIG", "OUT_ROOT", "CALLS"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if args.session:
        config, out_root, calls = args.session
        session(Path(config), Path(out_root), int(calls))
        return
    grid = bench.grid_of(args.grid)
    label, dtype, engine, stack = bench.sweep_settings(args.sweep)
    print(f"# sweep-nn benchmark: {args.grid} grid, {label}, the command alone, with a worker "
          "pool, and against a Python session that keeps its workers")  # fmt: skip
    print(f"command: {bench.command_line()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {bench.machine()}")
    print(f"load average at the start: {bench.load_average()}")
    root = Path(tempfile.gettempdir())
    print(f"creating a small file in {root} (and renaming it, as for a parameters file): "
          f"{bench.file_creation_cost(root):.0f} us", flush=True)  # fmt: skip
    times: dict[str, list[float]] = {key: [] for key in [*WAYS, "gridsearch"]}
    training: dict[str, list[float]] = {key: [] for key in WAYS}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "sweep.yaml"
        config.write_text(yaml.safe_dump(bench.sweep_config(grid, "warm", dtype, engine, stack)))
        doc = yaml.safe_load(config.read_text())
        alone = {**os.environ, pool.FOLDER_ENV: str(tmp / "no-pool")}  # finds no pool
        with_pool = {**os.environ, pool.FOLDER_ENV: str(tmp / "pool")}
        bench.run_sweep_nn(doc, tmp / "fill-cache", alone)  # untimed: the kernel cache is filled
        start = [*bench.sweep_nn_command(), "workers", "start"]
        subprocess.run(start, check=True, capture_output=True, env=with_pool)
        try:
            bench.run_sweep_nn(doc, tmp / "pool-first", with_pool)  # untimed: its first sweep
            _repeats(args, grid, doc, config, tmp, alone, with_pool, times, training)
        finally:
            stop = [*bench.sweep_nn_command(), "workers", "stop"]
            subprocess.run(stop, check=True, capture_output=True, env=with_pool)
    print(f"load average at the end: {bench.load_average()}")
    print(f"creating a small file in {root}: {bench.file_creation_cost(root):.0f} us")
    print_table(times, training, args.repeats)


def _repeats(args, grid, doc, config, tmp, alone, with_pool, times, training) -> None:
    ds = bench.training_data(grid)[0] if args.gridsearch else None
    for i in range(args.repeats):
        for key, env in (("command", alone), ("pool", with_pool)):
            result = bench.run_sweep_nn(doc, tmp / f"{key}-{i}", env)
            on_pool = "training on the worker pool" in result["stderr"]
            if on_pool != (key == "pool"):
                raise RuntimeError(f"{key}: {'on' if on_pool else 'not on'} the pool")
            times[key].append(result["seconds"])
            training[key].append(result["training"])
        calls = run_session(config, tmp / f"session-{i}", args.calls, alone)
        for call in calls:
            key = "first" if call["call"] == 0 else "warm"
            times[key].append(call["seconds"])
            training[key].append(call["training"])
        line = (f"repeat {i + 1}: command {times['command'][-1]:.2f} s (training "
                f"{training['command'][-1]:.2f} s); with the pool {times['pool'][-1]:.2f} s "
                f"({training['pool'][-1]:.2f} s); session calls "
                + ", ".join(f"{c['seconds']:.2f} s ({c['training']:.2f} s)" for c in calls))  # fmt: skip
        if args.gridsearch:
            times["gridsearch"].append(bench.run_gridsearch(grid.axes, ds))
            line += f"; GridSearchCV {times['gridsearch'][-1]:.1f} s"
        print(line, flush=True)


if __name__ == "__main__":
    main()
