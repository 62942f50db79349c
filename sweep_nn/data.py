"""Datasets: generate or read them, split train/dev, scale, encode targets for the network.

Built once, in the parent process. scikit-learn and pandas are imported inside the
functions that need them so that importing this module (and the workers) stays cheap.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .errors import DataError
from .safe_read import ReadRefused, read_regular_file

# --- the dataset table ---------------------------------------------------------------------
# Each entry: the builder, the `data:` keys it takes besides the common ones, and how it
# draws fresh samples of the same problem (for `eval`), if it can.


def make_moons(n_samples: int, noise: float, random_state: int):
    """Two interleaved half circles with Gaussian noise: (X (n, 2), y (n,)).

    The same draws as ``sklearn.datasets.make_moons`` for the same arguments (a test
    checks it), written in NumPy so that a sweep on moons starts without importing
    scikit-learn, which costs seconds.
    """
    rng = np.random.RandomState(random_state)
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n_lower)
    X = np.empty((n_samples, 2))
    X[:n_upper, 0], X[:n_upper, 1] = np.cos(t_upper), np.sin(t_upper)
    X[n_upper:, 0] = 1.0 - np.cos(t_lower)
    X[n_upper:, 1] = 1.0 - np.sin(t_lower) - 0.5  # in this order: the rounding matters
    y = np.repeat(np.array([0, 1], dtype=np.intp), [n_upper, n_lower])
    order = np.arange(n_samples)
    rng.shuffle(order)
    X, y = X[order], y[order]
    X += rng.normal(scale=noise, size=X.shape)
    return X, y


def split_indices(n: int, dev_size: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and dev row indices: the same split as scikit-learn's ``train_test_split``.

    A permutation drawn from ``RandomState(random_state)``; its first ceil(dev_size * n)
    entries are the dev rows, the rest the training rows.
    """
    n_dev = int(np.ceil(dev_size * n))
    if n_dev < 1 or n_dev >= n:
        raise DataError(f"dev_size {dev_size} leaves no training or no dev rows of {n}")
    order = np.random.RandomState(random_state).permutation(n)
    return order[n_dev:], order[:n_dev]


def _moons(spec, n_samples, random_state):
    return make_moons(n_samples, spec.noise, random_state)


def _circles(spec, n_samples, random_state):
    from sklearn.datasets import make_circles

    factor = 0.5 if spec.factor is None else spec.factor
    return make_circles(
        n_samples=n_samples, noise=spec.noise, factor=factor, random_state=random_state
    )


def _gaussian_quantiles(spec, n_samples, random_state):
    from sklearn.datasets import make_gaussian_quantiles

    return make_gaussian_quantiles(
        n_samples=n_samples,
        n_features=spec.n_features or 2,
        n_classes=spec.n_classes or 2,
        random_state=random_state,
    )


def _blobs_args(spec) -> dict:
    return {
        "n_features": spec.n_features or 2,
        "centers": spec.centers or 3,
        "cluster_std": 1.0 if spec.cluster_std is None else spec.cluster_std,
    }


def _blobs(spec, n_samples, random_state):
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=n_samples, random_state=random_state, **_blobs_args(spec))


def _blobs_fresh(spec, n_samples, random_state, noise):
    # The centres are drawn from the training seed: keep them, draw new points around them.
    from sklearn.datasets import make_blobs

    args = _blobs_args(spec)
    _, _, centers = make_blobs(
        n_samples=spec.n_samples, random_state=spec.random_state, return_centers=True, **args
    )
    return make_blobs(
        n_samples=n_samples,
        centers=centers,
        cluster_std=args["cluster_std"],
        random_state=random_state,
    )


def _classification(spec, n_samples, random_state):
    from sklearn.datasets import make_classification

    n_features = spec.n_features or 20
    n_informative = spec.n_informative or min(n_features, 2)
    return make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=0,
        n_classes=spec.n_classes or 2,
        random_state=random_state,
    )


def _regression_args(spec) -> dict:
    n_features = spec.n_features or 10
    return {
        "n_features": n_features,
        "n_informative": spec.n_informative or n_features,
        "n_targets": spec.n_targets or 1,
        "noise": spec.noise,
    }


def _regression(spec, n_samples, random_state):
    from sklearn.datasets import make_regression

    return make_regression(n_samples=n_samples, random_state=random_state, **_regression_args(spec))


def _regression_fresh(spec, n_samples, random_state, noise):
    # The coefficients come from the training seed (drawn after X, so they also depend on
    # n_samples, and their feature order on whether noise > 0): rebuild them from the
    # training settings, then draw new standard-normal inputs and noise.
    from sklearn.datasets import make_regression

    args = _regression_args(spec)
    _, _, coef = make_regression(
        n_samples=spec.n_samples, random_state=spec.random_state, coef=True, **args
    )
    rng = np.random.RandomState(random_state)
    X = rng.standard_normal((n_samples, args["n_features"]))
    y = X @ coef
    if noise > 0:
        y = y + rng.normal(scale=noise, size=y.shape)
    return X, y


def _redrawn(build):
    """Fresh samples for a generator whose seed only places the points: another seed."""

    def fresh(spec, n_samples, random_state, noise):
        return build(spec.model_copy(update={"noise": noise}), n_samples, random_state)

    return fresh


def _shipped(loader_name: str):
    def load(spec, n_samples, random_state):
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader_name)()
        return bunch.data, bunch.target

    return load


def _csv(spec, n_samples, random_state):
    X, y, _ = read_csv(Path(spec.path), spec.target)
    return X, y


class DatasetKind(NamedTuple):
    build: Callable[[Any, int, int], tuple[np.ndarray, np.ndarray]]  # (spec, n_samples, seed)
    keys: frozenset[str]  # `data:` keys this dataset takes beyond the common ones
    # (training spec, n_samples, seed, noise) -> new samples of the same problem, for `eval`;
    # None: it cannot draw them
    fresh: Callable[[Any, int, int, float], tuple[np.ndarray, np.ndarray]] | None


_GEN = frozenset({"n_samples", "random_state"})
# moons, circles and quantiles are fixed shapes: another seed draws new points of the same
# problem. blobs and regression draw their centres / coefficients from the seed, so fresh
# samples keep the training ones. make_classification draws its whole class layout from the
# seed and cannot be re-sampled; like the real datasets, it is evaluated on its dev split.
DATASETS: dict[str, DatasetKind] = {
    "moons": DatasetKind(_moons, _GEN | {"noise"}, _redrawn(_moons)),
    "circles": DatasetKind(_circles, _GEN | {"noise", "factor"}, _redrawn(_circles)),
    "gaussian_quantiles": DatasetKind(
        _gaussian_quantiles, _GEN | {"n_features", "n_classes"}, _redrawn(_gaussian_quantiles)
    ),
    "blobs": DatasetKind(_blobs, _GEN | {"n_features", "centers", "cluster_std"}, _blobs_fresh),
    "classification": DatasetKind(
        _classification, _GEN | {"n_features", "n_informative", "n_classes"}, None
    ),
    "regression": DatasetKind(
        _regression, _GEN | {"noise", "n_features", "n_informative", "n_targets"}, _regression_fresh
    ),
    "iris": DatasetKind(_shipped("load_iris"), frozenset(), None),
    "wine": DatasetKind(_shipped("load_wine"), frozenset(), None),
    "breast_cancer": DatasetKind(_shipped("load_breast_cancer"), frozenset(), None),
    "digits": DatasetKind(_shipped("load_digits"), frozenset(), None),
    "csv": DatasetKind(_csv, frozenset({"path", "target"}), None),
}
COMMON_KEYS = frozenset({"dataset", "dev_size", "split_random_state", "scale"})


# --- reading a CSV -------------------------------------------------------------------------

MAX_CSV_BYTES = 512 * 2**20  # 512 MiB


def read_csv(
    path: Path, target: str | None, features: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read features and target from a CSV with a header row.

    ``target`` names the target column (default: the last one). ``features`` names the
    feature columns to take, in that order (default: every other column, as they stand).
    Features must be numeric; the target may hold numbers or text labels.
    Returns (X (m, n), y (m,), feature names).
    """
    import pandas as pd

    try:
        raw = read_regular_file(path, MAX_CSV_BYTES, "CSV data file")
    except ReadRefused as exc:
        raise DataError(str(exc)) from None
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds; all mean unreadable
        raise DataError(f"cannot read {path} as CSV: {str(exc).splitlines()[0]}") from None
    if frame.shape[1] < 2:
        raise DataError(f"{path}: need at least one feature column and a target column")
    target = frame.columns[-1] if target is None else target
    if target not in frame.columns:
        raise DataError(
            f"{path}: target column {target!r} not found (columns: {', '.join(map(str, frame.columns))})"
        )
    if features is None:
        features = frame.drop(columns=[target])
    else:
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise DataError(
                f"{path}: missing feature column(s) {', '.join(missing)} the network was trained on"
            )
        features = frame[features]
    bad = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if bad:
        raise DataError(f"{path}: feature columns must be numeric; not numeric: {', '.join(bad)}")
    if frame.isna().any().any():
        rows = frame.index[frame.isna().any(axis=1)][:5] + 2  # +1 header, +1 one-based
        raise DataError(f"{path}: missing values on line(s) {', '.join(map(str, rows))}")
    if len(frame) < 2:
        raise DataError(f"{path}: need at least two rows of data")
    return (
        features.to_numpy(dtype=np.float64),
        frame[target].to_numpy(),
        [str(c) for c in features.columns],
    )


def feature_names(spec) -> list[str] | None:
    """The feature column names of a ``csv`` dataset (its header); None for other datasets."""
    if spec.dataset != "csv":
        return None
    return read_csv(Path(spec.path), spec.target)[2]


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


def _split(spec, X: np.ndarray, y: np.ndarray):
    """X_train, X_dev, y_train, y_dev: the one train/dev split every command shares."""
    train, dev = split_indices(len(X), spec.dev_size, spec.split_random_state)
    return X[train], X[dev], y[train], y[dev]


def dev_split(spec) -> tuple[np.ndarray, np.ndarray]:
    """The dev split a sweep on ``spec`` held out, rebuilt and unscaled: (X_dev, y_dev)."""
    _, X_dev, _, y_dev = _split(spec, *build_raw(spec))
    return X_dev, y_dev


def load(spec, task: str = "auto") -> Dataset:
    """Build the dataset for ``spec``, split it and fit the scaler on the training split."""
    X, y = build_raw(spec)
    task = infer_task(y, task)
    if task == "classification" and y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        raise DataError("task is classification but the target holds non-integer numbers")
    if task == "regression" and y.dtype.kind not in "iufb":
        raise DataError("task is regression but the target is not numeric")
    check_finite(X, y, task)
    X_train, X_dev, y_train, y_dev = _split(spec, X, y)
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
    return Dataset(X_train, y_train, X_dev, y_dev, task, classes, scaler)


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


def _plain(v):
    """A NumPy scalar as the equivalent Python value, so labels compare across sources."""
    return v.item() if isinstance(v, np.generic) else v


def to_training(ds: Dataset, output: str):
    """Encode a :class:`Dataset` for the network (features-first arrays)."""
    from .train import TrainingData

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
    if requested == "sigmoid" and len(ds.classes) > 2:
        raise DataError(
            f"train.output 'sigmoid' needs two classes; this target has {len(ds.classes)}"
        )
    if requested == "auto":
        return "sigmoid" if len(ds.classes) == 2 else "softmax"
    return requested
