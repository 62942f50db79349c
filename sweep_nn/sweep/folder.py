"""The output folder: its lock, its creation, and the check that it holds this sweep.

A folder holds one sweep's results (``results.csv``, ``params/``), the resolved
configuration they came from (``config.yaml``) and the baseline's scores. A second run
on a folder another live run holds is refused; a folder of another sweep is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ..config import MAX_CONFIG_BYTES, SweepConfig, load_yaml
from ..errors import ConfigError, LockedError, StorageError, UsageError
from ..results import store
from ..results.schema import CONFIG_COPY, PARAMS_DIR, RESULTS_FILE
from ..safe_read import read_regular_file
from .checkpoints import CHECKPOINT_DIR
from .jobs import fingerprint


def default_out_dir(cfg: SweepConfig, root: Path = Path("output")) -> Path:
    return root / cfg.name


LOCK_FILE = ".sweep-nn.lock"  # inside the output folder
LOCK_GRACE = 0.25  # seconds a run tries for the lock: the instant `ls` looks at it is no refusal
MARKS = (RESULTS_FILE, CONFIG_COPY)  # a folder sweep-nn made holds one of these


def check_folder(out_dir: Path) -> None:
    """Refuse, before anything is written, an ``out_dir`` that holds someone else's files."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"cannot use {out_dir} as the output folder: it is a file")
    if not out_dir.is_dir() or _made_by_sweep_nn(out_dir):
        return
    others = sorted(p.name for p in out_dir.iterdir() if p.name != LOCK_FILE)
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise ConfigError(
            f"{out_dir} is not a sweep-nn output folder (it holds {shown}); "
            "give --out an empty or new folder"
        )


def _made_by_sweep_nn(folder: Path) -> bool:
    return any((folder / mark).is_file() for mark in MARKS)


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold the folder's lock for the duration; refuse if a live run holds it.

    The lock is an OS-level lock on a file inside the folder, found through the folder's
    real path, so every spelling of it (``.``, ``../out``, a symlink) meets the same lock;
    the kernel releases it when its process dies, so a killed run never blocks the next.
    """
    from filelock import FileLock, Timeout

    lock_path = out_dir.resolve() / LOCK_FILE
    try:
        lock = FileLock(lock_path, timeout=LOCK_GRACE)
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


def in_use(out_dir: Path) -> bool:
    """Whether a live process holds the folder's lock (a run training into it).

    A look that never waits and creates nothing: the lock file, if there is one, is opened
    read-only and locked shared, without waiting, and released at once (so briefly that a
    run starting then is not refused: it tries for :data:`LOCK_GRACE`). A lock file with no
    holder, which every finished or killed run leaves behind, is not in use; nor is one
    that cannot be looked at here (no such file, no permission, no ``flock``).
    """
    try:
        import fcntl
    except ImportError:  # not on a Unix
        return False
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(out_dir.resolve() / LOCK_FILE, flags)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)  # held
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def make_folder(folder: Path, out_dir: Path) -> None:
    """Create ``folder`` (and its parents) for the output folder ``out_dir``, or say why not."""
    store.create_folder(folder, f"output folder {out_dir}")


def prepare_folder(cfg: SweepConfig, out_dir: Path, fresh: bool) -> Path | None:
    """Create ``out_dir`` (moving old results aside if ``fresh``); check it fits ``cfg``."""
    moved = _move_aside(out_dir) if fresh and _made_by_sweep_nn(out_dir) else None
    make_folder(out_dir, out_dir)
    for folder in (out_dir, out_dir / PARAMS_DIR, out_dir / CHECKPOINT_DIR):
        store.remove_temporaries(folder)  # left by a run that was killed mid-write
    if not os.access(out_dir, os.W_OK):
        raise StorageError(f"cannot write to output folder {out_dir}: permission denied")
    copy = out_dir / CONFIG_COPY
    resolved = cfg.resolved()
    if copy.exists():
        try:  # bounded, as every YAML read is: a folder's copy may have been tampered with
            text = read_regular_file(copy, MAX_CONFIG_BYTES, "config copy").decode("utf-8")
            old_fp = fingerprint(load_yaml(text, str(copy)))
        except (OSError, UnicodeDecodeError, ConfigError, KeyError, TypeError, AttributeError):
            old_fp = None  # unreadable: not the same sweep
        new_fp = fingerprint(resolved)
        if old_fp != new_fp:
            raise ConfigError(
                f"{out_dir} holds a sweep with other settings than this config "
                f"({_differences(old_fp, new_fp)}); resume needs the same data:, task: and "
                "train: sections. Use --fresh to start over (the old results are kept aside) "
                "or --out for a new folder."
            )
    store.atomic_write(copy, yaml.safe_dump(resolved, sort_keys=False).encode())
    # the copy marks the folder as sweep-nn's: made first, a Ctrl-C before the rest leaves
    # a folder the same command resumes in, not one it refuses as someone else's
    make_folder(out_dir / PARAMS_DIR, out_dir)
    return moved


def _move_aside(out_dir: Path) -> Path:
    """Move the folder's contents (its lock aside) into ``<name>.old-<time>`` beside it."""
    real = out_dir.resolve()
    moved = real.with_name(f"{real.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while moved.exists():
        moved, n = real.with_name(f"{real.name}.old-{time.strftime('%Y%m%d-%H%M%S')}-{n}"), n + 1
    try:
        moved.mkdir()
        for entry in real.iterdir():
            if entry.name != LOCK_FILE:
                os.replace(entry, moved / entry.name)
    except OSError as exc:
        raise StorageError(f"cannot move {out_dir}'s results aside: {exc.strerror}") from None
    return moved


def _differences(old: dict | None, new: dict) -> str:
    """What differs between two fingerprints, as ``key: old -> new`` (a few of them)."""
    if old is None:
        return "its config.yaml cannot be read"

    def flat(d: dict, prefix: str = "") -> dict:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    a, b = flat(old), flat(new)
    changes = [f"{k}: {a.get(k, '(unset)')} -> {b.get(k, '(unset)')}"
               for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]  # fmt: skip
    return "; ".join(changes[:4]) + ("; ..." if len(changes) > 4 else "")


RUNS_FILE = "runs.json"  # every run of the sweep in this folder: when, what command, which version
MAX_RUNS_KEPT = 1000
MAX_RUNS_BYTES = 4 * 2**20


def record_run(out_dir: Path, command: list[str], skipped: int) -> None:
    """Add this run (start time in UTC, the command, the sweep-nn version, the rows already
    recorded) to :data:`RUNS_FILE`, atomically. An unreadable file is kept aside, not lost."""
    import json
    import shlex
    from datetime import datetime, timezone

    from .. import __version__

    path = out_dir / RUNS_FILE
    runs: list = []
    if path.exists():
        try:
            runs = json.loads(read_regular_file(path, MAX_RUNS_BYTES, "runs file"))
            if not isinstance(runs, list):
                raise ValueError("not a list")
        except (OSError, ValueError, RecursionError):
            with contextlib.suppress(OSError):
                os.replace(path, path.with_name(f"{RUNS_FILE}.unreadable-{int(time.time())}"))
            runs = []
    runs = runs[-(MAX_RUNS_KEPT - 1) :] + [{
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(command),
        "version": __version__,
        "rows_already_recorded": skipped,
    }]  # fmt: skip
    store.atomic_write(path, json.dumps(runs, indent=1).encode())
