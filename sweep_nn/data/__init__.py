"""Datasets: generate or read them, split train/dev, scale, encode targets for the network.

Built once, in the parent process. scikit-learn and pandas are imported inside the
functions that need them so that importing this module (and the workers) stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .csvfile import MAX_CSV_BYTES, feature_names, read_csv, read_csv_data, read_features
from .datasets import COMMON_KEYS, DATASETS, DatasetKind, make_moons, split_indices
from .folds import split_rows

__all__ = [  # the table and readers, from their modules; the rest is defined here
    "COMMON_KEYS", "DATASETS", "MAX_CSV_BYTES", "DatasetKind", "feature_names", "make_moons",
    "read_csv", "read_csv_data", "read_features", "split_indices", "split_rows",
]  # fmt: skip

# --- the dataset as the sweep sees it ------------------------------------------------------


@dataclass
class Dataset:
    """Train and dev splits, samples first, with what is needed to encode and rebuild them."""

    X_train: np.ndarray  # (m_train, n_features), scaled if the spec asks
    y_train: np.ndarray  # (m_train,) labels, or (m_train,) / (m_train, k) regression targets
    X_dev: np.ndarray
    y_dev: np.ndarray
    task: str  # "classification" or "regression"
    classes: list | None  # sorted class labels (classification)
    scaler: dict | None  # {"mean": (n,), "scale": (n,)} from the training split
    sha256: str | None = None  # csv: the digest of the bytes read (parameters files record it)


def infer_task(y: np.ndarray, task: str) -> str:
    """The task a target calls for: as asked, or regression for a continuous numeric target."""
    if task != "auto":
        return task
    if y.dtype.kind in "fc" and (y.ndim > 1 or not np.all(np.mod(y, 1) == 0)):
        return "regression"
    return "classification"


def build_raw(spec, n_samples: int | None = None, random_state: int | None = None):
    """Generate or read the whole dataset for ``spec`` (a DataConfig): (X, y)."""
    kind = DATASETS[spec.dataset]
    n = spec.n_samples if n_samples is None else n_samples
    seed = spec.random_state if random_state is None else random_state
    X, y = kind.build(spec, n, seed)
    return np.asarray(X, dtype=np.float64), np.asarray(y)


def draw_fresh(spec, n_samples: int, random_state: int, noise: float | None = None):
    """New samples of the problem the training ``spec`` describes, with another seed: (X, y).

    ``noise`` replaces the training noise (moons, circles, regression). Raises DataError
    for a dataset that cannot draw fresh samples (see :data:`DATASETS`).
    """
    kind = DATASETS[spec.dataset]
    if kind.fresh is None:
        raise DataError(f"dataset {spec.dataset!r} cannot draw fresh samples")
    random_state %= 2**32  # the seed after the largest (eval's default: training's + 1) wraps to 0
    X, y = kind.fresh(spec, n_samples, random_state, spec.noise if noise is None else noise)
    return np.asarray(X, dtype=np.float64), np.asarray(y)


def _rows(spec, y: np.ndarray, task: str, fold: int | None):
    """The (training rows, dev rows) of the split every command shares, or of ``fold``."""
    if (fold is None) != (spec.cv is None):
        raise ValueError("a fold is given exactly when the data is cross-validated (data.cv)")
    return split_rows(spec, y, task)[fold or 0]


def dev_split(spec, task: str = "auto", fold: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The dev split a sweep on ``spec`` held out (under ``data.cv``, that of ``fold``),
    rebuilt and unscaled: (X_dev, y_dev)."""
    X, y = build_raw(spec)
    _, dev = _rows(spec, y, infer_task(y, task), fold)
    return X[dev], y[dev]


def load(spec, task: str = "auto", fold: int | None = None) -> Dataset:
    """Build the dataset for ``spec``, split it and fit the scaler on the training split.

    Under ``data.cv``, the split is that of ``fold`` (see :func:`load_folds`)."""
    X, y, task, digest = _read(spec, task)
    return _dataset(spec, X, y, task, digest, *_rows(spec, y, task, fold))


def load_folds(spec, task: str = "auto") -> list[Dataset]:
    """The datasets a sweep on ``spec`` trains on: its one split, or one per fold of
    ``data.cv`` (each scaled with the statistics of its own training rows). Built once."""
    X, y, task, digest = _read(spec, task)
    return [_dataset(spec, X, y, task, digest, *rows) for rows in split_rows(spec, y, task)]


def _read(spec, task: str):
    """The whole dataset, checked: (X, y, the task it is, the CSV's digest or None)."""
    digest = None
    if spec.dataset == "csv":  # read once: the digest is of the very bytes trained on
        X, y, _, digest = read_csv_data(Path(spec.path), spec.target, sha256=spec.sha256)
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    else:
        X, y = build_raw(spec)
    task = infer_task(y, task)
    if task == "classification" and y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        raise DataError("task is classification but the target holds non-integer numbers")
    if task == "regression" and y.dtype.kind not in "iufb":
        raise DataError("task is regression but the target is not numeric")
    check_finite(X, y, task)
    return X, y, task, digest


def _dataset(spec, X, y, task: str, digest: str | None, train, dev) -> Dataset:
    """The split of ``X, y`` into the given rows, scaled by its training rows if asked."""
    X_train, X_dev, y_train, y_dev = X[train], X[dev], y[train], y[dev]
    classes = None
    if task == "classification":
        classes = np.unique(y).tolist()
        if len(classes) < 2:
            raise DataError(f"the target has a single class ({classes[0]!r}); need at least two")
        check_training_classes(y_train, len(y))
    scaler = None
    if spec.scale == "standard":
        scale = X_train.std(axis=0)
        scaler = {"mean": X_train.mean(axis=0), "scale": np.where(scale > 0, scale, 1.0)}
        X_train, X_dev = apply_scaler(scaler, X_train), apply_scaler(scaler, X_dev)
    return Dataset(X_train, y_train, X_dev, y_dev, task, classes, scaler, digest)


def check_finite(X: np.ndarray, y: np.ndarray, task: str) -> None:
    """Raise DataError naming the first sample (row 1 = the first) whose values are inf or nan."""
    for what, values in (("features", X), ("target", y)):
        if what == "target" and (task != "regression" and values.dtype.kind not in "fc"):
            continue  # text or integer labels cannot be non-finite
        flat = values.reshape(len(values), -1).astype(np.float64, copy=False)
        bad = ~np.isfinite(flat).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            first = ", ".join(str(r + 1) for r in rows[:5])
            raise DataError(
                f"the {what} hold inf or nan in {len(rows)} sample(s) (row(s) {first}"
                f"{', ...' if len(rows) > 5 else ''}; for a CSV, row 1 is the line after the "
                "header); remove or fill them"
            )


def check_training_classes(y_train: np.ndarray, n: int) -> None:
    """Raise DataError unless the training split holds at least two classes."""
    present = np.unique(y_train)
    if len(present) < 2:
        raise DataError(
            f"the training split ({len(y_train)} of {n} samples) holds a single class "
            f"({_plain(present[0])!r}); a classifier needs at least two: use more samples, "
            "another split_random_state or a smaller dev_size"
        )


def apply_scaler(scaler: dict | None, X: np.ndarray) -> np.ndarray:
    """Standardise ``X`` (m, n) with stored training statistics (no-op without a scaler)."""
    if scaler is None:
        return X
    return (X - scaler["mean"]) / scaler["scale"]


def encode_targets(y: np.ndarray, task: str, classes: list | None, output: str):
    """Targets for the network, features-first: Y (n_out, m) and class indices (m,) or None.

    Binary sigmoid output: one row of 0/1. Softmax: one-hot rows. Regression: one row per
    target. Labels not in ``classes`` raise :class:`DataError`.
    """
    if task == "regression":
        Y = np.asarray(y, dtype=np.float64)
        return np.atleast_2d(Y.T if Y.ndim > 1 else Y).copy(), None
    classes = class_labels(classes)
    lookup = {c: i for i, c in enumerate(classes)}
    try:
        idx = np.array([lookup[_plain(v)] for v in y], dtype=np.intp)
    except KeyError as exc:
        raise DataError(
            f"label {exc.args[0]!r} was not among the training classes {classes}"
        ) from None
    if output == "sigmoid":
        return idx[None, :].astype(np.float64), idx
    Y = np.zeros((len(classes), len(idx)))
    Y[idx, np.arange(len(idx))] = 1.0
    return Y, idx


def class_labels(classes: list | None) -> list:
    """``classes``, the labels of a classification target; ValueError for None (regression)."""
    if classes is None:
        raise ValueError("a classification target needs its class labels")
    return classes


def _plain(v):
    """A NumPy scalar as the equivalent Python value, so labels compare across sources."""
    return v.item() if isinstance(v, np.generic) else v


@dataclass
class TrainingData:
    """Encoded train and dev sets, features-first, float64 (as the network sees them)."""

    X_train: np.ndarray  # (n_in, m_train)
    Y_train: np.ndarray  # (n_out, m_train)
    X_dev: np.ndarray  # (n_in, m_dev)
    Y_dev: np.ndarray  # (n_out, m_dev)
    labels_train: np.ndarray | None  # (m_train,) class indices; None for regression
    labels_dev: np.ndarray | None
    task: str  # "classification" or "regression"
    # what a sweep's parameters file of this split carries besides its network and config
    # (results.params.params_payload); None: results keep their parameters as arrays
    params_meta: dict | None = None


# what a sweep's workers train on: the one split, or one TrainingData per fold (data.cv)
Training = TrainingData | tuple[TrainingData, ...]


def for_fold(data: Training, fold: int | None) -> TrainingData:
    """The training data of ``fold`` (None: the one split)."""
    if isinstance(data, TrainingData):
        if fold is not None:
            raise ValueError(f"fold {fold} asked of data that has no folds")
        return data
    if fold is None:
        raise ValueError("cross-validated data: a job needs its fold")
    return data[fold]


def n_train_of(data: Training) -> int:
    """Training examples of one split (folds differ by one at most): for cost estimates."""
    return (data if isinstance(data, TrainingData) else data[0]).X_train.shape[1]


def to_training(ds: Dataset, output: str, params_meta: dict | None = None) -> TrainingData:
    """Encode a :class:`Dataset` for the network (features-first arrays); ``params_meta``:
    see :class:`TrainingData`."""
    Y_train, labels_train = encode_targets(ds.y_train, ds.task, ds.classes, output)
    Y_dev, labels_dev = encode_targets(ds.y_dev, ds.task, ds.classes, output)
    return TrainingData(
        X_train=np.ascontiguousarray(ds.X_train.T),
        Y_train=Y_train,
        X_dev=np.ascontiguousarray(ds.X_dev.T),
        Y_dev=Y_dev,
        labels_train=labels_train,
        labels_dev=labels_dev,
        task=ds.task,
        params_meta=params_meta,
    )


def resolve_output(ds: Dataset, requested: str) -> str:
    """The output layer for a dataset: as requested, or chosen by task and class count."""
    if ds.task == "regression":
        if requested not in ("auto", "linear"):
            raise DataError(
                f"train.output {requested!r} cannot fit a regression target; use linear"
            )
        return "linear"
    if requested == "linear":
        raise DataError("train.output 'linear' is for regression; this target has classes")
    n_classes = len(class_labels(ds.classes))
    if requested == "sigmoid" and n_classes > 2:
        raise DataError(f"train.output 'sigmoid' needs two classes; this target has {n_classes}")
    if requested == "auto":
        return "sigmoid" if n_classes == 2 else "softmax"
    return requested
