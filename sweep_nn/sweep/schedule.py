"""Scheduling: which jobs travel together to a worker, and in what order.

Longest first, so that the cores stay busy to the end; the smallest runs are grouped so
that each dispatch carries enough work to be worth its round trip.
"""

from __future__ import annotations

from .jobs import Job, stacks
from .segments import Segment, TrainState, first_segment

Task = list[Segment]  # segments of runs (a job alone, or a stack) that one worker trains in turn

# Runs cheaper than a share of the whole travel in groups: each task costs a round trip to a
# worker and back (about a millisecond of the parent's and the worker's time) and a group
# commit of its rows, so a sweep of many small runs is quicker in fewer, larger tasks. The
# share is 1/TASKS_PER_WORKER of a worker's work, at most MAX_GROUP_COST (about a second
# of float64 NumPy training: a big sweep of small runs still keeps its rows, and reports
# its progress, every second or so). On a 4,800-row grid of runs of 10 and 50 iterations,
# 20 tasks per worker took the whole command 8% less time than 100; 10 were no quicker.
TASKS_PER_WORKER = 20
MAX_GROUP_COST = 3e8


def _first_segments(
    jobs: list[Job], n_train: int, starts: dict[str, TrainState], stop: int | None
) -> list[Segment]:
    """The first segment of every run; a stack holds only jobs resumed from the same step."""
    segments = []
    for run in stacks(jobs, n_train):
        by_step: dict[int, list[Job]] = {}
        for job in run:
            state = starts.get(job.keys[0])
            by_step.setdefault(0 if state is None else state.step, []).append(job)
        for step, group in by_step.items():
            states = None if step == 0 else [starts[j.keys[0]] for j in group]
            segments.append(first_segment(group, states, n_train, stop=stop))
    return segments


def plan_tasks(
    jobs: list[Job],
    n_workers: int,
    n_train: int,
    starts: dict[str, TrainState] | None = None,
    stop: int | None = None,
) -> list[Task]:
    """Longest training run first; the smallest are grouped so each dispatch carries real
    work (see :data:`TASKS_PER_WORKER`). A run is one job, or a stack of jobs trained
    together (:func:`jobs.stacks`), which always travels whole: a task is a list of the
    runs' first segments. ``starts`` maps a job's first key to the state it resumes from
    (absent: from the start); ``stop`` is where every run pauses (a halving rung's
    budget), if not at its end."""
    segments = _first_segments(jobs, n_train, starts or {}, stop)
    runs = [(seg.remaining_cost(n_train), seg) for seg in segments]
    runs.sort(key=lambda item: item[0], reverse=True)
    floor = min(sum(cost for cost, _ in runs) / (n_workers * TASKS_PER_WORKER), MAX_GROUP_COST)
    tasks: list[Task] = []
    group: Task = []
    group_cost = 0.0
    for cost, run in runs:
        if cost >= floor:
            tasks.append([run])
            continue
        group.append(run)
        group_cost += cost
        if group_cost >= floor:
            tasks.append(group)
            group, group_cost = [], 0.0
    if group:
        tasks.append(group)
    return tasks
