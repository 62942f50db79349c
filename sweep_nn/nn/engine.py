"""The exact NumPy training engine: the plain maths of :mod:`sweep_nn.nn.plain`, without its allocations.

A :class:`Workspace` owns every buffer one gradient step needs, so that the hot loop
allocates nothing: each ufunc writes in place (``out=``), and :meth:`Workspace.passes`
binds arrays and functions once so the loop does no lookups. The arithmetic is the plain
maths', operation for operation, so float64 results are bit for bit those of
:func:`sweep_nn.nn.plain.train` (tested), which are the study's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .plain import PARAM_NAMES, Params

# --- hidden activations: forward in place, derivative from the activation's output ------


def _tanh(Z: np.ndarray) -> None:
    np.tanh(Z, out=Z)


def _tanh_grad(A: np.ndarray, out: np.ndarray) -> None:
    np.multiply(A, A, out=out)  # 1 - tanh(z)^2
    np.subtract(1.0, out, out=out)


def _sigmoid(Z: np.ndarray, out: np.ndarray | None = None) -> None:
    out = Z if out is None else out
    np.negative(Z, out=out)  # 1 / (1 + exp(-z)), step by step
    _sigmoid_of_negated(out)


def _sigmoid_of_negated(N: np.ndarray) -> None:
    np.exp(N, out=N)  # N holds -z: 1 / (1 + exp(-z)) without the negation pass
    np.add(N, 1.0, out=N)
    np.reciprocal(N, out=N)


def _sigmoid_grad(A: np.ndarray, out: np.ndarray) -> None:
    np.subtract(1.0, A, out=out)  # s(z) (1 - s(z))
    np.multiply(out, A, out=out)


def _relu(Z: np.ndarray) -> None:
    np.maximum(Z, 0.0, out=Z)


def _relu_grad(A: np.ndarray, out: np.ndarray) -> None:
    np.greater(A, 0.0, out=out)  # 1 where the activation is > 0


class Activation(NamedTuple):
    forward: Callable[[np.ndarray], None]  # Z -> g(Z), in place
    grad: Callable[[np.ndarray, np.ndarray], None]  # (A, out) -> g'(Z) written to out
    # -Z -> g(Z), in place. Set where g starts by negating Z: the workspace then computes
    # -Z directly, as (-W1) X - b1, which is exact (IEEE rounding is symmetric in sign).
    forward_of_negated: Callable[[np.ndarray], None] | None = None


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(_tanh, _tanh_grad),
    "sigmoid": Activation(_sigmoid, _sigmoid_grad, _sigmoid_of_negated),
    "relu": Activation(_relu, _relu_grad),
}


# --- output layers, in place (their losses and predictions are in nn.plain) -------------


def _softmax(Z: np.ndarray, out: np.ndarray) -> None:
    # classes along axis -2: (n_out, m) for one model, (models, n_out, m) for a stack
    np.subtract(Z, Z.max(axis=-2, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-2, keepdims=True)


def _identity(Z: np.ndarray, out: np.ndarray) -> None:
    np.copyto(out, Z)


OUTPUTS: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {  # (Z2, out) -> A2 in out
    "sigmoid": _sigmoid,
    "softmax": _softmax,
    "linear": _identity,
}


# --- the gradient step -----------------------------------------------------------------


class Layout(NamedTuple):
    """Where each parameter of a model lives in its packed buffer.

    ``[W1 | b1]`` comes first as one (n_hidden, n_in + 1) block, so that ``W1 X + b1`` is a
    single matrix product with a row of ones under ``X``; then ``W2`` and ``b2``.
    """

    n_in: int
    n_hidden: int
    n_out: int

    @classmethod
    def of(cls, p: Params) -> Layout:
        (n_hidden, n_in), n_out = p["W1"].shape, p["W2"].shape[0]
        return cls(n_in, n_hidden, n_out)

    @property
    def size(self) -> int:
        return self.n_hidden * (self.n_in + 1) + self.n_out * (self.n_hidden + 1)

    def views(self, flat: np.ndarray) -> Params:
        """Views into ``flat``: (size,) for one model, or (models, size) for a stack, whose
        views then have a leading model axis. ``W1b1`` is the ``[W1 | b1]`` block."""
        lead, n, h, o = flat.shape[:-1], self.n_in, self.n_hidden, self.n_out
        first = flat[..., : h * (n + 1)].reshape(*lead, h, n + 1)
        second = flat[..., h * (n + 1) :]
        return {
            "W1": first[..., :n],
            "b1": first[..., n:],
            "W2": second[..., : o * h].reshape(*lead, o, h),
            "b2": second[..., o * h :].reshape(*lead, o, 1),
            "W1b1": first,
        }

    def fill(self, flat: np.ndarray, p: Params) -> Params:
        """Copy ``p`` into ``flat`` (size,); return the views, for ``p.update``."""
        views = self.views(flat)
        for name in PARAM_NAMES:
            views[name][...] = p[name]
        return {name: views[name] for name in PARAM_NAMES}


def _packed_in(p: Params, layout: Layout) -> np.ndarray | None:
    """The buffer ``p`` is packed in (its entries are its :meth:`Layout.views`), or None."""
    base = p["W1"].base
    if base is None or base.ndim != 1 or base.size != layout.size or base.dtype != p["W1"].dtype:
        return None
    views = layout.views(base)
    same = all(
        p[name].__array_interface__ == views[name].__array_interface__ for name in PARAM_NAMES
    )
    return base if same else None


def pack(p: Params) -> np.ndarray:
    """Move ``p``'s arrays into one buffer laid out by :class:`Layout` and return it.

    The values do not change; ``p``'s entries become views into the buffer, so a single
    ufunc call updates every parameter. A ``p`` that is already packed is left as it is.
    """
    layout = Layout.of(p)
    flat = _packed_in(p, layout)
    if flat is None:
        flat = np.empty(layout.size, dtype=p["W1"].dtype)
        p.update(layout.fill(flat, p))
    return flat


def pack_stack(ps: list[Params]) -> np.ndarray:
    """Move the parameters of several same-shaped models into one (models, size) buffer.

    Row ``i`` holds ``ps[i]``, whose entries become views into it (values unchanged). A
    single model is packed with :func:`pack` and its buffer returned as one row.
    """
    if len(ps) == 1:
        return pack(ps[0])[None]
    layout = Layout.of(ps[0])
    flat = np.empty((len(ps), layout.size), dtype=ps[0]["W1"].dtype)
    for row, p in zip(flat, ps):
        p.update(layout.fill(row, p))
    return flat


def _flat_copy(p: Params) -> np.ndarray:
    """A (1, size) buffer holding a copy of ``p``'s parameters."""
    layout = Layout.of(p)
    flat = np.empty((1, layout.size), dtype=p["W1"].dtype)
    layout.fill(flat[0], p)
    return flat


class Workspace:
    """Every buffer one forward/backward pass over ``m`` examples needs, for a stack of models.

    Parameters
    ----------
    n_in, n_hidden, n_out, m : int
        Layer sizes and the number of examples per step (batch size).
    activation, output : str
        Keys of :data:`ACTIVATIONS` and :data:`OUTPUTS`.
    dtype : numpy dtype
        float64 (the study's) or float32.
    n_models : int
        How many models of these sizes train together (a leading "model" axis); they may
        differ in their weights and learning rates, and see the same examples.

    Notes
    -----
    Each pass is the study's arithmetic, operation for operation and in the same order
    (``np.dot`` where the study calls it, ``np.sum`` as a pairwise reduction along the
    examples), so float64 results are bit for bit those of a straightforward NumPy loop.
    What changes is the overhead around it: no array is allocated per step, the loss is
    not computed, the gradients and parameters each live in one buffer so that scaling
    and the update are one call each, and sigmoid hidden units get -Z straight from the
    matrix product instead of negating Z. In a stack, the matrix products are made model
    by model (the same calls as for one model) and every elementwise pass and reduction
    covers all models at once, which is where a stack of small models saves time: those
    passes cost mostly their fixed call overhead.
    """

    def __init__(self, n_in, n_hidden, n_out, m, activation, output, dtype=np.float64, n_models=1):
        k = n_models
        self.activation = ACTIVATIONS[activation]
        self.output = OUTPUTS[output]
        self.n_models = k
        self.dtype = np.dtype(dtype)
        self.layout = Layout(n_in, n_hidden, n_out)
        self.X1 = np.ones((n_in + 1, m), dtype)  # the inputs, over a row of ones
        self.X = self.X1[:n_in]  # where the inputs go (a caller may refill it between steps)
        self.A1 = np.empty((k, n_hidden, m), dtype)  # Z1, A1 in place, then W2.T @ dZ2
        self.G = np.empty((k, n_hidden, m), dtype)  # g'(Z1), then dZ1
        self.Z2 = np.empty((k, n_out, m), dtype)  # Z2, then dZ2
        self.A2 = np.empty((k, n_out, m), dtype)
        self.grad = np.empty((k, self.layout.size), dtype)
        self.grads = [self.layout.views(row) for row in self.grad]  # per model, into grad
        self._gW1 = np.empty((k, n_hidden, n_in), dtype)  # dW1 before it joins grad's block
        self._neg_W1b1 = np.empty((k, n_hidden, n_in + 1), dtype)
        self._inv_m = self.dtype.type(1.0 / m)

    def passes(self, flat: np.ndarray, X: np.ndarray, Y: np.ndarray | None = None):
        """Return ``(forward, backward)``: argument-free functions bound to the models' packed
        parameters ``flat`` (models, size), ``X`` and ``Y``.

        ``forward()`` fills A1, Z2 and A2; ``backward()`` then writes the gradients of the
        mean loss into :attr:`grad` (overwriting Z2 and A1). Binding every array and ufunc
        once keeps attribute and dict lookups out of the training loop.
        """
        if len(flat) != self.n_models:
            raise ValueError(f"{len(flat)} models for a workspace of {self.n_models}")
        if X is not self.X:
            np.copyto(self.X, X)
        models = [self.layout.views(row) for row in flat]  # model by model, for the products
        return self._forward(flat, models), self._backward(models, Y)

    def _forward(self, flat: np.ndarray, models: list[Params]):
        dot, add, negative = np.dot, np.add, np.negative
        X1, A1, Z2, A2 = self.X1, self.A1, self.Z2, self.A2
        stacked = self.layout.views(flat)  # every model at once
        b2, neg_W1b1 = stacked["b2"], self._neg_W1b1
        g, _, g_of_negated = self.activation
        output_forward = self.output
        # the matrix products, model by model: their operands, bound once
        first_layer = [(q["W1b1"], a1) for q, a1 in zip(models, A1)]
        first_layer_negated = list(zip(neg_W1b1, A1))
        second_layer = [(q["W2"], a1, z2) for q, a1, z2 in zip(models, A1, Z2)]

        # W1 X + b1 as one product, [W1 | b1] [X; 1]: the product accumulates w.x, then
        # adds b1 x 1 with one rounding, as the study's separate add does (the
        # reproduction tests check this against the study's loop on the installed BLAS)
        if g_of_negated is None:

            def hidden():
                for w1b1, a1 in first_layer:
                    dot(w1b1, X1, out=a1)
                g(A1)

        else:

            def hidden():
                negative(stacked["W1b1"], out=neg_W1b1)
                for nw1b1, a1 in first_layer_negated:
                    dot(nw1b1, X1, out=a1)  # -(W1 X + b1), exactly
                g_of_negated(A1)

        def forward():
            hidden()
            for w2, a1, z2 in second_layer:
                dot(w2, a1, out=z2)
            add(Z2, b2, out=Z2)
            output_forward(Z2, A2)

        return forward

    def _backward(self, models: list[Params], Y: np.ndarray | None):
        dot, subtract, multiply, copyto = np.dot, np.subtract, np.multiply, np.copyto
        add_reduce = np.add.reduce
        XT, A1, G, Z2, A2 = self.X.T, self.A1, self.G, self.Z2, self.A2
        g_stacked = self.layout.views(self.grad)
        gW1, gb1, gb2, gW1_tmp = g_stacked["W1"], g_stacked["b1"], g_stacked["b2"], self._gW1
        grad, inv_m, g_grad = self.grad, self._inv_m, self.activation.grad
        grad_W2 = [(z2, a1.T, gr["W2"]) for z2, a1, gr in zip(Z2, A1, self.grads)]
        back = [(q["W2"].T, z2, a1) for q, z2, a1 in zip(models, Z2, A1)]
        grad_W1 = list(zip(G, gW1_tmp))

        def backward():
            subtract(A2, Y, out=Z2)  # dZ2
            for z2, a1t, gw2 in grad_W2:
                dot(z2, a1t, out=gw2)
            add_reduce(Z2, axis=2, keepdims=True, out=gb2)
            g_grad(A1, G)
            for w2t, z2, a1 in back:
                dot(w2t, z2, out=a1)  # A1 is no longer needed: it takes W2.T @ dZ2
            multiply(G, A1, out=G)  # dZ1
            for gz, gw1 in grad_W1:
                dot(gz, XT, out=gw1)
            copyto(gW1, gW1_tmp)  # into the [dW1 | db1] block of every model
            add_reduce(G, axis=2, keepdims=True, out=gb1)
            multiply(grad, inv_m, out=grad)  # all four gradients of every model at once

        return backward

    def trainer(self, p: Params, X: np.ndarray, Y: np.ndarray, learning_rate: float):
        """Return ``run(n)``, which takes ``n`` gradient-descent steps on ``p`` in place.

        ``p`` is packed first (see :func:`pack`). ``X`` (n_in, m) is copied into :attr:`X`
        unless it is :attr:`X` itself; :attr:`X` and ``Y`` (n_out, m) are read at every
        step, so a caller may refill them in place between calls.
        """
        return self.stack_trainer([p], X, Y, [learning_rate])

    def stack_trainer(self, ps: list[Params], X, Y, learning_rates: list[float]):
        """:meth:`trainer` for a stack: model ``i`` has parameters ``ps[i]`` and rate
        ``learning_rates[i]``; each model's steps are exactly those it would take alone."""
        flat = pack_stack(ps)
        forward, backward = self.passes(flat, X, Y)
        grad, multiply, subtract = self.grad, np.multiply, np.subtract
        if len(ps) == 1:
            lr = self.dtype.type(learning_rates[0])
        else:
            lr = np.array(learning_rates, dtype=self.dtype)[:, None]  # one rate per row

        def run(n: int) -> None:
            for _ in range(n):
                forward()
                backward()
                multiply(grad, lr, out=grad)
                subtract(flat, grad, out=flat)

        return run

    def forward(self, p: Params, X: np.ndarray) -> np.ndarray:
        """Fill A1, Z2 and A2 for inputs ``X`` (n_in, m); return A2 (n_out, m) of model 0."""
        self.passes(_flat_copy(p), X)[0]()
        return self.A2[0]

    def backward(self, p: Params, X: np.ndarray, Y: np.ndarray) -> Params:
        """Gradients of the mean loss after :meth:`forward`; overwrites Z2, A1 and G."""
        self.passes(_flat_copy(p), X, Y)[1]()
        return {name: self.grads[0][name] for name in PARAM_NAMES}

    def step(self, p: Params, X: np.ndarray, Y: np.ndarray, learning_rate: float) -> None:
        """One gradient-descent step on ``p``, in place (``p`` is packed, see :func:`pack`)."""
        self.trainer(p, X, Y, learning_rate)(1)
