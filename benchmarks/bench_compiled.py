"""Time the compiled engine against the study's loop and the NumPy engine, per iteration.

On the study's data (moons, 2000 samples, noise 0.25, seed 0; the 1600 training examples
of the 80/20 split with seed 42; 2 inputs, 1 sigmoid output), for hidden sizes 1 and 50
and each activation, on one thread, this measures CPU microseconds per iteration of

* the study's plain loop (``study_loop.fit``),
* the NumPy engine (``engine.Workspace(...).trainer``), float64 and float32,
* the compiled engine (``sweep_nn.nn.compiled.train``), float64 and float32,

interleaved (one run of each in turn, so a noisy moment hits them all), the median of
``--repeats`` runs, and prints a table with the speed-ups over the study's loop and
their geometric means per hidden size. It then times, in fresh processes, the first run
with an empty Numba cache (compilation) and a start-up that loads the cached kernels.

    .venv/bin/python benchmarks/bench_compiled.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import study_loop

from sweep_nn import data
from sweep_nn.nn import compiled, engine, plain

ACTIVATIONS = ["tanh", "sigmoid", "relu"]
HIDDEN = [1, 50]
LR = 0.6
# iterations per timed run: (study loop, engines)
ITERATIONS = {1: (400, 4000), 50: (40, 400)}
ENGINES = ["study", "numpy64", "numpy32", "compiled64", "compiled32"]


def study_data():
    X, y = data.make_moons(2000, 0.25, 0)
    train_rows, _ = data.split_indices(2000, 0.2, 42)
    return np.ascontiguousarray(X[train_rows].T), y[train_rows][None].astype(np.float64)


def per_iteration_us(which: str, X, Y, hidden: int, activation: str, n: int) -> float:
    """CPU microseconds per iteration of ``n`` full-batch iterations of one engine."""
    if which == "study":
        started = time.process_time()
        study_loop.fit(X, Y, hidden, activation, LR, n)
        return (time.process_time() - started) / n * 1e6
    dtype = np.float64 if which.endswith("64") else np.float32
    X, Y = X.astype(dtype), Y.astype(dtype)
    p = plain.init_params(X.shape[0], hidden, 1, np.random.RandomState(0), dtype=dtype)
    if which.startswith("numpy"):
        ws = engine.Workspace(X.shape[0], hidden, 1, X.shape[1], activation, "sigmoid", dtype)
        run = ws.trainer(p, X, Y, LR)
    else:

        def run(k):
            compiled.train(p, X, Y, LR, k, activation, "sigmoid")

    with np.errstate(all="ignore"):
        started = time.process_time()
        run(n)
    return (time.process_time() - started) / n * 1e6


def geomean(values) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def per_iteration_table(repeats: int) -> None:
    X, Y = study_data()
    print(f"## CPU us per iteration, one thread, median of {repeats} interleaved runs\n")
    print("| hidden | activation | study | numpy f64 | numpy f32 | compiled f64 | compiled f32 "
          "| compiled f64 speed-up | compiled f32 speed-up | numpy f64 speed-up |")  # fmt: skip
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with threadpool_limits(1):
        for hidden in HIDDEN:
            n_study, n_engine = ITERATIONS[hidden]
            ratios = {"compiled64": [], "compiled32": [], "numpy64": []}
            for act in ACTIVATIONS:
                for dtype in (np.float64, np.float32):  # compile (or load) before timing
                    p = plain.init_params(2, hidden, 1, np.random.RandomState(0), dtype=dtype)
                    compiled.train(p, X.astype(dtype), Y.astype(dtype), LR, 1, act, "sigmoid")
                times = {e: [] for e in ENGINES}
                for _ in range(repeats):
                    for which in ENGINES:
                        n = n_study if which == "study" else n_engine
                        times[which].append(per_iteration_us(which, X, Y, hidden, act, n))
                t = {e: statistics.median(v) for e, v in times.items()}
                for e, values in ratios.items():
                    values.append(t["study"] / t[e])
                print(f"| {hidden} | {act} | {t['study']:.1f} | {t['numpy64']:.1f} | "
                      f"{t['numpy32']:.1f} | {t['compiled64']:.1f} | {t['compiled32']:.1f} | "
                      f"{t['study'] / t['compiled64']:.1f}x | {t['study'] / t['compiled32']:.1f}x | "
                      f"{t['study'] / t['numpy64']:.1f}x |", flush=True)  # fmt: skip
            print(f"| {hidden} | geometric mean | | | | | | {geomean(ratios['compiled64']):.1f}x | "
                  f"{geomean(ratios['compiled32']):.1f}x | {geomean(ratios['numpy64']):.1f}x |",
                  flush=True)  # fmt: skip


START_UP = """
import json, time
t0 = time.perf_counter()
import numpy as np
from sweep_nn.nn import compiled
t1 = time.perf_counter()
p = {{"W1": np.full((50, 2), 0.01, np.{dtype}), "b1": np.zeros((50, 1), np.{dtype}),
      "W2": np.full((1, 50), 0.01, np.{dtype}), "b2": np.zeros((1, 1), np.{dtype})}}
X, Y = np.ones((2, 1600), np.{dtype}), np.zeros((1, 1600), np.{dtype})
compiled.train(p, X, Y, 0.6, 1, "tanh", "sigmoid")
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first_call": t2 - t1}}))
"""


def start_up_times(dtype: str) -> tuple[dict, dict, float, float]:
    """(cold, cached) in-process times of a fresh process that imports and trains once,
    with an empty and then a filled NUMBA_CACHE_DIR; and both processes' wall times."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", START_UP.format(dtype=dtype)], env=env,
                                 cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
            runs.append((json.loads(out.stdout), time.perf_counter() - started))
    (cold, cold_wall), (cached, cached_wall) = runs
    return cold, cached, cold_wall, cached_wall


def start_up_table() -> None:
    print("\n## Start-up: a fresh process imports sweep_nn.nn.compiled and trains once "
          "(hidden 50, tanh, sigmoid output)\n")  # fmt: skip
    print("| dtype | cache | import s | first train call s | process wall s |")
    print("| --- | --- | ---: | ---: | ---: |")
    for dtype in ("float64", "float32"):
        cold, cached, cold_wall, cached_wall = start_up_times(dtype)
        print(f"| {dtype} | empty (compiles) | {cold['import']:.2f} | {cold['first_call']:.2f} "
              f"| {cold_wall:.2f} |", flush=True)  # fmt: skip
        print(f"| {dtype} | filled (loads) | {cached['import']:.2f} | "
              f"{cached['first_call']:.2f} | {cached_wall:.2f} |", flush=True)  # fmt: skip


def _cpu_ms(repeats: int, fn, *args) -> float:
    """Median CPU milliseconds of ``repeats`` calls of ``fn(*args)``."""
    times = []
    with np.errstate(all="ignore"):
        for _ in range(repeats):
            started = time.process_time()
            fn(*args)
            times.append((time.process_time() - started) * 1e3)
    return statistics.median(times)


def call_costs(dtype, X, Y, repeats: int, n_long: int) -> tuple[float, float, float]:
    """CPU ms of: a one-step ``compiled.train``; the kernel through its dispatcher, taking
    no step; one step inside an ``n_long`` call."""
    from sweep_nn.nn import kernels

    X, Y = X.astype(dtype), Y.astype(dtype)
    p = plain.init_params(2, 1, 1, np.random.RandomState(0), dtype=dtype)
    compiled.train(p, X, Y, LR, 1, "tanh", "sigmoid")  # compile or load first
    kernel = kernels.kernels_for("tanh", "sigmoid").full_batch
    args = (p["W1"], p["b1"], p["W2"], p["b2"], X, Y, dtype(LR))
    no_loss = np.empty(0)

    def steps(n: int) -> np.ndarray:
        return np.array([n], dtype=np.int64)

    return (
        _cpu_ms(repeats, compiled.train, p, X, Y, LR, 1, "tanh", "sigmoid"),
        _cpu_ms(repeats, kernel, *args, steps(0), no_loss),
        _cpu_ms(3, kernel, *args, steps(n_long), no_loss) / n_long,
    )


def call_overhead_table(repeats: int) -> None:
    """What a call of ``compiled.train`` costs besides its steps: the argument checks, the
    dispatch to the compiled kernel, the kernel's set-up (buffers, the chunked data)."""
    X, Y = study_data()
    n_long = 4000
    print(f"\n## Cost of one call besides its steps (hidden 1, tanh, sigmoid output; CPU ms, "
          f"median of {repeats} calls)\n")  # fmt: skip
    print("| dtype | compiled.train, one step | the kernel, no step | "
          f"one step, in a call of {n_long} |")  # fmt: skip
    print("| --- | ---: | ---: | ---: |")
    with threadpool_limits(1):
        for dtype in (np.float64, np.float32):
            one, dispatched, step = call_costs(dtype, X, Y, repeats, n_long)
            print(f"| {np.dtype(dtype).name} | {one:.3f} | {dispatched:.3f} | {step:.4f} |",
                  flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-start-up", action="store_true")
    parser.add_argument("--skip-per-iteration", action="store_true")
    args = parser.parse_args()
    print(f"command: {' '.join([os.path.relpath(sys.executable, ROOT), *sys.argv])}")
    print(f"load average before: {os.getloadavg()[0]:.2f}\n")
    if not args.skip_per_iteration:
        per_iteration_table(args.repeats)
    call_overhead_table(max(args.repeats, 20))
    if not args.skip_start_up:
        start_up_table()
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
