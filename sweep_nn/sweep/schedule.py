"""Scheduling: which jobs travel together to a worker, and in what order.

Longest first, so that the cores stay busy to the end; the smallest runs are grouped so
that each dispatch carries enough work to be worth its round trip.
"""

from __future__ import annotations

from .jobs import Job, stacks

Task = list[list[Job]]  # runs (a job alone, or a stack) that one worker trains in turn


def plan_tasks(jobs: list[Job], n_workers: int, n_train: int) -> list[Task]:
    """Longest training run first; the smallest are grouped so each dispatch carries real
    work. A run is one job, or a stack of jobs trained together (:func:`jobs.stacks`),
    which always travels whole: a task is a list of runs."""
    runs = [(sum(j.cost(n_train) for j in run), run) for run in stacks(jobs, n_train)]
    runs.sort(key=lambda item: item[0], reverse=True)
    floor = sum(cost for cost, _ in runs) / (n_workers * 100)
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
