"""One task in a worker: advance each run by one segment, snapshot and score every budget.

Imports NumPy and the network maths only, so a worker process starts quickly. Returns
typed results and prints nothing; a failure becomes a row with its status, never a raise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from ..data import Training, TrainingData, for_fold
from ..nn import engine, plain
from ..results.schema import Row, score_columns
from .jobs import Job
from .orphan import exit_with_parent
from .segments import (
    MIN_SEGMENT_COST,
    PARAM_NAMES,
    Segment,
    SegmentOutcome,
    TrainState,
    continuation,
    initial_state,
)


@dataclass
class BudgetResult:
    """What one budget of a job produced: its row, and its parameters unless it did not train.

    ``params`` holds ``W1, b1, W2, b2``, ``loss_curve`` (``{"iterations", "loss"}``) and
    ``resume`` (the rest of the :class:`.segments.TrainState` at this budget).
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
    """Train ``jobs`` side by side in one stack (see :func:`jobs.stacks`), straight through
    to their largest budget, in one segment; results per job."""
    return advance(Segment(jobs, None, jobs[0].budgets[-1]), data).results


def _start(segment: Segment, data: TrainingData) -> list[TrainState]:
    """Working copies of the segment's states (its jobs' initial states if it has none)."""
    if segment.states is None:
        n_in, n_out = data.X_train.shape[0], data.Y_train.shape[0]
        return [initial_state(job, n_in, n_out) for job in segment.jobs]
    return [
        replace(s, params={k: v.copy() for k, v in s.params.items()},
                curve_iterations=list(s.curve_iterations), curve_loss=list(s.curve_loss))
        for s in segment.states
    ]  # fmt: skip


def advance(segment: Segment, data: TrainingData) -> SegmentOutcome:
    """Train the segment's jobs side by side from their states to ``segment.target``.

    Pure: the segment's states are not modified. Returns the states reached and, per job,
    the results of the budgets crossed; a job that diverges gets its ``diverged`` rows for
    every remaining budget at once (in a stack it keeps stepping with the others,
    unrecorded). Each model takes exactly the steps it would take alone, and a chain of
    segments takes exactly the steps of one run straight through, so the results are the
    same bit for bit. The time spent stepping is shared: each live job of a stack of
    ``k`` is charged ``1/k`` of it.
    """
    jobs, settings, k = segment.jobs, segment.jobs[0].settings, len(segment.jobs)
    dtype = np.dtype(settings.dtype).type
    states = _start(segment, data)
    ps = [s.params for s in states]
    rngs = [np.random.RandomState() for _ in states]
    for rng, s in zip(rngs, states):
        rng.set_state(s.rng)
    run = _make_advance(jobs, data, ps, rngs[0], dtype)  # packs each ps[i] in place
    stops, record = _stops(settings.budgets, settings.loss_points)
    begin = states[0].step
    stops = [s for s in stops if begin < s <= segment.target or s == begin == 0]
    if not stops or stops[-1] != segment.target:
        stops.append(segment.target)  # a checkpoint between samples: pause, nothing to record
    X_train = data.X_train.astype(dtype)
    results: list[JobResult] = [[] for _ in jobs]
    total, done = 0.0, begin
    with np.errstate(all="ignore"):  # overflow is detected below and reported as divergence
        for stop in stops:
            t0 = time.thread_time()  # CPU time of this thread: more workers than cores do not change it
            run(stop - done)
            dt = time.thread_time() - t0
            total, done = total + dt, stop
            for job, s, p, rng, out in zip(jobs, states, ps, rngs, results):
                if s.diverged_at is not None:
                    continue  # it keeps stepping with its stack, unrecorded
                s.step, s.fit_seconds = stop, s.fit_seconds + dt / k
                if stop in record:
                    value = plain.loss(p, X_train, data.Y_train, job.activation, settings.output)
                    s.curve_iterations.append(stop)
                    s.curve_loss.append(value)
                    if not np.isfinite(value):
                        s.diverged_at = stop
                if s.diverged_at is None and not _finite(p):
                    s.diverged_at = stop
                if s.diverged_at is not None:
                    out.extend(_diverged(job, s, k))
                elif stop in job.budgets:
                    out.append(_snapshot(job, data, s, k, rng))
            if all(s.diverged_at is not None for s in states):
                break
    for s, rng, p in zip(states, rngs, ps):
        s.step, s.rng = done, tuple(rng.get_state())
        s.params = {name: p[name] for name in PARAM_NAMES}
    return SegmentOutcome(segment, results, states, total)


def _diverged(job: Job, s: TrainState, stack_size: int) -> JobResult:
    """The ``diverged`` rows of every budget from the one where divergence was detected."""
    at = s.diverged_at if s.diverged_at is not None else job.budgets[0]
    return [
        BudgetResult(
            _row(job, b, s.fit_seconds, "diverged", stack_size=stack_size, diverged_at=s.diverged_at)
        )
        for b in job.budgets
        if b >= at
    ]


def _snapshot(job: Job, data: TrainingData, s: TrainState, stack_size: int, rng) -> BudgetResult:
    """The ``ok`` row of budget ``s.step``, and its parameters: they hold the state too, so
    a run may resume from them."""
    p = s.params
    act, out, dtype = job.activation, job.settings.output, p["W1"].dtype
    train = plain.score(p, data.X_train.astype(dtype), data.Y_train, data.labels_train, act, out)
    dev = plain.score(p, data.X_dev.astype(dtype), data.Y_dev, data.labels_dev, act, out)
    row = _row(job, s.step, s.fit_seconds, "ok", stack_size=stack_size)
    for column, value in score_columns(data.task, train, dev).items():
        setattr(row, column, value)
    # the generator as it is now: the next iteration's order is still to be drawn
    return BudgetResult(row, replace(s, rng=rng.get_state()).to_plain(job.budgets[-1]))


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
        init=job.init,
        init_scale=job.init_scale,
        fold=job.fold,
        dtype=job.settings.dtype,
        fit_seconds=elapsed,
        stack_size=stack_size,
        status=status,
        **extra,
    )


def as_segment(run: Segment | list[Job]) -> Segment:
    """A run given as its jobs means one segment from their initial weights to the end."""
    return run if isinstance(run, Segment) else Segment(list(run), None, run[0].budgets[-1])


def run_segment(segment: Segment, data: TrainingData) -> SegmentOutcome:
    """:func:`advance`, with any exception recorded as ``status=failed`` for its jobs."""
    try:
        return advance(segment, data)
    except Exception as exc:  # noqa: BLE001 - one configuration's failure must not stop the sweep
        return failed_outcome(segment, f"{type(exc).__name__}: {exc}")


def failed(job: Job, message: str, after: int = 0) -> JobResult:
    """Results recording every budget of ``job`` past ``after`` as ``status=failed``."""
    message = message.replace("\n", " ")[:500]
    return [
        BudgetResult(_row(job, b, 0.0, "failed", error=message)) for b in job.budgets if b > after
    ]


def failed_outcome(segment: Segment, message: str) -> SegmentOutcome:
    """The segment failed: its jobs' budgets not yet reached are ``failed``; no states."""
    return SegmentOutcome(segment, [failed(j, message, segment.start) for j in segment], None)


def run_task(runs: list[Segment | list[Job]], data: Training) -> list[SegmentOutcome]:
    """Worker entry point for a task: its segments (of single jobs or stacks), in turn, each
    on the data of its fold (``data`` holds one split, or one per fold of ``data.cv``).

    A run whose next segment is cheap (less than :data:`.segments.MIN_SEGMENT_COST` left,
    and no ``checkpoint_every`` asked for) goes on here rather than making a round trip to
    the parent for each budget; the outcomes come back in order, and the parent continues
    each run from its last one.
    """
    exit_with_parent()  # a worker whose sweep was killed stops, rather than train for nobody
    outcomes = []
    for run in runs:
        first = as_segment(run)
        fold = for_fold(data, first.jobs[0].fold)  # a stack's jobs share their fold
        segment: Segment | None = first
        n_train = fold.X_train.shape[1]
        while segment is not None:
            outcomes.append(run_segment(segment, fold))
            segment = continuation(outcomes[-1])
            if segment is not None and (
                segment.jobs[0].settings.checkpoint_every is not None  # asked for: durable now
                or segment.remaining_cost(n_train) > MIN_SEGMENT_COST  # long: worth a checkpoint
            ):
                segment = None  # the parent writes it down and hands the run out again
    return outcomes
