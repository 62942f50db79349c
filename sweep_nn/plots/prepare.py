"""What each figure shows, computed without drawing: panels, highlighted points, fronts, grids.

Pure pandas and NumPy (no matplotlib), so the data behind every figure can be tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..results import query
from ..results.schema import SEED_AXES, Metric

if TYPE_CHECKING:
    import pandas as pd

    from .sweep import Sweep

TOP_CURVES = 5  # training runs in the learning-curve figure
MAX_LABELS = 8  # Pareto points named in the time-vs-score figure
MAX_ASPECT = 2.2  # a panel grid wider or taller than this is wrapped
MARGIN = 0.25  # of the colour range, below the lowest score it is meant to tell apart
RUN_AXES = tuple(a for a in SEED_AXES if a != "iterations")  # budgets of one run share it
AXIS_TEXT = {"activation": "{}", "batch_size": "batch {}", "dtype": "{}", "init": "{}",
             "init_scale": "scale {:g}"}  # fmt: skip
# slots a figure lays out side by side at most: hidden sizes x learning rates (overview)
# or hidden sizes (hidden_size); more (a random search draws new values for each trial,
# a big grid has many) and the figure puts each value where it falls on a log axis
MAX_SLOTS = {"overview": 60, "hidden_size": 16}
MAX_CELLS = 400  # hidden sizes x learning rates a heatmap panel can show readably
MIN_FILL = 0.5  # of its cells the fullest panel must fill, else the heatmap is not drawn


def ordered(values) -> list:
    """Distinct values in the order they first appear (the grid's order)."""
    return list(dict.fromkeys(values))


def _order(v) -> tuple:
    # "full" batch after numeric sizes, so is no scale (xavier, he); everything else as is
    if v == "full" or v is None or (isinstance(v, float) and v != v):
        return (1, 0, "")
    if isinstance(v, (int, float, np.integer, np.floating)):
        return (0, float(v), "")
    return (2, 0, str(v))


@dataclass
class Panel:
    """One axes of a figure: its place, its rows and what it is labelled with."""

    r: int
    c: int
    frame: pd.DataFrame
    col_label: str  # activation (and batch size / dtype when they vary)
    row_label: str  # the budget, "" when budgets are not split into rows
    title: str = ""


@dataclass
class Layout:
    nrows: int
    ncols: int
    panels: list[Panel] = field(default_factory=list)
    wrapped: bool = False  # each panel carries its whole label in its title


def column_axes(rows: pd.DataFrame) -> list[str]:
    """Axes that get a panel column each: activation, and batch size, dtype, init and init
    scale when they vary (else a panel's cell would hold several runs, one drawn over the
    others)."""
    varying = [c for c in ("batch_size", "dtype", "init", "init_scale")
               if c in rows and rows[c].nunique(dropna=False) > 1]  # fmt: skip
    return ["activation", *varying]


def _keys(rows: pd.DataFrame, axes: list[str]) -> list[tuple]:
    # an empty value (no init scale) as None: NaN is not equal to itself, nor one key
    keys = ordered(tuple(None if v != v else v for v in key)
                   for key in rows[axes].itertuples(index=False, name=None))  # fmt: skip
    if axes and axes[0] == "activation":  # activations in the grid's order, the rest sorted
        acts = ordered(rows["activation"])
        return sorted(keys, key=lambda k: (acts.index(k[0]), *map(_order, k[1:])))
    return sorted(keys, key=lambda k: tuple(map(_order, k)))


def _mask(rows: pd.DataFrame, axes: list[str], key: tuple) -> np.ndarray:
    return np.logical_and.reduce([_same(rows[a], v) for a, v in zip(axes, key)])


def _column_label(axes: list[str], key: tuple) -> str:
    """A panel's column, in words: ``tanh, normal, scale 0.1`` (no scale: none said)."""
    given = [(a, v) for a, v in zip(axes, key) if not (v is None or v != v)]
    return ", ".join(AXIS_TEXT[a].format(v) for a, v in given)


def layout(rows: pd.DataFrame, budgets: bool = True, aspect: float = 1.0) -> Layout:
    """Panels for ``rows``: a column per activation (x batch size, dtype), a row per budget.

    ``aspect`` is one panel's width over its height; a grid far from square (one activation
    and many budgets, say) is wrapped into a squarer one, each panel then titled in full.
    """
    cols = column_axes(rows)
    col_keys = _keys(rows, cols)
    row_keys = sorted(rows["iterations"].unique()) if budgets else [None]
    cells = []
    for key in col_keys:
        for it in row_keys:
            mask = _mask(rows, cols, key)
            if it is not None:
                mask &= (rows["iterations"] == it).to_numpy()
            if mask.any():
                col = _column_label(cols, key)
                cells.append((col_keys.index(key), row_keys.index(it), rows[mask], col, it))
    nrows, ncols = len(row_keys), len(col_keys)
    ratio = ncols * aspect / nrows
    wrapped = len(cells) < nrows * ncols or not 1 / MAX_ASPECT <= ratio <= MAX_ASPECT
    if wrapped:
        ncols = _columns(len(cells), aspect)
        nrows = math.ceil(len(cells) / ncols)
    out = Layout(nrows, ncols, wrapped=wrapped)
    cells.sort(key=lambda cell: (cell[1], cell[0]))  # budgets down, activations across
    # a column named by several axes puts its budget on a line of its own
    sep = "\n" if any(len(cell[3]) > 16 for cell in cells) else ", "
    for k, (c, r, frame, col, it) in enumerate(cells):
        row = f"{it} iterations" if it is not None else ""
        if wrapped:
            r, c = divmod(k, ncols)
        title = sep.join(t for t in (col, row) if t) if wrapped else col
        out.panels.append(Panel(r, c, frame, col, row, title))
    return out


def _columns(n: int, aspect: float) -> int:
    """Columns for ``n`` panels of width/height ``aspect`` closest to a 4:3 grid."""
    best = min(range(1, n + 1), key=lambda c: abs(math.log(c * aspect / math.ceil(n / c) / 1.33)))
    return best


def slots(rows: pd.DataFrame, figure: str) -> int:
    """How many slots ``figure`` would lay side by side for ``rows`` (see :data:`MAX_SLOTS`)."""
    n = rows["hidden_size"].nunique()
    return n if figure == "hidden_size" else n * rows["learning_rate"].nunique()


def by_value(rows: pd.DataFrame, figure: str) -> bool:
    """Whether ``figure`` draws the grid's values where they fall, too many to lay out."""
    return slots(rows, figure) > MAX_SLOTS[figure]


def heatmap_refusal(rows: pd.DataFrame) -> str | None:
    """Why the heatmap of ``rows`` would not be read (None: it would): too many cells, or
    most of them empty in every panel (a random search's few draws over many values)."""
    n_h, n_lr = rows["hidden_size"].nunique(), rows["learning_rate"].nunique()
    cells = n_h * n_lr
    if cells > MAX_CELLS:
        return f"{n_h} hidden sizes x {n_lr} learning rates are too many cells to read"
    fill = max(len(p.frame) for p in layout(rows).panels) / cells if len(rows) else 1.0
    if fill < MIN_FILL:
        return (
            f"{n_h} hidden sizes x {n_lr} learning rates would leave {1 - fill:.0%} of the "
            "cells empty (a random search draws new values for each trial)"
        )
    return None


def positions(values) -> dict:
    return {v: i for i, v in enumerate(sorted(values))}


def overview_x(frame: pd.DataFrame, hidden: list, rates: list) -> np.ndarray:
    """x of each row in an overview panel: its hidden size's slot, its learning rate within."""
    pos = positions(hidden)
    width = 0.8 / len(rates)
    j = frame["learning_rate"].map({lr: i for i, lr in enumerate(sorted(rates))})
    return (frame["hidden_size"].map(pos) + (j - (len(rates) - 1) / 2) * width).to_numpy(float)


def shown_activations(rows: pd.DataFrame, hit: np.ndarray) -> list[str]:
    """Activations that have highlighted points (the legend lists only these)."""
    return [a for a in ordered(rows["activation"]) if (hit & (rows["activation"] == a)).any()]


def limits(rows: pd.DataFrame, m: Metric) -> tuple[float, float]:
    lo = min(rows[m.train].min(), rows[m.dev].min())
    hi = max(rows[m.train].max(), rows[m.dev].max())
    pad = 0.04 * (hi - lo or 1)
    return lo - pad, hi + pad


def zoom_limits(s: Sweep) -> tuple[float, float] | None:
    """Square close-up around the survivors, or None when nothing passes (or no filter)."""
    m, rows = s.metric, s.rows
    if not s.filtered or not rows["survives"].any():
        return None
    lo, hi = limits(rows, m)
    pad = 0.5 * 0.04 / 1.08 * (hi - lo)
    hit = rows[rows["survives"]]
    gap = s.criteria.max_gap or 0
    zlo = min(hit[m.train].min(), hit[m.dev].min()) - max(gap, pad)
    zhi = max(hit[m.train].max(), hit[m.dev].max()) + max(gap, pad)
    return zlo, zhi


def time_front(s: Sweep) -> pd.DataFrame:
    """The Pareto front (fastest first) of the survivors; empty when a filter keeps nothing."""
    if s.none_pass:
        return s.rows.iloc[:0]
    pool = s.pool
    front = pool[query.pareto_front(pool["fit_seconds"], pool[s.metric.dev])]
    return front.sort_values("fit_seconds", kind="stable")


def spread(n: int, most: int) -> list[int]:
    """Up to ``most`` indices of 0..n-1, evenly spread and always including both ends."""
    if n <= most:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, most).round().astype(int).tolist()))


def heatmap_grid(frame: pd.DataFrame, hidden: list, rates: list, m: Metric):
    """(scores, passes): hidden sizes down, learning rates across; NaN where nothing ran."""
    grid = np.full((len(hidden), len(rates)), np.nan)
    passes = np.zeros(grid.shape, dtype=bool)
    hpos, rpos = positions(hidden), positions(rates)
    for _, row in frame.iterrows():
        i, j = hpos[row["hidden_size"]], rpos[row["learning_rate"]]
        grid[i, j] = row[m.dev]
        passes[i, j] = bool(row["survives"])
    return grid, passes


def color_range(scores) -> tuple[float, float, bool]:
    """(low, high, clipped) of a colour scale that shows the differences among the good scores.

    The scale starts at the median, or, when the median is in the lower half of the range
    (mostly chance-level cells), at the lowest score in the upper half, provided the scores below it spread
    wider than those above (cells far below the rest); lower cells are then clipped.
    """
    v = np.asarray(scores, dtype=float)
    v = v[np.isfinite(v)]
    lo, hi = float(v.min()), float(v.max())
    start, middle = float(np.median(v)), (lo + hi) / 2
    if start < middle:
        start = float(v[v >= middle].min())
    if start - lo > hi - start and hi > start:  # a margin keeps the lowest kept cell apart
        return max(lo, start - MARGIN * (hi - start)), hi, True
    return lo, hi if hi > lo else lo + 1e-9, False


def best_by_hidden(frame: pd.DataFrame, m: Metric) -> pd.DataFrame:
    """The row with the best dev score at each hidden size (its learning rate's), sorted."""
    best = frame.loc[frame.groupby("hidden_size")[m.dev].idxmax()]
    return best.sort_values("hidden_size")


@dataclass
class Run:
    """One training run (its budgets share it) as the learning-curve figure shows it."""

    best: pd.Series  # the budget row with the best dev score
    budgets: pd.DataFrame  # all its budget rows (those failing the filter too), by iterations
    paths: list[str]  # parameter files with its curve (one per seed), of its longest budget


def curve_runs(s: Sweep, top: int = TOP_CURVES) -> list[Run]:
    """The ``top`` runs with the best dev score at their best budget, best first."""
    m, pool = s.metric, s.pool
    out = []
    axes = [a for a in RUN_AXES if a in pool and a in s.runs]
    for _, group in pool.groupby(axes, dropna=False, sort=False):
        # among equal scores the fewest iterations, as run names its best
        best = group.sort_values([m.dev, "iterations"], ascending=[False, True]).iloc[0]
        # every budget of the run, those that fail the filter too: the curve passes them all
        of_run = np.logical_and.reduce([_same(s.rows[a], best[a]) for a in axes])
        budgets = s.rows[of_run].sort_values("iterations")
        run = np.logical_and.reduce([_same(s.runs[a], best[a]) for a in axes])
        longest = (s.runs["iterations"] == s.runs.loc[run, "iterations"].max()).to_numpy()
        paths = s.runs.loc[run & longest, "params_path"].dropna().tolist()
        out.append(Run(best, budgets, paths))
    out.sort(key=lambda run: (-run.best[m.dev], *(_order(run.best[a]) for a in query.TIE_ORDER)))
    return out[:top]


def _same(column: pd.Series, value) -> np.ndarray:
    """Where ``column`` holds ``value``; an empty value (no init_scale) matches empty cells."""
    if value is None or value != value:
        return column.isna().to_numpy()
    return (column == value).to_numpy()


def boundary_grid(X: np.ndarray, n: int):
    """(xx, yy, plane) of an n x n grid over ``X`` (m, 2) with a 10% margin."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-9
    gx, gy = (np.linspace(lo[k] - pad[k], hi[k] + pad[k], n) for k in (0, 1))
    xx, yy = np.meshgrid(gx, gy)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def log_loss_axis(curves: list[np.ndarray]) -> bool:
    """Whether losses are best drawn on a log axis: all positive, spanning a factor of 3."""
    values = np.concatenate([np.asarray(c, float) for c in curves]) if curves else np.array([])
    return bool(len(values) and values.min() > 0 and values.max() / values.min() > 3)


def nearest(points: np.ndarray, targets) -> np.ndarray:
    """Index of the recorded point nearest each of ``targets`` (budgets on a sampled curve)."""
    points = np.asarray(points, dtype=float)
    return np.array([int(np.abs(points - float(v)).argmin()) for v in targets], dtype=int)
