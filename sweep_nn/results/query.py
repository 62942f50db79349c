"""Questions asked of finished results: the filter's criteria, aggregation over seeds and
folds, the Pareto front.

Everything here works on the rows of a results file (a pandas DataFrame; the best
configuration also on the rows as dicts, without pandas), never on a sweep's memory. The
criteria are one table, :data:`CRITERIA`, shared by ``filter``, ``plot``, the report and
the Python API, with one validation for all of them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import ResultsError, SweepNNError, UsageError
from .schema import CONFIG_COPY, METRIC_COLUMNS, METRICS, SEED_AXES


class Criterion(NamedTuple):
    """One condition of the filter: which column it bounds, how, and what makes sense for it."""

    column: str
    bound: str  # "min": rows at or above the bound pass; "max": rows at or below it
    text: str  # for people, short (the figures), with {} for the bound
    words: str  # for people, in full (the report's page), with {} for the bound
    help: str  # the command line's help for its option
    absolute: bool = False  # the bound is on the column's absolute value
    nonnegative: bool = False  # a negative bound makes no sense
    task: str | None = None  # the only task whose rows hold the column (None: every task)
    # (bound, the sweep's task) -> why the bound is probably on the wrong scale, or None
    slip: Callable[[float, str], str | None] | None = None

    def keep(self, values, bound: float):
        """The mask of ``values`` (a column) that meet ``bound``."""
        values = values.abs() if self.absolute else values
        return values >= bound if self.bound == "min" else values <= bound


def _accuracy_slip(v: float, task: str) -> str | None:
    # accuracies are percentages; a lower bound of at most 1 (%) is a fraction written as such
    if 0 < v <= 1:
        return f"accuracy is in percent: did you mean {v * 100:g}?"
    if v > 100:
        return "accuracy is in percent, at most 100, so no row can pass"
    return None


def _gap_slip(v: float, task: str) -> str | None:
    # in accuracy points a gap under 0.1 is below one dev sample of any usual split;
    # as a fraction it is a plausible bound (0.02 = 2 points)
    if task == "classification" and 0 < v < 0.1:
        return f"the gap of a classification sweep is in accuracy points: did you mean {v * 100:g}?"
    return None


def _r2_slip(v: float, task: str) -> str | None:
    if v > 1:
        hint = f": did you mean {v / 100:g}?" if v <= 100 else ""
        return f"R² is at most 1, so no row can pass{hint}"
    return None


CRITERIA: dict[str, Criterion] = {
    "min_acc": Criterion("train_acc", "min", "train acc ≥ {}", "train accuracy ≥ {}",
                         "Train accuracy >= this (percent).", task="classification",
                         slip=_accuracy_slip),
    "min_dev_acc": Criterion("dev_acc", "min", "dev acc ≥ {}", "dev accuracy ≥ {}",
                             "Dev accuracy >= this (percent).", task="classification",
                             slip=_accuracy_slip),
    "max_gap": Criterion("gap", "max", "|train − dev| ≤ {}", "|train − dev| ≤ {}",
                         "|train - dev| <= this (accuracy points, or R2).", absolute=True,
                         nonnegative=True, slip=_gap_slip),
    "max_time": Criterion("fit_seconds", "max", "fit ≤ {} s", "fit_seconds ≤ {}",
                          "fit_seconds <= this.", nonnegative=True),
    "min_r2": Criterion("train_r2", "min", "train R² ≥ {}", "train R² ≥ {}",
                        "Train R2 >= this (regression).", task="regression", slip=_r2_slip),
    "min_dev_r2": Criterion("dev_r2", "min", "dev R² ≥ {}", "dev R² ≥ {}",
                            "Dev R2 >= this (regression).", task="regression", slip=_r2_slip),
}  # fmt: skip


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def task_of(df) -> str | None:
    """The task of a sweep's rows: classification when they hold accuracies, regression
    when they hold R², None when neither (no row was scored)."""
    if df["train_acc"].notna().any():
        return "classification"
    if df["train_r2"].notna().any():
        return "regression"
    return None


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
            option = _option(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UsageError(f"{option} must be a number; got {value!r}")
            if not math.isfinite(value):
                raise UsageError(f"{option} must be a finite number; got {value}")
            if rule.nonnegative and value < 0:
                raise UsageError(f"{option} must be >= 0; got {value}")

    def bounds(self) -> dict[str, float]:
        """The conditions that are set: name -> bound."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def check(self, task: str | None) -> list[str]:
        """Warnings about bounds that look like a slip; UsageError for those that cannot apply.

        A criterion of the other task (``--min-r2`` on a classification sweep) would empty
        the table without saying why, so it is refused, naming the options that do apply.
        ``task`` None (no row scored yet) checks nothing.
        """
        if task is None:
            return []
        bounds = self.bounds()
        wrong = [name for name in bounds if CRITERIA[name].task not in (None, task)]
        if wrong:
            names = " and ".join(map(_option, wrong))
            fits = " or ".join(_option(n) for n, rule in CRITERIA.items() if rule.task == task)
            raise UsageError(
                f"{names} {'does' if len(wrong) == 1 else 'do'} not apply to a {task} sweep "
                f"(scored by {METRICS[task].name}); use {fits}"
            )
        warnings = []
        for name, value in bounds.items():
            slip = CRITERIA[name].slip
            why = slip(value, task) if slip else None
            if why:
                warnings.append(f"{_option(name)} {value:g}: {why}")
        return warnings

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


def current_config(folder: Path):
    """The configuration the folder's ``config.yaml`` holds, or None if it cannot be read."""
    from .. import config

    try:
        return config.load(folder / CONFIG_COPY)
    except SweepNNError:
        return None


def current_rows(df, folder: Path):
    """The rows of the grid the folder's ``config.yaml`` names, and how many others it holds.

    A folder keeps every row it was ever given; rows of a grid that changed since (a hidden
    size dropped, say) stay in ``results.csv`` but are not the current sweep's. Without a
    readable ``config.yaml`` every row counts as current.
    """
    import pandas as pd

    from ..config.search import as_point, points

    cfg = current_config(folder)
    try:
        chosen = None if cfg is None else set(points(cfg))
    except SweepNNError:
        chosen = None
    if cfg is None or chosen is None:
        return df, 0
    grid, t = cfg.grid, cfg.train

    def point(h, a, lr, b, init, scale):
        if pd.isna(init):  # a row from before the init columns: its sweep's settings
            init, scale = t.init, t.init_scale
        b = b if b == "full" else int(b)  # batch sizes as the grid writes them
        return as_point((h, a, lr, b, init, None if pd.isna(scale) else scale))

    in_points = [
        point(*values) in chosen
        for values in zip(df["hidden_size"], df["activation"], df["learning_rate"],
                          df["batch_size"], df["init"], df["init_scale"])
    ]  # fmt: skip
    folds = df["fold"].isna() if cfg.data.cv is None else df["fold"].isin(range(cfg.data.cv))
    mask = (
        np.asarray(in_points, dtype=bool)
        & df["iterations"].isin(grid.iterations).to_numpy()
        & df["seed"].isin(grid.seeds).to_numpy()
        & folds.to_numpy(dtype=bool)
    )
    return df[mask], int((~mask).sum())


class Selection(NamedTuple):
    """The rows a command works on, what it left out, and what it warns about."""

    rows: Any  # a DataFrame of results rows
    hidden: int  # rows of earlier grids left out
    warnings: list[str]  # bounds that look like a slip (see Criteria.check)


def select(path: Path, criteria: Criteria | None = None, all_rows: bool = False) -> Selection:
    """The rows of a results file that ``filter``, ``plot`` and ``report`` work on.

    Those of the folder's current grid (every row with ``all_rows``; see
    :func:`current_rows`), with ``criteria`` checked against the sweep's task. Raises
    ResultsError when there is no row to work on (a sweep that has not finished one yet).
    """
    from . import store

    df = store.read_results(path)
    if df.empty:
        raise ResultsError(
            f"{path} has no rows yet: the sweep has not recorded a configuration "
            "(run it, or wait for its first one to finish)"
        )
    hidden = 0
    if not all_rows:
        df, hidden = current_rows(df, path.parent)
        if df.empty:
            raise ResultsError(
                f"{path} has no rows of its current grid yet, only {hidden} of earlier grids "
                "(--all-rows shows them; running the sweep fills the current grid)"
            )
    warnings = (criteria or Criteria()).check(task_of(df))
    return Selection(df, hidden, warnings)


def aggregate(df):
    """Group rows that differ only in seed and fold: ``n_seeds`` (and, for rows of
    ``data.cv``, ``n_folds``) and mean / std of each metric over the group's rows.

    The mean columns keep their names (``train_acc`` is then the mean over seeds and
    folds) so the same criteria and sorting apply; ``*_std`` columns hold the standard
    deviations. The config id loses its seed and fold suffixes.
    """
    import pandas as pd

    # every metric column stays, empty ones too, so the table has the shape of the rows';
    # the mean of the gaps is the gap of the means, in accuracy or in R2
    metrics = [c for c in METRIC_COLUMNS if c in df]
    folds = "fold" in df and bool(df["fold"].notna().any())
    if df.empty:
        return df.assign(n_seeds=pd.Series(dtype=int))
    axes = [a for a in SEED_AXES if a in df]  # a frame of older columns groups by those it has
    # a metric no row has (r2 in a classification sweep) is a column of None: as floats,
    # pandas averages it in compiled code rather than group by group in Python
    df = df.astype(dict.fromkeys(metrics, float))
    grouped = df.groupby(axes, dropna=False, sort=False)
    out = grouped[metrics].mean()
    std = grouped[metrics].std(ddof=0).add_suffix("_std")
    out = out.join(std)
    if folds:
        out.insert(0, "n_folds", grouped["fold"].nunique())
    out.insert(0, "n_seeds", grouped["seed"].nunique() if "seed" in df else grouped.size())
    out = out.reset_index()
    out.insert(0, "config_id", [run_id(cid) for cid in grouped["config_id"].first()])
    return out


def run_id(config_id: str) -> str:
    """A configuration's id without its seed and fold suffixes: the id of its mean."""
    return re.sub(r"(-s\d+)?(-f\d+)?$", "", config_id)


def seconds_text(value: float) -> str:
    """Seconds to two decimals, or two significant digits below 0.1 s (never 0.00)."""
    return f"{value:.2f}" if value >= 0.1 or value == 0 else f"{value:.2g}"


def averaged_over(n_seeds: int, n_folds: int | None = None) -> str:
    """What an aggregated row's means are over, for people: ``3 seeds``, ``5 folds``,
    ``2 seeds x 5 folds``; empty for a single run."""
    counts = [(int(n), what) for n, what in ((n_seeds, "seed"), (n_folds or 1, "fold")) if n > 1]
    return " x ".join(f"{n} {what}s" for n, what in counts)


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
    criteria.check(task_of(df))
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


# among configurations of equal dev score, the best is the first in these, each smallest first
TIE_ORDER = ("iterations", "hidden_size", "activation", "learning_rate")


def best_configuration(rows, task: str) -> dict | None:
    """The configuration with the best dev score (mean over its seeds and folds); among
    equals, the one with the fewest iterations, then the smallest (a rule that does not
    depend on the order rows arrived in, nor on timings). None if no row is ``ok``. The
    answer ``run`` names at its end.

    ``rows``: a results frame, or its rows as dicts (as ``run`` holds them). Plain Python,
    so that ``run`` names it without importing pandas (a fifth of a second, with every
    worker idle, at the end of a sweep of small runs). Its means are :func:`aggregate`'s,
    over the same groups; the sum is ``math.fsum`` (correctly rounded), where pandas
    compensates its sum: they agree but perhaps in the last bit of a long mean.
    """
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        return None
    column = f"dev_{METRICS[task].key}"

    def rank(group: dict) -> tuple:  # best first; a mean of no score last, as pandas sorts
        score = group[column]
        return (score != score, -score if score == score else 0.0, *(group[a] for a in TIE_ORDER))

    return min(_seed_means(ok), key=rank)  # the first of equals, as a stable sort gives


def _seed_means(ok: list[dict]) -> list[dict]:
    """:func:`aggregate`'s groups (rows differing only in seed and fold), in the order of
    their first rows, with its columns but the ``*_std`` ones."""
    axes = [a for a in SEED_AXES if a in ok[0]]
    metrics = [c for c in METRIC_COLUMNS if c in ok[0]]
    folds = "fold" in ok[0] and any(_present(r["fold"]) for r in ok)
    groups: dict[tuple, list[dict]] = {}
    for r in ok:  # an empty value (None; NaN in a frame) is a value of its own: dropna=False
        groups.setdefault(tuple(r[a] if _present(r[a]) else None for a in axes), []).append(r)
    out = []
    for members in groups.values():
        first = members[0]
        group = {"config_id": run_id(first["config_id"]), **{a: first[a] for a in axes}}
        seeds = {r["seed"] for r in members if _present(r["seed"])} if "seed" in first else None
        group["n_seeds"] = len(members) if seeds is None else len(seeds)
        if folds:
            group["n_folds"] = len({r["fold"] for r in members if _present(r["fold"])})
        for c in metrics:
            values = [float(r[c]) for r in members if _present(r[c])]
            group[c] = math.fsum(values) / len(values) if values else math.nan
        out.append(group)
    return out


def _present(value) -> bool:
    """Not an empty cell: neither None (a row as read) nor NaN (a frame's empty float)."""
    return value is not None and value == value
