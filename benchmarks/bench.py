"""Time sweep-nn against the reference study's loop and GridSearchCV + MLPClassifier.

In one run, on one machine and one grid (same data, same dev split), this times:

(a) the study's loop: a straightforward NumPy loop (``study_loop.py``), every configuration
    and every iteration budget trained from scratch, serially, in this process;
(b) ``GridSearchCV(MLPClassifier(solver="sgd", full batch, no momentum, alpha=0))`` over
    the same grid with a ``PredefinedSplit`` on the same dev set and ``n_jobs=-1``;
(c) the whole ``sweep-nn run`` command as a subprocess (start-up included), in float64
    and in float32.

It prints wall times, the ratios (medians over ``--repeats`` side-by-side runs), CPU
microseconds per iteration for single configurations (one thread), the peak memory of
the sweep-nn processes for two grid sizes, and how far float32 accuracies stray from
float64. Every run checks that the iterations really ran: sweep-nn's float64 accuracies
must equal the study loop's, and MLPClassifier must run every epoch it was given.

    .venv/bin/python benchmarks/bench.py --grid proxy --repeats 3
    .venv/bin/python benchmarks/bench.py --grid full --repeats 1 --skip-gridsearch
    .venv/bin/python benchmarks/bench.py --quick
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import study_loop

from sweep_nn import config as config_mod
from sweep_nn import data as data_mod
from sweep_nn.nn import engine, plain

REFERENCE_CONFIG = ROOT / "configs" / "reference_study.yaml"
ALL_HIDDEN = [1, 2, 3, 4, 5, 10, 50]
ACTIVATIONS = ["tanh", "sigmoid", "relu"]
GRIDS = {  # None: the reference study's own grid
    "quick": {"hidden_sizes": [1, 3], "activations": ["tanh", "relu"],
              "learning_rates": [0.6], "iterations": [20, 100]},
    "proxy": {"hidden_sizes": ALL_HIDDEN, "activations": ACTIVATIONS,
              "learning_rates": [0.6], "iterations": [1000, 10000]},
    "full": None,
}  # fmt: skip
SKLEARN_ACTIVATION = {"tanh": "tanh", "sigmoid": "logistic", "relu": "relu"}


# --- set-up --------------------------------------------------------------------------------


def sweep_config(grid: dict, name: str, dtype: str = "float64", stack: bool = False) -> dict:
    """A sweep-nn YAML document: the reference study's data section and ``grid``."""
    reference = yaml.safe_load(REFERENCE_CONFIG.read_text())
    train = {"dtype": dtype, **({"stack": True} if stack else {})}
    return {"name": name, "data": reference["data"], "grid": grid, "train": train}


SWEEPS = {  # timing key -> (label, dtype, stack)
    "sweep64": ("sweep-nn run, float64", "float64", False),
    "sweep32": ("sweep-nn run, float32", "float32", False),
    "stack64": ("sweep-nn run, float64, stack: true", "float64", True),
    "stack32": ("sweep-nn run, float32, stack: true", "float32", True),
}


def configurations(grid: dict) -> list[tuple[int, str, float]]:
    return list(
        itertools.product(grid["hidden_sizes"], grid["activations"], grid["learning_rates"])
    )


def training_data(grid: dict):
    cfg = config_mod.parse(yaml.safe_dump(sweep_config(grid, "bench")))
    ds = data_mod.load(cfg.data, cfg.task)
    return ds, data_mod.to_training(ds, data_mod.resolve_output(ds, cfg.train.output))


def median(values):
    return statistics.median(values) if values else float("nan")


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


# --- (a) the study's loop ----------------------------------------------------------------


def run_study(grid: dict, td) -> tuple[float, dict]:
    """Every configuration and budget from scratch, serially; returns (seconds, accuracies)."""
    accuracies = {}
    started = time.perf_counter()
    for h, act, lr in configurations(grid):
        for it in grid["iterations"]:
            p, _ = study_loop.fit(td.X_train, td.Y_train, h, act, lr, it)
            with np.errstate(all="ignore"):
                train = study_loop.accuracy(p, td.X_train, td.labels_train, act)
                dev = study_loop.accuracy(p, td.X_dev, td.labels_dev, act)
            accuracies[(h, act, float(lr), it)] = (round(train, 2), round(dev, 2))
    return time.perf_counter() - started, accuracies


# --- (b) GridSearchCV over MLPClassifier -----------------------------------------------------


def mlp_search(grid: dict, ds, n_iter_no_change: int):
    """The GridSearchCV a scikit-learn user would write for this grid (not yet fitted)."""
    from sklearn.model_selection import GridSearchCV, PredefinedSplit
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(
        solver="sgd",
        batch_size=len(ds.y_train),  # full batch: one step per epoch
        learning_rate="constant",
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.0,
        shuffle=False,
        tol=0.0,
        n_iter_no_change=n_iter_no_change,  # never stop early: every epoch runs
        random_state=0,
    )
    param_grid = {
        "hidden_layer_sizes": [(h,) for h in grid["hidden_sizes"]],
        "activation": [SKLEARN_ACTIVATION[a] for a in grid["activations"]],
        "learning_rate_init": list(grid["learning_rates"]),
        "max_iter": list(grid["iterations"]),
    }
    split = PredefinedSplit(np.r_[np.full(len(ds.y_train), -1), np.zeros(len(ds.y_dev), int)])
    return GridSearchCV(mlp, param_grid, cv=split, n_jobs=-1, refit=False, return_train_score=True)


def run_gridsearch(grid: dict, ds) -> float:
    X = np.vstack([ds.X_train, ds.X_dev])
    y = np.r_[ds.y_train, ds.y_dev]
    search = mlp_search(grid, ds, n_iter_no_change=max(grid["iterations"]) + 1)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    return time.perf_counter() - started


def check_mlp_runs_every_epoch(ds, iterations: int = 50) -> None:
    """Guard for (b): with these settings MLPClassifier stops only at max_iter."""
    from sklearn.base import clone

    search = mlp_search({"hidden_sizes": [3], "activations": ["tanh"], "learning_rates": [0.6],
                         "iterations": [iterations]}, ds, n_iter_no_change=iterations + 1)  # fmt: skip
    mlp = clone(search.estimator).set_params(hidden_layer_sizes=(3,), max_iter=iterations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(ds.X_train, ds.y_train)
    assert mlp.n_iter_ == iterations, f"MLPClassifier stopped after {mlp.n_iter_} epochs"


# --- (c) the sweep-nn command --------------------------------------------------------------


def sweep_nn_command() -> list[str]:
    script = Path(sys.executable).parent / "sweep-nn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sweep_nn"]


def _peak_rss_kib(pid: int) -> int:
    """Peak resident set size (VmHWM) of a live process, in KiB; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:  # the command has just finished
        return []


def run_sweep_nn(doc: dict, workdir: Path) -> dict:
    """Run ``sweep-nn run`` on ``doc`` in a new folder; wall time, peak memory, results."""
    workdir.mkdir(parents=True)
    config_path = workdir / "sweep.yaml"
    config_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = workdir / "out"
    peaks = {"parent": 0, "workers": {}}

    cmd = [*sweep_nn_command(), "run", str(config_path), "--out", str(out), "--quiet"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def watch():  # sample the peak RSS of the command and of each worker while they live
        while proc.poll() is None:
            peaks["parent"] = max(peaks["parent"], _peak_rss_kib(proc.pid))
            for child in _children(proc.pid):
                peaks["workers"][child] = max(peaks["workers"].get(child, 0), _peak_rss_kib(child))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"sweep-nn run failed ({proc.returncode}):\n{stdout}\n{stderr}")
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        "seconds": wall,
        "rows": rows,
        "parent_mib": peaks["parent"] / 1024,
        "worker_mib": max(peaks["workers"].values(), default=0) / 1024,
        "workers": len(peaks["workers"]),
    }


def accuracies_of(rows: list[dict]) -> dict:
    return {
        (int(r["hidden_size"]), r["activation"], float(r["learning_rate"]), int(r["iterations"])):
        (round(float(r["train_acc"]), 2), round(float(r["dev_acc"]), 2))
        for r in rows if r["status"] == "ok"
    }  # fmt: skip


# --- per-iteration cost of one configuration --------------------------------------------------


def per_iteration_us(td, hidden: int, activation: str, engine_dtype, iterations: int) -> float:
    """CPU microseconds per iteration: the study's loop (dtype None) or sweep-nn's engine."""
    started = time.process_time()
    if engine_dtype is None:
        study_loop.fit(td.X_train, td.Y_train, hidden, activation, 0.6, iterations)
        return (time.process_time() - started) / iterations * 1e6
    X, Y = td.X_train.astype(engine_dtype), td.Y_train.astype(engine_dtype)
    p = plain.init_params(X.shape[0], hidden, 1, np.random.RandomState(0), dtype=engine_dtype)
    ws = engine.Workspace(X.shape[0], hidden, 1, X.shape[1], activation, "sigmoid", engine_dtype)
    run = ws.trainer(p, X, Y, 0.6)  # what sweep-nn's training loop runs
    with np.errstate(all="ignore"):
        started = time.process_time()
        run(iterations)
    return (time.process_time() - started) / iterations * 1e6


def single_configurations(td, repeats: int, iterations: dict) -> None:
    print("\n## Per iteration, one configuration, one thread (CPU us, median of "
          f"{repeats} interleaved runs)\n")  # fmt: skip
    print(
        "| hidden | activation | study loop f64 | engine f64 | engine f32 | speed-up f64 | speed-up f32 |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    with threadpool_limits(1):
        for hidden, n in iterations.items():
            ratios64, ratios32 = [], []
            for act in ACTIVATIONS:
                times = {"study": [], "f64": [], "f32": []}
                for _ in range(repeats):  # interleaved, so a noisy moment hits all three alike
                    times["study"].append(per_iteration_us(td, hidden, act, None, n))
                    times["f64"].append(per_iteration_us(td, hidden, act, np.float64, n))
                    times["f32"].append(per_iteration_us(td, hidden, act, np.float32, n))
                s, e64, e32 = (median(times[k]) for k in ("study", "f64", "f32"))
                ratios64.append(s / e64)
                ratios32.append(s / e32)
                print(f"| {hidden} | {act} | {s:.1f} | {e64:.1f} | {e32:.1f} | "
                      f"{s / e64:.2f}x | {s / e32:.2f}x |", flush=True)  # fmt: skip
            print(f"| {hidden} | geometric mean | | | | {geomean(ratios64):.2f}x | "
                  f"{geomean(ratios32):.2f}x |", flush=True)  # fmt: skip


# --- memory for two grid sizes ---------------------------------------------------------------


def memory_check(tmp: Path, quick: bool) -> None:
    small = {"hidden_sizes": [1, 3] if quick else ALL_HIDDEN, "activations": ACTIVATIONS,
             "learning_rates": [0.6], "iterations": [10, 100]}  # fmt: skip
    large = {**small, "learning_rates": [1.2, 0.6, 0.1, 0.01, 0.001], "seeds": [0, 1, 2, 3]}
    print("\n## Peak memory of `sweep-nn run` (RSS, MiB) for two grid sizes\n")
    print(
        "| configurations | result rows | command (parent) | largest child process | child processes |"
    )
    print("| ---: | ---: | ---: | ---: | ---: |")
    for i, grid in enumerate((small, large)):
        res = run_sweep_nn(sweep_config(grid, f"memory-{i}"), tmp / f"memory-{i}")
        n_configs = len(configurations(grid)) * len(grid.get("seeds", [0]))
        print(f"| {n_configs} | {len(res['rows'])} | {res['parent_mib']:.0f} | "
              f"{res['worker_mib']:.0f} | {res['workers']} |", flush=True)  # fmt: skip


# --- the whole comparison ------------------------------------------------------------------


def grid_of(name: str) -> dict:
    if GRIDS[name] is not None:
        return GRIDS[name]
    return yaml.safe_load(REFERENCE_CONFIG.read_text())["grid"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", choices=["proxy", "full"], default="proxy")
    parser.add_argument(
        "--repeats", type=int, default=1, help="side-by-side runs; medians reported"
    )
    parser.add_argument("--skip-gridsearch", action="store_true")
    parser.add_argument(
        "--stack", action="store_true", help="also time sweep-nn with train: {stack: true}"
    )
    parser.add_argument("--skip-single", action="store_true", help="no per-iteration table")
    parser.add_argument("--skip-memory", action="store_true", help="no memory table")
    parser.add_argument(
        "--quick", action="store_true", help="a tiny grid: a smoke test of this script"
    )
    args = parser.parse_args(argv)

    grid_name = "quick" if args.quick else args.grid
    grid = grid_of(grid_name)
    ds, td = training_data(grid)
    n_configs = len(configurations(grid))
    print(f"# sweep-nn benchmark: {grid_name} grid, {n_configs} configurations x "
          f"{len(grid['iterations'])} budgets {grid['iterations']}")  # fmt: skip
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, NumPy {np.__version__}; "
          f"{args.repeats} side-by-side repeat(s), medians reported")  # fmt: skip
    if not args.skip_gridsearch:
        check_mlp_runs_every_epoch(ds)

    sweeps = [k for k in SWEEPS if args.stack or not SWEEPS[k][2]]
    times = {k: [] for k in ("study", "gridsearch", *sweeps)}
    float32_diffs = []
    expected = n_configs * len(grid["iterations"])
    with tempfile.TemporaryDirectory(prefix="sweep-nn-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for rep in range(args.repeats):
            seconds, study_acc = run_study(grid, td)
            times["study"].append(seconds)
            print(f"repeat {rep + 1}: the study's loop {seconds:.1f} s", flush=True)
            if not args.skip_gridsearch:
                times["gridsearch"].append(run_gridsearch(grid, ds))
                print(f"repeat {rep + 1}: GridSearchCV {times['gridsearch'][-1]:.1f} s", flush=True)
            accuracies = {}
            for key in sweeps:
                label, dtype, stack = SWEEPS[key]
                try:
                    res = run_sweep_nn(
                        sweep_config(grid, "bench", dtype, stack), tmp / f"{key}-{rep}"
                    )
                except RuntimeError as exc:  # report it, and go on with the other measurements
                    print(f"repeat {rep + 1}: {label} FAILED: {exc}", flush=True)
                    times[key].append(float("nan"))
                    continue
                times[key].append(res["seconds"])
                accuracies[key] = accuracies_of(res["rows"])
                check = ""
                if dtype == "float64":  # real work: every accuracy equals the study loop's
                    same = sum(accuracies[key].get(k) == v for k, v in study_acc.items())
                    check = f", accuracies equal to the study loop's: {same}/{len(study_acc)}"
                print(f"repeat {rep + 1}: {label} {res['seconds']:.1f} s, "
                      f"rows {len(res['rows'])}/{expected}{check}", flush=True)  # fmt: skip
            if "sweep64" in accuracies and "sweep32" in accuracies:
                acc64, acc32 = accuracies["sweep64"], accuracies["sweep32"]
                float32_diffs = [
                    abs(a - b)
                    for k in acc64.keys() & acc32.keys()
                    for a, b in zip(acc64[k], acc32[k])
                ]

        def ratio(key, over):
            return median([a / b for a, b in zip(times[key], times[over]) if not math.isnan(a / b)])

        print(f"\n## Whole grid, wall seconds (median of {args.repeats})\n")
        print("| method | seconds | study's loop / method | vs sweep-nn f64 | vs sweep-nn f32 |")
        print("| --- | ---: | ---: | ---: | ---: |")
        labels = {"study": "the study's loop (serial)", "gridsearch": "GridSearchCV + MLPClassifier",
                  **{k: v[0] for k, v in SWEEPS.items()}}  # fmt: skip
        for key, values in times.items():
            if not values:
                continue
            print(f"| {labels[key]} | {median(values):.1f} | {ratio('study', key):.2f}x | "
                  f"{ratio(key, 'sweep64'):.2f}x | {ratio(key, 'sweep32'):.2f}x |")  # fmt: skip
        print("\nratios are medians of per-repeat ratios")
        if float32_diffs:
            print(
                f"float32 vs float64 accuracy |diff| over {len(float32_diffs)} values "
                f"(train and dev): max {max(float32_diffs):.2f}, median "
                f"{median(float32_diffs):.2f}, mean {statistics.fmean(float32_diffs):.3f} points"
            )

        if not args.skip_single:
            iterations = {1: 200, 50: 50} if args.quick else {1: 2000, 50: 300}
            single_configurations(td, max(args.repeats, 3), iterations)
        if not args.skip_memory:
            memory_check(tmp, args.quick)


if __name__ == "__main__":
    main()
