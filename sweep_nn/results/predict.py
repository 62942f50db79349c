"""Predictions of a trained network for new rows: what ``sweep-nn predict`` writes.

The network is rebuilt from its parameters file (:func:`.evaluate.load_model`) and applied
with the plain maths of :func:`sweep_nn.nn.plain.predict`: a class label per row for a
classifier, a value per target for a regression.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import data as data_mod
from ..nn import plain
from .evaluate import Model

PREDICTION = "prediction"


def predict(model: Model, X: np.ndarray) -> np.ndarray:
    """Predictions for samples-first ``X`` (m, n): labels (m,), or values (m, targets)."""
    Xf = model.prepare(np.asarray(X, dtype=np.float64)).astype(model.params["W1"].dtype)
    with np.errstate(all="ignore"):
        out = plain.predict(model.params, Xf, model.activation, model.output)
    if model.task == "classification":
        classes = list(model.classes or [])
        labels = np.array(classes + [None], dtype=object)[:-1]  # object array: labels as saved
        return labels[out]
    return np.asarray(out, dtype=np.float64).T


def _free(name: str, taken) -> str:
    """``name``, or ``name_2``, ``name_3``, ... when the input already has such a column."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def predict_csv(model: Model, path: Path):
    """The rows of the CSV at ``path`` with the network's predictions added as columns.

    ``prediction`` (a class label or the one target's value), or ``prediction_1``,
    ``prediction_2``, ... for several targets. Raises DataError for columns that do not
    fit the network or values that are not finite numbers.
    """
    frame, X = data_mod.read_features(Path(path), model.features, model.params["W1"].shape[1])
    predicted = predict(model, X)
    out = frame.copy()
    if predicted.ndim == 1 or predicted.shape[1] == 1:
        out[_free(PREDICTION, out.columns)] = predicted.reshape(len(out), -1)[:, 0]
        return out
    for k in range(predicted.shape[1]):
        out[_free(f"{PREDICTION}_{k + 1}", out.columns)] = predicted[:, k]
    return out
