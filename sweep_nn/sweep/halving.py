"""Successive halving on the grid's own budgets: train every configuration a little, then
continue only the promising ones from their snapshots.

A configuration here is a point of the search with all its seeds (and, under ``data.cv``,
all its folds). Rung ``r`` trains the configurations still in to budget ``r`` (continuing
from the snapshots of budget ``r - 1``); the best ``ceil(n / eta)`` go on to the next
budget. The rank is the mean over seeds and folds of the metric at the rung's budget
(higher is better, lower for losses); a configuration with a run that diverged or failed
ranks below every configuration whose runs all trained; ties go to the configuration listed first (grid order, or the order of
the random draw). Each rung depends only on the rows of the one before, so a resumed
search takes the same decisions, and every row it writes is the row the full grid would
write for that configuration and budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..config.models import RANK_METRICS as RANK_DIRECTIONS  # the parent's: pydantic is here
from ..config.search import DEFAULT_ETA, keep, planned_rows
from ..errors import ConfigError
from .jobs import Job

STOPPED_FILE = "halving.csv"  # where each configuration stopped, and its score at each rung


@dataclass
class Stage:
    """Train ``jobs`` to iteration ``until`` (a budget of the grid)."""

    jobs: list[Job]
    until: int
    rung: int  # 0-based
    rungs: int


def resolve_metric(metric: str | None, task: str) -> str:
    """The metric halving ranks on: the one given, or the dev score of the task."""
    if metric is None:
        return "dev_acc" if task == "classification" else "dev_r2"
    needs, _ = RANK_DIRECTIONS[metric]
    if needs is not None and needs != task:
        raise ConfigError(f"search.metric {metric!r} needs a {needs} sweep; this one is {task}")
    return metric


def point(job: Job) -> tuple:
    """What a configuration is made of: every axis but the seed (and the fold)."""
    return (job.hidden_size, job.activation, job.learning_rate, job.batch_size, job.init,
            job.init_scale)  # fmt: skip


def configurations(jobs: list[Job]) -> list[list[Job]]:
    """Jobs grouped by configuration (all but seed and fold), in the order of their first job."""
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault(point(job), []).append(job)
    return list(groups.values())


def score(group: list[Job], rows: dict[str, dict], budget: int, metric: str) -> tuple:
    """Sort key of a configuration at ``budget`` (smaller first): all its runs (seeds and
    folds) trained, then their mean metric, best first."""
    higher = RANK_DIRECTIONS[metric][1]
    values, complete = [], True
    for job in group:
        row = rows.get(job.keys[job.budgets.index(budget)])
        if row is None or row["status"] != "ok" or row.get(metric) is None:
            complete = False
        else:
            values.append(float(row[metric]))
    if not values:
        return (1, math.inf)
    mean = sum(values) / len(values)
    return (0 if complete else 1, -mean if higher else mean)


def survivors(groups: list[list[Job]], rows: dict[str, dict], budget: int, metric: str,
              eta: int) -> list[list[Job]]:  # fmt: skip
    """The configurations that go on past ``budget``, in their original order."""
    ranked = sorted(range(len(groups)), key=lambda i: (score(groups[i], rows, budget, metric), i))
    chosen = set(ranked[: keep(len(groups), eta)])
    return [g for i, g in enumerate(groups) if i in chosen]


def stages(
    jobs: list[Job], halves: bool, metric: str, eta: int, read_rows: Callable[[], dict]
) -> Iterator[Stage]:
    """The stages of a sweep: one to the largest budget, or one rung per budget.

    ``read_rows()`` gives the latest recorded row of each key; it is called after each
    rung has been trained, to rank its configurations.
    """
    budgets = jobs[0].budgets if jobs else ()
    if not halves or not jobs:
        yield Stage(jobs, budgets[-1] if budgets else 0, 0, 1)
        return
    groups = configurations(jobs)
    for rung, budget in enumerate(budgets):
        yield Stage([j for g in groups for j in g], budget, rung, len(budgets))
        if rung + 1 < len(budgets):
            groups = survivors(groups, read_rows(), budget, metric, eta)


def stopped_table(jobs: list[Job], rows: dict[str, dict], metric: str) -> list[dict]:
    """For each configuration: where it stopped, and its mean metric at each budget reached."""
    table = []
    for group in configurations(jobs):
        first = group[0]
        entry = {
            "hidden_size": first.hidden_size,
            "activation": first.activation,
            "learning_rate": first.learning_rate,
            "batch_size": "full" if first.batch_size is None else first.batch_size,
            "init": first.init,
            "init_scale": first.init_scale,
            "seeds": len({j.seed for j in group}),
            **({} if first.fold is None else {"folds": len({j.fold for j in group})}),
            "stopped_at": 0,
        }
        for budget in first.budgets:
            if not all(j.keys[j.budgets.index(budget)] in rows for j in group):
                break
            entry["stopped_at"] = budget
            complete, value = score(group, rows, budget, metric)
            mean = -value if RANK_DIRECTIONS[metric][1] else value
            entry[f"{metric}_at_{budget}"] = None if math.isinf(mean) else round(mean, 6)
        table.append(entry)
    return table


@dataclass(frozen=True)
class Search:
    """A sweep's search as the parent runs it: straight through, or halving."""

    halves: bool
    metric: str
    eta: int
    planned_rows: int

    @classmethod
    def of(cls, cfg, task: str, jobs: list[Job]) -> Search:
        s = cfg.search
        metric = resolve_metric(s.metric, task) if s.halves else "dev_acc"
        return cls(s.halves, metric, s.eta or DEFAULT_ETA, planned_rows(cfg))

    def stages(self, jobs: list[Job], read_rows: Callable[[], dict]) -> Iterator[Stage]:
        return stages(jobs, self.halves, self.metric, self.eta, read_rows)

    def write_table(self, out_dir: Path, jobs: list[Job], rows: dict) -> list[tuple[int, int]]:
        """Write :data:`STOPPED_FILE`; returns (budget, configurations trained to it)."""
        import csv
        import io

        from ..results import store

        table = stopped_table(jobs, rows, self.metric)
        columns = list(dict.fromkeys(k for entry in table for k in entry))
        text = io.StringIO()
        writer = csv.DictWriter(text, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
        store.atomic_write(out_dir / STOPPED_FILE, text.getvalue().encode())
        budgets = jobs[0].budgets if jobs else ()
        return [(b, sum(1 for e in table if e["stopped_at"] >= b)) for b in budgets]
