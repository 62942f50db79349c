"""The compiled engine's Numba code: the fused gradient pass, the steps, the layers.

:mod:`sweep_nn.nn.compiled` checks the arrays and calls the kernels; this module holds
every function Numba compiles (see "The on-disk cache" below for why they stay together).

The fused pass
--------------
A gradient step goes over the examples of its batch in chunks of :data:`CHUNK` columns.
For one chunk, with every buffer small enough to stay in the L1/L2 cache:

1. forward, one hidden unit ``k`` at a time: the row ``a_k = g(W1[k] x + b1[k])`` over the
   chunk's examples, stored, and added into ``Z2 += W2[:, k] a_k`` at once;
2. the output layer turns ``Z2`` into ``dZ2 = A2 - Y`` in place (the same expression for
   every output, each paired with its matching loss);
3. backward, again unit by unit: ``dW2[:, k] += dZ2 a_k``, then ``dz1_k = (W2[:, k] dZ2)
   g'(a_k)``, ``db1[k] += sum dz1_k`` and ``dW1[k] += dz1_k x``;

and ``db2 += sum dZ2``. Every innermost loop runs along the chunk's examples, contiguous in
memory, so it vectorises whatever the hidden size (one hidden unit included). After the
last chunk, the summed gradients are scaled by ``1 / m`` and the parameters updated.

The inputs and targets are first copied chunk by chunk into (chunks, rows, CHUNK) arrays,
once per call for full batch (gathered through the permutation, batch by batch, for
mini-batches), so that a chunk's rows are contiguous and start at column 0: indexing the
(rows, m) arrays at ``j0 + jj`` kept those loops from vectorising (3-4x slower).

A mini-batch iteration takes its shuffled order of the examples as an argument (drawn in
Python, see :func:`sweep_nn.nn.compiled.train`), gathers each batch's columns into a
contiguous buffer and takes one such step per batch (the last batch may be smaller).

Arithmetic
----------
Kernels are compiled with ``fastmath`` limited to reassociation, contraction and
signed-zero freedoms -- enough for reductions and fused multiply-adds to vectorise --
and never ``nnan``/``ninf``: a diverging run must still produce infinities and NaNs, which
the caller detects afterwards. ``error_model="numpy"`` makes a division by zero yield inf
or NaN instead of raising, and lets divisions vectorise. Sums run in a different order
than NumPy's pairwise reductions, so results agree with the NumPy engine to rounding
(about 1e-15 relative in float64), not bit for bit.

float64 uses libm's ``tanh`` and ``exp``. float32 uses functions that vectorise:

* ``_tanh32``: a [13/6] rational approximation on [-7.9053, 7.9053] (the coefficients
  of Eigen's ``ptanh_float``), clamped there, and exactly +-1 beyond 9. Measured against
  ``numpy.tanh`` in float64 on 2,000,001 points over [-20, 20]: at most 2.6e-7 absolute
  (about 4 float32 ulps; NumPy's own float32 tanh: 6.0e-8), and at most 2.7e-7 relative
  on [1e-8, 1]. The tests check bounds of 3e-7 and 1e-6;
* ``_sigmoid32``: ``0.5 + 0.5 tanh32(z / 2)``, the identity for the logistic function;
  at most 1.7e-7 absolute against the float64 logistic function on the same grid
  (NumPy's float32 ``1 / (1 + exp(-z))``: 9.1e-8). The tests check a bound of 2e-7.

The on-disk cache
-----------------
Kernels are cached on disk (``cache=True``: beside this module, or in ``NUMBA_CACHE_DIR``),
so only a machine's first run compiles. A cached kernel holds the machine code of all it
calls, and Numba checks only the date and size of the file defining the kernel; so every
function the kernels call is defined here, and nothing else imports Numba (a test checks).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numba import errors, njit, types
from numba.extending import overload

if TYPE_CHECKING:
    from numba.core.decorators import _JITOptions

    class _Options(_JITOptions, total=False):  # overload() passes cache on to jit() as well
        cache: bool


_FASTMATH = {"reassoc", "contract", "nsz"}  # no "nnan"/"ninf": overflow propagates
_JIT: _Options = {"cache": True, "fastmath": _FASTMATH, "error_model": "numpy", "nogil": True}

CHUNK = 512  # examples per fused pass: a (hidden, CHUNK) block stays in the L2 cache


# --- float32 approximations that vectorise -------------------------------------------------

_f32 = np.float32
_TANH_CLAMP = _f32(7.90531110763549805)  # the approximation's range
_TANH_ONE = _f32(9.0)
_A13, _A11, _A9, _A7, _A5, _A3, _A1 = (_f32(c) for c in (  # numerator, odd powers 13 .. 1
    -2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
    1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03))  # fmt: skip
_B6, _B4, _B2, _BETA_0 = (_f32(c) for c in (  # denominator, even powers 6 .. 0
    1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
    4.89352518554385e-03))  # fmt: skip
_ZERO32, _HALF32, _ONE32 = _f32(0.0), _f32(0.5), _f32(1.0)


@njit(**_JIT)
def _tanh32(z):
    x = min(max(z, -_TANH_CLAMP), _TANH_CLAMP)
    x2 = x * x
    p = x2 * _A13 + _A11
    p = p * x2 + _A9
    p = p * x2 + _A7
    p = p * x2 + _A5
    p = p * x2 + _A3
    p = p * x2 + _A1
    q = x2 * _B6 + _B4
    q = q * x2 + _B2
    q = q * x2 + _BETA_0
    if abs(z) >= _TANH_ONE:  # beyond 9, tanh is +-1 to float32 precision (also for +-inf)
        return _ONE32 if z > _ZERO32 else -_ONE32
    return x * p / q


@njit(**_JIT)
def _sigmoid32(z):
    return _HALF32 + _HALF32 * _tanh32(_HALF32 * z)


@njit(**_JIT)
def squash32(x: np.ndarray, logistic: bool) -> np.ndarray:
    """The float32 kernels' tanh (or logistic function), elementwise over a float32 array."""
    out = np.empty_like(x)
    for i in range(x.size):
        out.flat[i] = _sigmoid32(x.flat[i]) if logistic else _tanh32(x.flat[i])
    return out


# --- hidden activations and output layers, chosen while Numba types a kernel ----------------
# Only g(z) for tanh and the logistic function needs a function per dtype (libm's in float64,
# the approximations above in float32). Everything else is one expression for both dtypes,
# with its constants 0 and 1 in the argument's dtype: a Python ``1.0`` would turn float32
# arithmetic into float64.

ACTIVATIONS = ("tanh", "sigmoid", "relu")
OUTPUTS = ("sigmoid", "softmax", "linear")
DTYPES = ("float32", "float64")


@njit(**_JIT)
def _tanh64(z):
    return np.tanh(z)


@njit(**_JIT)
def _sigmoid64(z):
    return 1.0 / (1.0 + np.exp(-z))


_SQUASH = {  # (name, dtype name) -> g(z), where float32 has its own function
    ("tanh", "float64"): _tanh64, ("tanh", "float32"): _tanh32,
    ("sigmoid", "float64"): _sigmoid64, ("sigmoid", "float32"): _sigmoid32,
}  # fmt: skip


# Output layers: Z2 -> dZ2 = A2 - Y in place, over the first n columns (a chunk).
@njit(**_JIT)
def _sigmoid_delta(Z2, Y, n):
    for c in range(Z2.shape[0]):
        for jj in range(n):
            Z2[c, jj] = _g(Z2[c, jj], "sigmoid") - Y[c, jj]


@njit(**_JIT)
def _softmax_delta(Z2, Y, n):
    o = Z2.shape[0]
    for jj in range(n):  # classes along axis 0, one column at a time
        top = Z2[0, jj]
        for c in range(1, o):
            top = max(top, Z2[c, jj])
        total = Z2[0, jj] - Z2[0, jj]  # zero, in the arrays' dtype
        for c in range(o):
            e = np.exp(Z2[c, jj] - top)
            Z2[c, jj] = e
            total += e
        for c in range(o):
            Z2[c, jj] = Z2[c, jj] / total - Y[c, jj]


@njit(**_JIT)
def _linear_delta(Z2, Y, n):
    for c in range(Z2.shape[0]):
        for jj in range(n):
            Z2[c, jj] -= Y[c, jj]


_DELTAS = {"sigmoid": _sigmoid_delta, "softmax": _softmax_delta, "linear": _linear_delta}


# --- the fused pass and the step ---------------------------------------------------------
# The kernels take the activation's and the output's names as compile-time constants
# (string literals, see :func:`kernels_for`): ``_g``, ``_g_grad`` and ``_delta`` resolve
# them, and the dtype, while Numba types the kernel, so each (activation, output, dtype)
# gets its own machine code with the functions inlined, and no name is compared at run time.


def _g(z, activation):  # the hidden activation named ``activation``, typed at compile time
    raise NotImplementedError


def _g_grad(a, activation):  # its derivative, from the activation
    raise NotImplementedError


def _delta(Z2, Y, n, output):  # the output layer's dZ2 = A2 - Y, in place
    raise NotImplementedError


def _literal(name: types.Type, known: tuple[str, ...]) -> str:
    if not isinstance(name, types.StringLiteral):
        raise errors.TypingError(f"a layer's name must be a compile-time constant, not {name}")
    if name.literal_value not in known:
        raise errors.TypingError(f"no compiled layer {name.literal_value!r}")
    return name.literal_value


def _constants(dtype: types.Type) -> tuple[np.floating, np.floating]:
    """0 and 1 in the float type ``dtype``, as constants for the compiled code."""
    scalar = np.dtype(str(dtype)).type
    return scalar(0), scalar(1)


@overload(_g, jit_options=_JIT)
def _g_overload(z, activation):
    name = _literal(activation, ACTIVATIONS)
    if name == "relu":
        zero, _ = _constants(z)
        return lambda z, activation: zero if z < zero else z  # noqa: FURB136 - NaN stays NaN
    g = _SQUASH[(name, str(z))]
    return lambda z, activation: g(z)


@overload(_g_grad, jit_options=_JIT)
def _g_grad_overload(a, activation):
    name = _literal(activation, ACTIVATIONS)
    zero, one = _constants(a)
    if name == "tanh":
        return lambda a, activation: one - a * a
    if name == "sigmoid":
        return lambda a, activation: a * (one - a)
    return lambda a, activation: one if a > zero else zero


@overload(_delta, jit_options=_JIT)
def _delta_overload(Z2, Y, n, output):
    delta = _DELTAS[_literal(output, OUTPUTS)]
    return lambda Z2, Y, n, output: delta(Z2, Y, n)


@njit(**_JIT)
def _chunk(W1, b1, W2, b2, X, Y, n, A1, Z2, D, gW1, gb1, gW2, gb2, activation, output):
    """Add the gradients (summed, not averaged) of the first n columns of X, Y (one chunk)."""
    h, n_in = W1.shape
    o = W2.shape[0]
    zero = W1.dtype.type(0)
    for c in range(o):  # forward
        for jj in range(n):
            Z2[c, jj] = b2[c, 0]
    for k in range(h):
        w = W1[k, 0]
        for jj in range(n):
            A1[k, jj] = w * X[0, jj]
        for i in range(1, n_in):
            w = W1[k, i]
            for jj in range(n):
                A1[k, jj] += w * X[i, jj]
        bk = b1[k, 0]
        for jj in range(n):
            A1[k, jj] = _g(A1[k, jj] + bk, activation)
        for c in range(o):
            w = W2[c, k]
            for jj in range(n):
                Z2[c, jj] += w * A1[k, jj]
    _delta(Z2, Y, n, output)  # Z2 now holds dZ2
    for c in range(o):
        s = zero
        for jj in range(n):
            s += Z2[c, jj]
        gb2[c] += s
    for k in range(h):  # backward
        for c in range(o):
            s = zero
            for jj in range(n):
                s += Z2[c, jj] * A1[k, jj]
            gW2[c, k] += s
        w = W2[0, k]
        for jj in range(n):
            D[jj] = w * Z2[0, jj]
        for c in range(1, o):
            w = W2[c, k]
            for jj in range(n):
                D[jj] += w * Z2[c, jj]
        s = zero
        for jj in range(n):
            d = D[jj] * _g_grad(A1[k, jj], activation)
            D[jj] = d
            s += d
        gb1[k] += s
        for i in range(n_in):
            s = zero
            for jj in range(n):
                s += D[jj] * X[i, jj]
            gW1[k, i] += s


@njit(**_JIT)
def _batch_gradients(W1, b1, W2, b2, Xc, Yc, m, bufs, grads, activation, output):
    """Mean gradients over the first ``m`` examples of the chunked Xc, Yc, into ``grads``."""
    A1, Z2, D = bufs
    gW1, gb1, gW2, gb2 = grads
    gW1[:] = 0
    gb1[:] = 0
    gW2[:] = 0
    gb2[:] = 0
    for ci in range(Xc.shape[0]):
        n = min(CHUNK, m - ci * CHUNK)
        if n <= 0:
            break
        _chunk(W1, b1, W2, b2, Xc[ci], Yc[ci], n, A1, Z2, D, gW1, gb1, gW2, gb2, activation, output)
    inv_m = W1.dtype.type(1.0 / m)
    gW1 *= inv_m
    gb1 *= inv_m
    gW2 *= inv_m
    gb2 *= inv_m


@njit(**_JIT)
def _chunked(X, order, start, m, out):
    """Columns ``order[start:start + m]`` of X (all of them in turn if ``order`` is empty)
    into ``out`` (chunks, rows, CHUNK): column j goes to ``out[j // CHUNK, :, j % CHUNK]``,
    so that every chunk's rows are contiguous and start at column 0."""
    for ci in range(out.shape[0]):
        j0 = ci * CHUNK
        n = min(CHUNK, m - j0)
        if n <= 0:
            break
        for i in range(X.shape[0]):
            row = out[ci, i]
            if order.size == 0:
                for jj in range(n):
                    row[jj] = X[i, j0 + jj]
            else:
                for jj in range(n):
                    row[jj] = X[i, order[start + j0 + jj]]


@njit(**_JIT)
def _chunk_buffer(X, m):
    return np.zeros(((m + CHUNK - 1) // CHUNK, X.shape[0], CHUNK), X.dtype)


@njit(**_JIT)
def _all_chunked(X):
    """All of X's columns, in order, chunked (full batch)."""
    m = X.shape[1]
    out = _chunk_buffer(X, m)
    _chunked(X, np.empty(0, np.intp), 0, m, out)
    return out


@njit(**_JIT)
def _gradients(W1, b1, W2, b2, X, Y, activation, output):
    m = X.shape[1]
    bufs, grads = _buffers(W1, W2)
    Xc, Yc = _all_chunked(X), _all_chunked(Y)
    _batch_gradients(W1, b1, W2, b2, Xc, Yc, m, bufs, grads, activation, output)
    return grads


@njit(**_JIT)
def _full_batch(W1, b1, W2, b2, X, Y, lr, n_steps, activation, output):
    m = X.shape[1]
    bufs, grads = _buffers(W1, W2)
    Xc, Yc = _all_chunked(X), _all_chunked(Y)
    for _ in range(n_steps):
        _batch_gradients(W1, b1, W2, b2, Xc, Yc, m, bufs, grads, activation, output)
        _update(W1, b1, W2, b2, grads, lr)


@njit(**_JIT)
def _mini_batch(W1, b1, W2, b2, X, Y, lr, orders, size, activation, output):
    """One iteration per row of ``orders``: batches ``order[start:start + size]``."""
    m = X.shape[1]
    bufs, grads = _buffers(W1, W2)
    Xc, Yc = _chunk_buffer(X, size), _chunk_buffer(Y, size)
    for t in range(orders.shape[0]):
        order = orders[t]
        for start in range(0, m, size):
            nb = min(size, m - start)
            _chunked(X, order, start, nb, Xc)
            _chunked(Y, order, start, nb, Yc)
            _batch_gradients(W1, b1, W2, b2, Xc, Yc, nb, bufs, grads, activation, output)
            _update(W1, b1, W2, b2, grads, lr)


class Kernels(NamedTuple):  # one (activation, output) pair's entry points, per dtype
    gradients: Any  # (W1, b1, W2, b2, X, Y) -> (gW1, gb1, gW2, gb2)
    full_batch: Any  # (W1, b1, W2, b2, X, Y, lr, n_steps) -> None, in place
    mini_batch: Any  # (W1, b1, W2, b2, X, Y, lr, orders, size) -> None, in place


@functools.cache
def kernels_for(activation: str, output: str) -> Kernels:
    """The kernels with ``activation`` and ``output`` built in as constants.

    The names reach the kernels as closure constants, which Numba types as string
    literals, so a call from Python matches its compiled version at once. (A kernel taking
    the names as arguments would need ``literally``: Numba's dispatcher would type every
    call afresh, about 10 ms each, before finding the literal version.) The on-disk cache
    keys each closure by the values it closes over.
    """

    @njit(**_JIT)
    def gradients(W1, b1, W2, b2, X, Y):
        return _gradients(W1, b1, W2, b2, X, Y, activation, output)

    @njit(**_JIT)
    def full_batch(W1, b1, W2, b2, X, Y, lr, n_steps):
        _full_batch(W1, b1, W2, b2, X, Y, lr, n_steps, activation, output)

    @njit(**_JIT)
    def mini_batch(W1, b1, W2, b2, X, Y, lr, orders, size):
        _mini_batch(W1, b1, W2, b2, X, Y, lr, orders, size, activation, output)

    return Kernels(gradients, full_batch, mini_batch)


@njit(**_JIT)
def _update(W1, b1, W2, b2, grads, lr):
    gW1, gb1, gW2, gb2 = grads
    h, n_in = W1.shape
    o = W2.shape[0]
    for k in range(h):
        for i in range(n_in):
            W1[k, i] -= lr * gW1[k, i]
        b1[k, 0] -= lr * gb1[k]
    for c in range(o):
        for k in range(h):
            W2[c, k] -= lr * gW2[c, k]
        b2[c, 0] -= lr * gb2[c]


@njit(**_JIT)
def _buffers(W1, W2):
    h, n_in = W1.shape
    o = W2.shape[0]
    dt = W1.dtype
    bufs = (np.empty((h, CHUNK), dt), np.empty((o, CHUNK), dt), np.empty(CHUNK, dt))
    grads = (np.empty((h, n_in), dt), np.empty(h, dt), np.empty((o, h), dt), np.empty(o, dt))
    return bufs, grads
