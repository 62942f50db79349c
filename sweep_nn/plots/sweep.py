"""A finished sweep as the figures see it: the rows of ``results.csv``, seed means, survivors.

Nothing here draws; the figures read what a sweep wrote (``results.csv``, the parameter
files), never its memory, so they redraw in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError, ParamsError, ResultsError
from ..results import params as params_mod
from ..results import query
from ..results.query import CRITERIA
from ..results.schema import CONFIG_COPY, METRICS, Metric

if TYPE_CHECKING:
    import pandas as pd


class NotDrawn(Exception):
    """A figure that does not apply to this sweep; the message says why."""


def threshold_name(m: Metric) -> str:
    """The criterion that bounds the train score of metric ``m`` (min_acc, min_r2)."""
    return next(name for name, rule in CRITERIA.items() if rule.column == m.train)


@dataclass
class Sweep:
    """A finished sweep as the figures see it."""

    folder: Path  # where results.csv and params/ live
    name: str
    metric: Metric
    runs: pd.DataFrame  # successful rows, one per configuration, seed and fold
    rows: pd.DataFrame  # one per configuration: means over seeds and folds, *_std, survives
    criteria: query.Criteria
    left_out: int  # diverged or failed rows, not drawn
    clipped: bool  # some scores were below metric.floor

    @property
    def filtered(self) -> bool:
        return bool(self.criteria.bounds())

    @property
    def n_seeds(self) -> int:
        return int(self.rows["n_seeds"].max())

    @property
    def n_folds(self) -> int | None:
        return int(self.rows["n_folds"].max()) if "n_folds" in self.rows else None

    @property
    def averaged(self) -> str:
        """What each configuration's means are over (``2 seeds x 5 folds``); empty: one run."""
        return query.averaged_over(self.n_seeds, self.n_folds)

    @property
    def hit(self) -> np.ndarray:
        """The configurations drawn highlighted: the survivors, or all when no filter is set."""
        if not self.filtered:
            return np.ones(len(self.rows), dtype=bool)
        return self.rows["survives"].to_numpy(dtype=bool)

    @property
    def none_pass(self) -> bool:
        return self.filtered and not self.rows["survives"].any()

    @property
    def pool(self) -> pd.DataFrame:
        """The filter's survivors if there are any, else every configuration."""
        kept = self.rows[self.rows["survives"]]
        return kept if self.filtered and len(kept) else self.rows

    @property
    def threshold(self) -> float | None:
        return getattr(self.criteria, threshold_name(self.metric))

    def subtitle(self) -> str:
        n = len(self.rows)
        text = f"sweep {self.name!r}: {n} configuration{'s' if n != 1 else ''}"
        if self.averaged:
            text += f", mean of {self.averaged}"
        if self.left_out:
            text += f" ({self.left_out} diverged or failed rows not shown)"
        if self.filtered:
            passing = int(self.rows["survives"].sum())
            text += f"\nfilter {self.criteria.describe()}: "
            text += f"{passing} pass" if passing else "nothing passes the filter"
        return text

    def score_label(self, split: str = "") -> str:
        floor = self.metric.floor
        clip = f", below {floor:g} drawn at {floor:g}" if self.clipped else ""
        return self.metric.label(split) + clip


@dataclass
class PlotReport:
    """What ``plot_sweep`` did: files written and figures left out (with the reason)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def load_sweep(results_path: Path, criteria: query.Criteria, all_rows: bool = False) -> Sweep:
    """Read a results file into what the figures need; survivors of ``criteria`` marked.

    The rows of the folder's current grid, as ``filter`` shows them (every row with
    ``all_rows``; see :func:`results.query.select`).
    """
    df = query.select(results_path, criteria, all_rows).rows
    runs = df[df["status"] == "ok"].reset_index(drop=True)
    if runs.empty:
        raise ResultsError(f"{results_path}: no successful configurations to plot")
    task = "classification" if runs["train_acc"].notna().any() else "regression"
    metric = METRICS[task]
    rows = query.aggregate(runs)
    kept = query.filter_results(rows, criteria, include_failed=True)
    rows["survives"] = rows.index.isin(kept.index)
    clipped = bool((rows[[metric.train, metric.dev]] < metric.floor).any().any())
    for col in (metric.train, metric.dev):
        rows[col] = rows[col].clip(lower=metric.floor)
    folder = results_path.parent
    return Sweep(
        folder,
        sweep_name(folder),
        metric,
        runs,
        rows,
        criteria,
        left_out=len(df) - len(runs),
        clipped=clipped,
    )


def sweep_name(folder: Path) -> str:
    """The name in the sweep's config copy, or the folder's name when there is no usable copy."""
    from .. import config

    try:
        return config.load(folder / CONFIG_COPY).name
    except ConfigError:
        return folder.resolve().name


def loss_curve(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(iterations, loss) recorded in a parameters file, finite values only."""
    try:
        curve = params_mod.load_params(path).get("loss_curve")
    except ParamsError:
        return None
    if not curve or not curve.get("iterations"):
        return None
    it, loss = np.asarray(curve["iterations"], float), np.asarray(curve["loss"], float)
    keep = np.isfinite(loss)
    return it[keep], loss[keep]


def data_spec(s: Sweep) -> tuple[dict, str]:
    """The data settings and task of the first readable parameters file."""
    for path in s.runs["params_path"].dropna():
        try:
            p = params_mod.load_params(s.folder / path)
        except ParamsError:
            continue
        if p.get("data"):
            return p["data"], p.get("task", "auto")
    raise NotDrawn("no readable parameters file holds the data settings")
