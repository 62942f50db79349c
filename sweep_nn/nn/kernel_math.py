"""The compiled kernels' scalar maths: activations, their derivatives, the output layers.

:mod:`sweep_nn.nn.kernels` builds the fused pass and the steps from these; the functions
here are compiled into each kernel (inlined), never called from Python, except
:func:`squash`, which applies them to arrays for tests.

Arithmetic
----------
Kernels are compiled with ``fastmath`` limited to reassociation, contraction and
signed-zero freedoms -- enough for reductions and fused multiply-adds to vectorise --
and never ``nnan``/``ninf``: a diverging run must still produce infinities and NaNs, which
the caller detects afterwards. ``error_model="numpy"`` makes a division by zero yield inf
or NaN instead of raising, and lets divisions vectorise. Sums run in a different order
than NumPy's pairwise reductions, so results agree with the NumPy engine to rounding
(about 1e-15 relative in float64), not bit for bit.

libm's ``tanh`` and ``exp`` are scalar calls, which keep a loop from vectorising, so both
dtypes use functions of their own (softmax alone still calls ``np.exp``):

* ``_tanh64``: ``expm1(2x) / (expm1(2x) + 2)``, expm1 by range reduction and a polynomial
  (see the comment above it). Against a long-double ``tanh`` on 6,000,001 points over
  [-30, 30]: at most 2.7 ulps (2.8e-16 absolute; NumPy's ``tanh``: 1.2 ulps), and at most
  3.7e-16 relative on +-[1e-300, 1]. The tests check 4 ulps and 6e-16;
* ``_sigmoid64``: ``0.5 + 0.5 tanh64(z / 2)``: at most 1.5e-16 absolute (NumPy's
  ``1 / (1 + exp(-z))``: 1.7e-16). The tests check 3e-16;

* ``_tanh32``: a [13/6] rational approximation on [-7.9053, 7.9053] (the coefficients
  of Eigen's ``ptanh_float``), clamped there, and exactly +-1 beyond 9. Measured against
  ``numpy.tanh`` in float64 on 2,000,001 points over [-20, 20]: at most 2.6e-7 absolute
  (about 4 float32 ulps; NumPy's own float32 tanh: 6.0e-8), and at most 2.7e-7 relative
  on [1e-8, 1]. The tests check bounds of 3e-7 and 1e-6;
* ``_sigmoid32``: ``0.5 + 0.5 tanh32(z / 2)``, the identity for the logistic function;
  at most 1.7e-7 absolute against the float64 logistic function on the same grid
  (NumPy's float32 ``1 / (1 + exp(-z))``: 9.1e-8). The tests check a bound of 2e-7.

"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from llvmlite import ir
from numba import errors, njit, types
from numba.extending import intrinsic, overload

if TYPE_CHECKING:
    from numba.core.decorators import _JITOptions

    class Options(_JITOptions, total=False):  # overload() passes cache on to jit() as well
        cache: bool


_FASTMATH = {"reassoc", "contract", "nsz"}  # no "nnan"/"ninf": overflow propagates
# Not cached on their own: only the kernels' entry points are (see kernels.kernels_for)
JIT: Options = {"fastmath": _FASTMATH, "error_model": "numpy", "nogil": True}
# Inlined by Numba itself: LLVM would find these too big to inline, and a call left in a
# loop keeps the loop from vectorising
INLINED: Options = {**JIT, "inline": "always"}


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


@njit(**JIT)
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


@njit(**JIT)
def _sigmoid32(z):
    return _HALF32 + _HALF32 * _tanh32(_HALF32 * z)


# --- hidden activations and output layers, chosen while Numba types a kernel ----------------
# Only g(z) for tanh and the logistic function needs a function per dtype (libm's in float64,
# the approximations above in float32). Everything else is one expression for both dtypes,
# with its constants 0 and 1 in the argument's dtype: a Python ``1.0`` would turn float32
# arithmetic into float64.

ACTIVATIONS = ("tanh", "sigmoid", "relu")
OUTPUTS = ("sigmoid", "softmax", "linear")
DTYPES = ("float32", "float64")


# --- float64 tanh that vectorises ---------------------------------------------------------
# tanh(x) = expm1(2x) / (expm1(2x) + 2), exact in relative terms near 0 as well. expm1(y):
# y = n ln2 + r with |r| <= ln2 / 2 (Cody and Waite's two-part ln2), expm1(r) as r times a
# degree-10 polynomial fitted to expm1(r) / r there (Chebyshev, error < 2e-17; a Taylor
# series needs degree 12 for as little), then 2^n expm1(r) + (2^n - 1). Beyond
# |x| = 20, tanh is +-1 in float64, so |n| <= 58. n is rounded by adding 1.5 * 2^52 + 1023:
# the sum's ulp is 1, so it is rounded to the nearest integer (ties to even, as rint), and
# its lowest bits are n + 1023, which a shift puts into the exponent field of 2^n. Two
# additions and a shift instead of rint, a conversion to integer and an integer add: steps
# 10 to 13% faster, with every result the same. NaN passes through every step.

_TANH64_CLAMP = 20.0
_LOG2E = 1.4426950408889634
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
# expm1(r) / r on [-ln2 / 2, ln2 / 2], highest power first: mpmath.chebyfit with 11 terms,
# at 50 digits (its error bound there: 1.8e-17)
_EXPM1_R10, *_EXPM1_REST = (
    2.510520637395701e-08, 2.7626357241447223e-07, 2.7557255425746435e-06,
    2.4801504346997686e-05, 0.00019841269874800493, 0.0013888888932488599,
    0.008333333333326141, 0.04166666666657314, 0.1666666666666667, 0.5000000000000006, 1.0,
)  # fmt: skip
_EXPM1_LOWER = tuple(_EXPM1_REST)
_ROUNDER = 1.5 * 2.0**52 + 1023  # x + _ROUNDER: x rounded, plus 1023, in the lowest bits


@intrinsic
def _rounded_add(typingctx, x, y):
    """x + y in float64 with no fast-math freedoms: reassociation would fold
    ``(x + c) - c`` to ``x``. (Numba's fastmath pass only flags instructions that have no
    flags, so the addition carries ``nsz``, which permits nothing here.)"""
    if x != types.float64 or y != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=("nsz",))

    return types.float64(types.float64, types.float64), codegen


@intrinsic
def _exponent_from_low_bits(typingctx, t):
    """The float64 whose sign and exponent fields are t's lowest 12 bits, its mantissa
    zero: 2^n for t = _ROUNDER + n (a bitcast and a shift, no conversion)."""
    if t != types.float64:
        return None

    def codegen(context, builder, signature, args):
        bits = builder.bitcast(args[0], ir.IntType(64))
        shifted = builder.shl(bits, ir.Constant(ir.IntType(64), 52))
        return builder.bitcast(shifted, ir.DoubleType())

    return types.float64(types.float64), codegen


@njit(**INLINED)
def _tanh64(z):
    x = min(max(z, -_TANH64_CLAMP), _TANH64_CLAMP)  # NaN stays NaN
    y = 2.0 * x
    t = _rounded_add(y * _LOG2E, _ROUNDER)
    n = _rounded_add(t, -_ROUNDER)  # rint(y / ln2), exactly
    r = (y - n * _LN2_HI) - n * _LN2_LO
    p = _EXPM1_R10
    for c in _EXPM1_LOWER:
        p = c + r * p
    e = r * p  # expm1(r)
    scale = _exponent_from_low_bits(t)  # 2^n
    em1 = scale * e + (scale - 1.0)
    return em1 / (em1 + 2.0)


@njit(**INLINED)
def _sigmoid64(z):
    return 0.5 + 0.5 * _tanh64(0.5 * z)


_SQUASH = {  # (name, dtype name) -> g(z), where float32 has its own function
    ("tanh", "float64"): _tanh64, ("tanh", "float32"): _tanh32,
    ("sigmoid", "float64"): _sigmoid64, ("sigmoid", "float32"): _sigmoid32,
}  # fmt: skip


# Output layers: Z2 -> dZ2 = A2 - Y in place, over the first n columns (a chunk).
@njit(**JIT)
def _sigmoid_delta(Z2, Y, n):
    for c in range(Z2.shape[0]):
        for jj in range(n):
            Z2[c, jj] = g(Z2[c, jj], "sigmoid") - Y[c, jj]


@njit(**JIT)
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


@njit(**JIT)
def _linear_delta(Z2, Y, n):
    for c in range(Z2.shape[0]):
        for jj in range(n):
            Z2[c, jj] -= Y[c, jj]


_DELTAS = {"sigmoid": _sigmoid_delta, "softmax": _softmax_delta, "linear": _linear_delta}


# Losses: each output's matching loss summed over the first n columns of Z2 (a chunk), in
# float64, written as plain.py writes it: a sigmoid output's binary cross-entropy per
# element (averaged over the outputs here), softmax's cross-entropy and half the squared
# error per column.
@njit(**JIT)
def _sigmoid_loss(Z2, Y, n):
    total = 0.0
    for c in range(Z2.shape[0]):
        for jj in range(n):
            z = np.float64(Z2[c, jj])  # log(1 + e^z) - y z, finite for any z
            total += max(z, 0.0) + np.log1p(np.exp(-abs(z))) - Y[c, jj] * z
    return total / Z2.shape[0]


@njit(**JIT)
def _softmax_loss(Z2, Y, n):
    total = 0.0
    for jj in range(n):
        top = np.float64(Z2[0, jj])
        for c in range(1, Z2.shape[0]):
            top = max(top, np.float64(Z2[c, jj]))
        norm, dot = 0.0, 0.0
        for c in range(Z2.shape[0]):
            norm += np.exp(np.float64(Z2[c, jj]) - top)
            dot += Y[c, jj] * np.float64(Z2[c, jj])
        total += np.log(norm) + top - dot
    return total


@njit(**JIT)
def _linear_loss(Z2, Y, n):
    total = 0.0
    for c in range(Z2.shape[0]):
        for jj in range(n):
            d = np.float64(Z2[c, jj]) - Y[c, jj]
            total += 0.5 * d * d
    return total


_LOSSES = {"sigmoid": _sigmoid_loss, "softmax": _softmax_loss, "linear": _linear_loss}


# --- the layers, chosen while Numba types a kernel ------------------------------------------
# The kernels take the activation's and the output's names as compile-time constants
# (string literals, see kernels.kernels_for): ``g``, ``g_grad`` and ``delta`` resolve them,
# and the dtype, while Numba types the kernel, so each (activation, output, dtype) gets its
# own machine code with the functions inlined, and no name is compared at run time.


def g(z, activation):  # the hidden activation named ``activation``, typed at compile time
    raise NotImplementedError


def g_grad(a, activation):  # its derivative, from the activation
    raise NotImplementedError


def delta(Z2, Y, n, output):  # the output layer's dZ2 = A2 - Y, in place
    raise NotImplementedError


def loss_sum(Z2, Y, n, output):  # its matching loss, summed over the chunk's columns
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


@overload(g, jit_options=JIT, inline="always")  # see INLINED
def _g_overload(z, activation):
    name = _literal(activation, ACTIVATIONS)
    if name == "relu":
        zero, _ = _constants(z)
        return lambda z, activation: zero if z < zero else z  # noqa: FURB136 - NaN stays NaN
    g = _SQUASH[(name, str(z))]
    return lambda z, activation: g(z)


@overload(g_grad, jit_options=JIT)
def _g_grad_overload(a, activation):
    name = _literal(activation, ACTIVATIONS)
    zero, one = _constants(a)
    if name == "tanh":
        return lambda a, activation: one - a * a
    if name == "sigmoid":
        return lambda a, activation: a * (one - a)
    return lambda a, activation: one if a > zero else zero


@overload(delta, jit_options=JIT)
def _delta_overload(Z2, Y, n, output):
    delta = _DELTAS[_literal(output, OUTPUTS)]
    return lambda Z2, Y, n, output: delta(Z2, Y, n)


@overload(loss_sum, jit_options=JIT)
def _loss_sum_overload(Z2, Y, n, output):
    loss = _LOSSES[_literal(output, OUTPUTS)]
    return lambda Z2, Y, n, output: loss(Z2, Y, n)


@njit(**JIT)
def squash(x: np.ndarray, logistic: bool) -> np.ndarray:
    """The kernels' tanh (or logistic function) for x's dtype, elementwise (for tests)."""
    out = np.empty_like(x)
    for i in range(x.size):
        out.flat[i] = g(x.flat[i], "sigmoid") if logistic else g(x.flat[i], "tanh")
    return out
