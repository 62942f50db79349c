"""The reference study's training loop, as the study ran it: the baseline of the benchmarks.

The plain maths of :mod:`sweep_nn.nn.plain` (new arrays every step) plus what the study's
loop also did: the cost computed at every iteration, and each iteration count trained from
scratch (see ``bench.py``).
"""

from __future__ import annotations

import numpy as np

from sweep_nn.nn import plain


def init(n_x: int, n_h: int, seed: int = 0, scale: float = 0.01) -> dict:
    return plain.init_params(n_x, n_h, 1, np.random.RandomState(seed), "normal", scale)


def fit(X, Y, n_h: int, activation: str, learning_rate: float, iterations: int, seed: int = 0):
    """Full-batch gradient descent as the study ran it; returns (params, last cost).

    ``X`` is (n_x, m), ``Y`` is (1, m).
    """
    p = init(X.shape[0], n_h, seed)
    m = X.shape[1]
    cost = None
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            f = plain.forward(p, X, activation, "sigmoid")
            cost = -1 / m * np.sum(Y * np.log(f.A2) + (1 - Y) * np.log(1 - f.A2))
            p = plain.update(p, plain.backward(p, X, Y, f, activation), learning_rate)
    return p, float(cost)


def accuracy(p: dict, X, labels, activation: str) -> float:
    """Share of correct predictions (output > 0.5), in percent."""
    return 100.0 * float(np.mean(plain.predict(p, X, activation, "sigmoid") == labels))
