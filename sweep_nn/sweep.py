"""Run a sweep: prepare the output folder, fan jobs out over workers, stream results to disk.

The parent process builds the data once, sends jobs longest-first to joblib workers and
writes every result as it arrives (parameters first, then the row). An output folder that
already holds results is resumed: configurations recorded ``ok`` or ``diverged`` are
skipped. A worker that dies costs only the jobs it held: they are rerun once, alone, and
recorded ``failed`` only if their worker dies again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import baseline, grid, store
from . import data as data_mod
from .config import SweepConfig
from .errors import ConfigError, LockedError, StorageError, UsageError
from .train import TrainingData, failed, run_jobs

CONFIG_COPY = "config.yaml"
BASELINE_FILE = "baseline.json"
DONE_STATUSES = ("ok", "diverged")  # deterministic outcomes: not rerun on resume


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
    rerun: int = 0  # training runs rerun because their worker process died
    failures: list[str] = field(default_factory=list)  # "config_id: error" of a few failed rows


def default_out_dir(cfg: SweepConfig, root: Path = Path("output")) -> Path:
    return root / cfg.name


def resolve_n_jobs(n_jobs: int) -> int:
    """-1 means every core; other values must be positive."""
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise UsageError(
            f"--n-jobs must be a positive number of workers or -1 (all cores); got {n_jobs}"
        )
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


def _make_folder(folder: Path, out_dir: Path) -> None:
    """Create ``folder`` (and its parents) for the output folder ``out_dir``, or say why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next(
            (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None
        )
        why = f"{blocker} is a file, not a folder" if blocker else exc.strerror
        raise StorageError(f"cannot create output folder {out_dir}: {why}") from None


def _prepare_folder(cfg: SweepConfig, out_dir: Path, fresh: bool) -> Path | None:
    """Create ``out_dir`` (moving old results aside if ``fresh``); check it fits ``cfg``."""
    moved = None
    if fresh and out_dir.exists() and any(out_dir.iterdir()):
        moved = out_dir.with_name(f"{out_dir.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while moved.exists():
            moved, n = moved.with_name(f"{moved.name}-{n}"), n + 1
        os.replace(out_dir, moved)
    _make_folder(out_dir / store.PARAMS_DIR, out_dir)
    for folder in (out_dir, out_dir / store.PARAMS_DIR):
        store.remove_temporaries(folder)  # left by a run that was killed mid-write
    if not os.access(out_dir, os.W_OK):
        raise StorageError(f"cannot write to output folder {out_dir}: permission denied")
    copy = out_dir / CONFIG_COPY
    if copy.exists():
        try:
            old = yaml.safe_load(copy.read_text())
            train = grid.result_settings(old["train"])
            old_fp = {"task": old["task"], "data": old["data"], "train": train}
        except (OSError, yaml.YAMLError, KeyError, TypeError):  # unreadable: not the same sweep
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


def plan_tasks(jobs: list[grid.Job], n_workers: int, n_train: int) -> list[list[grid.Job]]:
    """Longest training run first; the smallest are grouped so each dispatch carries real
    work. A run is one job, or a stack of jobs trained together (:func:`grid.stacks`),
    which always travels whole."""
    runs = [(sum(j.cost(n_train) for j in run), run) for run in grid.stacks(jobs, n_train)]
    runs.sort(key=lambda item: item[0], reverse=True)
    floor = sum(cost for cost, _ in runs) / (n_workers * 100)
    tasks: list[list[grid.Job]] = []
    group: list[grid.Job] = []
    group_cost = 0.0
    for cost, run in runs:
        if cost >= floor:
            tasks.append(list(run))
            continue
        group += run
        group_cost += cost
        if group_cost >= floor:
            tasks.append(group)
            group, group_cost = [], 0.0
    if group:
        tasks.append(group)
    return tasks


@contextlib.contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """Ctrl-C (SIGINT), a terminal closing (SIGHUP) and SIGTERM stop the sweep.

    Each raises KeyboardInterrupt and sets the yielded event. The event is checked after
    every result, so an interrupt raised where Python cannot propagate it (inside a
    finalizer or a callback, where it is only printed) still stops the sweep.
    """
    requested = threading.Event()

    def handler(signum, frame):
        requested.set()
        raise KeyboardInterrupt

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        yield requested
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _worker_died(exc: BaseException) -> bool:
    """True if ``exc`` says a worker process died (local loky workers, or Dask's)."""
    from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError

    from .cluster import worker_lost

    return isinstance(exc, (TerminatedWorkerError, BrokenProcessPool)) or worker_lost(exc)


def _parallel_backend(backend: str, scheduler: str | None, n_jobs: int, data: TrainingData):
    """The joblib backend context for ``backend`` ("local" or "dask")."""
    import joblib

    if backend == "local":
        # Ctrl-C reaches the whole process group: the parent stops the workers (SIGKILL), so
        # they ignore SIGINT rather than each printing a traceback
        return joblib.parallel_config(
            backend="loky", n_jobs=n_jobs, inner_max_num_threads=1,
            initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN),
        )  # fmt: skip
    from .cluster import dask_backend

    return dask_backend(scheduler, n_jobs, data)


@contextlib.contextmanager
def _workers_start_deaf_to_ctrl_c(local_workers: bool) -> Iterator[None]:
    """Block SIGINT in this thread while it starts worker processes, which inherit the mask.

    Ctrl-C reaches the whole process group; the parent stops the workers itself. A worker
    still importing when it arrives would otherwise print a traceback. The parent loses
    nothing: a SIGINT that arrives meanwhile is delivered when the block ends.
    """
    if not local_workers or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # started later, it would unblock SIGINT on its way
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _run_tasks(
    tasks: list[list[grid.Job]],
    data: TrainingData,
    n_jobs: int,
    backend: str,
    scheduler: str | None,
    on_result: Callable[[list[dict]], None],
    work: Callable = run_jobs,
) -> int:
    """Run every task, calling ``on_result(results_of_one_job)`` as each job finishes.

    When a worker process dies, the jobs handed out but not yet returned are suspects:
    the dying worker's own, and innocent ones lost with the pool. After the other tasks,
    each suspect reruns alone, so a death then names its cause: that job is reported as
    failed and nothing else is. Returns the number of jobs rerun this way.

    ``work(jobs, data)`` computes one task in a worker (:func:`~sweep_nn.train.run_jobs`).
    """
    pending = list(tasks)
    suspects: list[grid.Job] = []
    with _one_cluster(backend, scheduler, n_jobs) as address:
        while pending:
            suspects += _run_until_death(pending, data, n_jobs, backend, address, on_result, work)
        for job in suspects:
            if _run_until_death([[job]], data, n_jobs, backend, address, on_result, work):
                on_result(
                    failed(
                        job,
                        "the worker process died twice while training this configuration "
                        "(killed, or out of memory)",
                    )
                )
    return len(suspects)


def _one_cluster(backend: str, scheduler: str | None, n_jobs: int):
    """With --backend dask and no scheduler: one local cluster for the whole sweep."""
    if backend != "dask" or scheduler is not None:
        return contextlib.nullcontext(scheduler)
    from .cluster import local_cluster

    return local_cluster(n_jobs)


def _run_until_death(pending, data, n_jobs, backend, scheduler, on_result, work) -> list[grid.Job]:
    """Run tasks taken from ``pending`` until none is left or a worker process dies.

    Returns the jobs lost to the death (taken from ``pending`` but not finished).
    """
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits

    taken: list[list[grid.Job]] = []
    finished: set[str] = set()

    def feed():
        while pending:
            task = pending.pop(0)
            taken.append(task)
            yield delayed(work)(task, data)

    try:
        with (
            _parallel_backend(backend, scheduler, n_jobs, data),
            threadpool_limits(1),
            warnings.catch_warnings(),
        ):
            # stopping early (Ctrl-C, a storage error) cancels tasks on purpose; joblib warns
            warnings.filterwarnings("ignore", "[0-9]+ tasks which were still being processed")
            parallel = Parallel(
                return_as="generator_unordered", pre_dispatch="n_jobs", batch_size=1
            )
            outputs = None
            try:
                # this call starts the local worker processes, if any
                with _workers_start_deaf_to_ctrl_c(backend == "local" and n_jobs > 1):
                    outputs = parallel(feed())
                for task_results in outputs:
                    for job_results in task_results:
                        finished.add(job_results[0]["row"]["key"])
                        on_result(job_results)
            finally:
                if outputs is not None:
                    outputs.close()  # on any error, stop the workers now, not at garbage collection
    except Exception as exc:
        if not _worker_died(exc):
            raise
        return [job for task in taken for job in task if job.keys[0] not in finished]
    return []


# --- the baseline ----------------------------------------------------------------------------


class _Background:
    """Run ``fn(*args)`` in a daemon thread; :meth:`result` waits for it (or re-raises)."""

    def __init__(self, fn, *args):
        self._out: dict = {}
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            self._out["value"] = fn(*args)
        except Exception as exc:  # noqa: BLE001 - handed to the caller by result()
            self._out["error"] = exc

    def result(self):
        self._thread.join()
        if "error" in self._out:
            raise self._out["error"]
        return self._out["value"]


def _saved_or_fitted_baseline(path: Path, ds: data_mod.Dataset) -> dict:
    """The baseline saved by an earlier run on this folder (same data), or a new fit."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return baseline.fit(ds)


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
    if backend == "dask":
        from .cluster import require_dask

        require_dask()  # before anything is written
    started = time.perf_counter()
    out_dir = Path(out_dir)
    _make_folder(out_dir.parent, out_dir)
    with locked(out_dir):
        # the data before the folder: bad data writes nothing
        ds = data_mod.load(cfg.data, cfg.task)
        output = data_mod.resolve_output(ds, cfg.train.output)
        moved = _prepare_folder(cfg, out_dir, fresh)
        results_path = out_dir / store.RESULTS_FILE
        previous = store.read_rows(results_path, repair=True) if results_path.exists() else []
        done = {r["key"]: r for r in store.latest_rows(previous) if r["status"] in DONE_STATUSES}

        jobs = grid.expand(cfg, output)
        wanted = {k for j in jobs for k in j.keys}
        todo = [j for j in jobs if not all(k in done for k in j.keys)]
        summary = SweepSummary(
            out_dir, results_path, total=len(wanted), skipped=len(wanted & done.keys())
        )
        summary.moved_to = moved
        # fitted alongside the training (its imports take seconds); kept from an earlier run
        baseline_thread = _Background(_saved_or_fitted_baseline, out_dir / BASELINE_FILE, ds)
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
                        config = {
                            k: row[k]
                            for k in (
                                "hidden_size",
                                "activation",
                                "learning_rate",
                                "iterations",
                                "batch_size",
                                "seed",
                            )
                        }
                        store.write_params(
                            out_dir / rel,
                            store.params_payload(res["params"], config=config, **meta),
                        )
                        row["params_path"] = rel
                    writer.append(row)
                    if on_row:
                        on_row(row)

            try:
                with _stop_signals() as stop_requested:

                    def record(job_results: list[dict]) -> None:
                        on_result(job_results)
                        if stop_requested.is_set():
                            raise KeyboardInterrupt

                    summary.rerun = _run_tasks(
                        plan_tasks(todo, n_workers, len(ds.y_train)),
                        data_mod.to_training(ds, output),
                        n_workers,
                        backend,
                        scheduler,
                        record,
                    )
                    if stop_requested.is_set():
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                summary.interrupted = True
            except StorageError as exc:
                raise StorageError(
                    f"{exc}; the rows already written are kept: make room, then run the same "
                    "command again to resume"
                ) from None

        if not summary.interrupted:
            summary.baseline = baseline_thread.result()
            blob = json.dumps(summary.baseline, indent=2).encode()
            store.atomic_write(out_dir / BASELINE_FILE, blob)
        final = [r for r in store.latest_rows(store.read_rows(results_path)) if r["key"] in wanted]
        summary.counts = Counter(r["status"] for r in final)
        summary.failures = [
            f"{r['config_id']}: {r['error']}" for r in final if r["status"] == "failed"
        ]
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
        "features": data_mod.feature_names(cfg.data),  # lets eval --data match columns by name
    }
