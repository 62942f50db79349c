"""Run a sweep's jobs on a Dask cluster, through joblib's ``dask`` backend.

An optional extra: ``pip install "sweep-nn[dask]"``. Only where the jobs run changes. The
parent process still hands out jobs, receives each result as it finishes and is the only
writer, so resume, durable writes and the progress bar work as with local workers.

The training data is sent to the cluster once, when the backend starts, and reaches each
worker once; each job carries only its configuration and a reference to that copy. Dask
reruns the tasks of a worker that dies on the workers that remain (and rebuilds the data
if it died with it). A task that keeps killing its workers ends in ``KilledWorker``, and
a task Dask dropped in the turmoil in ``FutureCancelledError``: :func:`worker_lost`
recognises both, so that the sweep reruns the jobs concerned.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import sys
from collections.abc import Iterator

from ..errors import MissingExtraError, UsageError

INSTALL = 'pip install "sweep-nn[dask]"'
CONNECT_TIMEOUT = 15.0  # seconds to reach a scheduler before giving up
WORKERS_TIMEOUT = 60.0  # seconds to wait for a cluster's first worker


def require_dask():
    """Import and return ``distributed``, or say what to install."""
    try:
        import distributed
    except ImportError:
        raise MissingExtraError(
            f"--backend dask needs Dask, which is not installed; install it with: {INSTALL}"
        ) from None
    return distributed


@contextlib.contextmanager
def local_cluster(n_workers: int) -> Iterator[str]:
    """Start a cluster of single-threaded worker processes on 127.0.0.1; yield its address."""
    distributed = require_dask()
    with distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # any free port: None still claims 8787 for its HTTP server
    ) as cluster:
        yield cluster.scheduler_address


@contextlib.contextmanager
def dask_backend(scheduler: str | None, n_jobs: int, data) -> Iterator[None]:
    """Make joblib's ``Parallel`` run on Dask for the duration of the ``with`` block.

    Parameters
    ----------
    scheduler : str or None
        Address of a running scheduler (``tcp://HOST:8786``). None starts a
        :func:`local_cluster` of ``n_jobs`` workers and stops it on exit.
    n_jobs : int
        Worker processes of the local cluster. An existing cluster keeps its own size:
        the sweep uses every thread its workers offer.
    data : TrainingData or tuple of TrainingData (one per fold of data.cv)
        Sent to every worker once; jobs that pass this same object refer to that copy.
    """
    distributed = require_dask()
    import joblib

    with contextlib.ExitStack() as stack:
        address = scheduler or stack.enter_context(local_cluster(n_jobs))
        client = stack.enter_context(_connect(distributed, address))
        _wait_for_workers(client, address)
        # Dask's nannies start workers with OMP/MKL/OpenBLAS pinned to one thread, as the
        # local backend pins its workers: both take the same arithmetic path.
        backend = _backend_class()(client=client)
        backend.send_once(data)
        stack.enter_context(joblib.parallel_config(backend=backend))
        yield


def check_scheduler(address: str) -> None:
    """Reach the scheduler at ``address`` and let go, so that a sweep that cannot reach it
    stops before it writes anything (:func:`dask_backend` connects again to train)."""
    with _connect(require_dask(), address):
        pass


def _same(value):
    """The task that holds the training data on the cluster."""
    return value


def _connect(distributed, address: str):
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, ValueError, TypeError) as exc:  # refused, unknown host, timed out, bad form
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # Collect the half-built client now: left to interpreter shutdown, its finaliser
    # prints a traceback of its own.
    gc.collect()
    raise UsageError(f"cannot connect to the Dask scheduler at {address}: {reason}")


def _wait_for_workers(client, address: str) -> None:
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except TimeoutError:
        raise UsageError(
            f"the Dask scheduler at {address} has no workers after {WORKERS_TIMEOUT:g} s; "
            f"start some with: dask worker {address} --nthreads 1"
        ) from None


@functools.cache
def _backend_class():
    """joblib's Dask backend with three corrections for running a sweep on it.

    - The data goes to the cluster as the result of a task rather than scattered:
      joblib then passes jobs a reference to it, as for scattered data, but if every
      worker holding it dies Dask recomputes it, where scattered data would be lost and
      the tasks needing it (or results that died with it) would never finish.

    - joblib hears of a finished task through ``callback``, which its Dask backend calls
      only for tasks that returned (an exception raised inside a task is returned too).
      A task the scheduler failed, ``KilledWorker`` after its workers kept dying, would
      leave ``Parallel`` waiting for ever; here the callback hears of those as well.
    - ``Parallel`` runs every task in the calling process when the backend offers one
      worker; a cluster with a single thread (or one worker while another restarts)
      must still do the work, so the backend never reports fewer than two.
    """
    from joblib._dask import DaskDistributedBackend

    class Backend(DaskDistributedBackend):
        def send_once(self, data) -> None:
            """Send ``data`` to the cluster; jobs given this object get a reference to it."""
            self._scatter = [data]  # keeps its id valid while the backend lives
            self.data_futures = {id(data): self.client.submit(_same, data, pure=False)}

        def effective_n_jobs(self, n_jobs):
            return max(2, super().effective_n_jobs(n_jobs))

        def submit(self, func, callback=None):
            future = super().submit(func, callback)
            if callback is not None:

                def on_error(done):
                    if not done.cancelled() and done.exception() is not None:
                        callback(done.exception())

                future.add_done_callback(on_error)
            return future

    return Backend


def worker_lost(exc: BaseException) -> bool:
    """True if ``exc`` says Dask gave up on tasks because workers died.

    ``KilledWorker``: the task's workers kept dying. ``FutureCancelledError``: every
    worker holding the scattered data died, so the tasks that needed it were dropped.
    """
    lost = []
    for module, name in (("distributed.scheduler", "KilledWorker"),
                         ("distributed.client", "FutureCancelledError")):  # fmt: skip
        loaded = sys.modules.get(module)  # loaded if the dask backend ran
        if loaded is not None:
            lost.append(getattr(loaded, name))
    return isinstance(exc, tuple(lost))
