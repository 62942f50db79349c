"""The output folder: its lock, its creation, and the check that it holds this sweep.

A folder holds one sweep's results (``results.csv``, ``params/``), the resolved
configuration they came from (``config.yaml``) and the baseline's scores. A second run
on a folder another live run holds is refused; a folder of another sweep is refused.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from ..config import SweepConfig
from ..errors import ConfigError, LockedError, StorageError
from ..results import store
from ..results.schema import CONFIG_COPY, PARAMS_DIR
from .checkpoints import CHECKPOINT_DIR
from .jobs import fingerprint


def default_out_dir(cfg: SweepConfig, root: Path = Path("output")) -> Path:
    return root / cfg.name


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


def make_folder(folder: Path, out_dir: Path) -> None:
    """Create ``folder`` (and its parents) for the output folder ``out_dir``, or say why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next(
            (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None
        )
        why = f"{blocker} is a file, not a folder" if blocker else exc.strerror
        raise StorageError(f"cannot create output folder {out_dir}: {why}") from None


def prepare_folder(cfg: SweepConfig, out_dir: Path, fresh: bool) -> Path | None:
    """Create ``out_dir`` (moving old results aside if ``fresh``); check it fits ``cfg``."""
    moved = None
    if fresh and out_dir.exists() and any(out_dir.iterdir()):
        moved = out_dir.with_name(f"{out_dir.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while moved.exists():
            moved, n = moved.with_name(f"{moved.name}-{n}"), n + 1
        os.replace(out_dir, moved)
    make_folder(out_dir / PARAMS_DIR, out_dir)
    for folder in (out_dir, out_dir / PARAMS_DIR, out_dir / CHECKPOINT_DIR):
        store.remove_temporaries(folder)  # left by a run that was killed mid-write
    if not os.access(out_dir, os.W_OK):
        raise StorageError(f"cannot write to output folder {out_dir}: permission denied")
    copy = out_dir / CONFIG_COPY
    resolved = cfg.resolved()
    if copy.exists():
        try:
            old_fp = fingerprint(yaml.safe_load(copy.read_text()))
        except (OSError, yaml.YAMLError, KeyError, TypeError):  # unreadable: not the same sweep
            old_fp = None
        if old_fp != fingerprint(resolved):
            raise ConfigError(
                f"{out_dir} holds a sweep with other data or training settings than this "
                "config; resume needs the same data:, task: and train: sections. "
                "Use --fresh to start over (the old results are kept aside) or --out for a new folder."
            )
    store.atomic_write(copy, yaml.safe_dump(resolved, sort_keys=False).encode())
    return moved
