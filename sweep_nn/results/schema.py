"""The results schema, defined once: the grid's axes, a row's columns and types, the metrics.

The writer, the reader, resume, filter, aggregate, plots and the report all take their
column names from here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

RESULTS_FILE = "results.csv"
PARAMS_DIR = "params"
CONFIG_COPY = "config.yaml"  # the resolved configuration the results came from
BASELINE_FILE = "baseline.json"

# the axes of a grid and the fold, in the order of a row's columns (a parameters file's
# config holds them)
AXES = ("hidden_size", "activation", "learning_rate", "iterations", "batch_size", "seed", "init",
        "init_scale", "fold")  # fmt: skip
# what tells configurations apart once their seeds and folds are averaged (aggregate, plots,
# halving's rank, the best configuration): every axis but those two, and the dtype
SEED_AXES = ("hidden_size", "activation", "learning_rate", "iterations", "batch_size", "init",
             "init_scale", "dtype")  # fmt: skip
STATUSES = ("ok", "diverged", "failed")
DONE_STATUSES = ("ok", "diverged")  # deterministic outcomes: not rerun on resume


@dataclass
class Row:
    """One line of ``results.csv``: a configuration trained to one budget."""

    config_id: str  # readable id, e.g. h3-tanh-lr0.6-it10000
    hidden_size: int
    activation: str
    learning_rate: float
    iterations: int
    batch_size: int | str  # "full" or a number of samples
    seed: int
    init: str | None = None  # weight initialisation (None: a row from before the column)
    init_scale: float | None = None  # init normal's scale; None for an init without one
    fold: int | None = None  # the fold of data.cv whose held-out part is the dev set; None: no cv
    train_acc: float | None = None  # percent (classification)
    dev_acc: float | None = None
    gap: float | None = None  # train score - dev score
    train_loss: float | None = None
    dev_loss: float | None = None
    train_r2: float | None = None  # regression
    dev_r2: float | None = None
    train_rmse: float | None = None
    dev_rmse: float | None = None
    fit_seconds: float = 0.0  # training time up to this budget (a stack's share of it)
    status: str = "ok"  # one of STATUSES
    diverged_at: int | None = None  # iteration where divergence was detected
    error: str | None = None  # a failure's message
    dtype: str = "float64"
    key: str = ""  # identity of configuration + data + training settings (resume's key)
    params_path: str | None = None  # relative to the results file's folder
    stack_size: int = 1  # configurations trained together (1: alone)

    def values(self) -> dict:
        """Column -> value (every value is a plain number, string or None: no deep copy)."""
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS = [f.name for f in dataclasses.fields(Row)]
# columns added since the first results files, oldest first, with the value a row of a file
# written before them gets; such a file is read, and brought up to date when a run resumes it
ADDED_COLUMNS: tuple[dict, ...] = (
    {"stack_size": 1},
    {"init": None, "init_scale": None, "fold": None},
)
EARLIER_HEADERS: dict[tuple[str, ...], dict] = {  # header -> values of the columns it lacks
    tuple(c for c in COLUMNS if c not in missing): missing
    for missing in (
        {k: v for added in ADDED_COLUMNS[g:] for k, v in added.items()}
        for g in range(len(ADDED_COLUMNS))
    )
}
INT_COLUMNS = frozenset(
    f.name for f in dataclasses.fields(Row) if f.type in ("int", "int | None")
)
FLOAT_COLUMNS = frozenset(
    f.name for f in dataclasses.fields(Row) if f.type in ("float", "float | None")
)


class Metric(NamedTuple):
    """How a task is scored: the ``nn.plain.score`` key, its columns, and how to show it."""

    key: str  # "acc" or "r2": columns train_<key>, dev_<key>
    name: str  # for people: "accuracy", "R²"
    public: str  # in eval's result and JSON: "accuracy", "r2"
    unit: str  # "%" or ""
    fmt: str  # format spec for one value
    floor: float  # figures draw lower scores at the floor (R² has no lower bound)

    @property
    def train(self) -> str:
        return f"train_{self.key}"

    @property
    def dev(self) -> str:
        return f"dev_{self.key}"

    def label(self, split: str = "") -> str:
        return f"{split} {self.name}".strip() + (f" ({self.unit})" if self.unit else "")

    def show(self, value: float) -> str:
        return f"{value:{self.fmt}}{self.unit}"


METRICS = {
    "classification": Metric("acc", "accuracy", "accuracy", "%", ".2f", 0.0),
    "regression": Metric("r2", "R²", "r2", "", ".4f", -1.0),
}
# every score column a row may carry, besides the main metric: per split, by score key
SCORE_KEYS = {"classification": ("acc", "loss"), "regression": ("r2", "rmse", "loss")}
METRIC_COLUMNS = (  # the columns that aggregate averages over seeds and folds, in this order
    "train_acc", "dev_acc", "train_r2", "dev_r2", "train_rmse", "dev_rmse",
    "gap", "train_loss", "dev_loss", "fit_seconds",
)  # fmt: skip


def score_columns(task: str, train: dict[str, float], dev: dict[str, float]) -> dict:
    """A row's metric columns from :func:`nn.plain.score` of each split, gap included."""
    splits = (("train", train), ("dev", dev))
    cols = {f"{split}_{k}": m[k] for k in SCORE_KEYS[task] for split, m in splits}
    key = METRICS[task].key
    cols["gap"] = train[key] - dev[key]
    return cols
