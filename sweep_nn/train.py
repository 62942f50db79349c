"""One job in a worker: train to the largest budget, snapshot and score every budget.

Imports NumPy and the network maths only, so a worker process starts quickly. Returns
plain dicts and prints nothing; a failure becomes a row with its status, never a raise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import network
from .grid import Job, stacks


@dataclass
class TrainingData:
    """Encoded train and dev sets, features-first, float64 (as the network sees them)."""

    X_train: np.ndarray  # (n_in, m_train)
    Y_train: np.ndarray  # (n_out, m_train)
    X_dev: np.ndarray  # (n_in, m_dev)
    Y_dev: np.ndarray  # (n_out, m_dev)
    labels_train: np.ndarray | None  # (m_train,) class indices; None for regression
    labels_dev: np.ndarray | None
    task: str  # "classification" or "regression"


def score(p: network.Params, X, Y, labels, activation: str, output: str) -> dict:
    """Metrics of parameters on one split: accuracy % or R2 / RMSE, and the loss."""
    Z2, A2 = network.forward(p, X, activation, output)
    out = network.OUTPUTS[output]
    metrics = {"loss": out.loss(Z2.astype(np.float64), Y)}
    if out.task == "classification":
        metrics["acc"] = 100.0 * float(np.mean(out.predict(A2) == labels))
    else:
        resid = ((A2 - Y) ** 2).sum(axis=1)
        total = ((Y - Y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        r2 = np.where(total > 0, 1.0 - resid / np.where(total > 0, total, 1.0), 0.0)
        metrics["r2"] = float(r2.mean())  # uniform average over targets, as scikit-learn's
        metrics["rmse"] = float(np.sqrt(resid.sum() / Y.size))
    return metrics


def _stops(budgets: tuple[int, ...], loss_points: int) -> tuple[list[int], set[int]]:
    """Iterations at which training pauses: every budget, plus the loss-curve samples."""
    top = budgets[-1]
    record = set()
    if loss_points > 0:
        every = max(1, top // loss_points)
        record = set(range(0, top + 1, every)) | {top}
    return sorted(record | set(budgets) | {0}), record


def _make_advance(jobs: list[Job], data: TrainingData, ps: list[network.Params], rng, dtype):
    """A function ``advance(n)`` that runs ``n`` iterations on every ``ps[i]`` in place.

    An iteration is one full-batch step, or one shuffled pass over the data in batches
    (mini-batch jobs always train alone: ``jobs`` then holds one job).
    """
    X = data.X_train.astype(dtype)
    Y = data.Y_train.astype(dtype)
    n_in, m = X.shape
    job = jobs[0]
    n_out, h = Y.shape[0], job.hidden_size
    if job.batch_size is None or job.batch_size >= m:
        ws = network.Workspace(n_in, h, n_out, m, job.activation, job.output, dtype, len(jobs))
        return ws.stack_trainer(ps, X, Y, [j.learning_rate for j in jobs])
    if len(jobs) != 1:
        raise ValueError("mini-batch jobs train alone")

    size, (p,), lr = job.batch_size, ps, job.learning_rate
    batches = {}  # batch length -> (X buffer, Y buffer, run), refilled in place each batch
    for b in {size, m % size} - {0}:
        ws = network.Workspace(n_in, h, n_out, b, job.activation, job.output, dtype)
        Yb = np.empty((n_out, b), dtype)
        batches[b] = (ws.X, Yb, ws.trainer(p, ws.X, Yb, lr))  # ws.X: the batch's inputs
    take = np.take

    def advance(n: int) -> None:
        for _ in range(n):
            order = rng.permutation(m)
            for start in range(0, m, size):
                idx = order[start : start + size]
                Xb, Yb, run = batches[len(idx)]
                take(X, idx, axis=1, out=Xb)
                take(Y, idx, axis=1, out=Yb)
                run(1)

    return advance


def _finite(p: network.Params) -> bool:
    return all(np.isfinite(v).all() for v in p.values())


def train(job: Job, data: TrainingData) -> list[dict]:
    """Train ``job`` and return one result per budget.

    Each result is ``{"row": {...metrics...}, "params": {...arrays..., "loss_curve": ...}}``;
    ``params`` is None when the run diverged before that budget.
    """
    return train_stack([job], data)[0]


def train_stack(jobs: list[Job], data: TrainingData) -> list[list[dict]]:
    """Train ``jobs`` side by side in one stack (see :func:`grid.stacks`); results per job.

    Each model takes exactly the steps it would take alone. The time spent stepping is
    shared: every row's ``fit_seconds`` is that time divided by ``stack_size``.
    """
    first, k = jobs[0], len(jobs)
    dtype = np.dtype(first.dtype).type
    n_in, n_out = data.X_train.shape[0], data.Y_train.shape[0]
    ps, rngs = [], []
    for job in jobs:
        rngs.append(np.random.RandomState(job.seed))
        ps.append(
            network.init_params(
                n_in, job.hidden_size, n_out, rngs[-1], job.init, job.init_scale, dtype
            )
        )
    advance = _make_advance(jobs, data, ps, rngs[0], dtype)
    stops, record = _stops(first.budgets, first.loss_points)
    X_train = data.X_train.astype(dtype)
    curves = [([], []) for _ in jobs]  # per job: (iterations, losses)
    results: list[list[dict]] = [[] for _ in jobs]
    diverged_at: list[int | None] = [None] * k
    stopped = [0.0] * k  # stepping time when each job's training ended
    elapsed, done = 0.0, 0
    with np.errstate(all="ignore"):  # overflow is detected below and reported as divergence
        for stop in stops:
            t0 = time.perf_counter()
            advance(stop - done)
            elapsed += time.perf_counter() - t0
            done = stop
            for i, (job, p, (curve_it, curve_loss)) in enumerate(zip(jobs, ps, curves)):
                if diverged_at[i] is not None:
                    continue  # it keeps stepping with its stack, unrecorded
                if stop in record:
                    value = network.loss(p, X_train, data.Y_train, job.activation, job.output)
                    curve_it.append(stop)
                    curve_loss.append(value)
                    if not np.isfinite(value):
                        diverged_at[i] = stop
                if diverged_at[i] is None and not _finite(p):
                    diverged_at[i] = stop
                stopped[i] = elapsed
                if diverged_at[i] is None and stop in job.budgets:
                    results[i].append(
                        _snapshot(job, data, p, stop, elapsed / k, k, curve_it, curve_loss)
                    )
            if all(d is not None for d in diverged_at):
                break
    for job, job_results, at, seconds in zip(jobs, results, diverged_at, stopped):
        for budget in job.budgets[len(job_results) :]:
            row = _row(job, budget, seconds / k, "diverged", stack_size=k, diverged_at=at)
            job_results.append({"row": row, "params": None})
    return results


def _snapshot(job, data, p, budget, elapsed, stack_size, curve_it, curve_loss) -> dict:
    train_m = score(
        p,
        data.X_train.astype(p["W1"].dtype),
        data.Y_train,
        data.labels_train,
        job.activation,
        job.output,
    )
    dev_m = score(
        p, data.X_dev.astype(p["W1"].dtype), data.Y_dev, data.labels_dev, job.activation, job.output
    )
    row = _row(job, budget, elapsed, "ok", stack_size=stack_size)
    row["train_loss"], row["dev_loss"] = train_m["loss"], dev_m["loss"]
    if "acc" in train_m:
        row["train_acc"], row["dev_acc"] = train_m["acc"], dev_m["acc"]
        row["gap"] = train_m["acc"] - dev_m["acc"]
    else:
        row["train_r2"], row["dev_r2"] = train_m["r2"], dev_m["r2"]
        row["train_rmse"], row["dev_rmse"] = train_m["rmse"], dev_m["rmse"]
        row["gap"] = train_m["r2"] - dev_m["r2"]
    params = {k: v.copy() for k, v in p.items()}
    params["loss_curve"] = {"iterations": list(curve_it), "loss": list(curve_loss)}
    return {"row": row, "params": params}


def _row(job: Job, budget: int, elapsed: float, status: str, stack_size=1, **extra) -> dict:
    i = job.budgets.index(budget)
    return {
        "config_id": job.config_ids[i],
        "key": job.keys[i],
        "hidden_size": job.hidden_size,
        "activation": job.activation,
        "learning_rate": job.learning_rate,
        "iterations": budget,
        "batch_size": "full" if job.batch_size is None else job.batch_size,
        "seed": job.seed,
        "dtype": job.dtype,
        "fit_seconds": elapsed,
        "stack_size": stack_size,
        "status": status,
        **extra,
    }


def run_stack(jobs: list[Job], data: TrainingData) -> list[list[dict]]:
    """:func:`train_stack`, with any exception recorded as ``status=failed`` for its jobs."""
    try:
        return train_stack(jobs, data)
    except Exception as exc:  # noqa: BLE001 - one configuration's failure must not stop the sweep
        return [failed(job, f"{type(exc).__name__}: {exc}") for job in jobs]


def run_job(job: Job, data: TrainingData) -> list[dict]:
    """Worker entry point for one job: :func:`run_stack` of it alone."""
    return run_stack([job], data)[0]


def failed(job: Job, message: str) -> list[dict]:
    """Results recording every budget of ``job`` as ``status=failed`` with ``message``."""
    message = message.replace("\n", " ")[:500]
    return [
        {"row": _row(job, b, 0.0, "failed", error=message), "params": None} for b in job.budgets
    ]


def run_jobs(jobs: list[Job], data: TrainingData) -> list[list[dict]]:
    """Worker entry point for a task: its jobs, stacked where :func:`grid.stacks` says."""
    return [
        job_results
        for run in stacks(jobs, data.X_train.shape[1])
        for job_results in run_stack(run, data)
    ]
