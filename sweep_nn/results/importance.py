"""How much each hyperparameter matters to the dev score: a variance decomposition.

On a full grid (every combination of the varying axes present, once after averaging over
seeds) the decomposition is exact: the functional ANOVA of the grid's own cells, with
every cell weighted equally. The score splits into a grand mean, a main effect per axis,
an interaction per pair of axes and a higher-order remainder; these parts are orthogonal,
so their variances add up to the total variance and the shares sum to 1.

On an incomplete grid (cells missing because they diverged, failed, or were never run) the
same decomposition is applied to a random forest's predictions over the product of the
observed values of each axis: an estimate, and labelled as one.

Pure NumPy / pandas (scikit-learn for the estimate); no files are read here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

# the axes a configuration is made of, in the grid's order; those that vary are used
CANDIDATE_AXES = (
    "hidden_size",
    "activation",
    "learning_rate",
    "iterations",
    "batch_size",
    "init",
    "init_scale",
    "dtype",
    "seed",
)
# axes where an empty value is a level of its own: init_scale of an init that takes none
EMPTY_LEVELS = {"init_scale": "none"}
MAX_CELLS = 1_000_000  # largest product of axis values the estimate predicts over
FOREST_TREES = 300


@dataclass(frozen=True)
class Importance:
    """Shares of the score's variance explained by each axis and each pair of axes.

    ``main[axis] + sum(pairs.values()) + higher_order == 1`` whenever ``total_variance``
    is positive (all shares are 0 when the score does not vary at all).
    """

    score: str  # the column decomposed, e.g. "dev_acc"
    axes: list[str]  # the varying axes, in grid order
    levels: dict[str, list]  # the values of each axis
    main: dict[str, float]  # axis -> share of variance of its main effect
    pairs: dict[tuple[str, str], float]  # (axis, axis) -> share of their interaction
    higher_order: float  # share of all interactions of three or more axes
    total_variance: float  # variance of the score over the cells decomposed
    exact: bool  # True: the grid's own cells; False: a model's estimate
    method: str  # how the shares were computed, in a sentence
    n_cells: int  # cells of the grid decomposed
    n_observed: int  # cells with a score in the results
    notes: list[str] = field(default_factory=list)

    def ranked(self) -> list[tuple[str, float]]:
        """Every part, largest first: axis names, "a × b" for pairs, and "higher-order"."""
        parts = list(self.main.items())
        parts += [(f"{a} × {b}", v) for (a, b), v in self.pairs.items()]
        parts.append(("higher-order", self.higher_order))
        return sorted(parts, key=lambda kv: -kv[1])

    def to_dict(self) -> dict:
        """A JSON-ready view (pairs keyed "a × b")."""
        return {
            "score": self.score,
            "axes": list(self.axes),
            "main": dict(self.main),
            "pairs": [{"axes": list(k), "share": v} for k, v in self.pairs.items()],
            "higher_order": self.higher_order,
            "total_variance": self.total_variance,
            "exact": self.exact,
            "method": self.method,
            "n_cells": self.n_cells,
            "n_observed": self.n_observed,
            "notes": list(self.notes),
        }


def _sort_key(v):
    # numbers in order, then "full" (the batch size), then other text
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return (0, float(v), "")
    return (1, 0.0, str(v))


def decompose(tensor: np.ndarray) -> tuple[np.ndarray, dict, float]:
    """Exact functional ANOVA of a full, equally weighted grid of values.

    Returns (variances of the main effects per axis index, {(i, j): variance of the pair
    interaction}, total variance). The higher-order variance is the total minus the
    rest; by orthogonality it is the variance of what main effects and pairs leave.
    """
    y = np.asarray(tensor, dtype=float)
    k = y.ndim
    mu = y.mean()
    total = float(((y - mu) ** 2).mean())
    effects = []
    for i in range(k):
        others = tuple(a for a in range(k) if a != i)
        effects.append(y.mean(axis=others) - mu)
    main = np.array([float((f**2).mean()) for f in effects])
    pairs = {}
    for i, j in itertools.combinations(range(k), 2):
        others = tuple(a for a in range(k) if a not in (i, j))
        m_ij = y.mean(axis=others) if others else y
        f_ij = m_ij - mu - effects[i][:, None] - effects[j][None, :]
        pairs[(i, j)] = float((f_ij**2).mean())
    return main, pairs, total


def _shares(main_var, pair_var, total, axes):
    if total <= 0 or not np.isfinite(total):
        main = {a: 0.0 for a in axes}
        pairs = {(axes[i], axes[j]): 0.0 for (i, j) in pair_var}
        return main, pairs, 0.0
    main = {a: float(v / total) for a, v in zip(axes, main_var)}
    pairs = {(axes[i], axes[j]): float(v / total) for (i, j), v in pair_var.items()}
    higher = 1.0 - sum(main.values()) - sum(pairs.values())
    if abs(higher) < 1e-12:  # rounding, not an interaction
        higher = 0.0
    return main, pairs, float(higher)


def _scored_rows(df, score: str, axes: list[str] | None, average_seeds: bool):
    """Rows with a finite ``score``, the axes that may explain it, and notes on the choice."""
    import pandas as pd

    if score not in df.columns:
        raise ValueError(f"no column {score!r} in the results")
    frame = df[pd.to_numeric(df[score], errors="coerce").notna()].copy()
    frame[score] = frame[score].astype(float)
    frame = frame[np.isfinite(frame[score])]
    for axis, level in EMPTY_LEVELS.items():
        if axis in frame.columns and frame[axis].notna().any():  # a column of old files stays empty
            frame[axis] = frame[axis].astype(object).where(frame[axis].notna(), level)
    candidates = [a for a in (axes or CANDIDATE_AXES) if a in frame.columns]
    if average_seeds:
        candidates = [a for a in candidates if a != "seed"]
    notes = []
    if {"init", "init_scale"} <= set(candidates) and frame["init"].nunique() > 1 < (
        frame["init_scale"].nunique()
    ):  # xavier and he have no scale: as two axes, most of their product could not exist
        scaled = frame["init_scale"] != EMPTY_LEVELS["init_scale"]
        frame["init"] = frame["init"].astype(str).where(
            ~scaled, frame["init"].astype(str) + " " + frame["init_scale"].astype(str)
        )
        candidates.remove("init_scale")
        notes.append("init and init_scale taken as one axis (xavier and he have no scale)")
    if average_seeds and "seed" in frame.columns and frame["seed"].nunique() > 1:
        notes.append(f"scores averaged over {frame['seed'].nunique()} seeds")
    if "fold" in frame.columns and frame["fold"].nunique() > 1:  # never an axis: a cv's folds
        notes.append(f"scores averaged over {frame['fold'].nunique()} folds (data.cv)")
    return frame, candidates, notes


def importance(
    df,
    score: str = "dev_acc",
    axes: list[str] | None = None,
    average_seeds: bool = True,
    random_state: int = 0,
    floor: float | None = None,
) -> Importance:
    """Shares of ``score``'s variance explained by each varying axis and pair of axes.

    ``df`` holds one row per configuration (e.g. the ``ok`` rows of a results file); rows
    with no finite score are left out. With ``average_seeds`` the seeds of a configuration
    are averaged first and ``seed`` is not an axis; otherwise it is one like the others.
    Rows that share every axis value (e.g. a repeated run) are averaged. A score below
    ``floor`` counts as ``floor`` (the metric's, as the figures draw it: an R² of -3e289
    would otherwise hold all the variance, and overflow it).
    """
    import pandas as pd

    if floor is not None and score in df:
        df = df.assign(**{score: pd.to_numeric(df[score], errors="coerce").clip(lower=floor)})

    frame, candidates, notes = _scored_rows(df, score, axes, average_seeds)
    if frame.empty:
        return Importance(score, [], {}, {}, {}, 0.0, 0.0, True,
                          "nothing to decompose: no row has a score", 0, 0, notes)  # fmt: skip
    varying = [a for a in candidates if frame[a].astype(str).nunique() > 1]
    levels = {a: sorted(frame[a].dropna().unique().tolist(), key=_sort_key) for a in varying}
    for a in varying:
        if frame[a].isna().any():
            raise ValueError(f"axis {a!r} has empty values")
    if not varying:
        return Importance(score, [], {}, {}, {}, 0.0, 0.0, True,
                          "nothing to decompose: no axis varies", 1, 1, notes)  # fmt: skip

    codes = np.column_stack(
        [frame[a].map({v: i for i, v in enumerate(levels[a])}).to_numpy() for a in varying]
    ).astype(int)
    cells = pd.DataFrame(codes, columns=varying).assign(_y=frame[score].to_numpy())
    cells = cells.groupby(varying, sort=False)["_y"].mean()
    shape = tuple(len(levels[a]) for a in varying)
    n_cells = int(np.prod(shape, dtype=np.int64))
    n_observed = len(cells)
    index = np.array(cells.index.tolist(), dtype=int).reshape(n_observed, len(varying))

    if n_observed == n_cells:
        tensor = np.empty(shape)
        tensor[tuple(index.T)] = cells.to_numpy()
        exact = True
        method = (
            f"exact functional ANOVA of the full grid ({n_cells} cells, each weighted "
            f"equally): variance of each axis's main effect and each pair's interaction, "
            f"as shares of the total variance of {score}"
        )
    else:
        if n_cells > MAX_CELLS:
            raise ValueError(
                f"the product of the axis values has {n_cells} cells; at most {MAX_CELLS}"
            )
        tensor = _forest_predictions(index, cells.to_numpy(), shape, random_state)
        exact = False
        method = (
            f"estimate: the grid is incomplete ({n_observed} of {n_cells} cells have a "
            f"score), so a random forest ({FOREST_TREES} trees, axes encoded by the rank of "
            f"their values) was fitted to the observed cells and the functional ANOVA "
            f"taken of its predictions over the full product of the observed values"
        )
    main_var, pair_var, total = decompose(tensor)
    main, pairs, higher = _shares(main_var, pair_var, total, varying)
    if total <= 0:
        notes.append(f"{score} is the same in every cell: nothing to explain")
    return Importance(
        score, varying, levels, main, pairs, higher, total, exact, method, n_cells,
        n_observed, notes,
    )  # fmt: skip


def _forest_predictions(index: np.ndarray, y: np.ndarray, shape: tuple, seed: int) -> np.ndarray:
    """A random forest's prediction at every cell of the grid of ``shape``."""
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(
        n_estimators=FOREST_TREES, min_samples_leaf=1, random_state=seed, n_jobs=1
    )
    forest.fit(index.astype(float), y)
    grid = np.indices(shape).reshape(len(shape), -1).T.astype(float)
    out = np.empty(len(grid))
    step = 200_000
    for start in range(0, len(grid), step):
        out[start : start + step] = forest.predict(grid[start : start + step])
    return out.reshape(shape)
