"""Segments: a training run as a chain of pieces, each from one durable state to the next.

A :class:`TrainState` is everything a run needs to go on as if it had never stopped: the
parameters, the state of the mini-batch order's random generator, the loss curve so far,
the step count, the divergence status and the training time so far. A :class:`Segment`
takes a stack of jobs (or one job) from their states to a target iteration; the worker
(:func:`.worker.advance`) computes it and returns a :class:`SegmentOutcome`, from which
the parent writes what must survive a crash and plans the next segment
(:func:`continuation`). Segments end at every budget and every ``checkpoint_every``
iterations, counted from iteration 0, so the boundaries do not depend on where a run
was resumed; a run too cheap for any checkpoint is one segment through its budgets.

A state converts to a plain dict of NumPy arrays, lists and numbers
(:meth:`TrainState.to_plain`), which pickles into files that load through the same
allowlist as parameters files.
"""

from __future__ import annotations

import math
import pickle
import threading
from dataclasses import dataclass, field

import numpy as np

from .jobs import Job

PARAM_NAMES = ("W1", "b1", "W2", "b2")


@dataclass
class TrainState:
    """Where one job's training stands after ``step`` iterations."""

    step: int
    params: dict[str, np.ndarray]  # W1, b1, W2, b2
    rng: tuple  # RandomState.get_state() of the mini-batch order, as drawn after the weights
    curve_iterations: list[int] = field(default_factory=list)
    curve_loss: list[float] = field(default_factory=list)
    diverged_at: int | None = None
    fit_seconds: float = 0.0  # this job's training time so far (its share, in a stack)

    def finished(self, job: Job) -> bool:
        return self.diverged_at is not None or self.step >= job.budgets[-1]

    def to_plain(self, top: int) -> dict:
        """The state as plain containers; ``top`` (the run's largest budget) is kept with it:
        a loss curve is sampled by the largest budget, so a state resumes only that run."""
        name, keys, pos, has_gauss, cached = self.rng
        return {
            **{k: self.params[k].copy() for k in PARAM_NAMES},
            "loss_curve": {"iterations": list(self.curve_iterations), "loss": list(self.curve_loss)},
            "resume": {
                "step": int(self.step),
                "top": int(top),
                "rng": {
                    "name": str(name),
                    "keys": np.asarray(keys, dtype=np.uint32).copy(),
                    "pos": int(pos),
                    "has_gauss": int(has_gauss),
                    "cached_gaussian": float(cached),
                },
                "diverged_at": self.diverged_at,
                "fit_seconds": float(self.fit_seconds),
            },
        }

    @classmethod
    def from_plain(cls, obj: dict, top: int) -> TrainState | None:
        """The state in ``obj`` (a parameters file or a checkpoint), or None if it holds none
        for a run to ``top`` iterations or is malformed."""
        try:
            resume, curve = obj["resume"], obj["loss_curve"]
            if resume["top"] != top:
                return None
            r = resume["rng"]
            keys = r["keys"]
            if not isinstance(keys, np.ndarray) or keys.shape != (624,) or keys.dtype != np.uint32:
                return None
            rng = (r["name"], keys, int(r["pos"]), int(r["has_gauss"]), float(r["cached_gaussian"]))
            np.random.RandomState().set_state(rng)  # refuses a malformed state
            params = {k: obj[k] for k in PARAM_NAMES}
            if not all(isinstance(v, np.ndarray) for v in params.values()):
                return None
            step, at = int(resume["step"]), resume["diverged_at"]
            return cls(
                step, params, rng, [int(i) for i in curve["iterations"]],
                [float(v) for v in curve["loss"]], None if at is None else int(at),
                float(resume["fit_seconds"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            return None


_LOCAL = threading.local()  # each thread's generator for drawing initial weights


def _seeded(seed: int) -> np.random.RandomState:
    """This thread's generator, seeded as ``RandomState(seed)`` would be: reseeding one
    takes microseconds, making one 0.2 ms (it first seeds itself from the system)."""
    rng = getattr(_LOCAL, "rng", None)
    if rng is None:
        rng = _LOCAL.rng = np.random.RandomState()
    rng.seed(seed)
    return rng


def initial_state(job: Job, n_in: int, n_out: int) -> TrainState:
    """A job's state before its first step: its initial weights, drawn from its seed."""
    from ..nn import plain

    s = job.settings
    rng = _seeded(job.seed)
    dtype = np.dtype(s.dtype).type
    params = plain.init_params(n_in, job.hidden_size, n_out, rng, job.init, job.init_scale, dtype)
    return TrainState(0, params, tuple(rng.get_state()))


@dataclass
class Segment:
    """Train ``jobs`` (one job, or a stack) from ``states`` to iteration ``target``.

    ``states`` None: from their initial weights. Iterating a segment gives its jobs.
    """

    jobs: list[Job]
    states: list[TrainState] | None
    target: int
    every: int | None = None  # iterations between checkpoints of this run (None: the default)
    stop: int | None = None  # where the run pauses for now (a halving rung's budget; None: its end)

    def __iter__(self):
        return iter(self.jobs)

    @property
    def start(self) -> int:
        return 0 if self.states is None else self.states[0].step

    @property
    def ident(self) -> tuple[str, int]:
        """Which run, from where: its first job's first key, and the start step."""
        return self.jobs[0].keys[0], self.start

    def remaining_cost(self, n_train: int) -> float:
        """Estimated cost of training these jobs from ``start`` to their largest budget."""
        top = self.jobs[0].budgets[-1]
        return sum(j.cost(n_train) for j in self.jobs) * (top - self.start) / top


@dataclass
class SegmentOutcome:
    """What a segment produced: each job's results for the budgets it crossed (or its
    ``diverged`` / ``failed`` rows), the states it reached, and the time it stepped.

    ``states`` is None when the segment failed (nothing to continue from).
    """

    segment: Segment
    results: list[list]  # per job: BudgetResults, in budget order
    states: list[TrainState] | None
    seconds: float = 0.0

    def __iter__(self):
        """Every budget result of the segment, job by job."""
        return (res for job_results in self.results for res in job_results)

    @property
    def iterations(self) -> int:
        """Iterations trained per job (with ``seconds``, what this segment cost)."""
        if self.states is None:
            return 0
        return max(s.step for s in self.states) - self.segment.start

    @property
    def ident(self) -> tuple[str, int]:
        return self.segment.ident


@dataclass(frozen=True)
class SealedOutcome:
    """A :class:`SegmentOutcome` with nothing left to plan from it, pickled in the worker
    that made it, for a process that only passes outcomes on (the worker pool, which would
    otherwise unpickle every array only to pickle it again): its segment's ident, and it."""

    ident: tuple[str, int]
    pickled: bytes

    @classmethod
    def of(cls, outcome: SegmentOutcome) -> SealedOutcome:
        return cls(outcome.ident, pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))


MIN_SEGMENT_COST = 3e8  # cost units (about a second of float64 NumPy training) a checkpoint
# interval covers at least: a run that is short anyway is not worth a round trip per tenth


def checkpoint_every(settings, step_cost: float | None = None) -> int:
    """Iterations between checkpoints: the setting, or a tenth of the largest budget, but
    never fewer iterations than :data:`MIN_SEGMENT_COST` buys at ``step_cost`` (the run's
    cost of one iteration, when known)."""
    if settings.checkpoint_every:
        return settings.checkpoint_every
    every = max(1, settings.budgets[-1] // 10)
    if step_cost:
        every = max(every, math.ceil(MIN_SEGMENT_COST / step_cost))
    return every


def next_target(step: int, budgets: tuple[int, ...], every: int, straight: bool = False) -> int:
    """Where a segment starting at ``step`` ends: the next budget or checkpoint, or
    (``straight``) the run's end."""
    if straight:
        return budgets[-1]
    budget = min(b for b in budgets if b > step)
    return min(budget, (step // every + 1) * every)


def first_segment(
    jobs: list[Job],
    states: list[TrainState] | None,
    n_train: int | None = None,
    every: int | None = None,
    stop: int | None = None,
) -> Segment:
    """The segment a run (from ``states``, or from the start) trains next. Its checkpoint
    interval is ``every``, or worked out from the run's cost on ``n_train`` examples.

    A run with no checkpoint before its end (cheaper than :data:`MIN_SEGMENT_COST`, and
    no ``checkpoint_every`` asked for) is one segment, straight through its budgets (to
    ``stop`` at most): a segment per budget would only repeat the run's set-up."""
    start = 0 if states is None else states[0].step
    s = jobs[0].settings
    if every is None:
        step_cost = None
        if n_train is not None:
            step_cost = sum(j.cost(n_train) for j in jobs) / s.budgets[-1]
        every = checkpoint_every(s, step_cost)
    straight = s.checkpoint_every is None and every >= s.budgets[-1]
    target = next_target(start, s.budgets, every, straight)
    return Segment(jobs, states, target if stop is None else min(target, stop), every, stop)


def continuation(outcome: SegmentOutcome) -> Segment | None:
    """The next segment of the outcome's run, if any of its jobs is unfinished.

    A stack goes on whole: a job that diverged keeps stepping with it, unrecorded, so that
    the stack (and each row's ``stack_size``) stays what it was.
    """
    if outcome.states is None:
        return None
    jobs, states = outcome.segment.jobs, outcome.states
    if all(s.finished(j) for j, s in zip(jobs, states)):
        return None
    seg = outcome.segment
    if seg.stop is not None and max(s.step for s in states) >= seg.stop:
        return None  # paused where it was asked to: a later stage continues it
    return first_segment(jobs, states, every=seg.every, stop=seg.stop)
