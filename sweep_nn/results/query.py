"""Questions asked of finished results: the filter's criteria, aggregation over seeds, the Pareto front.

Everything here works on the rows of a results file (a pandas DataFrame), never on a
sweep's memory. The criteria are one table, :data:`CRITERIA`, shared by ``filter``,
``plot``, the report and the Python API, with one validation for all of them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import SweepNNError, UsageError
from .schema import CONFIG_COPY, METRIC_COLUMNS, METRICS, SEED_AXES


class Criterion(NamedTuple):
    """One condition of the filter: which column it bounds, and how."""

    column: str
    keep: Callable  # (column values, bound) -> mask
    text: str  # for people, with {} for the bound
    help: str  # the command line's help for its option
    nonnegative: bool = False  # a negative bound makes no sense
    percent: bool = False  # an accuracy, in percent


def _at_least(col, v):
    return col >= v


def _at_most(col, v):
    return col <= v


def _abs_at_most(col, v):
    return col.abs() <= v


CRITERIA: dict[str, Criterion] = {
    "min_acc": Criterion("train_acc", _at_least, "train acc ≥ {}",
                         "Train accuracy >= this (percent).", percent=True),
    "min_dev_acc": Criterion("dev_acc", _at_least, "dev acc ≥ {}",
                             "Dev accuracy >= this (percent).", percent=True),
    "max_gap": Criterion("gap", _abs_at_most, "|train − dev| ≤ {}",
                         "|train - dev| <= this (accuracy points, or R2).", nonnegative=True),
    "max_time": Criterion("fit_seconds", _at_most, "fit ≤ {} s",
                          "fit_seconds <= this.", nonnegative=True),
    "min_r2": Criterion("train_r2", _at_least, "train R² ≥ {}", "Train R2 >= this (regression)."),
    "min_dev_r2": Criterion("dev_r2", _at_least, "dev R² ≥ {}", "Dev R2 >= this (regression)."),
}  # fmt: skip


@dataclass(frozen=True)
class Criteria:
    """The filter's conditions (see :data:`CRITERIA`); None means "no condition".

    Raises UsageError for a bound that is not a finite number, or a negative gap or time.
    """

    min_acc: float | None = None
    min_dev_acc: float | None = None
    max_gap: float | None = None
    max_time: float | None = None
    min_r2: float | None = None
    min_dev_r2: float | None = None

    def __post_init__(self) -> None:
        for name, value in self.bounds().items():
            rule = CRITERIA[name]
            option = "--" + name.replace("_", "-")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UsageError(f"{option} must be a number; got {value!r}")
            if not math.isfinite(value):
                raise UsageError(f"{option} must be a finite number; got {value}")
            if rule.nonnegative and value < 0:
                raise UsageError(f"{option} must be >= 0; got {value}")

    def bounds(self) -> dict[str, float]:
        """The conditions that are set: name -> bound."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def describe(self) -> str:
        return ", ".join(CRITERIA[k].text.format(f"{v:g}") for k, v in self.bounds().items())

    def mask(self, df) -> np.ndarray:
        """Rows of ``df`` that meet every condition."""
        keep = np.ones(len(df), dtype=bool)
        for name, value in self.bounds().items():
            rule = CRITERIA[name]
            keep &= rule.keep(df[rule.column], value).fillna(False).to_numpy(dtype=bool)
        return keep


assert [f.name for f in dataclasses.fields(Criteria)] == list(CRITERIA)


def current_rows(df, folder: Path):
    """The rows of the grid the folder's ``config.yaml`` names, and how many others it holds.

    A folder keeps every row it was ever given; rows of a grid that changed since (a hidden
    size dropped, say) stay in ``results.csv`` but are not the current sweep's. Without a
    readable ``config.yaml`` every row counts as current.
    """
    from .. import config
    from ..config.search import points

    try:
        cfg = config.load(folder / CONFIG_COPY)
        chosen = set(points(cfg))
    except SweepNNError:
        return df, 0
    grid = cfg.grid
    in_points = [
        (h, a, lr, b if b == "full" else int(b)) in chosen  # batch sizes as the grid writes them
        for h, a, lr, b in zip(
            df["hidden_size"], df["activation"], df["learning_rate"], df["batch_size"]
        )
    ]
    mask = (
        np.asarray(in_points, dtype=bool)
        & df["iterations"].isin(grid.iterations).to_numpy()
        & df["seed"].isin(grid.seeds).to_numpy()
    )
    return df[mask], int((~mask).sum())


def aggregate(df):
    """Group rows that differ only in seed: ``n_seeds`` and mean / std of each metric.

    The mean columns keep their names (``train_acc`` is then the mean over seeds) so the
    same criteria and sorting apply; ``*_std`` columns hold the standard deviations.
    """
    import pandas as pd

    # every metric column stays, empty ones too, so the table has the shape of the rows';
    # the mean of the gaps is the gap of the means, in accuracy or in R2
    metrics = [c for c in METRIC_COLUMNS if c in df]
    if df.empty:
        return df.assign(n_seeds=pd.Series(dtype=int))
    grouped = df.groupby(list(SEED_AXES), dropna=False, sort=False)
    out = grouped[metrics].mean()
    std = grouped[metrics].std(ddof=0).add_suffix("_std")
    out = out.join(std)
    out.insert(0, "n_seeds", grouped.size())
    out = out.reset_index()
    out.insert(0, "config_id", [re.sub(r"-s\d+$", "", cid) for cid in grouped["config_id"].first()])
    return out


def filter_results(
    df,
    criteria: Criteria,
    sort: str = "fit_seconds",
    descending: bool = False,
    top: int | None = None,
    aggregate_seeds: bool = False,
    include_failed: bool = False,
):
    """Rows meeting every condition, sorted; failed and diverged rows are left out by default."""
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise UsageError(f"--top must be a whole number >= 1; got {top!r}")
    if not include_failed:
        df = df[df["status"] == "ok"]
    if aggregate_seeds:
        df = aggregate(df)
    df = df[criteria.mask(df)]
    if sort not in df.columns:
        raise UsageError(f"--sort: no column {sort!r}; choose one of {', '.join(df.columns)}")
    df = df.sort_values(sort, ascending=not descending, kind="stable")
    return df.head(top) if top is not None else df


def pareto_front(times, scores) -> np.ndarray:
    """Mask of points no other point beats on both: less time and a higher score.

    A point is on the front when no other point is at least as fast and at least as good,
    and strictly better in one of the two.
    """
    t, s = np.asarray(times, dtype=float), np.asarray(scores, dtype=float)
    order = np.lexsort((-s, t))  # fastest first; among equal times, best first
    front = np.zeros(len(t), dtype=bool)
    best, best_time = -np.inf, np.nan
    for i in order:
        if s[i] > best or (s[i] == best and t[i] == best_time):  # exact twins share a place
            front[i] = True
            best, best_time = s[i], t[i]
    return front


def best_configuration(df, task: str) -> dict | None:
    """The configuration with the best dev score (mean over its seeds); among equals, the
    one with the fewest iterations, then the smallest (a rule that does not depend on the
    order rows arrived in, nor on timings). None if no row is ``ok``. The answer ``run``
    names at its end."""
    ok = df[df["status"] == "ok"]
    if ok.empty:
        return None
    column = f"dev_{METRICS[task].key}"
    order = [column, "iterations", "hidden_size", "activation", "learning_rate"]
    groups = aggregate(ok).sort_values(
        order, ascending=[False, True, True, True, True], kind="stable"
    )
    return groups.iloc[0].to_dict()
