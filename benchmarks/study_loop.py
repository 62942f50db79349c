"""The reference study's training loop, written the straightforward way, as a baseline.

A new NumPy array for every intermediate, the cost computed every iteration, each
iteration count trained from scratch: the loop sweep-nn's engine is measured against.
"""

from __future__ import annotations

import numpy as np


def _sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


ACTIVATIONS = {  # name -> (g, g' written in terms of the activation A = g(Z))
    "tanh": (np.tanh, lambda A: 1 - np.power(A, 2)),
    "sigmoid": (_sigmoid, lambda A: A * (1 - A)),
    "relu": (lambda Z: np.maximum(0, Z), lambda A: np.where(A > 0, 1.0, 0.0)),
}


def init(n_x: int, n_h: int, seed: int = 0, scale: float = 0.01) -> dict:
    rng = np.random.RandomState(seed)
    W1 = rng.randn(n_h, n_x) * scale
    W2 = rng.randn(1, n_h) * scale
    return {"W1": W1, "b1": np.zeros((n_h, 1)), "W2": W2, "b2": np.zeros((1, 1))}


def fit(X, Y, n_h: int, activation: str, learning_rate: float, iterations: int, seed: int = 0):
    """Full-batch gradient descent as the study ran it; returns (params, last cost).

    ``X`` is (n_x, m), ``Y`` is (1, m).
    """
    g, g_prime = ACTIVATIONS[activation]
    p = init(X.shape[0], n_h, seed)
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    m = X.shape[1]
    cost = None
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            Z1 = np.dot(W1, X) + b1
            A1 = g(Z1)
            Z2 = np.dot(W2, A1) + b2
            A2 = _sigmoid(Z2)
            cost = -1 / m * np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))
            dZ2 = A2 - Y
            dW2 = 1 / m * np.dot(dZ2, A1.T)
            db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
            dZ1 = np.dot(W2.T, dZ2) * g_prime(A1)
            dW1 = 1 / m * np.dot(dZ1, X.T)
            db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
            W1 = W1 - learning_rate * dW1
            b1 = b1 - learning_rate * db1
            W2 = W2 - learning_rate * dW2
            b2 = b2 - learning_rate * db2
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, float(cost)


def accuracy(p: dict, X, labels, activation: str) -> float:
    """Share of correct predictions (output > 0.5), in percent."""
    g, _ = ACTIVATIONS[activation]
    A2 = _sigmoid(np.dot(p["W2"], g(np.dot(p["W1"], X) + p["b1"])) + p["b2"])
    return 100.0 * float(np.mean((A2[0] > 0.5) == labels))
