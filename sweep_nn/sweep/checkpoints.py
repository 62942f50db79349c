"""Durable states of unfinished runs: checkpoint files, and where each run resumes from.

The parent writes ``checkpoints/<config_id of the largest budget>.pkl`` when a segment
ends between budgets, after the rows of the budgets it crossed, and removes it when the
configuration is done. A checkpoint is a plain pickled dict (a
:meth:`.segments.TrainState.to_plain`, the job's key and a format name), written
atomically and read through the parameters files' allowlist. A budget's parameters file
holds the same state, so a run resumes from whichever of the two is newer.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..errors import ParamsError
from ..results import params as params_mod
from ..results import store
from .jobs import Job
from .segments import TrainState

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_FORMAT = "sweep-nn/checkpoint"


def path_of(out_dir: Path, job: Job) -> Path:
    return out_dir / CHECKPOINT_DIR / f"{job.config_ids[-1]}.pkl"


def write(out_dir: Path, job: Job, state: TrainState) -> None:
    """Save ``state`` as the job's checkpoint (atomically: the old one or the new survives)."""
    blob = {"format": CHECKPOINT_FORMAT, "key": job.keys[-1], **state.to_plain(job.budgets[-1])}
    path = path_of(out_dir, job)
    path.parent.mkdir(exist_ok=True)
    store.atomic_write(path, pickle.dumps(blob, protocol=pickle.HIGHEST_PROTOCOL))


def remove(out_dir: Path, job: Job) -> None:
    path_of(out_dir, job).unlink(missing_ok=True)


def _fits(state: TrainState | None, job: Job, n_in: int) -> bool:
    """True if ``state`` can continue ``job``: a live state of the right shapes and dtype."""
    if state is None or state.diverged_at is not None or not 0 < state.step < job.budgets[-1]:
        return False
    h, dtype = job.hidden_size, np.dtype(job.settings.dtype)
    p = state.params
    return p["W1"].shape == (h, n_in) and p["b1"].shape == (h, 1) and all(
        v.dtype == dtype for v in p.values()
    )


def load_checkpoint(out_dir: Path, job: Job) -> TrainState | None:
    """The job's checkpoint, or None if there is none or it is unreadable or another job's."""
    path = path_of(out_dir, job)
    try:
        obj = params_mod.safe_unpickle(path.read_bytes(), str(path))
    except (OSError, ParamsError):
        return None
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        return None
    if obj.get("key") != job.keys[-1]:
        return None
    return TrainState.from_plain(obj, job.budgets[-1])


def _newest_budget_state(out_dir: Path, job: Job, done: dict) -> TrainState | None:
    """The state in the parameters file of the job's largest budget recorded ``ok``."""
    for budget, key in reversed(list(zip(job.budgets, job.keys))):
        row = done.get(key)
        if row is None or row["status"] != "ok" or not row.get("params_path"):
            continue
        try:
            obj = params_mod.load_params(out_dir / row["params_path"])
        except ParamsError:
            continue
        state = TrainState.from_plain(obj, job.budgets[-1])
        if state is not None and state.step == budget:
            return state
    return None


def resume_states(out_dir: Path, jobs: list[Job], done: dict, n_in: int) -> dict[str, TrainState]:
    """Where each unfinished job resumes: its newest durable state (checkpoint, or the
    snapshot of a recorded budget) whose budgets up to it are all recorded. Keyed by the
    job's first key; a job absent starts from its initial weights."""
    starts: dict[str, TrainState] = {}
    for job in jobs:
        states = [load_checkpoint(out_dir, job), _newest_budget_state(out_dir, job, done)]
        usable = [
            s for s in states
            if s is not None and _fits(s, job, n_in)
            and all(k in done for b, k in zip(job.budgets, job.keys) if b <= s.step)
        ]  # fmt: skip
        if usable:
            starts[job.keys[0]] = max(usable, key=lambda s: s.step)
    return starts
