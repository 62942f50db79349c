"""Which configurations a sweep trains: every combination of the grid, or a random draw.

A point is one ``(hidden_size, activation, learning_rate, batch_size, init, init_scale)``;
every point is trained with every seed (on every fold of ``data.cv``) and to every budget
of the grid. An init that does not use a scale (xavier, he) has ``init_scale`` None, so
that the scales of ``grid.init_scales`` make one point of it, not several identical ones. Random search draws
``n_trials`` distinct points from the axes (a list: any of its values, equally likely; a
distribution: see :class:`.models.FloatRange` and :class:`.models.IntRange`) with NumPy's
``default_rng(seed)``, so a seed always gives the same points, in the same order.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..nn.plain import INITS
from .models import FloatRange, IntRange, SweepConfig

# hidden_size, activation, learning_rate, batch_size ("full" or an int), init, init_scale
Point = tuple[int, str, float, Any, str, float | None]
POINT_AXES = ("hidden_size", "activation", "learning_rate", "batch_size", "init", "init_scale")
DEFAULT_ETA = 3  # successive halving keeps the best third for each next budget
MAX_DRAWS_PER_TRIAL = 50  # a draw that repeats a point is drawn again, this many times at most


def init_axes(cfg: SweepConfig) -> tuple[list, Any]:
    """The grid's ``inits`` and ``init_scales`` axes, or (absent) the ``train:`` settings."""
    g, t = cfg.grid, cfg.train
    return g.inits or [t.init], [t.init_scale] if g.init_scales is None else g.init_scales


def as_point(values: tuple) -> Point:
    """A point as the sweep trains it: no scale for an init that does not use one."""
    h, act, lr, bs, init, scale = values
    return h, act, lr, bs, init, scale if INITS[init].scaled else None


def points(cfg: SweepConfig) -> list[Point]:
    """The sweep's points, in the order they are trained and listed."""
    g = cfg.grid
    inits, scales = init_axes(cfg)
    if cfg.search.method != "random":
        grid = itertools.product(g.hidden_sizes, g.activations, g.learning_rates, g.batch_sizes,
                                 inits, scales)  # fmt: skip
        return list(dict.fromkeys(as_point(values) for values in grid))
    rng = np.random.default_rng(cfg.search.seed or 0)
    axes = [g.hidden_sizes, g.activations, g.learning_rates, g.batch_sizes]
    # the draws of the axes a file gives, in this order: a file without them draws as before
    drawn_inits = [axis for axis in (g.inits, g.init_scales) if axis is not None]
    wanted = cfg.search.n_trials or 0
    drawn: dict[Point, None] = {}  # insertion-ordered set
    for _ in range(wanted * MAX_DRAWS_PER_TRIAL):
        if len(drawn) == wanted:
            break
        values = [_draw(axis, rng) for axis in axes + drawn_inits]
        init = values.pop(4) if g.inits is not None else inits[0]
        scale = values.pop(4) if g.init_scales is not None else scales[0]
        drawn.setdefault(as_point((*values, init, scale)))
    if len(drawn) < wanted:
        raise ConfigError(
            f"search.n_trials: {wanted} distinct configurations were asked for, but the axes "
            f"gave only {len(drawn)} in {wanted * MAX_DRAWS_PER_TRIAL} draws; lower n_trials "
            "or widen the axes"
        )
    return list(drawn)


def _draw(axis, rng: np.random.Generator):
    if isinstance(axis, list):
        return axis[int(rng.integers(len(axis)))]
    if isinstance(axis, FloatRange):
        if axis.log_uniform is not None:
            low, high = axis.log_uniform
            value = math.exp(rng.uniform(math.log(low), math.log(high)))
        else:
            low, high = axis.uniform or (0.0, 0.0)
            value = rng.uniform(low, high)
        return min(high, max(low, float(f"{value:.3g}")))  # readable, and still in range
    if isinstance(axis, IntRange):
        if axis.int_uniform is not None:
            low, high = axis.int_uniform
            return int(rng.integers(low, high + 1))
        low, high = axis.int_log_uniform or (1, 1)
        return min(high, int(math.exp(rng.uniform(math.log(low), math.log(high + 1)))))
    raise TypeError(f"not an axis: {axis!r}")


def keep(n: int, eta: int) -> int:
    """How many of ``n`` configurations successive halving keeps for the next budget."""
    return max(1, math.ceil(n / eta))


def planned_rows(cfg: SweepConfig) -> int:
    """The result rows the sweep writes when it runs to the end."""
    n, budgets = len(points(cfg)), len(cfg.grid.iterations)
    runs = len(cfg.grid.seeds) * (cfg.data.cv or 1)  # per point: every seed on every fold
    if not cfg.search.halves:
        return n * runs * budgets
    rows = 0
    for _ in range(budgets):
        rows += n * runs
        n = keep(n, cfg.search.eta or DEFAULT_ETA)
    return rows
