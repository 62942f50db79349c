"""The two-layer network's maths: initialisation, forward and backward passes, losses.

Pure NumPy, no I/O, no global state. Arrays are laid out features-first, as in the
reference study: ``X`` has shape (n_inputs, m), targets ``Y`` have shape (n_outputs, m).

Hidden activations, output layers and initialisations are small lookup tables; a name
from a configuration is checked against a table's keys, never against an if-chain.

Training runs through a :class:`Workspace`, which owns every buffer one gradient step
needs so that the hot loop allocates nothing: each ufunc writes in place (``out=``).
The arithmetic is the study's, operation for operation, so float64 results reproduce it.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

Params = dict[str, np.ndarray]  # W1 (h, n_in), b1 (h, 1), W2 (n_out, h), b2 (n_out, 1)


# --- hidden activations: forward in place, derivative from the activation's output ------


def _tanh(Z: np.ndarray) -> None:
    np.tanh(Z, out=Z)


def _tanh_grad(A: np.ndarray, out: np.ndarray) -> None:
    np.multiply(A, A, out=out)  # 1 - tanh(z)^2
    np.subtract(1.0, out, out=out)


def _sigmoid(Z: np.ndarray, out: np.ndarray | None = None) -> None:
    out = Z if out is None else out
    np.negative(Z, out=out)  # 1 / (1 + exp(-z)), step by step
    np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)


def _sigmoid_grad(A: np.ndarray, out: np.ndarray) -> None:
    np.subtract(1.0, A, out=out)  # s(z) (1 - s(z))
    out *= A


def _relu(Z: np.ndarray) -> None:
    np.maximum(Z, 0.0, out=Z)


def _relu_grad(A: np.ndarray, out: np.ndarray) -> None:
    np.greater(A, 0.0, out=out)  # 1 where the activation is > 0


class Activation(NamedTuple):
    forward: Callable[[np.ndarray], None]  # Z -> g(Z), in place
    grad: Callable[[np.ndarray, np.ndarray], None]  # (A, out) -> g'(Z) written to out


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(_tanh, _tanh_grad),
    "sigmoid": Activation(_sigmoid, _sigmoid_grad),
    "relu": Activation(_relu, _relu_grad),
}


# --- output layers: activation, matching loss, prediction --------------------------------
# Each output is paired with the loss whose gradient with respect to Z2 is A2 - Y, so the
# backward pass is the same for all of them.


def _softmax(Z: np.ndarray, out: np.ndarray) -> None:
    np.subtract(Z, Z.max(axis=0, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=0, keepdims=True)


def _identity(Z: np.ndarray, out: np.ndarray) -> None:
    np.copyto(out, Z)


def _binary_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> float:
    # -[y log s(z) + (1 - y) log(1 - s(z))] = log(1 + e^z) - y z, finite for any z
    return float(np.mean(np.logaddexp(0.0, Z) - Y * Z))


def _categorical_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> float:
    top = Z.max(axis=0, keepdims=True)
    log_norm = np.log(np.exp(Z - top).sum(axis=0)) + top[0]
    return float(np.mean(log_norm - (Y * Z).sum(axis=0)))


def _half_squared_error(Z: np.ndarray, Y: np.ndarray) -> float:
    return float(0.5 * np.mean(((Z - Y) ** 2).sum(axis=0)))


def _predict_binary(A: np.ndarray) -> np.ndarray:
    return (A[0] > 0.5).astype(np.intp)


def _predict_argmax(A: np.ndarray) -> np.ndarray:
    return A.argmax(axis=0)


def _predict_values(A: np.ndarray) -> np.ndarray:
    return A


class Output(NamedTuple):
    forward: Callable[[np.ndarray, np.ndarray], None]  # (Z2, out) -> A2 written to out
    loss: Callable[[np.ndarray, np.ndarray], float]  # (Z2, Y) -> mean loss, computed stably
    predict: Callable[[np.ndarray], np.ndarray]  # A2 -> class indices (m,) or values
    task: str


OUTPUTS: dict[str, Output] = {
    "sigmoid": Output(_sigmoid, _binary_cross_entropy, _predict_binary, "classification"),
    "softmax": Output(_softmax, _categorical_cross_entropy, _predict_argmax, "classification"),
    "linear": Output(_identity, _half_squared_error, _predict_values, "regression"),
}


# --- initialisation ------------------------------------------------------------------------


def _normal_std(fan_in: int, fan_out: int, scale: float) -> float:
    return scale


def _xavier_std(fan_in: int, fan_out: int, scale: float) -> float:
    return float(np.sqrt(2.0 / (fan_in + fan_out)))


def _he_std(fan_in: int, fan_out: int, scale: float) -> float:
    return float(np.sqrt(2.0 / fan_in))


INITS: dict[str, Callable[[int, int, float], float]] = {
    "normal": _normal_std,  # standard normal x init_scale: the study's
    "xavier": _xavier_std,  # Glorot: std sqrt(2 / (fan_in + fan_out))
    "he": _he_std,  # std sqrt(2 / fan_in)
}


def init_params(
    n_in: int,
    n_hidden: int,
    n_out: int,
    rng: np.random.RandomState,
    init: str = "normal",
    init_scale: float = 0.01,
    dtype: type = np.float64,
) -> Params:
    """Draw initial weights: W1 then W2 from ``rng`` standard normal, biases zero.

    With ``init="normal"`` and ``init_scale=0.01`` this is the reference study's draw.
    Weights are drawn in float64 and then cast, so float32 starts from the same values.
    """
    std = INITS[init]
    W1 = rng.randn(n_hidden, n_in) * std(n_in, n_hidden, init_scale)
    W2 = rng.randn(n_out, n_hidden) * std(n_hidden, n_out, init_scale)
    return {
        "W1": W1.astype(dtype),
        "b1": np.zeros((n_hidden, 1), dtype=dtype),
        "W2": W2.astype(dtype),
        "b2": np.zeros((n_out, 1), dtype=dtype),
    }


# --- the gradient step -----------------------------------------------------------------


class Workspace:
    """Every buffer one forward/backward pass over ``m`` examples needs.

    Parameters
    ----------
    n_in, n_hidden, n_out, m : int
        Layer sizes and the number of examples per step (batch size).
    activation, output : str
        Keys of :data:`ACTIVATIONS` and :data:`OUTPUTS`.
    dtype : numpy dtype
        float64 (the study's) or float32.
    """

    def __init__(self, n_in, n_hidden, n_out, m, activation, output, dtype=np.float64):
        self.activation = ACTIVATIONS[activation]
        self.output = OUTPUTS[output]
        self.m = m
        self.A1 = np.empty((n_hidden, m), dtype)  # Z1, A1 in place, then W2.T @ dZ2
        self.G = np.empty((n_hidden, m), dtype)  # g'(Z1), then dZ1
        self.Z2 = np.empty((n_out, m), dtype)  # Z2, then dZ2
        self.A2 = np.empty((n_out, m), dtype)
        self.grads = {
            "W1": np.empty((n_hidden, n_in), dtype),
            "b1": np.empty((n_hidden, 1), dtype),
            "W2": np.empty((n_out, n_hidden), dtype),
            "b2": np.empty((n_out, 1), dtype),
        }
        self._inv_m = np.dtype(dtype).type(1.0 / m)
        self._outer = n_out == 1  # W2.T @ dZ2 is then an outer product: broadcast it

    def forward(self, p: Params, X: np.ndarray) -> np.ndarray:
        """Fill A1, Z2 and A2 for inputs ``X`` (n_in, m); return A2 (n_out, m)."""
        A1, Z2, A2 = self.A1, self.Z2, self.A2
        np.dot(p["W1"], X, out=A1)
        A1 += p["b1"]
        self.activation.forward(A1)
        np.dot(p["W2"], A1, out=Z2)
        Z2 += p["b2"]
        self.output.forward(Z2, A2)
        return A2

    def backward(self, p: Params, X: np.ndarray, Y: np.ndarray) -> Params:
        """Gradients of the mean loss after :meth:`forward`; overwrites Z2 and G."""
        A1, G, dZ2, g = self.A1, self.G, self.Z2, self.grads
        inv_m = self._inv_m
        np.subtract(self.A2, Y, out=dZ2)
        np.dot(dZ2, A1.T, out=g["W2"])
        g["W2"] *= inv_m
        np.sum(dZ2, axis=1, keepdims=True, out=g["b2"])
        g["b2"] *= inv_m
        self.activation.grad(A1, G)
        # A1 is no longer needed: it takes W2.T @ dZ2, then G becomes dZ1
        if self._outer:
            np.multiply(p["W2"].T, dZ2, out=A1)  # a rank-1 product: exact, and no BLAS call
        else:
            np.dot(p["W2"].T, dZ2, out=A1)
        G *= A1
        np.dot(G, X.T, out=g["W1"])
        g["W1"] *= inv_m
        np.sum(G, axis=1, keepdims=True, out=g["b1"])
        g["b1"] *= inv_m
        return g

    def step(self, p: Params, X: np.ndarray, Y: np.ndarray, learning_rate: float) -> None:
        """One gradient-descent step on ``p``, in place."""
        self.forward(p, X)
        g = self.backward(p, X, Y)
        for name in ("W1", "b1", "W2", "b2"):
            g[name] *= learning_rate
            p[name] -= g[name]


def forward(p: Params, X: np.ndarray, activation: str, output: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (Z2, A2) for inputs ``X`` (n_in, m), allocating fresh arrays."""
    ws = Workspace(
        X.shape[0], p["W1"].shape[0], p["W2"].shape[0], X.shape[1], activation, output,
        p["W1"].dtype.type,
    )
    A2 = ws.forward(p, X)
    return ws.Z2.copy(), A2.copy()


def loss(p: Params, X: np.ndarray, Y: np.ndarray, activation: str, output: str) -> float:
    """Mean loss of the output layer's matching loss function; finite for finite weights."""
    Z2, _ = forward(p, X, activation, output)
    return OUTPUTS[output].loss(Z2.astype(np.float64), Y)


def gradients(p: Params, X: np.ndarray, Y: np.ndarray, activation: str, output: str) -> Params:
    """Gradients of :func:`loss` with respect to each parameter (copies)."""
    ws = Workspace(
        X.shape[0], p["W1"].shape[0], p["W2"].shape[0], X.shape[1], activation, output,
        p["W1"].dtype.type,
    )
    ws.forward(p, X)
    return {k: v.copy() for k, v in ws.backward(p, X, Y).items()}


def predict(p: Params, X: np.ndarray, activation: str, output: str) -> np.ndarray:
    """Class indices (m,) for classification outputs, values (n_out, m) for regression."""
    _, A2 = forward(p, X, activation, output)
    return OUTPUTS[output].predict(A2)
