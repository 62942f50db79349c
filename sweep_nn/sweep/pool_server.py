"""The worker pool's own process (:mod:`.pool`): ``python -m sweep_nn.sweep.pool_server N
MINUTES`` keeps ``N`` warm workers and trains one sweep at a time on them, each stage's
tasks through :func:`.dispatch.run_tasks`, each outcome sent to the sweep as it comes."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import select
import signal
import socket
import sys
import threading
import time
from dataclasses import asdict

from ..errors import SweepNNError
from .pool import (
    CONNECT_TIMEOUT,
    EXIT_ANOTHER_POOL,
    FOLDER_ENV,
    INFO,
    SERVING,
    SOCKET,
    PoolInfo,
    build_id,
    private_folder,
    receive,
    send,
)


def serve(n_jobs: int, idle_minutes: float) -> None:
    """Start ``n_jobs`` warm workers, then train one sweep at a time
    until idle for ``idle_minutes`` or sent SIGTERM."""
    from filelock import FileLock, Timeout

    from ..results.store import atomic_write
    from .dispatch import stop_idle_workers, warm_workers

    path = private_folder(create=True)
    assert path is not None
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # its session has no terminal; a stray one
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # a sweep gone: see _train; late, ignored
    os.umask(0o077)  # its socket and files are its user's alone
    serving = FileLock(str(path / SERVING))  # held for life: two pools never share the folder
    try:
        serving.acquire(timeout=0)
    except Timeout:
        sys.exit(EXIT_ANOTHER_POOL)
    warm_workers(n_jobs, idle_minutes)
    os.chdir(path)  # bound by its name alone: a socket's path is at most about 107 bytes
    address = path / SOCKET
    address.unlink(missing_ok=True)  # left by a pool that died
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(SOCKET)
    server.listen(4)
    server.settimeout(idle_minutes * 60)
    info = PoolInfo(os.getpid(), n_jobs, build_id(), idle_minutes, time.time())
    atomic_write(path / INFO, json.dumps(asdict(info)).encode())
    try:
        while True:
            try:
                connection, _ = server.accept()
            except TimeoutError:
                return  # idle for idle_minutes
            with connection, contextlib.suppress(_SweepGone):  # one arriving late
                _serve_one(connection, n_jobs)
            warm_workers(n_jobs, idle_minutes)  # a sweep stopped early stops the workers
    finally:
        server.close()
        stop_idle_workers()  # at once, rather than each asked to end and waited for
        with contextlib.suppress(OSError, ValueError):
            if json.loads((path / INFO).read_text())["pid"] == os.getpid():
                (path / INFO).unlink()
                address.unlink()


class _SweepGone(Exception):
    """Raised in the pool's main thread when the sweep it trains for closes its connection."""


def _serve_one(connection: socket.socket, n_jobs: int) -> None:
    """One sweep: each of its stages' tasks trained on the pool's workers, each outcome
    sent as it comes, until the sweep closes the connection."""
    connection.settimeout(CONNECT_TIMEOUT)
    try:
        if receive(connection) != ("hello", build_id()):
            send(connection, ("refused", "another build"))
            return
        send(connection, ("ready",))
        connection.settimeout(None)
        while True:
            kind, tasks, data = receive(connection)
            if kind != "run":
                return
            _train(connection, tasks, data, n_jobs)
    except (OSError, ConnectionError, EOFError, pickle.UnpicklingError, ValueError, _SweepGone):
        return  # the sweep went away (done, stopped or killed): its workers were stopped


def _train(connection: socket.socket, tasks: list, data, n_jobs: int) -> None:
    """One stage of a sweep. A sweep sends nothing while it trains: should its connection
    close, it went away (Ctrl-C, killed), and the training stops at once, as a sweep's own
    workers would (SIGUSR1 raises :class:`_SweepGone` in this, the main, thread)."""
    from .dispatch import run_tasks as run_here
    from .segments import SealedOutcome, continuation
    from .worker import run_task_sealed

    def forward(outcome):
        if isinstance(outcome, SealedOutcome):
            send(connection, ("outcome", outcome.pickled))
            return None  # nothing to continue: see run_task_sealed
        send(connection, ("outcome", pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)))
        return continuation(outcome)  # as the sweep's recorder continues it

    training = threading.Event()
    training.set()

    def watch() -> None:
        while training.is_set():
            ready, _, _ = select.select([connection], [], [], 0.2)
            if ready and training.is_set():
                with contextlib.suppress(OSError):
                    if connection.recv(1, socket.MSG_PEEK) == b"":
                        os.kill(os.getpid(), signal.SIGUSR1)
                return  # gone, or (never expected) sent something: nothing more to watch

    def gone(signum, frame):
        raise _SweepGone

    previous = signal.signal(signal.SIGUSR1, gone)
    watcher = threading.Thread(target=watch, name="sweep-nn pool watch", daemon=True)
    watcher.start()
    try:
        rerun = run_here(tasks, data, n_jobs, "local", None, forward, run_task_sealed,
                         after_task=lambda: send(connection, ("task done", None)))  # fmt: skip
        training.clear()
        watcher.join()
        send(connection, ("done", rerun))
    except (OSError, ConnectionError, _SweepGone):
        raise
    except Exception as exc:  # noqa: BLE001 - told to the sweep, which reports it
        send(connection, ("error", f"{type(exc).__name__}: {exc}"))
    finally:
        training.clear()
        signal.signal(signal.SIGUSR1, previous)


if __name__ == "__main__":  # N MINUTES FOLDER: the folder given, found by ``pool.servers``
    os.environ[FOLDER_ENV] = sys.argv[3]
    try:
        serve(int(sys.argv[1]), float(sys.argv[2]))
    except SweepNNError as exc:  # its folder's files: told in the log, which start reads
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)
