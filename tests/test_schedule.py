"""Planning tasks: the longest runs go first and alone, the small ones in a few groups."""

from __future__ import annotations

import pytest
import yaml

from sweep_nn.config import parse
from sweep_nn.sweep import jobs as grid
from sweep_nn.sweep import schedule

N_TRAIN = 400


def _jobs(hidden_sizes, seeds, iterations):
    raw = {
        "name": "plan",
        "grid": {"hidden_sizes": hidden_sizes, "activations": ["tanh", "relu"],
                 "learning_rates": [1.0, 0.1], "seeds": seeds, "iterations": iterations},
    }  # fmt: skip
    return grid.expand(parse(yaml.safe_dump(raw)), "sigmoid")


def _cost(task):
    return sum(segment.remaining_cost(N_TRAIN) for segment in task)


@pytest.mark.parametrize("n_workers", [1, 2, 8])
def test_small_runs_travel_in_about_twenty_tasks_per_worker(n_workers):
    jobs = _jobs(list(range(1, 9)), list(range(10)), [10, 50])  # 320 runs of similar size
    tasks = schedule.plan_tasks(jobs, n_workers, N_TRAIN)
    assert sorted(j.keys[0] for t in tasks for s in t for j in s.jobs) == sorted(
        j.keys[0] for j in jobs
    )
    share = sum(_cost(t) for t in tasks) / (n_workers * schedule.TASKS_PER_WORKER)
    # every group but the last holds at least the share, and at most one run more
    assert all(_cost(t) >= share for t in tasks[:-1])
    assert all(_cost(t) - _cost(t[-1:]) < share for t in tasks)
    assert n_workers * schedule.TASKS_PER_WORKER / 2 <= len(tasks)
    assert len(tasks) <= n_workers * schedule.TASKS_PER_WORKER + 1


def test_a_big_sweep_of_small_runs_groups_at_most_about_a_second_of_work():
    jobs = _jobs([2, 3], list(range(80)), [4000])  # 640 runs, each about 1/12 of the cap
    assert all(schedule.MAX_GROUP_COST / 20 < j.cost(N_TRAIN) < schedule.MAX_GROUP_COST / 5
               for j in jobs)  # fmt: skip
    # the share alone would group more than the cap
    assert sum(j.cost(N_TRAIN) for j in jobs) / (2 * schedule.TASKS_PER_WORKER) > schedule.MAX_GROUP_COST
    tasks = schedule.plan_tasks(jobs, 2, N_TRAIN)
    assert max(_cost(t) - _cost(t[-1:]) for t in tasks) < schedule.MAX_GROUP_COST
    # so more tasks than the share alone would give
    assert len(tasks) > 2 * schedule.TASKS_PER_WORKER + 1


def test_runs_of_more_than_the_share_go_alone_longest_first():
    jobs = _jobs([50, 1], [0], [1000])
    tasks = schedule.plan_tasks(jobs, 2, N_TRAIN)
    assert [len(t) for t in tasks[:4]] == [1, 1, 1, 1]
    assert {t[0].jobs[0].hidden_size for t in tasks[:4]} == {50}
    costs = [_cost(t) for t in tasks]
    assert costs[:4] == sorted(costs[:4], reverse=True)
