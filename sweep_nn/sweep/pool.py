"""A pool of worker processes kept between sweeps: ``sweep-nn workers start``.

Every ``sweep-nn run`` starts worker processes of its own, and each spends about half a
second (Python, NumPy, Numba and its set-up) before its first task: a third of a sweep
of a few thousand small runs, a sixth of a one-minute one. A pool started once keeps its
workers up and warm. A run that finds one hands it its tasks and records the outcomes as
they come back, exactly as it does from workers of its own; the pool continues each run
from its outcome as the run's recorder does (:func:`.segments.continuation`), and a
worker's death costs what it costs there (:func:`.dispatch.run_tasks`).

A run uses the pool only if it would start as many local workers as the pool has, the
pool runs this very build of sweep-nn (:func:`build_id`: its source, Python and the
libraries that compute), and no other run holds it (one sweep at a time, under a lock);
otherwise it starts its own workers, as without a pool.

The pool is a process of its own (:mod:`.pool_server`) in a session of its own, listening
on a Unix socket in a folder (:func:`folder`) that only its user may enter. What crosses
the socket is pickled, so whoever could connect could run code as the user: the folder's
owner and permissions are checked before each use, and a folder that fails the check is
not used.
The pool stops after its idle time without a sweep, on ``sweep-nn workers stop`` or SIGTERM.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pickle
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import SweepNNError, UsageError

FOLDER_ENV = "SWEEP_NN_POOL_DIR"  # where the pool's socket and files are, if set
# the socket; what the pool says of itself; a sweep's claim; the pool's own lock; its log
SOCKET, INFO, LOCK, SERVING, LOG = "pool.sock", "pool.json", "pool.lock", "serving.lock", "pool.log"
EXIT_ANOTHER_POOL = 3  # a pool process that found another serving the folder
SERVER = "sweep_nn.sweep.pool_server"  # the pool's process runs this module
DEFAULT_IDLE_MINUTES = 30.0
START_TIMEOUT = 120.0  # seconds for a new pool to start its workers and listen
CONNECT_TIMEOUT = 5.0  # seconds to connect, and for a sweep to say hello
ANSWER_TIMEOUT = 30.0  # seconds for a free pool to answer (it answers as soon as it is idle)
_HEADER = 8  # bytes of a message's length, before the pickled message


class PoolError(SweepNNError):
    """The worker pool cannot be started or stopped, or stopped in the middle of a sweep."""

    exit_code = 4


@dataclass(frozen=True)
class PoolInfo:
    """What a running pool wrote of itself in ``pool.json``."""

    pid: int
    n_jobs: int
    build: str
    idle_minutes: float
    started: float  # time.time() of its start


def folder() -> Path:
    """The pool's folder: ``$SWEEP_NN_POOL_DIR``, else ``sweep-nn-pool`` in
    ``$XDG_RUNTIME_DIR`` (a per-user folder of the session), else ``~/.cache/sweep-nn/pool``."""
    if os.environ.get(FOLDER_ENV):
        return Path(os.path.abspath(os.environ[FOLDER_ENV]))
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.path.abspath(os.environ["XDG_RUNTIME_DIR"])) / "sweep-nn-pool"
    return Path.home() / ".cache" / "sweep-nn" / "pool"


SUPPORTED = hasattr(socket, "AF_UNIX") and hasattr(os, "getuid")  # not on Windows


def private_folder(create: bool = False) -> Path | None:
    """:func:`folder` if it is a real folder of this user that nobody else may enter
    (created so, with ``create``); None if it is missing or fails the check."""
    if not SUPPORTED:
        if create:
            raise UsageError("the worker pool needs Unix sockets, which this system lacks")
        return None
    path = folder()
    if create:
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except FileExistsError:
            pass  # not a folder: said below
        except OSError as exc:
            raise PoolError(f"cannot create the pool's folder {path}: {exc.strerror}") from None
    problem = unsafe(path)
    if problem is not None and create:
        raise UsageError(f"the worker pool's folder {problem}")
    return None if problem else path


def unsafe(path: Path) -> str | None:
    """What makes ``path`` unfit for the pool's folder (``"PATH is ..."``), or None; a
    missing folder is unfit, as ``"PATH does not exist"``."""
    try:
        st = path.lstat()
    except OSError:
        return f"{path} does not exist"
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link; give the folder itself"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is a file, not a folder"
    if st.st_uid != os.getuid():
        return f"{path} belongs to another user"
    if st.st_mode & 0o077:
        return (f"{path} may be entered by others (it is {stat.filemode(st.st_mode)}); make it "
                f"yours alone: chmod 700 {path}")  # fmt: skip
    return None


@functools.cache
def build_id() -> str:
    """A digest of what decides a pool's results: sweep-nn's source files and the versions
    of Python, NumPy, Numba and joblib. A pool of another build is not used."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for name in ("numpy", "numba", "joblib"):  # the versions installed, without importing them
        digest.update(version(name).encode() + b"\0")
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


# --- messages ------------------------------------------------------------------------------


def send(sock: socket.socket, message: object) -> None:
    """One message: its length, then the message pickled."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(len(data).to_bytes(_HEADER, "big") + data)


def _receive_exactly(sock: socket.socket, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the other end closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> tuple:
    """The next message; ConnectionError if the connection closes first."""
    n = int.from_bytes(_receive_exactly(sock, _HEADER), "big")
    return pickle.loads(_receive_exactly(sock, n))


# --- a sweep's side ------------------------------------------------------------------------


def running(safe_only: bool = True) -> PoolInfo | None:
    """The pool running now, from its ``pool.json``; None if there is none (or only the
    files of one that died). ``safe_only=False`` also finds one in a folder that fails
    :func:`unsafe` (to stop it, or say what is wrong), never one to use."""
    path = private_folder() if safe_only else folder()
    if path is None or not SUPPORTED:
        return None
    try:
        info = PoolInfo(**json.loads((path / INFO).read_text()))
    except (OSError, ValueError, TypeError, RecursionError):
        return None
    return info if _is_pool(info.pid) and (path / SOCKET).exists() else None


def servers() -> list[int]:
    """The pids of pool processes serving :func:`folder`, whatever its ``pool.json`` says
    (Linux: from /proc; elsewhere none)."""
    wanted = [SERVER.encode(), os.fsencode(folder())]
    found = []
    for entry in Path("/proc").glob("[0-9]*") if os.path.isdir("/proc") else []:
        try:
            argv = (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:
            continue
        if len(argv) > 2 and argv[-1] == wanted[1] and wanted[0] in argv:
            found.append(int(entry.name))
    return found


def busy() -> bool:
    """Whether a sweep holds the pool now."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(folder() / LOCK))
    try:
        lock.acquire(timeout=0)
    except (Timeout, OSError):
        return True
    lock.release()
    return False


def _is_pool(pid: int) -> bool:
    """Whether process ``pid`` is alive and a pool (where the system says what it runs): a
    pool that died may have left its pid to another process."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        return SERVER.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # no /proc: alive is all that can be known
        return True


@dataclass
class Claim:
    """A sweep's hold on the pool: its connection, or why it trains with its own workers
    (``note`` is None when there was no pool to use, and nothing to say)."""

    connection: socket.socket | None
    note: str | None = None


@contextlib.contextmanager
def claimed(n_jobs: int) -> Iterator[Claim]:
    """Hold the pool for one sweep of ``n_jobs`` local workers, if one may be used."""
    info = running()
    if info is None:
        path = folder()
        problem = unsafe(path) if os.path.lexists(path / SOCKET) else None
        yield Claim(None, f"the worker pool's folder {problem}; the pool is not used"
                          if problem else None)  # fmt: skip
        return
    if info.build != build_id():
        yield Claim(
            None,
            "the worker pool runs another build of sweep-nn; it is not used "
            "(restart it: sweep-nn workers stop, then sweep-nn workers start)",
        )
        return
    if info.n_jobs != n_jobs:
        yield Claim(
            None,
            f"the worker pool has {info.n_jobs} workers and this run asks for "
            f"{n_jobs}; it is not used",
        )
        return
    from filelock import FileLock, Timeout

    lock = FileLock(str(folder() / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        yield Claim(
            None, "the worker pool is busy with another sweep; this one starts its own workers"
        )
        return
    try:
        connection = _connect()
        if connection is None:
            yield Claim(None, "the worker pool did not answer; this run starts its own workers")
            return
        with connection:
            yield Claim(connection)
    finally:
        lock.release()


def _connect() -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        with _address() as address:
            sock.connect(address)
        send(sock, ("hello", build_id()))
        sock.settimeout(ANSWER_TIMEOUT)  # it may still be restarting workers after a sweep
        answer = receive(sock)
    except (OSError, ConnectionError, pickle.UnpicklingError, EOFError):
        sock.close()
        return None
    if answer != ("ready",):
        sock.close()
        return None
    sock.settimeout(None)  # a task may train for hours
    return sock


@contextlib.contextmanager
def _address() -> Iterator[str]:
    """The socket's address. A Unix socket's path is at most about 107 bytes: a longer one
    is reached through a descriptor of its folder (Linux's ``/proc/self/fd``)."""
    address = str(folder() / SOCKET)
    if len(os.fsencode(address)) < 100 or not os.path.isdir("/proc/self/fd"):
        yield address
        return
    fd = os.open(folder(), os.O_RDONLY)
    try:
        yield f"/proc/self/fd/{fd}/{SOCKET}"
    finally:
        os.close(fd)


def run_tasks(connection: socket.socket, tasks: list, data, on_result: Callable,
              after_task: Callable[[], None]) -> int:  # fmt: skip
    """:func:`.dispatch.run_tasks` on the pool: ``on_result(outcome)`` as each segment
    finishes, ``after_task()`` after each task's; returns the runs rerun after a death."""
    _talk(send, connection, ("run", tasks, data))
    while True:
        kind, value = _talk(receive, connection)
        if kind == "outcome":  # pickled by its worker, passed on by the pool unread
            on_result(_talk(pickle.loads, value))
        elif kind == "task done":
            after_task()
        elif kind == "done":
            return value
        else:  # "error"
            raise PoolError(f"the worker pool failed: {value}")


def _talk(how: Callable, *args):
    try:
        return how(*args)
    except (OSError, ConnectionError, EOFError, pickle.UnpicklingError):
        raise PoolError("the worker pool stopped in the middle of the sweep (sweep-nn workers "
                        "stop, or killed)") from None  # fmt: skip


def start(n_jobs: int, idle_minutes: float) -> tuple[PoolInfo, bool]:
    """Start a pool (in a process of its own) unless one runs; returns it, and whether it
    is new. Waits until it listens."""
    path = private_folder(create=True)
    assert path is not None
    info = running()
    if info is not None:
        return info, False
    if servers():  # one is starting (its pool.json still to come), or its pool.json is damaged
        info = _another(path, time.monotonic() + START_TIMEOUT, lambda: not servers())
        if info is not None:
            return info, False
    _trim_log(path / LOG)
    with open(path / LOG, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", SERVER, str(n_jobs), str(idle_minutes), str(path)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    try:
        return _started(process, path)
    except BaseException:  # Ctrl-C too: a pool asked for and given up on is not left behind
        with contextlib.suppress(OSError):
            process.terminate()
        raise


def _trim_log(log: Path, keep: int = 64 * 1024) -> None:
    """Every start appends what its pool says (errors) to the log: past 2 * ``keep`` bytes,
    only the last ``keep`` stay. No pool runs then, so none is writing to it."""
    with contextlib.suppress(OSError):
        if log.stat().st_size > 2 * keep:
            log.write_bytes(log.read_bytes()[-keep:])


def _another(path: Path, deadline: float, gone: Callable[[], bool]) -> PoolInfo | None:
    """Wait for another pool process of ``path`` to be up; None if it went away first."""
    while time.monotonic() < deadline:
        info = running()
        if info is not None:
            return info
        try:
            json.loads((path / INFO).read_bytes())
        except FileNotFoundError:
            pass  # still starting
        except (OSError, ValueError, RecursionError):
            raise PoolError(
                f"a worker pool already serves {path}, but its {INFO} cannot be "
                "read; stop it (sweep-nn workers stop), then start again"
            ) from None
        if gone():
            return None
        time.sleep(0.05)
    raise PoolError(f"a worker pool is starting in {path} and is not up after "
                    f"{START_TIMEOUT:.0f} s; see {path / LOG}")  # fmt: skip


def _started(process: subprocess.Popen, path: Path) -> tuple[PoolInfo, bool]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        info = running()
        if info is not None and info.pid == process.pid:
            return info, True
        code = process.poll()
        if code == EXIT_ANOTHER_POOL:  # another start was quicker
            info = _another(path, deadline, lambda: not servers())
            if info is not None:
                return info, False
            raise PoolError(f"the worker pool did not start: another one was starting in "
                            f"{path}, and stopped; see {path / LOG}")  # fmt: skip
        elif code is not None:
            error = UsageError if code == 2 else PoolError  # 2: it refused its folder
            raise error(f"the worker pool did not start (exit {code}): {_last_line(path)}")
        time.sleep(0.05)
    raise PoolError(f"the worker pool did not start within {START_TIMEOUT:.0f} s; see {path / LOG}")


def _last_line(path: Path) -> str:
    try:
        lines = (path / LOG).read_bytes()[-4096:].decode(errors="replace").splitlines()
    except OSError:
        lines = []
    return (lines[-1].strip() if lines else "") + f" (see {path / LOG})"


def stop() -> list[int]:
    """Stop the pool processes of :func:`folder` (SIGTERM, then SIGKILL after 10 s), even
    one in a folder that fails :func:`unsafe` or whose ``pool.json`` cannot be read;
    returns their pids."""
    if not SUPPORTED:
        return []
    info = running(safe_only=False)
    pids = sorted({*servers(), *([info.pid] if info else [])})
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_is_pool(pid) for pid in pids):
        time.sleep(0.05)  # gone, or a zombie its parent has yet to reap
    for pid in pids:
        if _is_pool(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    return pids
