"""Dispatch: hand tasks to worker processes (local, or on Dask), stream results back, survive deaths.

Results come back as each task finishes. A worker that dies costs only the jobs it held:
they are rerun once, alone, after the rest, and recorded ``failed`` only if their worker
dies again. Ctrl-C, SIGTERM and SIGHUP stop the sweep; workers never print on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import warnings
from collections.abc import Callable, Iterator

from ..data import TrainingData
from .jobs import Job
from .orphan import start_worker
from .schedule import Task
from .worker import JobResult, failed, run_task


@contextlib.contextmanager
def stop_signals() -> Iterator[threading.Event]:
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

    from .dask import worker_lost

    return isinstance(exc, (TerminatedWorkerError, BrokenProcessPool)) or worker_lost(exc)


def _parallel_backend(backend: str, scheduler: str | None, n_jobs: int, data: TrainingData):
    """The joblib backend context for ``backend`` ("local" or "dask")."""
    import joblib

    if backend == "local":
        # Ctrl-C reaches the whole process group: the parent stops the workers (SIGKILL), so
        # they ignore SIGINT rather than each printing a traceback
        return joblib.parallel_config(
            backend="loky", n_jobs=n_jobs, inner_max_num_threads=1,
            initializer=start_worker,  # also exits the worker if the sweep is killed
        )  # fmt: skip
    from .dask import dask_backend

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


def run_tasks(
    tasks: list[Task],
    data: TrainingData,
    n_jobs: int,
    backend: str,
    scheduler: str | None,
    on_result: Callable[[JobResult], None],
    work: Callable = run_task,
) -> int:
    """Run every task, calling ``on_result(results_of_one_job)`` as each job finishes.

    When a worker process dies, the jobs handed out but not yet returned are suspects:
    the dying worker's own, and innocent ones lost with the pool. After the other tasks,
    each suspect reruns alone, so a death then names its cause: that job is reported as
    failed and nothing else is. Returns the number of jobs rerun this way.

    ``work(task, data)`` computes one task in a worker (:func:`.worker.run_task`).
    """
    pending = list(tasks)
    suspects: list[Job] = []
    with _one_cluster(backend, scheduler, n_jobs) as address:
        while pending:
            suspects += _run_until_death(pending, data, n_jobs, backend, address, on_result, work)
        for job in suspects:
            if _run_until_death([[[job]]], data, n_jobs, backend, address, on_result, work):
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
    from .dask import local_cluster

    return local_cluster(n_jobs)


def _run_until_death(pending, data, n_jobs, backend, scheduler, on_result, work) -> list[Job]:
    """Run tasks taken from ``pending`` until none is left or a worker process dies.

    Returns the jobs lost to the death (taken from ``pending`` but not finished).
    """
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits

    taken: list[Task] = []
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
                        finished.add(job_results[0].row.key)
                        on_result(job_results)
            finally:
                if outputs is not None:
                    outputs.close()  # on any error, stop the workers now, not at garbage collection
    except Exception as exc:
        if not _worker_died(exc):
            raise
        return [job for task in taken for run in task for job in run if job.keys[0] not in finished]
    return []
