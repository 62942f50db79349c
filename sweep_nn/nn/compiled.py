"""A compiled training engine: the network's gradient steps, iterations and all, in Numba.

The maths is :mod:`sweep_nn.nn.plain`'s (same initialisation, same gradients, same update
``p -= lr * grad``); only the way it is computed changes. :func:`train` hands the whole run
of ``n_steps`` iterations to one ``@njit`` kernel of :mod:`sweep_nn.nn.kernels` (which
describes how a step is computed, and its arithmetic), so Python is not involved per step.

A mini-batch iteration shuffles the examples with ``rng.permutation(m)`` -- drawn here, in
Python, from the job's RandomState, exactly as :mod:`sweep_nn.sweep.worker` does, so the
batches are the same -- and the kernel takes one step per batch, in that order.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .kernel_math import ACTIVATIONS, DTYPES, OUTPUTS
from .kernels import Kernels, cached_kernels

ORDERS_CHUNK = 1024  # permutations drawn ahead at a time in mini-batch training

Params = dict[str, np.ndarray]  # W1, b1, W2, b2
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _kernels(activation: str, output: str, dtype: DTypeLike) -> Kernels:
    """The kernels for these names, checked against the tables in Python first."""
    name = np.dtype(dtype).name
    if activation not in ACTIVATIONS or name not in DTYPES:
        raise KeyError(f"no compiled activation {activation!r} in {name}")
    if output not in OUTPUTS:
        raise KeyError(f"no compiled output {output!r} in {name}")
    return cached_kernels(activation, output, name)


def _arrays(params: Params, X: ArrayLike, Y: ArrayLike) -> Arrays:
    dtype = params["W1"].dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"parameters must be float32 or float64, not {dtype}")
    for name in ("W1", "b1", "W2", "b2"):
        p = params[name]
        if p.dtype != dtype or not p.flags.c_contiguous or not p.flags.writeable:
            raise ValueError(f"{name} must be a writeable C-contiguous {dtype} array")
    # writeable too: a read-only array is another type to Numba, so another signature
    Xc, Yc = (np.require(a, dtype, ["C_CONTIGUOUS", "WRITEABLE"]) for a in (X, Y))
    if Xc.shape[1] != Yc.shape[1] or Xc.shape[0] != params["W1"].shape[1]:
        raise ValueError(f"X {Xc.shape} and Y {Yc.shape} do not fit W1 {params['W1'].shape}")
    return params["W1"], params["b1"], params["W2"], params["b2"], Xc, Yc


def gradients(params: Params, X: ArrayLike, Y: ArrayLike, activation: str, output: str) -> Params:
    """Gradients of the mean loss over all of X (n_in, m), Y (n_out, m), as the kernels
    compute them: ``{"W1", "b1", "W2", "b2"}``, shaped like the parameters (new arrays)."""
    W1, b1, W2, b2, X, Y = _arrays(params, X, Y)
    gW1, gb1, gW2, gb2 = _kernels(activation, output, W1.dtype).gradients(W1, b1, W2, b2, X, Y)
    return {"W1": gW1, "b1": gb1[:, None], "W2": gW2, "b2": gb2[:, None]}


def train(
    params: Params,
    X: ArrayLike,
    Y: ArrayLike,
    learning_rate: float,
    n_steps: int,
    activation: str,
    output: str,
    batch_size: int | None = None,
    rng: np.random.RandomState | None = None,
) -> None:
    """Take ``n_steps`` iterations of gradient descent on ``params`` in place.

    ``params`` holds W1 (h, n_in), b1 (h, 1), W2 (n_out, h), b2 (n_out, 1), all float32 or
    all float64 and C-contiguous; W1's dtype picks the kernel, and X (n_in, m), Y (n_out, m)
    are converted to it. An iteration is one full-batch step, or, with ``batch_size`` < m,
    one pass over ``rng.permutation(m)`` in batches of ``batch_size`` (the last may be
    smaller), the permutations drawn from ``rng`` as :mod:`sweep_nn.sweep.worker` draws them.
    Overflow never raises: a diverging run leaves non-finite or huge weights behind.
    """
    train_sampled(params, X, Y, learning_rate, [n_steps], 0, activation, output, batch_size, rng)


def train_sampled(
    params: Params,
    X: ArrayLike,
    Y: ArrayLike,
    learning_rate: float,
    steps: list[int],
    n_losses: int,
    activation: str,
    output: str,
    batch_size: int | None = None,
    rng: np.random.RandomState | None = None,
) -> tuple[np.ndarray, int]:
    """:func:`train` for ``steps[0]``, then ``steps[1]`` iterations and so on, with the mean
    loss over X, Y after each of the first ``n_losses`` (``plain.loss``, to rounding: the
    kernel's forward pass, summed in float64), computed in the same call.

    Stops after a loss that is not finite, or one after which a parameter is not, as a run
    that diverged would. Returns the losses computed and how many of ``steps`` were taken.
    """
    W1, b1, W2, b2, X, Y = _arrays(params, X, Y)
    kernels = _kernels(activation, output, W1.dtype)
    lr, m = W1.dtype.type(learning_rate), X.shape[1]
    pieces, losses = np.asarray(steps, dtype=np.int64), np.empty(n_losses, np.float64)
    if batch_size is None or batch_size >= m:
        taken = kernels.full_batch(W1, b1, W2, b2, X, Y, lr, pieces, losses)
        return losses[: min(taken, n_losses)], taken
    if rng is None:
        raise ValueError("mini-batch training needs the job's rng")
    no_steps = np.zeros(1, np.int64)
    for i, n in enumerate(pieces):
        _mini_batches(kernels, (W1, b1, W2, b2, X, Y), lr, int(n), int(batch_size), rng)
        if i < n_losses:  # zero steps: the loss alone
            kernels.full_batch(W1, b1, W2, b2, X, Y, lr, no_steps, losses[i : i + 1])
            if not (np.isfinite(losses[i]) and all(np.isfinite(v).all() for v in params.values())):
                return losses[: i + 1], i + 1
    return losses, len(pieces)


def _mini_batches(kernels: Kernels, arrays: Arrays, lr, n_steps: int, size: int, rng) -> None:
    m, done = arrays[4].shape[1], 0
    while done < n_steps:
        rows = min(ORDERS_CHUNK, n_steps - done)
        orders = np.empty((rows, m), dtype=np.intp)
        for row in orders:
            row[:] = rng.permutation(m)
        kernels.mini_batch(*arrays, lr, orders, size)
        done += rows


_WARM: set[tuple[str, str, str, bool]] = set()  # kernels this process has compiled or loaded


def warm_up(
    params: Params, X: ArrayLike, Y: ArrayLike, activation: str, output: str, mini_batch: bool
) -> None:
    """Compile (or load from the cache) the kernels :func:`train` will call, taking no step;
    at once if this process has done so already (every run of a sweep has the same types).

    Lets a caller keep compilation out of the time it measures for training.
    """
    key = (activation, output, np.dtype(params["W1"].dtype).name, mini_batch)
    if key in _WARM:
        return
    W1, b1, W2, b2, X, Y = _arrays({k: v.copy() for k, v in params.items()}, X, Y)
    kernels = _kernels(activation, output, W1.dtype)
    lr = W1.dtype.type(0.0)
    if mini_batch:
        orders = np.empty((0, X.shape[1]), dtype=np.intp)
        kernels.mini_batch(W1, b1, W2, b2, X, Y, lr, orders, 1)
    # full batch: the steps; mini-batch: the loss samples
    kernels.full_batch(W1, b1, W2, b2, X, Y, lr, np.zeros(1, np.int64), np.empty(0))
    _WARM.add(key)
