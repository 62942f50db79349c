"""The dataset table: generators and loaders, the `data:` keys each takes, fresh draws for eval."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import DataError
from .csvfile import read_csv_data

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
    csv = read_csv_data(Path(spec.path), spec.target, sha256=spec.sha256)
    return csv.X, csv.y


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
    "csv": DatasetKind(_csv, frozenset({"path", "target", "sha256"}), None),
}
COMMON_KEYS = frozenset({"dataset", "dev_size", "split_random_state", "scale", "cv"})
