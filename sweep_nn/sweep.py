"""Run a sweep: prepare the output folder, fan jobs out over workers, stream results to disk.

The parent process builds the data once, sends jobs longest-first to joblib workers and
writes every result as it arrives (parameters first, then the row). An output folder that
already holds results is resumed: configurations recorded ``ok`` or ``diverged`` are
skipped. A worker that dies costs only the jobs it held; they are retried once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import yaml

from . import data as data_mod
from . import grid, store
from .config import SweepConfig
from .errors import ConfigError, LockedError, StorageError, UsageError
from .train import TrainingData, run_jobs

CONFIG_COPY = "config.yaml"
BASELINE_FILE = "baseline.json"
DONE_STATUSES = ("ok", "diverged")  # deterministic outcomes: not rerun on resume
MAX_ATTEMPTS = 2  # a job whose worker dies is retried once


@dataclass
class SweepSummary:
    """What a finished (or interrupted) sweep did."""

    out_dir: Path
    results_path: Path
    total: int  # result rows the configuration asks for
    skipped: int  # rows already recorded before this run
    counts: Counter = field(default_factory=Counter)  # status -> rows, over the whole grid
    wall_seconds: float = 0.0
    baseline: dict | None = None
    interrupted: bool = False
    moved_to: Path | None = None  # where --fresh put the previous results


def default_out_dir(cfg: SweepConfig, root: Path = Path("output")) -> Path:
    return root / cfg.name


def resolve_n_jobs(n_jobs: int) -> int:
    """-1 means every core; other values must be positive."""
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise UsageError(f"--n-jobs must be a positive number of workers or -1 (all cores); got {n_jobs}")
    return n_jobs


# --- the output folder ---------------------------------------------------------------------


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold the folder's lock for the duration; refuse if a live run holds it.

    The lock is an OS-level lock on a file beside the folder, released by the kernel when
    its process dies, so a killed run never leaves a lock that blocks the next one.
    """
    from filelock import FileLock, Timeout

    lock_path = out_dir.parent / f".{out_dir.name}.lock"
    try:
        lock = FileLock(lock_path, timeout=0)
        lock.acquire()
    except Timeout:
        raise LockedError(
            f"{out_dir} is in use by another sweep-nn run (lock {lock_path}); "
            "wait for it to finish or choose another --out"
        ) from None
    except OSError as exc:
        raise StorageError(f"cannot create lock file {lock_path}: {exc.strerror}") from None
    try:
        yield
    finally:
        lock.release()


def _prepare_folder(cfg: SweepConfig, out_dir: Path, fresh: bool) -> Path | None:
    """Create ``out_dir`` (moving old results aside if ``fresh``); check it fits ``cfg``."""
    moved = None
    if fresh and out_dir.exists() and any(out_dir.iterdir()):
        moved = out_dir.with_name(f"{out_dir.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while moved.exists():
            moved, n = moved.with_name(f"{moved.name}-{n}"), n + 1
        os.replace(out_dir, moved)
    try:
        (out_dir / store.PARAMS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise StorageError(f"cannot write to output folder {out_dir}: permission denied")
    copy = out_dir / CONFIG_COPY
    if copy.exists():
        try:
            old = yaml.safe_load(copy.read_text())
            old_fp = {"task": old["task"], "data": old["data"], "train": old["train"]}
        except Exception:
            old_fp = None
        if old_fp != grid.settings_fingerprint(cfg):
            raise ConfigError(
                f"{out_dir} holds a sweep with other data or training settings than this "
                "config; resume needs the same data:, task: and train: sections. "
                "Use --fresh to start over (the old results are kept aside) or --out for a new folder."
            )
    store.atomic_write(copy, yaml.safe_dump(cfg.resolved(), sort_keys=False).encode())
    return moved


# --- scheduling ------------------------------------------------------------------------------


def plan_tasks(jobs: list[grid.Job], n_workers: int) -> list[list[grid.Job]]:
    """Longest job first; the smallest are grouped so each dispatch carries real work."""
    jobs = sorted(jobs, key=lambda j: j.cost, reverse=True)
    total = sum(j.cost for j in jobs)
    floor = total / (n_workers * 100)
    tasks: list[list[grid.Job]] = []
    group: list[grid.Job] = []
    for job in jobs:
        if job.cost >= floor:
            tasks.append([job])
            continue
        group.append(job)
        if sum(j.cost for j in group) >= floor:
            tasks.append(group)
            group = []
    if group:
        tasks.append(group)
    return tasks


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A terminal closing (SIGHUP) or SIGTERM stops the sweep the way Ctrl-C does."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _worker_died(exc: BaseException) -> bool:
    from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError

    return isinstance(exc, (TerminatedWorkerError, BrokenProcessPool))


def _parallel_backend(backend: str, scheduler: str | None, n_jobs: int, data: TrainingData):
    """The joblib backend context for ``backend`` ("local" or "dask")."""
    import joblib

    if backend == "local":
        return joblib.parallel_config(backend="loky", n_jobs=n_jobs, inner_max_num_threads=1)
    from .cluster import dask_backend

    return dask_backend(scheduler, n_jobs, data)


def _run_tasks(
    tasks: list[list[grid.Job]],
    data: TrainingData,
    n_jobs: int,
    backend: str,
    scheduler: str | None,
    on_result: Callable[[list[dict]], None],
) -> None:
    """Run every task, calling ``on_result(results_of_one_job)`` as each job finishes.

    A task whose worker process died is split into single jobs and retried; a job that
    dies :data:`MAX_ATTEMPTS` times is reported as failed.
    """
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits

    attempts: Counter = Counter()
    pending = list(tasks)
    while pending:
        pulled: list[list[grid.Job]] = []
        finished: set[str] = set()

        def feed():
            while pending:
                task = pending.pop(0)
                pulled.append(task)
                yield delayed(run_jobs)(task, data)

        try:
            with _parallel_backend(backend, scheduler, n_jobs, data), threadpool_limits(1):
                parallel = Parallel(return_as="generator_unordered", pre_dispatch="n_jobs", batch_size=1)
                for task_results in parallel(feed()):
                    for job_results in task_results:
                        finished.add(job_results[0]["row"]["key"])
                        on_result(job_results)
        except Exception as exc:
            if not _worker_died(exc):
                raise
            lost = [j for t in pulled for j in t if j.keys[0] not in finished]
            retry = []
            for job in lost:
                attempts[job.keys[0]] += 1
                if attempts[job.keys[0]] >= MAX_ATTEMPTS:
                    on_result(_failed(job, "worker process died twice while training this configuration"))
                else:
                    retry.append([job])
            pending[:0] = retry


def _failed(job: grid.Job, message: str) -> list[dict]:
    return [
        {"row": {**_identity(job, i), "fit_seconds": 0.0, "status": "failed", "error": message}, "params": None}
        for i in range(len(job.budgets))
    ]


def _identity(job: grid.Job, i: int) -> dict:
    return {
        "config_id": job.config_ids[i], "key": job.keys[i], "hidden_size": job.hidden_size,
        "activation": job.activation, "learning_rate": job.learning_rate,
        "iterations": job.budgets[i], "seed": job.seed, "dtype": job.dtype,
        "batch_size": "full" if job.batch_size is None else job.batch_size,
    }  # fmt: skip


# --- the baseline ----------------------------------------------------------------------------


def baseline(ds: data_mod.Dataset) -> dict:
    """Logistic (classification) or linear (regression) regression on the same split."""
    import numpy as np

    if ds.task == "classification":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=5000).fit(ds.X_train, ds.y_train)
        train, dev = (100.0 * model.score(X, y) for X, y in ((ds.X_train, ds.y_train), (ds.X_dev, ds.y_dev)))
        return {"model": "logistic regression", "train_acc": float(train), "dev_acc": float(dev)}
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(ds.X_train, ds.y_train)
    out = {"model": "linear regression"}
    for split, X, y in (("train", ds.X_train, ds.y_train), ("dev", ds.X_dev, ds.y_dev)):
        out[f"{split}_r2"] = float(model.score(X, y))
        out[f"{split}_rmse"] = float(np.sqrt(np.mean((model.predict(X) - y) ** 2)))
    return out


# --- the sweep -------------------------------------------------------------------------------


def run_sweep(
    cfg: SweepConfig,
    out_dir: Path,
    n_jobs: int = -1,
    fresh: bool = False,
    backend: str = "local",
    scheduler: str | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> SweepSummary:
    """Run (or resume) the sweep ``cfg`` into ``out_dir``.

    ``on_start(total_rows, already_done)`` is called once work is known; ``on_row(row)``
    after each row is safely on disk. Ctrl-C (KeyboardInterrupt) stops the workers and
    returns a summary with ``interrupted=True``; every finished row is kept.
    """
    n_workers = resolve_n_jobs(n_jobs)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {out_dir.parent}: {exc.strerror}") from None
    with locked(out_dir):
        ds = data_mod.load(cfg.data, cfg.task)  # before touching the folder: bad data writes nothing
        output = data_mod.resolve_output(ds, cfg.train.output)
        moved = _prepare_folder(cfg, out_dir, fresh)
        results_path = out_dir / store.RESULTS_FILE
        previous = store.read_rows(results_path, repair=True) if results_path.exists() else []
        done = {r["key"]: r for r in store.latest_rows(previous) if r["status"] in DONE_STATUSES}

        jobs = grid.expand(cfg, output)
        wanted = {k for j in jobs for k in j.keys}
        todo = [j for j in jobs if not all(k in done for k in j.keys)]
        summary = SweepSummary(out_dir, results_path, total=len(wanted), skipped=len(wanted & done.keys()))
        summary.moved_to = moved
        summary.baseline = baseline(ds)
        store.atomic_write(out_dir / BASELINE_FILE, json.dumps(summary.baseline, indent=2).encode())
        if on_start:
            on_start(summary.total, summary.skipped)

        meta = _params_meta(cfg, ds, output)
        with store.ResultsWriter(results_path) as writer:

            def on_result(job_results: list[dict]) -> None:
                for res in job_results:
                    row = res["row"]
                    if row["key"] in done:
                        continue  # a budget recorded before the resume
                    if res["params"] is not None:
                        rel = f"{store.PARAMS_DIR}/{row['config_id']}.pkl"
                        config = {k: row[k] for k in ("hidden_size", "activation", "learning_rate",
                                                      "iterations", "batch_size", "seed")}
                        store.write_params(out_dir / rel, store.params_payload(
                            res["params"], config=config, **meta))
                        row["params_path"] = rel
                    writer.append(row)
                    if on_row:
                        on_row(row)

            try:
                with _sigterm_as_interrupt():
                    _run_tasks(plan_tasks(todo, n_workers), data_mod.to_training(ds, output),
                               n_workers, backend, scheduler, on_result)
            except KeyboardInterrupt:
                summary.interrupted = True

        final = store.latest_rows(store.read_rows(results_path))
        summary.counts = Counter(r["status"] for r in final if r["key"] in wanted)
        summary.wall_seconds = time.perf_counter() - started
        return summary


def _params_meta(cfg: SweepConfig, ds: data_mod.Dataset, output: str) -> dict:
    """What every parameters file of this sweep carries besides its weights and config."""
    return {
        "train": cfg.train.model_dump(mode="json") | {"output": output},
        "data": cfg.data.model_dump(mode="json"),
        "task": ds.task,
        "classes": ds.classes,
        "scaler": ds.scaler,
        "n_features": int(ds.X_train.shape[1]),
    }
