"""A worker process whose sweep died stops within a second, instead of training on.

``kill -9`` of ``sweep-nn run`` gives it no chance to stop its workers: they trained on
for nobody, then waited for work until loky's idle timeout, about five minutes, with
their memory held. A local worker calls :func:`exit_with_parent` as it starts (through
:func:`start_worker`, loky's initializer: a worker may wait without a task), any worker
again as it starts a task (Dask's have no initializer); the first call starts a daemon
thread that polls the process that started it, and exits the worker once it is gone. Nothing is lost by exiting: the parent is the only
writer of the output folder, and every row it recorded is already on disk; the rerun
resumes the rest.

The sweep's own process (``n_jobs=1`` trains in it) has no multiprocessing parent and
is never watched: a sweep whose terminal or caller goes away is stopped by its signals
(SIGHUP, SIGTERM), not by this.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

from ..nn import numba_start

POLL_SECONDS = 0.25
EXIT_ORPHANED = 1  # nobody reads it: the parent that would is gone

_lock = threading.Lock()
_watching_in: int | None = None  # the pid whose watcher runs (a forked child has none)


def exit_with_parent(poll_seconds: float = POLL_SECONDS) -> bool:
    """Make this worker process exit soon after the process that started it dies.

    Returns True if a watcher is running in this process (started now or before), False
    in a process that multiprocessing (or loky, or Dask) did not start.
    """
    global _watching_in
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return False
    with _lock:
        if _watching_in == os.getpid():
            return True
        first_parent = os.getppid()
        thread = threading.Thread(
            target=_watch,
            args=(parent.pid, first_parent, poll_seconds),
            name="sweep-nn-orphan-watch",
            daemon=True,
        )
        thread.start()
        _watching_in = os.getpid()
    return True


def parent_gone(parent_pid: int, first_parent: int) -> bool:
    """True once the starting process has died.

    A process whose parent dies is handed to another (init, or a subreaper) at once, so
    ``getppid`` changes; a process started through a fork server has that server for
    its OS parent, so the starting process is also checked by pid.
    """
    return os.getppid() != first_parent or not _alive(parent_pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _watch(parent_pid: int, first_parent: int, poll_seconds: float) -> None:
    while not parent_gone(parent_pid, first_parent):
        time.sleep(poll_seconds)
    os._exit(EXIT_ORPHANED)  # no cleanup to wait for: the results have no one to go to


def start_worker() -> None:
    """Initializer of a local worker process: deaf to Ctrl-C, and watching its parent.

    Ctrl-C reaches the whole process group; the parent stops the workers itself, so a
    worker ignores SIGINT rather than print a traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    numba_start.in_own_process()  # compiles nothing but the kernels
    exit_with_parent()
