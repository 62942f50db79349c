"""The compiled engine's Numba code: the fused gradient pass, the steps, the layers.

:mod:`sweep_nn.nn.compiled` checks the arrays and calls the kernels' entry points,
:func:`kernels_for`; the layers they are built from are in :mod:`sweep_nn.nn.kernel_math`.

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
memory, so it vectorises whatever the hidden size (one hidden unit included). A unit's
steps share passes over the chunk where they can: forward, the last two inputs, the bias,
``g`` and the first output are one pass; backward, the last output, ``g'``, ``db1[k]`` and
the first two inputs' ``dW1[k]``. With two inputs and one output (moons), a unit takes one
pass forward and one backward, instead of four and five: 1.5-2x faster at hidden 50. After
the last chunk, the summed gradients are scaled by ``1 / m`` and the parameters updated.

The inputs and targets are first copied chunk by chunk into (chunks, rows, CHUNK) arrays,
once per call for full batch (gathered through the permutation, batch by batch, for
mini-batches), so that a chunk's rows are contiguous and start at column 0: indexing the
(rows, m) arrays at ``j0 + jj`` kept those loops from vectorising (3-4x slower).

A mini-batch iteration takes its shuffled order of the examples as an argument (drawn in
Python, see :func:`sweep_nn.nn.compiled.train`), gathers each batch's columns into a
contiguous buffer and takes one such step per batch (the last batch may be smaller).

The on-disk cache
-----------------
The entry points of :func:`kernels_for` are cached on disk (``cache=True``: beside this
module, or in ``NUMBA_CACHE_DIR``), so only a machine's first run compiles; a cached entry
holds the machine code of all it calls. Numba would notice a change only to the file that
defines the entry point, so the entry points close over :data:`SOURCE_DIGEST`, the hash of
every file the kernels are compiled from: Numba keys a closure's cache entries by the values
it closes over, so a change to any of them compiles anew. The functions they call are not
cached on their own (a stale one would be linked in). Nothing else imports Numba.

A process never runs an entry point it compiled itself (see :func:`from_cache`): the
compiling is done by a short-lived process of its own, and every process loads the entry
point from the cache, so that the results of a run do not depend on whether its process
found the kernel there.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numba import njit

from . import numba_start
from .kernel_math import INLINED, JIT, delta, g, g_grad, loss_sum

if TYPE_CHECKING:
    from .kernel_math import Options

_CACHED: Options = {**JIT, "cache": True}
# every file whose functions the kernels compile in: a change to any of them is a new kernel
_SOURCES = (Path(__file__), Path(__file__).with_name("kernel_math.py"))
SOURCE_DIGEST = hashlib.sha256(b"".join(p.read_bytes() for p in _SOURCES)).hexdigest()
COMPILE_TIMEOUT = 900  # seconds to compile one entry point (7 to 25 s seen), else done in-process
CHUNK = 512  # examples per fused pass: a (hidden, CHUNK) block stays in the L2 cache


@njit(**INLINED)  # as if written out in _chunk: the step's arithmetic stays as it was
def _forward(W1, b1, W2, b2, X, n, A1, Z2, activation):
    """A1 = g(W1 X + b1) and Z2 = W2 A1 + b2 over the first n columns of X (one chunk)."""
    h, n_in = W1.shape
    o = W2.shape[0]
    p, q = max(n_in - 2, 0), n_in - 1  # the last two inputs (the same one if there is one)
    zero = W1.dtype.type(0)
    for c in range(o):
        for jj in range(n):
            Z2[c, jj] = b2[c, 0]
    for k in range(h):
        if p:  # inputs before the last two, a pass each
            w = W1[k, 0]
            for jj in range(n):
                A1[k, jj] = w * X[0, jj]
            for i in range(1, p):
                w = W1[k, i]
                for jj in range(n):
                    A1[k, jj] += w * X[i, jj]
        # the last two inputs, the bias, the activation and the first output in one pass
        wp, wq, bk, v = W1[k, p] if q else zero, W1[k, q], b1[k, 0], W2[0, k]
        for jj in range(n):
            z = ((A1[k, jj] if p else zero) + wp * X[p, jj]) + wq * X[q, jj]
            a = g(z + bk, activation)
            A1[k, jj] = a
            Z2[0, jj] += v * a
        for c in range(1, o):
            v = W2[c, k]
            for jj in range(n):
                Z2[c, jj] += v * A1[k, jj]


@njit(**JIT)
def _loss(W1, b1, W2, b2, Xc, Yc, m, bufs, activation, output):
    """The mean loss over the chunked Xc, Yc, summed in float64 as plain.loss computes it."""
    A1, Z2, _ = bufs
    total = 0.0
    for ci in range(Xc.shape[0]):
        n = min(CHUNK, m - ci * CHUNK)
        if n <= 0:
            break
        _forward(W1, b1, W2, b2, Xc[ci], n, A1, Z2, activation)
        total += loss_sum(Z2, Yc[ci], n, output)
    return total / m


@njit(**JIT)
def _finite(W1, b1, W2, b2):
    return (np.isfinite(W1).all() and np.isfinite(b1).all()
            and np.isfinite(W2).all() and np.isfinite(b2).all())  # fmt: skip


@njit(**JIT)
def _chunk(W1, b1, W2, b2, X, Y, n, A1, Z2, D, gW1, gb1, gW2, gb2, activation, output):
    """Add the gradients (summed, not averaged) of the first n columns of X, Y (one chunk)."""
    h, o = W1.shape[0], W2.shape[0]
    zero = W1.dtype.type(0)
    _forward(W1, b1, W2, b2, X, n, A1, Z2, activation)
    delta(Z2, Y, n, output)  # Z2 now holds dZ2
    for c in range(o):
        s = zero
        for jj in range(n):
            s += Z2[c, jj]
        gb2[c] += s
    for k in range(h):  # backward
        _backward_unit(W2, X, n, A1[k], Z2, D, gW1[k], gb1, gW2, k, activation)


@njit(**INLINED)
def _backward_unit(W2, X, n, a_k, Z2, D, gW1_k, gb1, gW2, k, activation):
    """Hidden unit k's share of the gradients: dW2[:, k], db1[k] and dW1[k], from dZ2
    (in Z2) and the unit's activations ``a_k``; D holds dz1_k afterwards."""
    n_in, o = X.shape[0], Z2.shape[0]
    last = o - 1
    zero = a_k.dtype.type(0)
    for c in range(last):  # all outputs but the last: dW2[c, k] and their part of W2[:, k] dZ2
        w, s = W2[c, k], zero
        for jj in range(n):
            s += Z2[c, jj] * a_k[jj]
            D[jj] = (D[jj] if c else zero) + w * Z2[c, jj]
        gW2[c, k] += s
    # the last output, the activation's derivative, db1[k] and dW1[k] for the first two
    # inputs in one pass (X1 is X0 again if there is one input; its sum is dropped). The
    # inputs' rows are taken as X[0, jj] and a row X1 picked before the loop: indexing
    # X[p, jj], X[q, jj] here with p, q as in _forward ran at half the speed (measured).
    # D is stored for the inputs after the first two, if any.
    w, s2, sb, s0, s1 = W2[last, k], zero, zero, zero, zero
    X1 = X[min(1, n_in - 1)]
    for jj in range(n):
        z = Z2[last, jj]
        s2 += z * a_k[jj]
        d = ((D[jj] if last else zero) + w * z) * g_grad(a_k[jj], activation)
        D[jj] = d
        sb += d
        s0 += d * X[0, jj]
        s1 += d * X1[jj]
    gW2[last, k] += s2
    gb1[k] += sb
    gW1_k[0] += s0
    if n_in > 1:
        gW1_k[1] += s1
    for i in range(2, n_in):
        s = zero
        for jj in range(n):
            s += D[jj] * X[i, jj]
        gW1_k[i] += s


@njit(**JIT)
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


@njit(**JIT)
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


@njit(**JIT)
def _chunk_buffer(X, m):
    return np.zeros(((m + CHUNK - 1) // CHUNK, X.shape[0], CHUNK), X.dtype)


@njit(**JIT)
def _all_chunked(X):
    """All of X's columns, in order, chunked (full batch)."""
    m = X.shape[1]
    out = _chunk_buffer(X, m)
    _chunked(X, np.empty(0, np.intp), 0, m, out)
    return out


@njit(**JIT)
def _gradients(W1, b1, W2, b2, X, Y, activation, output):
    m = X.shape[1]
    bufs, grads = _buffers(W1, W2)
    Xc, Yc = _all_chunked(X), _all_chunked(Y)
    _batch_gradients(W1, b1, W2, b2, Xc, Yc, m, bufs, grads, activation, output)
    return grads


@njit(**JIT)
def _full_batch(W1, b1, W2, b2, X, Y, lr, steps, losses, activation, output):
    """``steps[i]`` steps for each i in turn, and after each of the first ``losses.size``
    of them the loss, into ``losses[i]``; stops after a loss that is not finite, or one
    after which a parameter is not, and returns how many of ``steps`` it took."""
    m = X.shape[1]
    bufs, grads = _buffers(W1, W2)
    Xc, Yc = _all_chunked(X), _all_chunked(Y)
    for i in range(steps.size):
        for _ in range(steps[i]):
            _batch_gradients(W1, b1, W2, b2, Xc, Yc, m, bufs, grads, activation, output)
            _update(W1, b1, W2, b2, grads, lr)
        if i < losses.size:
            losses[i] = _loss(W1, b1, W2, b2, Xc, Yc, m, bufs, activation, output)
            if not (np.isfinite(losses[i]) and _finite(W1, b1, W2, b2)):
                return i + 1
    return steps.size


@njit(**JIT)
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
    full_batch: Any  # (W1, b1, W2, b2, X, Y, lr, steps, losses) -> steps taken, in place
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

    source = SOURCE_DIGEST  # closed over: it keys the cache entries (see the module's notes)

    @njit(**_CACHED)
    def gradients(W1, b1, W2, b2, X, Y):
        source  # noqa: B018 - used, so that it is closed over and in Numba's cache key
        return _gradients(W1, b1, W2, b2, X, Y, activation, output)

    @njit(**_CACHED)
    def full_batch(W1, b1, W2, b2, X, Y, lr, steps, losses):
        source  # noqa: B018
        return _full_batch(W1, b1, W2, b2, X, Y, lr, steps, losses, activation, output)

    @njit(**_CACHED)
    def mini_batch(W1, b1, W2, b2, X, Y, lr, orders, size):
        source  # noqa: B018
        _mini_batch(W1, b1, W2, b2, X, Y, lr, orders, size, activation, output)

    return Kernels(gradients, full_batch, mini_batch)


@njit(**JIT)
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


@njit(**JIT)
def _buffers(W1, W2):
    h, n_in = W1.shape
    o = W2.shape[0]
    dt = W1.dtype
    bufs = (np.empty((h, CHUNK), dt), np.empty((o, CHUNK), dt), np.empty(CHUNK, dt))
    grads = (np.empty((h, n_in), dt), np.empty(h, dt), np.empty((o, h), dt), np.empty(o, dt))
    return bufs, grads


@functools.cache
def cached_kernels(activation: str, output: str, dtype: str) -> Kernels:
    """:func:`kernels_for`, each entry point run from the disk cache (:func:`from_cache`)
    for ``dtype``: the caller passes arrays of that dtype only, writeable and C-contiguous,
    so one signature per entry point."""
    entries = kernels_for(activation, output)
    return Kernels(*(_FromCache(getattr(entries, name), (activation, output, name))
                     for name in Kernels._fields))  # fmt: skip


class _FromCache:
    """An entry point whose first call makes sure it runs the cached machine code."""

    def __init__(self, dispatcher, names: tuple[str, str, str]) -> None:
        self.dispatcher, self.names = dispatcher, names  # (activation, output, entry)
        self._call = self._first

    def __call__(self, *args):
        return self._call(*args)

    def _first(self, *args):
        numba_start.before_first_kernel()
        from_cache(self.dispatcher, args, self.names)
        self._call = self.dispatcher
        return self.dispatcher(*args)


def from_cache(dispatcher, args: tuple, names: tuple[str, str, str]) -> None:
    """Have the disk cache hold ``dispatcher`` (the entry point ``names``: activation,
    output, entry) compiled for ``args``: if it does not yet, compile it there from another
    process (one at a time per entry point, under a lock).

    Code this process compiled would compute differently from the same entry point loaded
    from the cache: the functions it calls are compiled on their own as well, and its calls
    go to those, not to the copies its cached machine code holds, which LLVM optimised
    again with it. Reassociated sums then differ in their last bits (in float64, 13 of 50
    ``db1`` gradients by an ulp), and a run's results depended on whether its process had
    found the kernel in the cache. If the cache cannot be written, this process compiles.
    """
    signature = tuple(dispatcher.typeof_pyval(a) for a in args)
    # Numba has no public call for this: its cache keys an entry by the signature, the
    # machine, and the function's code and closure; only the index is read, nothing loaded
    try:
        cache, index = dispatcher._cache, dispatcher._cache._cache_file
        key = cache._index_key(signature, dispatcher.targetctx.codegen())
    except AttributeError:  # a Numba whose cache is built otherwise: compiled here, as before
        return
    if key in index._load_index():
        return
    from filelock import FileLock

    lock = f"compiling-{hashlib.sha256(pickle.dumps(key)).hexdigest()[:16]}.lock"
    try:
        os.makedirs(cache.cache_path, exist_ok=True)
        with FileLock(os.path.join(cache.cache_path, lock)):
            if key not in index._load_index():  # or another process just did
                _compile_elsewhere(names, signature)
    except OSError:
        pass  # no cache to write: compiled here, on the call


def _compile_elsewhere(names: tuple[str, str, str], signature: tuple) -> None:
    """Compile the entry point ``names`` for ``signature`` into the cache, in a process of
    its own."""
    job = (*names, signature)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        subprocess.run(
            [sys.executable, "-c", "from sweep_nn.nn.kernels import _compile_job; _compile_job()"],
            input=pickle.dumps(job), env=env, capture_output=True, check=False,
            timeout=COMPILE_TIMEOUT,
        )  # fmt: skip
    except subprocess.TimeoutExpired:  # killed by run(): as if it had failed
        pass
    # if it failed, the entry point is still not in the cache: the caller compiles it


def _compile_job() -> None:
    """The compiling process: one entry point, for one signature, into the cache."""
    numba_start.in_own_process()
    numba_start.before_first_kernel()
    activation, output, entry, signature = pickle.loads(sys.stdin.buffer.read())
    getattr(kernels_for(activation, output), entry).compile(signature)
