"""One task in a worker: train each run to its largest budget, snapshot and score every budget.

Imports NumPy and the network maths only, so a worker process starts quickly. Returns
typed results and prints nothing; a failure becomes a row with its status, never a raise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..data import TrainingData
from ..nn import engine, plain
from ..results.schema import Row, score_columns
from .jobs import Job
from .orphan import exit_with_parent


@dataclass
class BudgetResult:
    """What one budget of a job produced: its row, and its parameters unless it did not train.

    ``params`` holds ``W1, b1, W2, b2`` and ``loss_curve`` (``{"iterations", "loss"}``).
    """

    row: Row
    params: dict | None = None


JobResult = list[BudgetResult]  # one per budget, in the job's order


def _stops(budgets: tuple[int, ...], loss_points: int) -> tuple[list[int], set[int]]:
    """Iterations at which training pauses: every budget, plus the loss-curve samples."""
    top = budgets[-1]
    record = set()
    if loss_points > 0:
        every = max(1, top // loss_points)
        record = set(range(0, top + 1, every)) | {top}
    return sorted(record | set(budgets) | {0}), record


def _make_advance(jobs: list[Job], data: TrainingData, ps: list[plain.Params], rng, dtype):
    """A function ``advance(n)`` that runs ``n`` iterations on every ``ps[i]`` in place.

    An iteration is one full-batch step, or one shuffled pass over the data in batches
    (mini-batch jobs always train alone: ``jobs`` then holds one job).
    """
    X = data.X_train.astype(dtype)
    Y = data.Y_train.astype(dtype)
    n_in, m = X.shape
    job = jobs[0]
    if job.settings.engine == "compiled":
        return _compiled_advance(jobs, X, Y, ps, rng)
    n_out, h, act, out = Y.shape[0], job.hidden_size, job.activation, job.settings.output
    if job.batch_size is None or job.batch_size >= m:
        ws = engine.Workspace(n_in, h, n_out, m, act, out, dtype, len(jobs))
        return ws.stack_trainer(ps, X, Y, [j.learning_rate for j in jobs])
    if len(jobs) != 1:
        raise ValueError("mini-batch jobs train alone")

    size, (p,), lr = job.batch_size, ps, job.learning_rate
    batches = {}  # batch length -> (X buffer, Y buffer, run), refilled in place each batch
    for b in {size, m % size} - {0}:
        ws = engine.Workspace(n_in, h, n_out, b, act, out, dtype)
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


def _compiled_advance(jobs: list[Job], X, Y, ps: list[plain.Params], rng):
    """``advance(n)`` through the compiled kernels: the whole stretch in one call per model."""
    from ..nn import compiled  # imports Numba: only where the compiled engine is asked for

    job = jobs[0]
    act, out, batch = job.activation, job.settings.output, job.batch_size
    X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
    mini_batch = batch is not None and batch < X.shape[1]
    compiled.warm_up(ps[0], X, Y, act, out, mini_batch)  # compiling is not training time

    def advance(n: int) -> None:
        if n <= 0:
            return
        if not mini_batch:
            compiled.train_stack(ps, X, Y, [j.learning_rate for j in jobs], n, act, out)
        else:
            compiled.train(ps[0], X, Y, job.learning_rate, n, act, out, batch_size=batch, rng=rng)

    return advance


def _finite(p: plain.Params) -> bool:
    return all(np.isfinite(v).all() for v in p.values())


def train(job: Job, data: TrainingData) -> JobResult:
    """Train ``job`` alone and return one result per budget (``params`` None if diverged)."""
    return train_stack([job], data)[0]


def train_stack(jobs: list[Job], data: TrainingData) -> list[JobResult]:
    """Train ``jobs`` side by side in one stack (see :func:`jobs.stacks`); results per job.

    Each model takes exactly the steps it would take alone. The time spent stepping is
    shared: every row's ``fit_seconds`` is that time divided by ``stack_size``.
    """
    settings, k = jobs[0].settings, len(jobs)
    dtype = np.dtype(settings.dtype).type
    n_in, n_out = data.X_train.shape[0], data.Y_train.shape[0]
    ps, rngs = [], []
    for job in jobs:
        rngs.append(np.random.RandomState(job.seed))
        ps.append(
            plain.init_params(
                n_in, job.hidden_size, n_out, rngs[-1], settings.init, settings.init_scale, dtype
            )
        )
    advance = _make_advance(jobs, data, ps, rngs[0], dtype)
    stops, record = _stops(settings.budgets, settings.loss_points)
    X_train = data.X_train.astype(dtype)
    curves: list[tuple[list[int], list[float]]] = [([], []) for _ in jobs]  # iterations, losses
    results: list[JobResult] = [[] for _ in jobs]
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
                    value = plain.loss(p, X_train, data.Y_train, job.activation, settings.output)
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
            job_results.append(BudgetResult(row))
    return results


def _snapshot(job, data, p, budget, elapsed, stack_size, curve_it, curve_loss) -> BudgetResult:
    act, out, dtype = job.activation, job.settings.output, p["W1"].dtype
    train = plain.score(p, data.X_train.astype(dtype), data.Y_train, data.labels_train, act, out)
    dev = plain.score(p, data.X_dev.astype(dtype), data.Y_dev, data.labels_dev, act, out)
    row = _row(job, budget, elapsed, "ok", stack_size=stack_size)
    for column, value in score_columns(data.task, train, dev).items():
        setattr(row, column, value)
    params = {k: v.copy() for k, v in p.items()}
    params["loss_curve"] = {"iterations": list(curve_it), "loss": list(curve_loss)}
    return BudgetResult(row, params)


def _row(job: Job, budget: int, elapsed: float, status: str, stack_size=1, **extra) -> Row:
    i = job.budgets.index(budget)
    return Row(
        config_id=job.config_ids[i],
        key=job.keys[i],
        hidden_size=job.hidden_size,
        activation=job.activation,
        learning_rate=job.learning_rate,
        iterations=budget,
        batch_size="full" if job.batch_size is None else job.batch_size,
        seed=job.seed,
        dtype=job.settings.dtype,
        fit_seconds=elapsed,
        stack_size=stack_size,
        status=status,
        **extra,
    )


def run_stack(jobs: list[Job], data: TrainingData) -> list[JobResult]:
    """:func:`train_stack`, with any exception recorded as ``status=failed`` for its jobs."""
    try:
        return train_stack(jobs, data)
    except Exception as exc:  # noqa: BLE001 - one configuration's failure must not stop the sweep
        return [failed(job, f"{type(exc).__name__}: {exc}") for job in jobs]


def failed(job: Job, message: str) -> JobResult:
    """Results recording every budget of ``job`` as ``status=failed`` with ``message``."""
    message = message.replace("\n", " ")[:500]
    return [BudgetResult(_row(job, b, 0.0, "failed", error=message)) for b in job.budgets]


def run_task(runs: list[list[Job]], data: TrainingData) -> list[JobResult]:
    """Worker entry point for a task: its runs (single jobs or stacks), one after another."""
    exit_with_parent()  # a worker whose sweep was killed stops, rather than train for nobody
    return [job_results for run in runs for job_results in run_stack(run, data)]
