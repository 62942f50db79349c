"""Dispatch: hand tasks to worker processes (local, or on Dask), stream results back, survive deaths.

Results come back as each task finishes; a run goes on, segment by segment, as the parent
hands out each continuation. A worker that dies costs only the segments it held: they
are rerun once, alone, after the rest, and recorded ``failed`` only if their worker dies
again. Ctrl-C, SIGTERM and SIGHUP stop the sweep; workers never print on Ctrl-C.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator

from ..data import Training, n_train_of
from .orphan import start_worker
from .schedule import Task
from .segments import Segment, SegmentOutcome, TrainState
from .worker import as_segment, failed_outcome, run_task, warm_up

# set while the main thread starts worker processes: a stop signal then only sets its event,
# as a KeyboardInterrupt halfway through a start would leave the new worker to print a traceback
_STARTING_WORKERS = threading.Event()
_STOP_REQUESTED = threading.Event()
# how long an idle local worker waits for a task before it exits: joblib's default, or a
# pool's idle time (see warm_workers)
_worker_idle_seconds = 300.0


@contextlib.contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """Ctrl-C (SIGINT), a terminal closing (SIGHUP) and SIGTERM stop the sweep.

    Each raises KeyboardInterrupt and sets the yielded event. The event is checked after
    every result, so an interrupt raised where Python cannot propagate it (inside a
    finalizer or a callback, where it is only printed) still stops the sweep. A signal the
    process was started with ignored (SIGINT and SIGHUP under ``nohup`` or in a background
    job) stays ignored. While worker processes start (:func:`_workers_start_deaf_to_ctrl_c`)
    the KeyboardInterrupt waits until they have.
    """
    requested = _STOP_REQUESTED
    requested.clear()

    def handler(signum, frame):
        requested.set()
        if not _STARTING_WORKERS.is_set():
            raise KeyboardInterrupt

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        yield requested
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        requested.clear()


def _worker_died(exc: BaseException) -> bool:
    """True if ``exc`` says a worker process died (local loky workers, or Dask's)."""
    from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError

    from .dask import worker_lost

    return isinstance(exc, (TerminatedWorkerError, BrokenProcessPool)) or worker_lost(exc)


def _parallel_backend(backend: str, scheduler: str | None, n_jobs: int, data: Training):
    """The joblib backend context for ``backend`` ("local" or "dask")."""
    if backend == "local":
        return _local_workers(n_jobs)
    from .dask import dask_backend

    return dask_backend(scheduler, n_jobs, data)


def _local_workers(n_jobs: int):
    """The joblib backend context of ``n_jobs`` local worker processes."""
    import joblib

    # Ctrl-C reaches the whole process group: the parent stops the workers (SIGKILL), so
    # they ignore SIGINT rather than each printing a traceback
    return joblib.parallel_config(
        backend="loky", n_jobs=n_jobs, inner_max_num_threads=1,
        initializer=start_worker,  # also exits the worker if the sweep is killed
        idle_worker_timeout=_worker_idle_seconds,
    )  # fmt: skip


@contextlib.contextmanager
def _workers_start_deaf_to_ctrl_c(local_workers: bool) -> Iterator[None]:
    """Start worker processes deaf to Ctrl-C, and finish starting them before stopping.

    Ctrl-C reaches the whole process group; the parent stops the workers itself. A worker
    still importing when it arrives would otherwise print a traceback, so SIGINT is blocked
    in this thread, and the workers inherit the mask. Another thread of the parent may
    still take the signal, and Python then raises KeyboardInterrupt here, in the main
    thread: halfway through writing a new worker its start-up data, which leaves that
    worker to print a traceback. So the stop waits until the workers have started; the
    parent loses nothing.
    """
    if not local_workers or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # started later, it would unblock SIGINT on its way
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    _STARTING_WORKERS.set()
    try:
        yield
    finally:
        _STARTING_WORKERS.clear()
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    if _STOP_REQUESTED.is_set():
        raise KeyboardInterrupt


def run_tasks(
    tasks: list[Task],
    data: Training,
    n_jobs: int,
    backend: str,
    scheduler: str | None,
    on_result: Callable[[SegmentOutcome], Segment | None],
    work: Callable = run_task,
    after_task: Callable[[], None] | None = None,
) -> int:
    """Run every task, calling ``on_result(outcome)`` as each segment finishes.

    A task is a list of segments (a run given as a list of jobs is one segment, straight
    through). ``on_result`` returns the segment that continues the outcome's run, or None;
    the continuations of one task travel together as a new task, queued longest first
    (by the work left in their runs), so a long run goes on as soon as a worker is free.

    When a worker process dies, the segments handed out but not yet returned are suspects:
    the dying worker's own, and innocent ones lost with the pool. After the other tasks,
    each suspect reruns alone (one job per segment, from the state it started from), so
    a death then names its cause: that job is reported as failed and nothing else is.
    Returns the number of jobs rerun this way.

    ``work(task, data)`` computes one task in a worker (:func:`.worker.run_task`);
    ``after_task()`` is called once the outcomes of a task have all been given to
    ``on_result`` (where a recorder commits them together).
    """
    after_task = after_task or (lambda: None)
    n_train = n_train_of(data)
    pending: list[tuple[float, Task]] = []
    for task in tasks:
        _queue(pending, [as_segment(run) for run in task], n_train)
    suspects: list[Segment] = []
    with _one_cluster(backend, scheduler, n_jobs) as address:
        go = functools.partial(_run_until_death, data=data, n_jobs=n_jobs, backend=backend,
                               scheduler=address, on_result=on_result, work=work,
                               after_task=after_task)  # fmt: skip
        while pending:
            suspects += go(pending)
        suspects = [alone for segment in suspects for alone in _split(segment)]
        for segment in suspects:
            queue: list[tuple[float, Task]] = [(0.0, [segment])]
            while queue:
                for lost in go(queue):
                    queue.clear()
                    on_result(
                        failed_outcome(
                            lost,
                            "the worker process died twice while training this configuration "
                            "(killed, or out of memory)",
                        )
                    )
                    after_task()
    return len(suspects)


def warm_workers(n_jobs: int, idle_minutes: float) -> None:
    """Start ``n_jobs`` local workers (if they are not up), each with Numba imported and set
    up (:func:`.worker.warm_up`), to wait ``idle_minutes`` for tasks: a pool's workers."""
    from joblib import Parallel, delayed

    global _worker_idle_seconds
    _worker_idle_seconds = idle_minutes * 60 + 60  # they outlast the pool's own idle time
    with _local_workers(n_jobs):
        Parallel()(delayed(warm_up)() for _ in range(n_jobs))


def stop_idle_workers() -> None:
    """Stop the local worker processes joblib keeps for a next sweep, in a process about to
    exit. Left alone, they are each asked to end and waited for as Python exits (0.15 s of
    a 2.3 s sweep); idle, with every result in, they can be killed at once."""
    module = sys.modules.get("joblib.externals.loky.reusable_executor")  # loaded to start one
    executor = getattr(module, "_executor", None)
    if executor is not None:
        executor.terminate(kill_workers=True)  # and joblib's temporary folder goes with them


def _queue(pending: list[tuple[float, Task]], task: Task, n_train: int) -> None:
    """Put ``task`` among ``pending`` (most work left first), behind tasks of equal work."""
    cost = sum(segment.remaining_cost(n_train) for segment in task)
    bisect.insort(pending, (cost, task), key=lambda item: -item[0])


def _split(segment: Segment) -> list[Segment]:
    """A segment of a stack as one segment per job, each from its own state."""
    if len(segment.jobs) == 1:
        return [segment]
    none: list[TrainState | None] = [None] * len(segment.jobs)
    states: list[TrainState | None] = list(segment.states) if segment.states else none
    return [
        Segment([job], None if s is None else [s], segment.target, segment.every, segment.stop)
        for job, s in zip(segment.jobs, states)
        if s is None or s.diverged_at is None  # a diverged job's rows are written
    ]


def _one_cluster(backend: str, scheduler: str | None, n_jobs: int):
    """With --backend dask and no scheduler: one local cluster for the whole sweep."""
    if backend != "dask" or scheduler is not None:
        return contextlib.nullcontext(scheduler)
    from .dask import local_cluster

    return local_cluster(n_jobs)


def _run_until_death(
    pending, data, n_jobs, backend, scheduler, on_result, work, after_task
) -> list[Segment]:
    """Run tasks taken from ``pending`` until none is left or a worker process dies.

    Continuations join ``pending`` as they come. Returns the segments lost to the death
    (taken from ``pending`` but not finished).
    """
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits

    taken: list[Task] = []
    finished: set[tuple[str, int]] = set()
    n_train = n_train_of(data)

    def feed():
        while pending:
            task = pending.pop(0)[1]
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
                for outcomes in outputs:
                    # a worker may have gone on with a cheap run: continue from its last outcome
                    last = {o.ident[0]: i for i, o in enumerate(outcomes)}
                    following = []
                    for i, outcome in enumerate(outcomes):
                        finished.add(outcome.ident)
                        segment = on_result(outcome)
                        if segment is not None and last[outcome.ident[0]] == i:
                            following.append(segment)
                    after_task()
                    if following:
                        _queue(pending, following, n_train)
            finally:
                if outputs is not None:
                    outputs.close()  # on any error, stop the workers now, not at garbage collection
    except Exception as exc:
        if not _worker_died(exc):
            raise
        return [seg for task in taken for seg in task if seg.ident not in finished]
    return []
