"""One job in a worker: train to the largest budget, snapshot and score every budget.

Imports NumPy and the network maths only, so a worker process starts quickly. Returns
plain dicts and prints nothing; a failure becomes a row with its status, never a raise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import network
from .grid import Job


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


def _make_advance(job: Job, data: TrainingData, p: network.Params, rng, dtype):
    """A function ``advance(n)`` that runs ``n`` iterations on ``p`` in place.

    An iteration is one full-batch step, or one shuffled pass over the data in batches.
    """
    X = data.X_train.astype(dtype)
    Y = data.Y_train.astype(dtype)
    n_in, m = X.shape
    n_out, h = Y.shape[0], job.hidden_size
    lr = job.learning_rate
    if job.batch_size is None or job.batch_size >= m:
        ws = network.Workspace(n_in, h, n_out, m, job.activation, job.output, dtype)
        return ws.trainer(p, X, Y, lr)

    size = job.batch_size
    batches = {}  # batch length -> (X buffer, Y buffer, run), refilled in place each batch
    for b in {size, m % size} - {0}:
        Xb, Yb = np.empty((n_in, b), dtype), np.empty((n_out, b), dtype)
        ws = network.Workspace(n_in, h, n_out, b, job.activation, job.output, dtype)
        batches[b] = (Xb, Yb, ws.trainer(p, Xb, Yb, lr))
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
    dtype = np.dtype(job.dtype).type
    rng = np.random.RandomState(job.seed)
    n_in, n_out = data.X_train.shape[0], data.Y_train.shape[0]
    p = network.init_params(n_in, job.hidden_size, n_out, rng, job.init, job.init_scale, dtype)
    advance = _make_advance(job, data, p, rng, dtype)
    stops, record = _stops(job.budgets, job.loss_points)
    curve_it: list[int] = []
    curve_loss: list[float] = []
    results, elapsed, done, diverged_at = [], 0.0, 0, None
    with np.errstate(all="ignore"):  # overflow is detected below and reported as divergence
        for stop in stops:
            t0 = time.perf_counter()
            advance(stop - done)
            elapsed += time.perf_counter() - t0
            done = stop
            if stop in record:
                value = network.loss(
                    p, data.X_train.astype(dtype), data.Y_train, job.activation, job.output
                )
                curve_it.append(stop)
                curve_loss.append(value)
                if not np.isfinite(value):
                    diverged_at = stop
            if diverged_at is None and not _finite(p):
                diverged_at = stop
            if diverged_at is not None:
                break
            if stop in job.budgets:
                results.append(_snapshot(job, data, p, stop, elapsed, curve_it, curve_loss))
    for budget in job.budgets[len(results) :]:
        results.append(
            {"row": _row(job, budget, elapsed, "diverged", diverged_at=diverged_at), "params": None}
        )
    return results


def _snapshot(job, data, p, budget, elapsed, curve_it, curve_loss) -> dict:
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
    row = _row(job, budget, elapsed, "ok")
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


def _row(job: Job, budget: int, elapsed: float, status: str, **extra) -> dict:
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
        "status": status,
        **extra,
    }


def run_job(job: Job, data: TrainingData) -> list[dict]:
    """Worker entry point: :func:`train`, with any exception recorded as ``status=failed``."""
    try:
        return train(job, data)
    except Exception as exc:  # noqa: BLE001 - one configuration's failure must not stop the sweep
        return failed(job, f"{type(exc).__name__}: {exc}")


def failed(job: Job, message: str) -> list[dict]:
    """Results recording every budget of ``job`` as ``status=failed`` with ``message``."""
    message = message.replace("\n", " ")[:500]
    return [
        {"row": _row(job, b, 0.0, "failed", error=message), "params": None} for b in job.budgets
    ]


def run_jobs(jobs: list[Job], data: TrainingData) -> list[list[dict]]:
    """Worker entry point for a group of small jobs sent together."""
    return [run_job(job, data) for job in jobs]
