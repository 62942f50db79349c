"""Time sweep-nn against the reference study's loop and GridSearchCV + MLPClassifier.

In one run, on one machine and one grid (same data, same dev split), this times:

(a) the study's loop: a straightforward NumPy loop (``study_loop.py``), every configuration
    and every iteration budget trained from scratch, serially, in this process;
(b) ``GridSearchCV(MLPClassifier(solver="sgd", full batch, no momentum, alpha=0))`` over
    the same grid with a ``PredefinedSplit`` on the same dev set and ``n_jobs=-1``;
(c) the whole ``sweep-nn run`` command as a subprocess (start-up included): the NumPy
    engine and the compiled engine, each in float64 and float32.

The compiled engine's kernels are cached on disk by Numba. Every ``sweep-nn run`` here gets
its own ``NUMBA_CACHE_DIR``: a shared one, filled before the first repeat (its time is
printed), so that the timed runs load their kernels (a warm cache); with ``--cold``, each
repeat also times every compiled sweep with an empty cache, so that its workers compile.

It prints wall times, the ratios (medians of per-repeat ratios over ``--repeats``
side-by-side runs), each run's wall time against its training time (the sum of
``fit_seconds``), CPU microseconds per iteration for single configurations (one thread,
NumPy engine; ``bench_compiled.py`` has the compiled engine's), the peak memory of the
sweep-nn processes for two grid sizes, and how far float32 and compiled accuracies stray
from NumPy float64. Every run checks that the iterations really ran: sweep-nn's NumPy
float64 accuracies must equal the study loop's, and MLPClassifier must run every epoch it
was given.

    .venv/bin/python benchmarks/bench.py --grid proxy --repeats 3 --cold
    .venv/bin/python benchmarks/bench.py --grid many-small --repeats 3
    .venv/bin/python benchmarks/bench.py --grid full --repeats 1 --skip-gridsearch
    .venv/bin/python benchmarks/bench.py --quick
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
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
MANY_SMALL_RATES = [2.0, 1.2, 1.0, 0.6, 0.3, 0.1, 0.05, 0.03, 0.01, 0.001]
GRIDS = {  # None: the reference study's own grid
    "quick": {"hidden_sizes": [1, 3], "activations": ["tanh", "relu"],
              "learning_rates": [0.6], "iterations": [20, 100]},
    "proxy": {"hidden_sizes": ALL_HIDDEN, "activations": ACTIVATIONS,
              "learning_rates": [0.6], "iterations": [1000, 10000]},
    "full": None,
    # many small configurations, where everything around training counts: 4,800 rows
    "many-small": {"hidden_sizes": list(range(1, 9)), "activations": ACTIVATIONS,
                   "learning_rates": MANY_SMALL_RATES, "iterations": [10, 50],
                   "seeds": list(range(10))},
}  # fmt: skip
GRID_DATA = {"many-small": {"n_samples": 500}}  # changes to the reference study's data section
SKLEARN_ACTIVATION = {"tanh": "tanh", "sigmoid": "logistic", "relu": "relu"}
# what the issue asks of each grid: (sweep, baseline, least speed-up of the sweep over it)
TARGETS = {
    "full": [("compiled32", "study", 30.0), ("compiled64", "study", 15.0),
             ("numpy64", "study", 4.7)],
    "proxy": [("compiled32", "study", 12.0), ("compiled32", "gridsearch", 15.0)],
}  # fmt: skip
# many small configurations: the whole command within this many times its training time,
# or this many times faster than the NumPy engine in float64 (the default before the
# compiled engine), whichever comes first
MANY_SMALL_WALL_OVER_TRAINING = 2.0
MANY_SMALL_SPEED_UP = 5.0


# --- set-up --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """A benchmark grid: its name, the YAML ``grid:`` section and the ``data:`` section."""

    name: str
    axes: dict
    data: dict


def grid_of(name: str) -> Grid:
    reference = yaml.safe_load(REFERENCE_CONFIG.read_text())
    axes = GRIDS[name] if GRIDS[name] is not None else reference["grid"]
    return Grid(name, axes, {**reference["data"], **GRID_DATA.get(name, {})})


def sweep_config(
    grid: Grid, name: str, dtype: str = "float64", engine: str = "numpy", stack: bool = False
) -> dict:
    """A sweep-nn YAML document for ``grid``, trained with ``engine`` in ``dtype``."""
    train = {"dtype": dtype, "engine": engine, **({"stack": True} if stack else {})}
    return {"name": name, "data": grid.data, "grid": grid.axes, "train": train}


SWEEPS = {  # timing key -> (label, dtype, engine, stack)
    "numpy64": ("sweep-nn run, NumPy float64", "float64", "numpy", False),
    "numpy32": ("sweep-nn run, NumPy float32", "float32", "numpy", False),
    "compiled64": ("sweep-nn run, compiled float64", "float64", "compiled", False),
    "compiled32": ("sweep-nn run, compiled float32", "float32", "compiled", False),
    "stack64": ("sweep-nn run, NumPy float64, stack: true", "float64", "numpy", True),
    "stack32": ("sweep-nn run, NumPy float32, stack: true", "float32", "numpy", True),
}
DEFAULT_SWEEPS = ["numpy64", "numpy32", "compiled64", "compiled32"]
COLD = "-cold"  # suffix of a compiled sweep timed with an empty kernel cache


def sweep_settings(key: str) -> tuple[str, str, str, bool]:
    """(label, dtype, engine, stack) of a timing key, cold variants included."""
    label, dtype, engine_name, stack = SWEEPS[key.removesuffix(COLD)]
    return (
        (label + ", empty kernel cache" if key.endswith(COLD) else label),
        dtype,
        engine_name,
        stack,
    )


def configurations(axes: dict) -> list[tuple[int, str, float, int]]:
    """(hidden size, activation, learning rate, seed) of every training run of the grid."""
    return list(
        itertools.product(
            axes["hidden_sizes"], axes["activations"], axes["learning_rates"],
            axes.get("seeds", [0]),
        )
    )  # fmt: skip


def training_data(grid: Grid):
    cfg = config_mod.parse(yaml.safe_dump(sweep_config(grid, "bench")))
    ds = data_mod.load(cfg.data, cfg.task)
    return ds, data_mod.to_training(ds, data_mod.resolve_output(ds, cfg.train.output))


def median(values):
    return statistics.median(values) if values else float("nan")


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)"


def fsync_latency(folder: Path, n: int = 200) -> tuple[float, float]:
    """Median and 90th percentile, in ms, of appending a short line and fsyncing it in
    ``folder``: what each of a run's fsyncs costs on this disk at this moment."""
    path = folder / "fsync-probe"
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for _ in range(n):
            os.write(fd, b"x" * 200 + b"\n")
            started = time.perf_counter()
            os.fsync(fd)
            times.append((time.perf_counter() - started) * 1e3)
    finally:
        os.close(fd)
        path.unlink()
    times.sort()
    return statistics.median(times), times[int(0.9 * (n - 1))]


def file_creation_cost(folder: Path, n: int = 1000) -> float:
    """Microseconds to create one small file in a new folder under ``folder``, write 4 KB
    and rename it into place, as a sweep does for each parameters file: the time of that
    varies from disk to disk, and on one machine with what its filesystem went through."""
    probe = Path(tempfile.mkdtemp(prefix="creation-probe-", dir=folder))
    try:
        started = time.perf_counter()
        for i in range(n):
            tmp = probe / f".{i}.tmp"
            tmp.write_bytes(b"x" * 4096)
            os.replace(tmp, probe / f"{i}.pkl")
        return (time.perf_counter() - started) / n * 1e6
    finally:
        shutil.rmtree(probe)


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    import numba

    return (
        f"{model}, {os.cpu_count()} cores; Python {sys.version.split()[0]}, NumPy "
        f"{np.__version__}, Numba {numba.__version__}"
    )


def command_line() -> str:
    """How this script was started, as one would type it from the repository's root."""
    python = os.path.relpath(sys.executable, ROOT)
    script = os.path.relpath(sys.argv[0], ROOT)
    return " ".join([python, script, *sys.argv[1:]])


# --- (a) the study's loop ----------------------------------------------------------------


def run_study(axes: dict, td) -> tuple[float, dict]:
    """Every configuration and budget from scratch, serially; returns (seconds, accuracies)."""
    accuracies = {}
    started, cpu = time.perf_counter(), time.process_time()
    for h, act, lr, seed in configurations(axes):
        for it in axes["iterations"]:
            p, _ = study_loop.fit(td.X_train, td.Y_train, h, act, lr, it, seed=seed)
            with np.errstate(all="ignore"):
                train = study_loop.accuracy(p, td.X_train, td.labels_train, act)
                dev = study_loop.accuracy(p, td.X_dev, td.labels_dev, act)
            accuracies[(h, act, float(lr), it, seed)] = (round(train, 2), round(dev, 2))
    # its CPU time too: wall time far above it means other work on the machine slowed it
    print(f"the study's loop used {time.process_time() - cpu:.1f} s of CPU, load average "
          f"now {load_average()}", flush=True)  # fmt: skip
    return time.perf_counter() - started, accuracies


# --- (b) GridSearchCV over MLPClassifier -----------------------------------------------------


def mlp_search(axes: dict, ds, n_iter_no_change: int):
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
        "hidden_layer_sizes": [(h,) for h in axes["hidden_sizes"]],
        "activation": [SKLEARN_ACTIVATION[a] for a in axes["activations"]],
        "learning_rate_init": list(axes["learning_rates"]),
        "max_iter": list(axes["iterations"]),
        "random_state": list(axes.get("seeds", [0])),
    }
    split = PredefinedSplit(np.r_[np.full(len(ds.y_train), -1), np.zeros(len(ds.y_dev), int)])
    return GridSearchCV(mlp, param_grid, cv=split, n_jobs=-1, refit=False, return_train_score=True)


def run_gridsearch(axes: dict, ds) -> float:
    X = np.vstack([ds.X_train, ds.X_dev])
    y = np.r_[ds.y_train, ds.y_dev]
    search = mlp_search(axes, ds, n_iter_no_change=max(axes["iterations"]) + 1)
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


def kernel_cache_env(cache_dir: Path) -> dict:
    """The environment of a ``sweep-nn run`` whose compiled kernels live in ``cache_dir``."""
    return {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}


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


def run_sweep_nn(doc: dict, workdir: Path, env: dict | None = None) -> dict:
    """Run ``sweep-nn run`` on ``doc`` in a new folder; wall time, peak memory, results."""
    workdir.mkdir(parents=True)
    config_path = workdir / "sweep.yaml"
    config_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = workdir / "out"
    peaks = {"parent": 0, "workers": {}}

    cmd = [*sweep_nn_command(), "run", str(config_path), "--out", str(out), "--quiet"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

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
    rows = read_results(out / "results.csv")
    return {
        "seconds": wall,
        "rows": rows,
        "stderr": stderr,
        "training": training_seconds(rows),
        "parent_mib": peaks["parent"] / 1024,
        "worker_mib": max(peaks["workers"].values(), default=0) / 1024,
        "workers": len(peaks["workers"]),
    }


def read_results(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_of(row: dict) -> tuple:
    """The training run a row belongs to: its grid axes but for ``iterations``."""
    return tuple(
        row[c] for c in ("hidden_size", "activation", "learning_rate", "batch_size", "seed")
    )


def training_seconds(rows: list[dict]) -> float:
    """Pure training time of a sweep: over its training runs, the sum of ``fit_seconds``.

    A run trains once to its largest budget, and each budget's row holds the time spent
    stepping up to that budget, so a run's training time is its largest ``fit_seconds``
    (summing every row would count the smaller budgets' stretches twice). Loss samples,
    snapshots, start-up and saving are outside ``fit_seconds``.
    """
    per_run: dict[tuple, float] = {}
    for row in rows:
        if row["fit_seconds"]:
            key = run_of(row)
            per_run[key] = max(per_run.get(key, 0.0), float(row["fit_seconds"]))
    return sum(per_run.values())


def accuracies_of(rows: list[dict]) -> dict:
    return {
        (int(r["hidden_size"]), r["activation"], float(r["learning_rate"]), int(r["iterations"]),
         int(r["seed"])): (round(float(r["train_acc"]), 2), round(float(r["dev_acc"]), 2))
        for r in rows if r["status"] == "ok"
    }  # fmt: skip


def fill_kernel_cache(grid: Grid, keys: list[str], tmp: Path, env: dict) -> None:
    """Compile, into the shared cache, every kernel the compiled sweeps among ``keys`` use.

    Kernels are specialised by dtype, activation and output layer (not by size or data),
    so each compiled sweep runs once on a one-iteration grid with the grid's activations.
    """
    tiny = {"hidden_sizes": [1], "activations": grid.axes["activations"],
            "learning_rates": [0.6], "iterations": [1]}  # fmt: skip
    for key in keys:
        label, dtype, engine_name, _ = sweep_settings(key)
        if engine_name != "compiled" or key.endswith(COLD):
            continue
        doc = sweep_config(Grid("fill", tiny, grid.data), "fill-cache", dtype, engine_name)
        res = run_sweep_nn(doc, tmp / f"fill-cache-{key}", env)
        print(f"kernel cache filled for {label}: {res['seconds']:.1f} s for "
              f"{len(grid.axes['activations'])} one-iteration runs (an empty cache: "
              "the workers compile)", flush=True)  # fmt: skip


# --- per-iteration cost of one configuration --------------------------------------------------


def per_iteration_us(td, hidden: int, activation: str, engine_dtype, iterations: int) -> float:
    """CPU microseconds per iteration: the study's loop (dtype None) or the NumPy engine."""
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
    print("\n## Per iteration, one configuration, one thread, NumPy engine (CPU us, median of "
          f"{repeats} interleaved runs; the compiled engine's: bench_compiled.py)\n")  # fmt: skip
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


def memory_check(tmp: Path, quick: bool, data: dict, env: dict) -> None:
    small = {"hidden_sizes": [1, 3] if quick else ALL_HIDDEN, "activations": ACTIVATIONS,
             "learning_rates": [0.6], "iterations": [10, 100]}  # fmt: skip
    large = {**small, "learning_rates": [1.2, 0.6, 0.1, 0.01, 0.001], "seeds": [0, 1, 2, 3]}
    print("\n## Peak memory of `sweep-nn run` (NumPy float64; RSS, MiB) for two grid sizes\n")
    print(
        "| configurations | result rows | command (parent) | largest child process | child processes |"
    )
    print("| ---: | ---: | ---: | ---: | ---: |")
    for i, axes in enumerate((small, large)):
        res = run_sweep_nn(sweep_config(Grid("memory", axes, data), f"memory-{i}"),
                           tmp / f"memory-{i}", env)  # fmt: skip
        n_configs = len(configurations(axes))
        print(f"| {n_configs} | {len(res['rows'])} | {res['parent_mib']:.0f} | "
              f"{res['worker_mib']:.0f} | {res['workers']} |", flush=True)  # fmt: skip


# --- the whole comparison ------------------------------------------------------------------


def speed_up(times: dict, over: str, key: str) -> float:
    """Median over the repeats of ``over``'s time / ``key``'s time (how much faster ``key`` is)."""
    pairs = zip(times.get(over, []), times.get(key, []))
    return median([a / b for a, b in pairs if not (math.isnan(a) or math.isnan(b))])


def print_whole_grid(times: dict, labels: dict, repeats: int) -> None:
    print(f"\n## Whole grid, wall seconds (median of {repeats}); speed-ups: medians of "
          "per-repeat ratios\n")  # fmt: skip
    baselines = [k for k in ("study", "gridsearch", "numpy64") if times.get(k)]
    names = {"study": "study's loop", "gridsearch": "GridSearchCV", "numpy64": "NumPy f64"}
    print("| method | seconds | " + " | ".join(f"{names[b]} ÷ this" for b in baselines) + " |")
    print("| --- | ---: |" + " ---: |" * len(baselines))
    for key, values in times.items():
        if values:
            ratios = " | ".join(f"{speed_up(times, b, key):.2f}x" for b in baselines)
            print(f"| {labels[key]} | {median(values):.1f} | {ratios} |")


def print_training_share(times: dict, training: dict, labels: dict, workers: int) -> None:
    print(f"\n## Whole command against its training time (medians; {workers} workers)\n")
    print(
        "training: the sum over training runs of fit_seconds (pure stepping time, on all "
        "workers together; loss samples, snapshots, start-up and saving excluded)\n"
    )
    print("| sweep-nn run | wall s | training s | wall ÷ training | wall ÷ (training ÷ workers) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for key, values in training.items():
        if not values:
            continue
        walls = times[key]
        ratio = median([w / t for w, t in zip(walls, values) if t > 0])
        per_worker = median([w / (t / workers) for w, t in zip(walls, values) if t > 0])
        print(f"| {labels[key]} | {median(walls):.1f} | {median(values):.2f} | {ratio:.2f}x | "
              f"{per_worker:.2f}x |")  # fmt: skip


def print_accuracy_agreement(accuracies: dict, labels: dict) -> None:
    if "numpy64" not in accuracies:
        return
    print("\n## Accuracies against sweep-nn's NumPy float64 (last repeat; |diff| in points, "
          "train and dev together)\n")  # fmt: skip
    print("| sweep-nn run | rows compared | rows identical | median | max |")
    print("| --- | ---: | ---: | ---: | ---: |")
    reference = accuracies["numpy64"]
    for key, acc in accuracies.items():
        if key == "numpy64":
            continue
        common = reference.keys() & acc.keys()
        diffs = [abs(a - b) for k in common for a, b in zip(reference[k], acc[k])]
        same = sum(reference[k] == acc[k] for k in common)
        if diffs:
            print(f"| {labels[key]} | {len(common)} | {same} | {median(diffs):.2f} | "
                  f"{max(diffs):.2f} |")  # fmt: skip


def print_targets(grid: Grid, times: dict, training: dict, workers: int) -> None:
    lines = []
    names = {"study": "the study's loop", "gridsearch": "GridSearchCV + MLPClassifier",
             "numpy64": "sweep-nn NumPy float64"}  # fmt: skip
    for key, over, least in TARGETS.get(grid.name, []):
        if times.get(key) and times.get(over):
            got = speed_up(times, over, key)
            verdict = "met" if got >= least else "missed"
            lines.append(f"- {SWEEPS[key][0]} against {names[over]}: {got:.2f}x "
                         f"(target >= {least:g}x): {verdict}")  # fmt: skip
    if grid.name == "many-small":
        for key in training:
            if not training[key] or key == "numpy64":
                continue
            wall_over = median([w / t for w, t in zip(times[key], training[key]) if t > 0])
            faster = speed_up(times, "numpy64", key) if times.get("numpy64") else float("nan")
            met = wall_over <= MANY_SMALL_WALL_OVER_TRAINING or faster >= MANY_SMALL_SPEED_UP
            lines.append(
                f"- {sweep_settings(key)[0]}: wall {wall_over:.2f}x its training time (target "
                f"<= {MANY_SMALL_WALL_OVER_TRAINING:g}x), {faster:.2f}x faster than NumPy "
                f"float64 (target >= {MANY_SMALL_SPEED_UP:g}x): {'met' if met else 'missed'}"
            )
    if lines:
        print("\n## Targets\n")
        print("\n".join(lines))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", choices=["proxy", "full", "many-small"], default="proxy")
    parser.add_argument(
        "--repeats", type=int, default=1, help="side-by-side runs; medians reported"
    )
    parser.add_argument(
        "--sweeps",
        default=",".join(DEFAULT_SWEEPS),
        help=f"sweep-nn runs to time, comma-separated, from {', '.join(SWEEPS)}",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="also time each compiled sweep with an empty kernel cache",
    )
    parser.add_argument("--skip-study", action="store_true")
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
    sweeps = [k.strip() for k in args.sweeps.split(",") if k.strip()]
    unknown = [k for k in sweeps if k not in SWEEPS]
    if unknown:
        parser.error(f"unknown sweep {', '.join(unknown)}; choose from {', '.join(SWEEPS)}")
    if args.stack:
        sweeps += [k for k in ("stack64", "stack32") if k not in sweeps]
    if args.cold:
        sweeps += [k + COLD for k in sweeps if SWEEPS[k][2] == "compiled"]

    grid = grid_of("quick" if args.quick else args.grid)
    ds, td = training_data(grid)
    n_runs = len(configurations(grid.axes))
    expected = n_runs * len(grid.axes["iterations"])
    workers = len(os.sched_getaffinity(0))
    print(f"# sweep-nn benchmark: {grid.name} grid, {n_runs} training runs x "
          f"{len(grid.axes['iterations'])} budgets {grid.axes['iterations']} = {expected} rows")  # fmt: skip
    print(f"command: {command_line()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; machine: {machine()}")
    print(f"data: {grid.data}")
    print(f"{args.repeats} side-by-side repeat(s), medians reported; sweep-nn uses {workers} "
          "workers (-j -1: the available cores)")  # fmt: skip
    print(f"load average at the start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="sweep-nn-bench-") as probe:
        print("fsync of a small append on this disk: median %.2f ms, 90th percentile %.2f ms"
              % fsync_latency(Path(probe)), flush=True)  # fmt: skip
    if not args.skip_gridsearch:
        check_mlp_runs_every_epoch(ds)

    labels = {"study": "the study's loop (serial)", "gridsearch": "GridSearchCV + MLPClassifier",
              **{k: sweep_settings(k)[0] for k in sweeps}}  # fmt: skip
    times = {k: [] for k in ("study", "gridsearch", *sweeps)}
    training = {k: [] for k in sweeps}
    accuracies: dict = {}
    with tempfile.TemporaryDirectory(prefix="sweep-nn-bench-") as tmp_name:
        tmp = Path(tmp_name)
        warm = kernel_cache_env(tmp / "kernel-cache")
        fill_kernel_cache(grid, sweeps, tmp, warm)
        if any(SWEEPS[k.removesuffix(COLD)][2] == "compiled" for k in sweeps):
            print("compiled sweeps: kernel cache warm (filled above) unless labelled "
                  "'empty kernel cache'", flush=True)  # fmt: skip
        study_acc = None
        for rep in range(args.repeats):
            if not args.skip_study:
                seconds, study_acc = run_study(grid.axes, td)
                times["study"].append(seconds)
                print(f"repeat {rep + 1}: the study's loop {seconds:.1f} s", flush=True)
            if not args.skip_gridsearch:
                times["gridsearch"].append(run_gridsearch(grid.axes, ds))
                print(f"repeat {rep + 1}: GridSearchCV {times['gridsearch'][-1]:.1f} s", flush=True)
            for key in sweeps:
                label, dtype, engine_name, stack = sweep_settings(key)
                env = (
                    kernel_cache_env(tmp / f"empty-cache-{key}-{rep}")
                    if key.endswith(COLD)
                    else warm
                )
                doc = sweep_config(grid, "bench", dtype, engine_name, stack)
                try:
                    res = run_sweep_nn(doc, tmp / f"{key}-{rep}", env)
                except RuntimeError as exc:  # report it, and go on with the other measurements
                    print(f"repeat {rep + 1}: {label} FAILED: {exc}", flush=True)
                    times[key].append(float("nan"))
                    training[key].append(float("nan"))
                    continue
                times[key].append(res["seconds"])
                training[key].append(res["training"])
                accuracies[key] = accuracies_of(res["rows"])
                check = ""
                if dtype == "float64" and study_acc is not None:  # real work: same accuracies
                    same = sum(accuracies[key].get(k) == v for k, v in study_acc.items())
                    check = f", accuracies equal to the study loop's: {same}/{len(study_acc)}"
                print(f"repeat {rep + 1}: {label} {res['seconds']:.1f} s (training "
                      f"{res['training']:.2f} s), rows {len(res['rows'])}/{expected}{check}",
                      flush=True)  # fmt: skip
            print(f"repeat {rep + 1}: load average {load_average()}", flush=True)

        print_whole_grid(times, labels, args.repeats)
        print_training_share(times, training, labels, workers)
        print_accuracy_agreement(
            {k: v for k, v in accuracies.items() if not k.endswith(COLD)}, labels
        )
        print_targets(grid, times, training, workers)

        if not args.skip_single:
            iterations = {1: 200, 50: 50} if args.quick else {1: 2000, 50: 300}
            single_configurations(td, max(args.repeats, 3), iterations)
        if not args.skip_memory:
            memory_check(tmp, args.quick, grid.data, warm)
        print("\nfsync of a small append on this disk: median %.2f ms, 90th percentile %.2f ms"
              % fsync_latency(tmp))  # fmt: skip
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
