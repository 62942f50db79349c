"""Run a sweep: the output folder, the jobs still to train, the workers, the rows on disk.

The parent process builds the data once, sends tasks longest-first to the workers and
writes every result as it arrives (parameters first, then the row, then a checkpoint of a
run still unfinished). An output folder that already holds results is resumed:
configurations recorded ``ok`` or ``diverged`` are skipped, and every other one continues
from its newest durable state (see :mod:`.checkpoints`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from .. import data as data_mod
from ..config import SweepConfig
from ..errors import ChangedFileError, ConfigError, DataError, StorageError, UsageError
from ..results import store
from ..results.schema import BASELINE_FILE, DONE_STATUSES, PARAMS_DIR, RESULTS_FILE, Row
from . import baseline, checkpoints, jobs
from . import pool as pool_mod
from .dispatch import run_tasks, stop_signals
from .folder import check_folder, locked, make_folder, prepare_folder, record_run
from .halving import Search
from .progress import Progress, WorkMeter
from .schedule import plan_tasks
from .segments import Segment, SegmentOutcome, continuation


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
    stages: list[tuple[int, int]] | None = None  # halving: (budget, configurations trained to it)
    task: str = "classification"
    best: dict | None = None  # the best configuration (mean over seeds): query.best_configuration
    earlier_rows: int = 0  # rows of earlier grids the folder keeps, not part of this sweep
    on_pool: bool = False  # trained by the worker pool (sweep-nn workers), not workers of its own
    pool_note: str | None = None  # why a running pool was not used


def available_cores() -> int:
    """The cores this process may run on (its affinity), not merely those the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_n_jobs(n_jobs: int, backend: str = "local") -> int:
    """-1 means every core; other values must be positive. Local workers are capped at the
    available cores: more would only share them, and slow every one of them down."""
    if n_jobs < 1 and n_jobs != -1:
        raise UsageError(
            f"--n-jobs must be a positive number of workers or -1 (all cores); got {n_jobs}"
        )
    if backend != "local":
        return os.cpu_count() or 1 if n_jobs == -1 else n_jobs
    cores = available_cores()
    return cores if n_jobs == -1 else min(n_jobs, cores)


PROGRESS_EVERY = 0.1  # seconds: the least time between two progress reports
T = TypeVar("T")  # what the function run in the background returns


class _Background(Generic[T]):
    """Run ``fn(*args)`` in a daemon thread; :meth:`result` waits for it (or re-raises)."""

    def __init__(self, fn: Callable[..., T], *args: Any) -> None:
        self._value: T | None = None
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        try:
            self._value = fn(*args)
        except Exception as exc:  # noqa: BLE001 - handed to the caller by result()
            self._error = exc

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return cast(T, self._value)


def _params_meta(cfg: SweepConfig, ds: data_mod.Dataset, output: str) -> dict:
    """What every parameters file of this sweep (on the split or fold of ``ds``) carries
    besides its weights and config (which holds each network's init, init_scale and fold)."""
    train = {k: v for k, v in cfg.train.model_dump(mode="json").items() if k not in jobs.PER_JOB}
    return {
        "train": train | {"output": output},
        "data": cfg.data.resolved() | ({"sha256": ds.sha256} if ds.sha256 else {}),  # csv
        "task": ds.task,
        "classes": ds.classes,
        "scaler": ds.scaler,
        "n_features": int(ds.X_train.shape[1]),
        "features": data_mod.feature_names(cfg.data),  # lets eval --data match columns by name
    }


class _Recorder:
    """The parent's writer. Each segment's parameters files are written as it arrives; its
    rows, and the checkpoints of runs still unfinished, wait for :meth:`flush`, which
    makes them durable together (a group commit: see :func:`.store.make_durable`), then
    writes all the rows with one write and fsync, and only then are rows reported."""

    def __init__(self, out_dir: Path, writer: store.ResultsWriter, done: dict,
                 on_row: Callable[[Row], None] | None) -> None:  # fmt: skip
        self.out_dir, self.writer, self.done, self.on_row = out_dir, writer, done, on_row
        self.meter: WorkMeter | None = None
        self.on_progress: Callable[[Progress], None] | None = None
        self.pending: list[tuple[SegmentOutcome, list[Row]]] = []
        self.unsynced: list[Path] = []  # parameters files written, not yet durable
        self.reported_at = -math.inf  # when progress was last reported (perf_counter)

    def __call__(self, outcome: SegmentOutcome) -> Segment | None:
        rows = []
        for res in outcome:
            row = res.row
            if row.key in self.done:
                continue  # a budget recorded before the resume
            if res.params_file is not None:  # made by the worker (TrainingData.params_meta)
                rel = f"{PARAMS_DIR}/{row.config_id}.pkl"
                path = self.out_dir / rel
                store.atomic_write(path, res.params_file, sync=False)
                self.unsynced.append(path)
                row.params_path = rel
            rows.append(row)
        self.pending.append((outcome, rows))
        return continuation(outcome)

    def flush(self) -> None:
        """Make the pending rows durable (their parameters files first), report them, then
        write or remove the checkpoints of their runs."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        unsynced, self.unsynced = self.unsynced, []
        store.make_durable(unsynced)
        self.writer.append_many([row for _, rows in pending for row in rows])
        for outcome, rows in pending:
            for row in rows:
                if self.on_row:
                    self.on_row(row)
            self._checkpoints(outcome)
            if self.meter is not None:
                self.meter.count(outcome, len(rows))
        self.report_progress()  # the group became durable at once

    def report_progress(self, at_once: bool = False) -> None:
        """Price the work left and report it, unless (``at_once`` False) it was reported
        less than :data:`PROGRESS_EVERY` seconds ago: pricing goes over every job left, and
        groups of small runs can arrive many times a second (a progress bar redraws 10
        times a second)."""
        if self.meter is None or self.on_progress is None:
            return
        now = time.perf_counter()
        if at_once or now - self.reported_at >= PROGRESS_EVERY:
            self.reported_at = now
            self.on_progress(self.meter.now())

    def _checkpoints(self, outcome: SegmentOutcome) -> None:
        stop = outcome.segment.stop
        for job, state in zip(outcome.segment.jobs, outcome.states or []):
            if state.finished(job) or (stop is not None and state.step >= stop):
                checkpoints.remove(self.out_dir, job)  # done, or paused at a budget, whose
            elif state.step not in job.budgets:  # parameters file holds the state
                checkpoints.write(self.out_dir, job, state)


def _pool(backend: str, n_workers: int):
    """The worker pool's claim for this sweep (:func:`.pool.claimed`), if it trains locally
    on several workers; a claim of nothing otherwise."""
    if backend != "local" or n_workers < 2:
        return contextlib.nullcontext(pool_mod.Claim(None))
    return pool_mod.claimed(n_workers)


def _train_all(tasks, data, n_workers, backend, scheduler, record, pool) -> tuple[int, bool]:
    """Train ``tasks`` and record each result (on the worker pool, given its connection);
    returns (runs rerun, interrupted)."""
    try:
        with stop_signals() as stop_requested:

            def checked(outcome: SegmentOutcome) -> Segment | None:
                following = record(outcome)
                if stop_requested.is_set():
                    raise KeyboardInterrupt
                return following

            try:
                if pool is not None:
                    rerun = pool_mod.run_tasks(pool, tasks, data, checked, record.flush)
                else:
                    rerun = run_tasks(tasks, data, n_workers, backend, scheduler, checked,
                                      after_task=record.flush)  # fmt: skip
            finally:
                record.flush()  # what arrived before a stop is kept
            if stop_requested.is_set():
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        return 0, True
    except StorageError as exc:
        raise StorageError(
            f"{exc}; the rows already written are kept: make room, then run the same "
            "command again to resume"
        ) from None
    except pool_mod.PoolError as exc:
        raise pool_mod.PoolError(
            f"{exc}; the rows already written are kept: run the same command again to resume"
        ) from None
    return rerun, False


def _done(rows: list[dict]) -> dict[str, dict]:
    """The latest row of each key whose outcome is settled (``ok`` or ``diverged``)."""
    return {r["key"]: r for r in store.latest_rows(rows) if r["status"] in DONE_STATUSES}


def _train_stage(stage, ds, training, n_workers, backend, scheduler, record, pool) -> tuple[int, bool]:
    """Train the stage's jobs, each from its newest durable state, to ``stage.until``.

    ``ds`` is the dataset (of the first fold, under data.cv) whose sizes the plan uses;
    ``training`` what the workers train on (:data:`.data.Training`)."""
    done = record.done = _done(store.read_rows(record.writer.path))
    reached = [
        job for job in stage.jobs
        if all(k in done for b, k in zip(job.budgets, job.keys) if b <= stage.until)
    ]  # fmt: skip
    for job in reached:
        checkpoints.remove(record.out_dir, job)  # its state at the stage's end is in a params file
    todo = [job for job in stage.jobs if job not in set(reached)]
    starts = checkpoints.resume_states(record.out_dir, todo, done, ds.X_train.shape[1])
    tasks = plan_tasks(todo, n_workers, len(ds.y_train), starts, stop=stage.until)
    label = f"rung {stage.rung + 1} of {stage.rungs}" if stage.rungs > 1 else None
    record.meter.add([seg for task in tasks for seg in task], stage.until, label, done=reached)
    record.report_progress(at_once=True)
    trained = _train_all(tasks, training, n_workers, backend, scheduler, record, pool)
    record.report_progress(at_once=True)  # where the stage ended, however soon after the last
    return trained


def run_sweep(
    cfg: SweepConfig,
    out_dir: Path,
    n_jobs: int = -1,
    fresh: bool = False,
    backend: str = "local",
    scheduler: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_row: Callable[[Row], None] | None = None,
    on_start: Callable[[SweepSummary], None] | None = None,
) -> SweepSummary:
    """Run (or resume) the sweep ``cfg`` into ``out_dir``.

    ``on_start(summary)`` is called once the folder is checked and locked, with what is
    known before training (rows already recorded, rows of earlier grids kept);
    ``on_progress(progress)`` once the work is known, then as rows become durable (at most
    every :data:`PROGRESS_EVERY` seconds) and at the end of each stage (see
    :mod:`.progress`); ``on_row(row)`` after each row is safely on disk. Ctrl-C
    (KeyboardInterrupt) stops the workers and returns a summary with ``interrupted=True``;
    every finished row is kept.
    """
    n_workers = resolve_n_jobs(n_jobs, backend)
    if backend == "dask":
        from .dask import check_scheduler, require_dask

        require_dask()  # before anything is written
        if scheduler is not None:
            check_scheduler(scheduler)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    check_folder(out_dir)
    # the data before the folder: bad data writes nothing
    folds = _load_folds(cfg)
    ds = folds[0]
    output = data_mod.resolve_output(ds, cfg.train.output)
    all_jobs = jobs.expand(cfg, output)  # a search it cannot draw: before the folder, no files
    make_folder(out_dir, out_dir)
    with locked(out_dir), _pool(backend, n_workers) as claim:
        moved = prepare_folder(cfg, out_dir, fresh)
        results_path = out_dir / RESULTS_FILE
        previous = store.read_rows(results_path, repair=True) if results_path.exists() else []
        _refuse_other_keys(previous, all_jobs, out_dir)
        wanted = {k for j in all_jobs for k in j.keys}
        done = _done(previous)
        summary = SweepSummary(out_dir, results_path, total=len(wanted),
                               skipped=len(wanted & done.keys()))  # fmt: skip
        summary.moved_to, summary.task = moved, ds.task
        summary.earlier_rows = _earlier_rows(previous, out_dir)
        summary.on_pool, summary.pool_note = claim.connection is not None, claim.note
        record_run(out_dir, sys.argv, summary.skipped)
        if on_start:
            on_start(summary)
        search = Search.of(cfg, ds.task, all_jobs)
        if search.halves:
            summary.total = search.planned_rows
        # fitted alongside the training (its imports take seconds); kept from an earlier run
        baseline_thread = _Background(baseline.saved_or_fit, out_dir / BASELINE_FILE, folds)
        meter = WorkMeter(len(ds.y_train), summary.total, summary.skipped, n_workers)
        with store.ResultsWriter(results_path) as writer:
            record = _Recorder(out_dir, writer, done, on_row)
            record.meter, record.on_progress = meter, on_progress
            training = _training(cfg, folds, output)
            train = functools.partial(_train_stage, ds=ds, training=training, n_workers=n_workers,
                                      backend=backend, scheduler=scheduler, record=record,
                                      pool=claim.connection)  # fmt: skip
            for stage in search.stages(all_jobs, lambda: _done(store.read_rows(results_path))):
                rerun, summary.interrupted = train(stage)
                summary.rerun += rerun
                if summary.interrupted:
                    break
        if search.halves:
            summary.stages = search.write_table(out_dir, all_jobs, _done(store.read_rows(results_path)))
        if not summary.interrupted:
            summary.baseline = baseline_thread.result()
            blob = json.dumps(summary.baseline, indent=2).encode()
            store.atomic_write(out_dir / BASELINE_FILE, blob)
        _count(summary, results_path, wanted)
        summary.wall_seconds = time.perf_counter() - started
        return summary


def _load_folds(cfg: SweepConfig) -> list[data_mod.Dataset]:
    """The sweep's one split, or one per fold of data.cv; a CSV whose digest is not the
    config's ``data.sha256`` is said to be so (the data layer words it as ``eval`` meets it)."""
    try:
        return data_mod.load_folds(cfg.data, cfg.task)
    except ChangedFileError as exc:
        raise DataError(
            f"{exc.path}: its sha256 is {exc.digest[:16]}..., but the config's data.sha256 is "
            f"{exc.recorded[:16]}...; restore the file, or set data.sha256 to its new digest"
        ) from None


def _training(cfg: SweepConfig, folds: list[data_mod.Dataset], output: str) -> data_mod.Training:
    """The data the workers get, encoded once: the one split, or one per fold; each with
    what its parameters files carry, so that the workers make the files."""
    encoded = tuple(data_mod.to_training(f, output, _params_meta(cfg, f, output)) for f in folds)
    return encoded if cfg.data.cv is not None else encoded[0]


def _refuse_other_keys(previous: list[dict], all_jobs: list[jobs.Job], out_dir: Path) -> None:
    """A row of another key under one of this grid's ids would overwrite its params file."""
    key_of = {cid: key for job in all_jobs for cid, key in zip(job.config_ids, job.keys)}
    clash = sorted({r["config_id"] for r in previous
                    if r["config_id"] in key_of and r["key"] != key_of[r["config_id"]]})  # fmt: skip
    if clash:
        raise ConfigError(
            f"{out_dir} holds results of other settings for {len(clash)} of these "
            f"configurations (e.g. {clash[0]}), and its config.yaml does not say which; "
            "use --fresh to start over (the old results are kept aside) or another --out"
        )


def _earlier_rows(previous: list[dict], out_dir: Path) -> int:
    """Rows the folder keeps that are not of the grid its config.yaml now names (this
    run's), counted as ``filter`` counts the rows it leaves out."""
    if not previous:
        return 0
    from ..results.query import current_rows

    return current_rows(store.results_frame(previous), out_dir)[1]


def _count(summary: SweepSummary, results_path: Path, wanted: set[str]) -> None:
    final = [r for r in store.latest_rows(store.read_rows(results_path)) if r["key"] in wanted]
    summary.counts = Counter(r["status"] for r in final)
    summary.failures = [f"{r['config_id']}: {r['error']}" for r in final if r["status"] == "failed"]
    if final:
        from ..results.query import best_configuration

        summary.best = best_configuration(final, summary.task)
