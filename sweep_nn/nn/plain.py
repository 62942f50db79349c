"""The two-layer network written plainly: the reference study's algorithm, as a reader expects it.

Initialisation, the forward pass, the losses, the gradients, one gradient-descent step,
prediction and the one scoring rule, each a few lines of NumPy that allocate new arrays
as they go. Inference (eval, predict, plots, loss samples) runs here. Training runs in
:mod:`sweep_nn.nn.engine`, which does the same arithmetic without allocating, and is
tested bit for bit against these functions.

Arrays are laid out features-first, as in the study: ``X`` (n_inputs, m), ``Y``
(n_outputs, m), ``W1`` (hidden, n_inputs), ``b1`` (hidden, 1), ``W2`` (n_outputs,
hidden), ``b2`` (n_outputs, 1). Activations, output layers and initialisations are small
lookup tables; a configuration's name is checked against a table's keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

Params = dict[str, np.ndarray]  # W1, b1, W2, b2
PARAM_NAMES = ("W1", "b1", "W2", "b2")


# --- hidden activations: g(Z), and g'(Z) written in terms of A = g(Z) -----------------------


def sigmoid(Z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-Z))


class Activation(NamedTuple):
    g: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]  # g'(Z) from A = g(Z)


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(np.tanh, lambda A: 1.0 - A * A),
    "sigmoid": Activation(sigmoid, lambda A: (1.0 - A) * A),
    "relu": Activation(lambda Z: np.maximum(Z, 0.0), lambda A: (A > 0.0).astype(A.dtype)),
}


# --- output layers: activation, matching loss, prediction ----------------------------------
# Each output is paired with the loss whose gradient with respect to Z2 is A2 - Y.


def softmax(Z: np.ndarray) -> np.ndarray:
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def _mean(v: np.ndarray) -> float:
    # np.mean's own arithmetic (one summation, one division), without its Python layer:
    # scoring runs twice at each budget of every run, and many runs are small
    return float(v.sum() / v.size)


def binary_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> float:
    # -[y log s(z) + (1 - y) log(1 - s(z))] = log(1 + e^z) - y z, finite for any z
    return _mean(np.logaddexp(0.0, Z) - Y * Z)


def categorical_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> float:
    top = Z.max(axis=0, keepdims=True)
    log_norm = np.log(np.exp(Z - top).sum(axis=0)) + top[0]
    return _mean(log_norm - (Y * Z).sum(axis=0))


def half_squared_error(Z: np.ndarray, Y: np.ndarray) -> float:
    return 0.5 * _mean(((Z - Y) ** 2).sum(axis=0))


class Output(NamedTuple):
    forward: Callable[[np.ndarray], np.ndarray]  # Z2 -> A2
    loss: Callable[[np.ndarray, np.ndarray], float]  # (Z2, Y) -> mean loss, computed stably
    predict: Callable[[np.ndarray], np.ndarray]  # A2 -> class indices (m,) or values (k, m)
    task: str


OUTPUTS: dict[str, Output] = {
    "sigmoid": Output(
        sigmoid, binary_cross_entropy, lambda A: (A[0] > 0.5).astype(np.intp), "classification"
    ),
    "softmax": Output(
        softmax, categorical_cross_entropy, lambda A: A.argmax(axis=0), "classification"
    ),
    "linear": Output(lambda Z: Z, half_squared_error, lambda A: A, "regression"),
}


# --- initialisation: the standard deviation of each weight matrix ----------------------------


class Init(NamedTuple):
    """A weight initialisation: the standard deviation of a matrix, from its fans and the scale."""

    std: Callable[[int, int, float], float]  # (fan_in, fan_out, init_scale) -> std
    scaled: bool  # True when the std is init_scale: only then does init_scale mean anything


INITS: dict[str, Init] = {
    "normal": Init(lambda fan_in, fan_out, scale: scale, True),  # std init_scale: the study's
    "xavier": Init(lambda fan_in, fan_out, scale: float(np.sqrt(2.0 / (fan_in + fan_out))), False),
    "he": Init(lambda fan_in, fan_out, scale: float(np.sqrt(2.0 / fan_in)), False),
}


def init_params(
    n_in: int,
    n_hidden: int,
    n_out: int,
    rng: np.random.RandomState,
    init: str = "normal",
    init_scale: float | None = 0.01,
    dtype: type = np.float64,
) -> Params:
    """Draw initial weights: W1 then W2 from ``rng`` standard normal, biases zero.

    With ``init="normal"`` and ``init_scale=0.01`` this is the reference study's draw.
    Weights are drawn in float64 and then cast, so float32 starts from the same values.
    ``init_scale`` may be None for an initialisation that does not use it (xavier, he).
    """
    rule = INITS[init]
    if rule.scaled and init_scale is None:
        raise ValueError(f"init {init!r} needs an init_scale")
    scale = 0.0 if init_scale is None else init_scale
    W1 = rng.randn(n_hidden, n_in) * rule.std(n_in, n_hidden, scale)
    W2 = rng.randn(n_out, n_hidden) * rule.std(n_hidden, n_out, scale)
    return {
        "W1": W1.astype(dtype),
        "b1": np.zeros((n_hidden, 1), dtype=dtype),
        "W2": W2.astype(dtype),
        "b2": np.zeros((n_out, 1), dtype=dtype),
    }


# --- forward, loss, gradients, one step ---------------------------------------------------


class Forward(NamedTuple):
    A1: np.ndarray  # (hidden, m)
    Z2: np.ndarray  # (n_out, m)
    A2: np.ndarray  # (n_out, m)


def forward(p: Params, X: np.ndarray, activation: str, output: str) -> Forward:
    """The forward pass: A1 = g(W1 X + b1), Z2 = W2 A1 + b2, A2 = output(Z2)."""
    A1 = ACTIVATIONS[activation].g(np.dot(p["W1"], X) + p["b1"])
    Z2 = np.dot(p["W2"], A1) + p["b2"]
    return Forward(A1, Z2, OUTPUTS[output].forward(Z2))


def loss(p: Params, X: np.ndarray, Y: np.ndarray, activation: str, output: str) -> float:
    """Mean loss of the output layer's matching loss function, in float64."""
    Z2 = forward(p, X, activation, output).Z2
    return OUTPUTS[output].loss(Z2.astype(np.float64), Y)


def backward(p: Params, X: np.ndarray, Y: np.ndarray, f: Forward, activation: str) -> Params:
    """Gradients of the mean loss from a forward pass ``f`` over ``X`` (backpropagation)."""
    inv_m = X.dtype.type(1.0 / X.shape[1])
    dZ2 = f.A2 - Y
    dZ1 = np.dot(p["W2"].T, dZ2) * ACTIVATIONS[activation].derivative(f.A1)
    return {
        "W1": np.dot(dZ1, X.T) * inv_m,
        "b1": np.sum(dZ1, axis=1, keepdims=True) * inv_m,
        "W2": np.dot(dZ2, f.A1.T) * inv_m,
        "b2": np.sum(dZ2, axis=1, keepdims=True) * inv_m,
    }


def gradients(p: Params, X: np.ndarray, Y: np.ndarray, activation: str, output: str) -> Params:
    """Gradients of :func:`loss` with respect to each parameter."""
    return backward(p, X, Y, forward(p, X, activation, output), activation)


def update(p: Params, grads: Params, learning_rate: float) -> Params:
    """The gradient-descent update: new parameters ``p - learning_rate * grads``."""
    lr = p["W1"].dtype.type(learning_rate)
    return {name: p[name] - grads[name] * lr for name in PARAM_NAMES}


def step(p: Params, X, Y, learning_rate: float, activation: str, output: str) -> Params:
    """One gradient-descent step on the examples ``X``, ``Y``."""
    return update(p, gradients(p, X, Y, activation, output), learning_rate)


def train(p: Params, X, Y, learning_rate: float, steps: int, activation: str, output: str):
    """``steps`` full-batch gradient-descent steps from ``p``: the reference loop."""
    with np.errstate(all="ignore"):
        for _ in range(steps):
            p = step(p, X, Y, learning_rate, activation, output)
    return p


# --- prediction and the one scoring rule ------------------------------------------------


def predict(p: Params, X: np.ndarray, activation: str, output: str) -> np.ndarray:
    """Class indices (m,) for classification outputs, values (n_out, m) for regression."""
    return OUTPUTS[output].predict(forward(p, X, activation, output).A2)


def r2(Y: np.ndarray, predicted: np.ndarray) -> float:
    """R² averaged over targets (rows), as scikit-learn's ``r2_score`` computes it.

    A constant target scores 1.0 when it is predicted exactly and 0.0 otherwise.
    """
    residual = ((Y - predicted) ** 2).sum(axis=1)
    total = ((Y - Y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    per_target = np.where(total > 0, 1.0 - residual / safe, np.where(residual == 0, 1.0, 0.0))
    return float(per_target.mean())


def score(p: Params, X, Y, labels, activation: str, output: str) -> dict[str, float]:
    """Metrics of parameters on one split: ``loss``, and ``acc`` (%) or ``r2`` and ``rmse``.

    ``labels`` (m,) are the class indices of a classification split (None for regression).
    """
    f = forward(p, X, activation, output)
    out = OUTPUTS[output]
    metrics = {"loss": out.loss(f.Z2.astype(np.float64), Y)}
    if out.task == "classification":
        right = int(np.count_nonzero(out.predict(f.A2) == labels))
        metrics["acc"] = 100.0 * (right / labels.size)  # np.mean's value, as a Python float
    else:
        metrics["r2"] = r2(Y, f.A2)
        residual = ((f.A2 - Y) ** 2).sum(axis=1)  # per target, then over all of them
        metrics["rmse"] = float(np.sqrt(residual.sum() / Y.size))
    return metrics
