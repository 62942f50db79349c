"""Progress in work, not rows: how much training is done and left, and how long it will take.

Work is counted in the scheduler's cost model (:meth:`.jobs.Job.cost`: iterations x
examples x hidden units, plus a per-step overhead), so a hidden-50 run weighs what it
costs and the bar moves with every segment, not only when rows arrive.

The time left is the CPU time the work left will take, divided by the throughput. Each
finished segment gives the CPU seconds per iteration of its kind of run (activation,
batch size, engine, dtype) at its hidden size. A size not measured yet is priced between
the two measured sizes around it (a step costs about a fixed part plus a part per hidden
unit: a line), or, outside them, from the nearest size scaled by the cost model. The
throughput is CPU seconds of training per wall second over the recent past (it counts the
workers, what they wait for and what else the machine runs), and the end comes no sooner
than the longest run left takes on one worker's share of it.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .jobs import Job
from .segments import Segment, SegmentOutcome

RECENT = 0.25  # the throughput is measured over this share of the time elapsed...
RECENT_MIN = 10.0  # ...and never fewer seconds (less, while fewer have passed)
RECENT_SEGMENTS = 2  # segments per worker that must have ended in it, else all time counts


@dataclass(frozen=True)
class Progress:
    """A sweep's progress: work in cost units, rows, and the wall seconds left (None:
    not known yet)."""

    work_done: float
    work_total: float
    rows_done: int
    rows_total: int
    elapsed: float
    seconds_left: float | None
    stage: str | None = None  # e.g. "rung 2 of 4" of successive halving

    @property
    def fraction(self) -> float:
        return self.work_done / self.work_total if self.work_total else 1.0


def _kind(job: Job) -> tuple:
    return (job.activation, job.batch_size, job.settings.engine, job.settings.dtype)


class WorkMeter:
    """Counts the work of a sweep as its segments finish (see the module's docstring)."""

    def __init__(
        self, n_train: int, rows_total: int, rows_done: int, n_workers: int = 1,
        clock: Callable[[], float] = time.perf_counter,
    ):  # fmt: skip
        self.n_train, self.n_workers = n_train, n_workers
        self.rows_total, self.rows_done = rows_total, rows_done
        self.left: dict[str, float] = {}  # job (its first key) -> cost units still to train
        self.until: dict[str, int] = {}  # job -> the iteration its stage trains it to
        self.group: dict[str, tuple] = {}  # job -> (kind, hidden size)
        self.left_by_kind: dict[tuple, float] = {}  # (kind, hidden size) -> their sum
        self.unit_cost: dict[tuple, float] = {}  # (kind, hidden size) -> units per iteration
        self.work_total = self.work_done = 0.0
        # kind -> hidden size -> [CPU seconds, iterations] measured (a stack's iterations
        # count once per job)
        self.measured: dict[tuple, dict[int, list[float]]] = {}
        # per segment, in the order they ended: the wall time, and the CPU seconds of
        # training up to it (a running sum)
        self.ended: list[float] = []
        self.cpu_until: list[float] = []
        self.stage: str | None = None
        self.clock = clock  # wall seconds (tests pass a fake one)
        self.started = clock()

    def add(
        self, runs: list[Segment], until: int | None = None, stage: str | None = None,
        done: Sequence[Job] = (),
    ) -> None:  # fmt: skip
        """Count the work of ``runs`` (their first segments), from their start to ``until``
        (default: their largest budget). ``stage`` names the part of the sweep they are (a
        rung of successive halving): a new stage starts the count of work afresh, keeping
        the rates measured. Outside a stage, the work a resumed sweep did before counts as
        done, so that its bar goes on from where it stopped: ``done``, the jobs already
        trained to ``until``, and the iterations ``runs`` start from."""
        if stage != self.stage:
            self.left, self.until, self.left_by_kind = {}, {}, {}
            self.work_total = self.work_done = 0.0
        self.stage = stage
        # (job, iterations trained before this run): counted outside a stage only
        before = [] if stage is not None else [
            (job, job.budgets[-1] if until is None else until) for job in done
        ]  # fmt: skip
        for run in runs:
            for job in run.jobs:
                stop = job.budgets[-1] if until is None else until
                if stage is None and run.start:
                    before.append((job, min(run.start, stop)))
                units = self._units(job, run.start, stop)
                group = (_kind(job), job.hidden_size)
                self.left[job.keys[0]], self.until[job.keys[0]] = units, stop
                self.group[job.keys[0]] = group
                self.left_by_kind[group] = self.left_by_kind.get(group, 0.0) + units
                self.unit_cost[group] = job.cost(self.n_train) / job.budgets[-1]
                self.work_total += units
        trained = sum(self._units(job, 0, step) for job, step in before)
        self.work_total, self.work_done = self.work_total + trained, self.work_done + trained

    def _units(self, job: Job, start: int, stop: int) -> float:
        return job.cost(self.n_train) * max(0, stop - start) / job.budgets[-1]

    def count(self, outcome: SegmentOutcome, rows: int) -> None:
        """Count a finished segment and the ``rows`` it wrote, without pricing what is left
        (:meth:`now` does, over every job left: once per group of segments is enough)."""
        seg, states = outcome.segment, outcome.states
        self.rows_done += rows
        for i, job in enumerate(seg.jobs):
            left = self.left.get(job.keys[0], 0.0)
            until = self.until.get(job.keys[0], job.budgets[-1])
            if states is None or states[i].finished(job) or states[i].step >= until:
                done = left  # finished, diverged or failed: none of it is left
            else:
                done = min(left, self._units(job, seg.start, states[i].step))
            self.left[job.keys[0]] = left - done
            group = (_kind(job), job.hidden_size)
            self.left_by_kind[group] = self.left_by_kind.get(group, 0.0) - done
            self.work_done += done
        job = seg.jobs[0]
        iterations = outcome.iterations * len(seg.jobs)
        if outcome.seconds > 0 and iterations > 0:
            pair = self.measured.setdefault(_kind(job), {}).setdefault(job.hidden_size, [0.0, 0.0])
            pair[0] += outcome.seconds
            pair[1] += iterations
            self.ended.append(self.clock() - self.started)
            self.cpu_until.append((self.cpu_until[-1] if self.cpu_until else 0.0) + outcome.seconds)

    def step_seconds(self, kind: tuple, hidden: int) -> float | None:
        """CPU seconds of one iteration of a run of ``kind`` with ``hidden`` units: as
        measured at that size; else on the line between the measured sizes around it;
        else the nearest measured size's, scaled by the cost model; else the cost model
        at the rate per unit measured over every kind (None: nothing measured yet)."""
        sizes = sorted(self.measured.get(kind, {}))
        per = {h: s / n for h, (s, n) in self.measured.get(kind, {}).items()}
        if hidden in per:
            return per[hidden]
        i = bisect.bisect(sizes, hidden)
        if 0 < i < len(sizes):  # measured on both sides: on the line between them
            lo, hi = sizes[i - 1], sizes[i]
            return per[lo] + (per[hi] - per[lo]) * (hidden - lo) / (hi - lo)
        cost = self.unit_cost.get((kind, hidden))
        if sizes and cost:
            near = sizes[0] if i == 0 else sizes[-1]
            return per[near] * cost / self.unit_cost[(kind, near)]
        seconds = units = 0.0
        for other, by_size in self.measured.items():
            for h, (s, n) in by_size.items():
                seconds, units = seconds + s, units + n * self.unit_cost.get((other, h), 0.0)
        return seconds / units * cost if units and cost else None

    def throughput(self, elapsed: float) -> float:
        """CPU seconds of training per wall second over the recent past: the last
        :data:`RECENT` of the time elapsed, or all of it while too few segments (fewer
        than :data:`RECENT_SEGMENTS` per worker) ended in that (0: none ended yet)."""
        if elapsed <= 0 or not self.ended:
            return 0.0
        window = min(elapsed, max(RECENT_MIN, RECENT * elapsed))
        before = bisect.bisect_right(self.ended, elapsed - window)  # segments ended before it
        if len(self.ended) - before < RECENT_SEGMENTS * self.n_workers:
            window, before = elapsed, 0
        cpu = self.cpu_until[-1] - (self.cpu_until[before - 1] if before else 0.0)
        return cpu / window

    def now(self) -> Progress:
        elapsed = self.clock() - self.started
        return Progress(
            self.work_done, self.work_total, self.rows_done, self.rows_total, elapsed,
            self._seconds_left(elapsed), self.stage,
        )  # fmt: skip

    def _seconds_left(self, elapsed: float) -> float | None:
        if self.work_done >= self.work_total:
            return 0.0
        rate = self.throughput(elapsed)
        if rate <= 0:
            return None
        price: dict[tuple, float] = {}  # (kind, hidden) -> CPU seconds of one cost unit
        for group, units in self.left_by_kind.items():
            if units > 1e-9:
                step = self.step_seconds(*group)
                if step is None:
                    return None
                price[group] = step / self.unit_cost[group]
        total = sum(units * price[g] for g, units in self.left_by_kind.items() if g in price)
        longest = max(
            (units * price[self.group[key]] for key, units in self.left.items() if units > 1e-9),
            default=0.0,
        )
        running = sum(1 for units in self.left.values() if units > 1e-9)
        return max(total / rate, longest * min(self.n_workers, running) / rate)
