"""One task in a worker: advance each run by one segment, snapshot and score every budget.

Imports NumPy, the network maths and the results' formats only, so a worker process
starts quickly. Returns typed results and prints nothing; a failure becomes a row with its
status, never a raise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..data import Training, TrainingData, for_fold
from ..nn import engine, numba_start, plain
from ..results.params import params_bytes
from ..results.schema import AXES, Row, score_columns
from .jobs import Job
from .orphan import exit_with_parent
from .segments import (
    MIN_SEGMENT_COST,
    PARAM_NAMES,
    SealedOutcome,
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
    ``resume`` (the rest of the :class:`.segments.TrainState` at this budget). On data that
    says what a sweep's parameters file carries (``TrainingData.params_meta``), they come
    as that file's bytes instead (``params_file``): made here, in the worker, the parent
    only writes them (pickling a small NumPy array costs 13 to 16 µs).
    """

    row: Row
    params: dict | None = None
    params_file: bytes | None = None


JobResult = list[BudgetResult]  # one per budget, in the job's order


def _stops(budgets: tuple[int, ...], loss_points: int) -> tuple[list[int], set[int]]:
    """Iterations at which training pauses: every budget, plus the loss-curve samples."""
    top = budgets[-1]
    record = set()
    if loss_points > 0:
        every = max(1, top // loss_points)
        record = set(range(0, top + 1, every)) | {top}
    return sorted(record | set(budgets) | {0}), record


Sampled = tuple[list[float], int, float]  # one model's losses, pieces taken, CPU seconds
# A Stepper takes pieces of iterations in turn on every model of a stack, in place, with
# each model's loss after each of the first ``n_losses`` pieces; a model stops after a
# sample at which its loss or a parameter is not finite. It returns, per model, its
# losses, how many pieces it took and the seconds it is charged, and the seconds in all.
Stepper = Callable[[list[int], int], tuple[list[Sampled], float]]


def _make_advance(jobs: list[Job], data: TrainingData, ps: list[plain.Params], rng, dtype):
    """The :data:`Stepper` of ``jobs`` (a stack) training ``ps`` in place.

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

    def loss_of(p: plain.Params) -> float:
        return plain.loss(p, X, data.Y_train, act, out)

    if job.batch_size is None or job.batch_size >= m:
        ws = engine.Workspace(n_in, h, n_out, m, act, out, dtype, len(jobs))
        return _plain_sampled(ws.stack_trainer(ps, X, Y, [j.learning_rate for j in jobs]), ps, loss_of)
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

    return _plain_sampled(advance, ps, loss_of)


def _compiled_advance(jobs: list[Job], X, Y, ps: list[plain.Params], rng):
    """``advance(n)`` through the compiled kernels: the whole stretch in one call per model."""
    from ..nn import compiled  # imports Numba: only where the compiled engine is asked for

    job = jobs[0]
    act, out, batch = job.activation, job.settings.output, job.batch_size
    X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
    mini_batch = batch is not None and batch < X.shape[1]
    compiled.warm_up(ps[0], X, Y, act, out, mini_batch)  # compiling is not training time

    def sampled(pieces: list[int], n_losses: int) -> tuple[list[Sampled], float]:
        measured = []
        for p, j in zip(ps, jobs):  # one model after the other, each timed on its own
            t0 = time.thread_time()
            losses, taken = compiled.train_sampled(
                p, X, Y, j.learning_rate, pieces, n_losses, act, out, batch, rng
            )
            measured.append((losses.tolist(), taken, time.thread_time() - t0))
        return measured, sum(m[2] for m in measured)

    return sampled


def _plain_sampled(run, ps: list[plain.Params], loss_of) -> Stepper:
    """A :data:`Stepper` around ``run(n)``, which steps every model of a stack at once.

    Losses (``loss_of``) are not timed. A model that diverged keeps stepping with its
    stack, unmeasured; each model still measured is charged ``1/k`` of each piece's time.
    """
    k = len(ps)

    def sampled(pieces: list[int], n_losses: int) -> tuple[list[Sampled], float]:
        losses: list[list[float]] = [[] for _ in ps]
        taken, seconds, live, total = [len(pieces)] * k, [0.0] * k, list(range(k)), 0.0
        for i, n in enumerate(pieces):
            t0 = time.thread_time()  # CPU time of this thread: more workers than cores do not change it
            run(n)
            dt = time.thread_time() - t0
            total += dt
            for j in live:
                seconds[j] += dt / k
            for j in list(live) if i < n_losses else []:
                losses[j].append(loss_of(ps[j]))
                if not (np.isfinite(losses[j][-1]) and _finite(ps[j])):
                    taken[j] = i + 1
                    live.remove(j)
            if not live:
                break
        return list(zip(losses, taken, seconds)), total

    return sampled


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
    same bit for bit. The NumPy engine steps a stack at once, and each live job of a stack
    of ``k`` is charged ``1/k`` of the time; the compiled engine trains the models one
    after the other, each charged its own time (its loss samples, computed in the kernel,
    included: about a third of a step each).
    """
    jobs, settings, k = segment.jobs, segment.jobs[0].settings, len(segment.jobs)
    dtype = np.dtype(settings.dtype).type
    states = _start(segment, data)
    ps = [s.params for s in states]
    rngs = _generators(states) if _draws(jobs[0], data) else [None] * k
    run = _make_advance(jobs, data, ps, rngs[0], dtype)  # packs each ps[i] in place
    stops, record = _stops(settings.budgets, settings.loss_points)
    begin = states[0].step
    stops = [s for s in stops if begin < s <= segment.target or s == begin == 0]
    if not stops or stops[-1] != segment.target:
        stops.append(segment.target)  # a checkpoint between samples: pause, nothing to record
    results: list[JobResult] = [[] for _ in jobs]
    total, done = 0.0, begin
    with np.errstate(all="ignore"):  # overflow is detected below and reported as divergence
        for stretch in _stretches(stops, settings.budgets):
            n_losses = sum(1 for stop in stretch if stop in record)  # a prefix of the stretch
            measured, dt = run([b - a for a, b in zip([done, *stretch], stretch)], n_losses)
            total, done = total + dt, stretch[-1]
            for job, s, rng, out, m in zip(jobs, states, rngs, results, measured):
                if s.diverged_at is None:  # else it keeps stepping with its stack, unrecorded
                    out.extend(_record(job, data, s, rng, stretch, m, k))
            if all(s.diverged_at is not None for s in states):
                break
    for s, rng, p in zip(states, rngs, ps):
        s.step = done
        if rng is not None:
            s.rng = tuple(rng.get_state())
        s.params = {name: p[name] for name in PARAM_NAMES}
    return SegmentOutcome(segment, results, states, total)


def _draws(job: Job, data: TrainingData) -> bool:
    """Whether the job's iterations draw from its generator: mini-batches, in a new order
    each iteration. A full-batch run never does, so its state stays as it began."""
    return job.batch_size is not None and job.batch_size < data.X_train.shape[1]


def _generators(states: list[TrainState]) -> list[np.random.RandomState]:
    """A generator at each state's ``rng``. Making one costs about 0.3 ms (more than a
    small run's training), so full-batch runs, which draw nothing, go without."""
    rngs = [np.random.RandomState() for _ in states]
    for rng, s in zip(rngs, states):
        rng.set_state(s.rng)
    return rngs


def _stretches(stops: list[int], budgets: tuple[int, ...]) -> list[list[int]]:
    """The stops split into stretches, each ending at a budget or at the last stop."""
    stretches: list[list[int]] = [[]]
    for stop in stops:
        stretches[-1].append(stop)
        if stop in budgets and stop != stops[-1]:
            stretches.append([])
    return stretches


def _record(job: Job, data: TrainingData, s: TrainState, rng, stretch: list[int],
            measured: Sampled, k: int) -> JobResult:  # fmt: skip
    """Note a stretch in the job's state: its loss samples, its time, whether it diverged
    (at the first sample whose loss or a parameter is not finite, or at the stretch's end);
    the results of its budget if it ended at one."""
    losses, taken, seconds = measured
    s.fit_seconds += seconds
    for stop, value in zip(stretch, losses):
        s.curve_iterations.append(stop)
        s.curve_loss.append(value)
        if not np.isfinite(value):
            s.diverged_at = stop
            break
    if s.diverged_at is None and taken < len(stretch):  # a parameter was not finite there
        s.diverged_at = stretch[taken - 1]
    s.step = stretch[-1]
    if s.diverged_at is None and not _finite(s.params):
        s.diverged_at = stretch[-1]
    if s.diverged_at is not None:
        return _diverged(job, s, k)
    return [_snapshot(job, data, s, k, rng)] if stretch[-1] in job.budgets else []


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
    # the generator as it is now (None: it drew nothing), the next iteration's order still to draw
    state = s if rng is None else replace(s, rng=rng.get_state())
    params = state.to_plain(job.budgets[-1])
    if data.params_meta is None:
        return BudgetResult(row, params)
    config = {axis: getattr(row, axis) for axis in AXES}
    return BudgetResult(row, params_file=params_bytes(params, config=config, **data.params_meta))


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


def warm_up() -> None:
    """A pool worker's first task: the imports and set-up a compiled sweep's tasks need
    (Numba's), done before any sweep asks."""
    from ..nn import kernels  # noqa: F401 - imports Numba

    numba_start.set_up()


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


def run_task_sealed(runs: list[Segment | list[Job]], data: Training) -> list:
    """:func:`run_task` for the worker pool, which passes outcomes on: each outcome sealed
    here (:class:`.segments.SealedOutcome`) but a run's last when the run goes on, which
    the pool must read to hand the run out again."""
    outcomes = run_task(runs, data)
    last = {o.ident[0]: i for i, o in enumerate(outcomes)}
    return [
        o if last[o.ident[0]] == i and continuation(o) is not None else SealedOutcome.of(o)
        for i, o in enumerate(outcomes)
    ]
