"""The linear baseline every sweep is compared with, fitted on the same train/dev split
(under ``data.cv``, on each fold, its scores the means over the folds).

Two-class problems get L2-regularised logistic regression (C = 1, intercept not penalised:
scikit-learn's ``LogisticRegression()`` objective) solved by Newton's method in NumPy, and
regression gets ordinary least squares with an intercept; neither needs scikit-learn, whose
import takes seconds. Problems with more classes use scikit-learn's multinomial model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..data import Dataset
from ..nn.plain import r2
from ..safe_read import read_regular_file

MAX_SAVED_BYTES = 64 * 2**10  # a saved baseline is a few hundred bytes
# what each task's baseline records: its model, and its scores
SCORES = {
    "classification": ("logistic regression", {"train_acc", "dev_acc"}),
    "regression": ("linear regression", {"train_r2", "dev_r2", "train_rmse", "dev_rmse"}),
}


def saved_or_fit(path: Path, folds: list[Dataset]) -> dict:
    """The baseline an earlier run on this folder saved at ``path`` (same data), or a new fit
    (:func:`fit_folds`) on ``folds``: the sweep's one split, or its folds.

    Only a saved success is kept: a failure (``{"model", "error"}``) is fitted again, so
    a cause that went away (a missing library, a fault fixed) does not stay recorded for
    ever, and so is anything that is not a baseline of this task (unreadable, another
    shape, non-finite or out-of-range scores, a FIFO or a huge file in its place).
    """
    saved = read_saved(path, folds[0].task)
    return saved if saved is not None else fit_folds(folds)


def fit_folds(folds: list[Dataset]) -> dict:
    """:func:`fit` on each split, the scores averaged over them (one split: its own)."""
    fits = [fit(ds) for ds in folds]
    failed = next((f for f in fits if "error" in f), None)
    if failed is not None or len(fits) == 1:
        return failed or fits[0]
    return {k: v if isinstance(v, str) else sum(f[k] for f in fits) / len(fits)
            for k, v in fits[0].items()}  # fmt: skip


def read_saved(path: Path, task: str) -> dict | None:
    """The successful baseline saved at ``path`` for ``task``; None when there is none."""
    try:
        value = json.loads(read_regular_file(path, MAX_SAVED_BYTES, "baseline file"))
    except (OSError, ValueError, RecursionError):  # missing, refused, not JSON, too deep
        return None
    model, scores = SCORES[task]
    if not isinstance(value, dict) or value.keys() != {"model"} | scores:
        return None  # a failure ("error"), another task's, or not a baseline at all
    if value["model"] != model:
        return None
    for key in scores:
        v = value[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        if (key.endswith("_acc") and not 0 <= v <= 100) or (key.endswith("_rmse") and v < 0):
            return None
    return value


def fit(ds: Dataset) -> dict:
    """Scores of the baseline on both splits: accuracy % (classification) or R2 / RMSE.

    Never raises: a baseline that cannot be fitted is ``{"model": ..., "error": "..."}``,
    recorded like a score, so it never stops (or blocks the rerun of) a sweep.
    """
    model = "linear regression" if ds.task == "regression" else "logistic regression"
    try:
        with np.errstate(all="ignore"):
            return _fit(ds)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, not raised
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        return {"model": model, "error": f"{type(exc).__name__}: {reason}"}


def _fit(ds: Dataset) -> dict:
    if ds.task == "regression":
        predict = _least_squares(ds.X_train, ds.y_train)
        out: dict[str, str | float] = {"model": "linear regression"}
        for split, X, y in (("train", ds.X_train, ds.y_train), ("dev", ds.X_dev, ds.y_dev)):
            out[f"{split}_r2"], out[f"{split}_rmse"] = _r2_rmse(y, predict(X))
        return out
    classes = np.unique(ds.y_train)
    if len(classes) == 2:
        predict = _binary_logistic(ds.X_train, ds.y_train == classes[1], classes)
    else:
        predict = _multinomial_logistic(ds.X_train, ds.y_train)
    train, dev = (100.0 * float(np.mean(predict(X) == y))
                  for X, y in ((ds.X_train, ds.y_train), (ds.X_dev, ds.y_dev)))  # fmt: skip
    return {"model": "logistic regression", "train_acc": train, "dev_acc": dev}


def _binary_logistic(X: np.ndarray, positive: np.ndarray, classes: np.ndarray, C: float = 1.0):
    """Minimise C * sum(log loss) + |w|^2 / 2 by damped Newton steps; return a predictor."""
    A = np.hstack([X, np.ones((len(X), 1))])  # the last weight is the intercept
    t = positive.astype(np.float64)
    penalty = np.r_[np.ones(X.shape[1]), 0.0]

    def objective(w):
        z = A @ w
        return C * float(np.sum(np.logaddexp(0.0, z) - t * z)) + 0.5 * float(penalty @ w**2)

    w = np.zeros(A.shape[1])
    value = objective(w)
    for _ in range(100):
        p = 0.5 * (1.0 + np.tanh(0.5 * (A @ w)))  # the logistic function, without overflow
        gradient = C * (A.T @ (p - t)) + penalty * w
        hessian = C * (A.T * (p * (1.0 - p))) @ A + np.diag(penalty)
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        size = 1.0
        while size > 1e-10:  # halve the step until the objective does not rise
            new_value = objective(w - size * step)
            if new_value <= value:
                break
            size /= 2
        w, value = w - size * step, new_value
        if np.max(np.abs(size * step)) <= 1e-10 * (1.0 + np.max(np.abs(w))):
            break
    return lambda X: classes[(X @ w[:-1] + w[-1] > 0).astype(np.intp)]


def _multinomial_logistic(X: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=5000).fit(X, y).predict


def _least_squares(X: np.ndarray, y: np.ndarray):
    """Least squares with an intercept (fitted on centred data); return a predictor."""
    x_mean, y_mean = X.mean(axis=0), y.mean(axis=0)
    coef = np.linalg.lstsq(X - x_mean, y - y_mean, rcond=None)[0]
    intercept = y_mean - x_mean @ coef
    return lambda X: X @ coef + intercept


def _r2_rmse(y: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """R2 averaged over targets (:func:`nn.plain.r2`, scikit-learn's rule) and RMSE."""
    Y, P = y.reshape(len(y), -1).T, predicted.reshape(len(y), -1).T  # features-first
    residual = ((Y - P) ** 2).sum(axis=1)
    return r2(Y, P), float(np.sqrt(residual.sum() / Y.size))
