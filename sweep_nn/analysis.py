"""Questions asked of finished results: filter, aggregate over seeds, Pareto front, evaluate.

Everything here reads files (results CSV, parameter files), never a sweep's memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data as data_mod
from . import network, store
from .errors import DataError, ParamsError, UsageError

SEED_AXES = ["hidden_size", "activation", "learning_rate", "iterations", "batch_size", "dtype"]


@dataclass(frozen=True)
class Criteria:
    """The filter's conditions; None means "no condition"."""

    min_acc: float | None = None  # train accuracy >= (percent), as the study selected
    max_gap: float | None = None  # |train - dev| <= (points of accuracy, or of R2)
    max_time: float | None = None  # fit_seconds <=
    min_r2: float | None = None  # train R2 >= (regression)
    min_dev_acc: float | None = None  # dev accuracy >=
    min_dev_r2: float | None = None  # dev R2 >=


def aggregate(df):
    """Group rows that differ only in seed: ``n_seeds`` and mean / std of each metric.

    The mean columns keep their names (``train_acc`` is then the mean over seeds) so the
    same criteria and sorting apply; ``*_std`` columns hold the standard deviations.
    """
    import pandas as pd

    # every metric column stays, empty ones too, so the table has the shape of the rows';
    # the mean of the gaps is the gap of the means, in accuracy or in R2
    metrics = [
        c
        for c in (
            "train_acc",
            "dev_acc",
            "train_r2",
            "dev_r2",
            "train_rmse",
            "dev_rmse",
            "gap",
            "train_loss",
            "dev_loss",
            "fit_seconds",
        )
        if c in df
    ]
    if df.empty:
        return df.assign(n_seeds=pd.Series(dtype=int))
    grouped = df.groupby(SEED_AXES, dropna=False, sort=False)
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
    if not include_failed:
        df = df[df["status"] == "ok"]
    if aggregate_seeds:
        df = aggregate(df)
    keep = np.ones(len(df), dtype=bool)
    conditions = [
        ("min_acc", "train_acc", lambda col, v: col >= v),
        ("min_dev_acc", "dev_acc", lambda col, v: col >= v),
        ("min_r2", "train_r2", lambda col, v: col >= v),
        ("min_dev_r2", "dev_r2", lambda col, v: col >= v),
        ("max_gap", "gap", lambda col, v: col.abs() <= v),
        ("max_time", "fit_seconds", lambda col, v: col <= v),
    ]
    for name, column, test in conditions:
        value = getattr(criteria, name)
        if value is not None:
            keep &= test(df[column], value).fillna(False).to_numpy()
    df = df[keep]
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


# --- evaluation ------------------------------------------------------------------------------

STUDY_DATA = {"dataset": "moons", "n_samples": 2000, "noise": 0.25, "random_state": 0}


@dataclass
class Model:
    """A network rebuilt from a parameters file, with what it needs to read new data."""

    params: network.Params
    activation: str
    output: str
    task: str
    classes: list | None
    scaler: dict | None
    data: dict  # the training data spec
    source: str  # "sweep-nn" or "study"
    features: list[str] | None = None  # CSV feature column names, in training order

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Scale ``X`` (m, n) as in training and lay it out features-first."""
        n_in = self.params["W1"].shape[1]
        if X.shape[1] != n_in:
            raise DataError(f"the network takes {n_in} input features; the data has {X.shape[1]}")
        return np.ascontiguousarray(data_mod.apply_scaler(self.scaler, X).T)


def load_model(path: Path, activation: str | None = None) -> Model:
    """Rebuild a network from sweep-nn's parameters file or the study's plain dict."""
    p = store.load_params(path)
    weights = {k: np.asarray(p[k]) for k in ("W1", "b1", "W2", "b2")}
    if p.get("format") == store.PARAMS_FORMAT:
        saved = p["config"]["activation"]
        if activation is not None and activation != saved:
            raise UsageError(f"--activation {activation}: {path} was trained with {saved}")
        try:
            return Model(
                weights,
                saved,
                p["train"]["output"],
                p["task"],
                p["classes"],
                p["scaler"],
                p["data"],
                "sweep-nn",
                p.get("features"),
            )
        except (KeyError, TypeError) as exc:
            raise ParamsError(
                f"{path}: incomplete sweep-nn parameters file (missing {exc})"
            ) from None
    if activation is None:
        raise UsageError(
            f"{path} has weights only (no configuration); say how it was trained with "
            f"--activation ({', '.join(network.ACTIVATIONS)})"
        )
    if weights["W2"].shape[0] != 1:
        raise ParamsError(f"{path}: a weights-only file must have one output unit (sigmoid)")
    return Model(
        weights, activation, "sigmoid", "classification", [0, 1], None, STUDY_DATA, "study"
    )


def evaluate(model: Model, X: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy (or R2 / RMSE) and loss of ``model`` on samples-first ``X`` (m, n), ``y``."""
    from .train import score

    Xf = model.prepare(X)
    Y, labels = data_mod.encode_targets(y, model.task, model.classes, model.output)
    if Y.shape[0] != model.params["W2"].shape[0]:
        raise DataError(
            f"the network has {model.params['W2'].shape[0]} outputs; the data has {Y.shape[0]}"
        )
    with np.errstate(all="ignore"):
        m = score(
            model.params,
            Xf.astype(model.params["W1"].dtype),
            Y,
            labels,
            model.activation,
            model.output,
        )
    out = {"accuracy": m["acc"]} if "acc" in m else {"r2": m["r2"], "rmse": m["rmse"]}
    return {**out, "loss": m["loss"], "n_samples": len(X)}


def data_config(spec: dict, **overrides):
    """The DataConfig of a parameters file's data spec (keys its dataset does not use dropped)."""
    from .config import DataConfig

    kind = data_mod.DATASETS.get(spec.get("dataset"))
    if kind is None:
        raise ParamsError(f"the parameters file names an unknown dataset {spec.get('dataset')!r}")
    allowed = kind.keys | data_mod.COMMON_KEYS
    clean = {k: v for k, v in spec.items() if v is not None and k in allowed} | overrides
    try:
        return DataConfig.model_validate(clean, strict=False)
    except ValueError as exc:
        raise ParamsError(f"the parameters file's data settings are invalid: {exc}") from None


def fresh_data(model: Model, n_samples: int, seed: int | None, noise: float | None):
    """New samples of the problem the model was trained on (another seed by default).

    Returns (X, y, seed used). Raises UsageError for a dataset that cannot draw them.
    """
    name = model.data.get("dataset")
    kind = data_mod.DATASETS.get(name)
    if kind is None or kind.fresh is None:
        raise UsageError(
            f"dataset {name!r} cannot draw fresh samples; evaluate on a file with --data FILE.csv"
        )
    if noise is not None and "noise" not in kind.keys:
        raise UsageError(f"--noise does not apply to dataset {name!r}")
    cfg = data_config(model.data)
    seed = cfg.random_state + 1 if seed is None else seed
    X, y = data_mod.draw_fresh(cfg, n_samples, seed, noise)
    return X, y, seed


def eval_inputs(
    model: Model,
    data: Path | None = None,
    n_samples: int = 500,
    seed: int | None = None,
    noise: float | None = None,
):
    """The samples ``eval`` scores: (X, y, a description of them).

    A CSV file when ``data`` is given (feature columns matched by name when the model was
    trained on a CSV, by position otherwise); else :func:`eval_data`.
    """
    if n_samples < 1:
        raise UsageError(f"--n-samples / n_samples must be >= 1; got {n_samples}")
    if data is None:
        return eval_data(model, n_samples, seed, noise)
    target = model.data.get("target") if model.data.get("dataset") == "csv" else None
    X, y, _ = data_mod.read_csv(Path(data), target, model.features)
    return X, y, str(data)


def eval_data(model: Model, n_samples: int, seed: int | None, noise: float | None):
    """What ``eval`` measures on when given no file: (X, y, a description of the samples).

    Fresh samples when the dataset can draw them (moons, circles, gaussian_quantiles,
    blobs, regression); otherwise (real datasets, csv, classification) the dev split the
    sweep held out, rebuilt from the data settings in the parameters file, so the result
    repeats the dev score in results.csv.
    """
    name = model.data.get("dataset")
    kind = data_mod.DATASETS.get(name)
    if kind is not None and kind.fresh is not None:
        X, y, used = fresh_data(model, n_samples, seed, noise)
        return X, y, f"{name}, {len(X)} fresh samples, seed {used}"
    for option, value in (("--seed", seed), ("--noise", noise)):
        if value is not None:
            raise UsageError(
                f"{option} does not apply: dataset {name!r} cannot draw fresh samples, so eval "
                "uses the sweep's dev split (or give --data FILE.csv)"
            )
    X, y = data_mod.dev_split(data_config(model.data))
    return X, y, f"{name}: the dev split held out by the sweep, rebuilt from its data settings"
