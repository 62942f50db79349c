"""Which rows train and which are held out: the one train/dev split, or k folds (``data.cv``).

Under cross-validation the data is cut into ``cv`` parts, shuffled with the data section's
``split_random_state``: stratified by class for classification (scikit-learn's
``StratifiedKFold``), plain for regression (``KFold``). Fold ``i`` holds out part ``i``
as its dev set and trains on the rest, so the dev sets are disjoint and together are the
whole data.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .datasets import split_indices

Rows = tuple[np.ndarray, np.ndarray]  # (training rows, dev rows), as indices into the data


def split_rows(spec, y: np.ndarray, task: str) -> list[Rows]:
    """Every split a sweep on ``spec`` trains on: one, or (``data.cv``) one per fold."""
    if spec.cv is None:
        return [split_indices(len(y), spec.dev_size, spec.split_random_state)]
    return fold_rows(y, spec.cv, spec.split_random_state, task)


def fold_rows(y: np.ndarray, k: int, seed: int, task: str) -> list[Rows]:
    """The ``k`` folds of targets ``y``, shuffled with ``seed`` (stratified for classification).

    Raises DataError naming ``data.cv`` when the data cannot be cut into ``k`` folds.
    """
    check_folds(y, k, task)
    from sklearn.model_selection import KFold, StratifiedKFold

    placeholder = np.zeros((len(y), 1))  # the folds depend on the targets and the seed only
    if task == "classification":
        folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(placeholder, y)
    else:
        folds = KFold(n_splits=k, shuffle=True, random_state=seed).split(placeholder)
    return [(train, dev) for train, dev in folds]


def check_folds(y: np.ndarray, k: int, task: str) -> None:
    """Raise DataError unless every fold can hold out samples (of every class, stratified)."""
    if len(y) < k:
        raise DataError(f"data.cv: {k} folds need at least {k} samples; the data has {len(y)}")
    if task != "classification":
        return
    labels, counts = np.unique(y, return_counts=True)
    least = int(counts.argmin())
    if counts[least] < k:
        n = int(counts[least])
        label = labels[least].item() if isinstance(labels[least], np.generic) else labels[least]
        hint = f"use cv: {n} or fewer" if n >= 2 else "that class needs more samples"
        raise DataError(
            f"data.cv: {k} stratified folds need at least {k} samples of every class (each "
            f"fold holds out some of each), but class {label!r} has {n}; {hint}"
        )
