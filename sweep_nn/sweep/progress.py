"""Progress in work, not rows: how much training is done and left, and how long it will take.

Work is counted in the scheduler's cost model (:meth:`.jobs.Job.cost`: iterations x
examples x hidden units, plus a per-step overhead), so a hidden-50 run weighs what it
costs and the bar moves with every segment, not only when rows arrive. The time left
calibrates that model by what has finished: each finished segment gives the seconds one
unit of work took for its kind of run (activation, batch size, engine, dtype) at its
hidden size, and the work left is priced at those rates (for a hidden size not measured
yet: a line through the seconds per iteration of the sizes measured, since a step costs
about a fixed part plus a part per hidden unit). The wall time left is that price divided by the throughput measured so far
(training seconds per wall second, which counts the workers and what they wait for).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .jobs import Job
from .segments import Segment, SegmentOutcome


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

    def __init__(self, n_train: int, rows_total: int, rows_done: int):
        self.n_train = n_train
        self.rows_total, self.rows_done = rows_total, rows_done
        self.left: dict[str, float] = {}  # job (its first key) -> cost units still to train
        self.until: dict[str, int] = {}  # job -> the iteration its stage trains it to
        self.left_by_kind: dict[tuple, float] = {}  # (kind, hidden size) -> their sum
        self.unit_cost: dict[tuple, float] = {}  # (kind, hidden size) -> units per iteration
        self.work_total = self.work_done = 0.0
        self.rates: dict[tuple, dict[int, list[float]]] = {}  # kind -> hidden -> [seconds, units]
        self.trained_seconds = 0.0
        self.stage: str | None = None
        self.started = time.perf_counter()

    def add(self, runs: list[Segment], until: int | None = None, stage: str | None = None) -> None:
        """Count the work of ``runs`` (their first segments), from their start to ``until``
        (default: their largest budget). ``stage`` names the part of the sweep they are (a
        rung of successive halving): a new stage starts the count of work afresh, keeping
        the rates measured."""
        if stage != self.stage:
            self.left, self.until, self.left_by_kind = {}, {}, {}
            self.work_total = self.work_done = 0.0
        self.stage = stage
        for run in runs:
            for job in run.jobs:
                stop = job.budgets[-1] if until is None else until
                units = self._units(job, run.start, stop)
                self.left[job.keys[0]], self.until[job.keys[0]] = units, stop
                group = (_kind(job), job.hidden_size)
                self.left_by_kind[group] = self.left_by_kind.get(group, 0.0) + units
                self.unit_cost[group] = job.cost(self.n_train) / job.budgets[-1]
                self.work_total += units

    def _units(self, job: Job, start: int, stop: int) -> float:
        return job.cost(self.n_train) * max(0, stop - start) / job.budgets[-1]

    def record(self, outcome: SegmentOutcome, rows: int) -> Progress:
        """Count a finished segment (and the ``rows`` it wrote); the progress now."""
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
        trained = self._units(job, seg.start, seg.start + outcome.iterations) * len(seg.jobs)
        if outcome.seconds > 0 and trained > 0:
            pair = self.rates.setdefault(_kind(job), {}).setdefault(job.hidden_size, [0.0, 0.0])
            pair[0] += outcome.seconds
            pair[1] += trained
            self.trained_seconds += outcome.seconds
        return self.now()

    def _rate(self, kind: tuple, hidden: int) -> float | None:
        """Seconds per cost unit for runs of ``kind`` at ``hidden`` units: as measured there;
        else from a line through the seconds per iteration measured at two or more hidden
        sizes of the kind (the cost of a step is about fixed + per hidden unit); else the
        rate of the one size measured; else the rate over every kind."""
        measured = self.rates.get(kind)
        if measured and hidden in measured:
            seconds, units = measured[hidden]
            return seconds / units
        if measured and len(measured) >= 2 and (kind, hidden) in self.unit_cost:
            sizes = sorted(measured)
            x = np.array([h + 1.0 for h in sizes])
            per_iteration = np.array(
                [measured[h][0] / measured[h][1] * self.unit_cost[(kind, h)] for h in sizes]
            )
            slope, intercept = np.polyfit(x, per_iteration, 1)
            estimate = max(intercept + slope * (hidden + 1), per_iteration.min() / 2)
            return estimate / self.unit_cost[(kind, hidden)]
        if measured:
            seconds, units = measured[min(measured, key=lambda h: (abs(h - hidden), h))]
            return seconds / units
        seconds = sum(s for k in self.rates.values() for s, _ in k.values())
        units = sum(u for k in self.rates.values() for _, u in k.values())
        return seconds / units if units else None

    def now(self) -> Progress:
        elapsed = time.perf_counter() - self.started
        return Progress(
            self.work_done, self.work_total, self.rows_done, self.rows_total, elapsed,
            self._seconds_left(elapsed), self.stage,
        )  # fmt: skip

    def _seconds_left(self, elapsed: float) -> float | None:
        if self.trained_seconds <= 0 or elapsed <= 0:
            return None if self.work_done < self.work_total else 0.0
        price = 0.0
        for (kind, hidden), units in self.left_by_kind.items():
            if units > 1e-9:
                rate = self._rate(kind, hidden)
                if rate is None:
                    return None
                price += units * rate
        throughput = self.trained_seconds / elapsed  # training seconds per wall second
        return price / throughput
