"""The NumPy moons generator and train/dev split draw exactly what scikit-learn draws."""

import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split

from sweep_nn import data
from sweep_nn.errors import DataError


@pytest.mark.parametrize(
    "n_samples, noise, seed", [(2000, 0.25, 0), (500, 0.25, 1), (777, 0.1, 5), (3, 0.0, 2)]
)
def test_moons_equal_scikit_learn_draws(n_samples, noise, seed):
    X, y = data.make_moons(n_samples, noise, seed)
    X_ref, y_ref = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    assert np.array_equal(X, X_ref)
    assert np.array_equal(y, y_ref)


@pytest.mark.parametrize("n, dev_size, seed", [(2000, 0.2, 42), (150, 0.3, 1), (11, 0.5, 3)])
def test_split_equals_train_test_split(n, dev_size, seed):
    X = np.arange(2 * n).reshape(n, 2)
    X_train, X_dev = train_test_split(X, test_size=dev_size, random_state=seed)
    train, dev = data.split_indices(n, dev_size, seed)
    assert np.array_equal(X[train], X_train)
    assert np.array_equal(X[dev], X_dev)


def test_split_refuses_an_empty_side():
    with pytest.raises(DataError, match="no training or no dev rows"):
        data.split_indices(2, 0.9, 0)
