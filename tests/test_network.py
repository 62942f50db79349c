"""The network's maths: gradients against finite differences, a hand-computed case, init."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sweep_nn.nn import plain

N_IN, N_HIDDEN, M = 3, 4, 7
EPS = 1e-6


def _targets(output: str, rng: np.random.RandomState) -> np.ndarray:
    """Targets that fit each output layer: 0/1, one-hot over 3 classes, or 2 real values."""
    if output == "sigmoid":
        return np.array([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]])
    if output == "softmax":
        labels = np.array([0, 1, 2, 1, 0, 2, 2])
        return np.eye(3)[:, labels]
    if output == "linear":
        return rng.randn(2, M)
    raise AssertionError(f"no targets defined for output {output!r}; add them to this test")


def _problem(activation: str, output: str):
    """Float64 data, targets and weights large enough for non-trivial gradients."""
    rng = np.random.RandomState(7)
    Y = _targets(output, rng)
    X = rng.randn(N_IN, M)
    p = {
        "W1": rng.randn(N_HIDDEN, N_IN),
        "b1": rng.randn(N_HIDDEN, 1) * 0.5,
        "W2": rng.randn(Y.shape[0], N_HIDDEN),
        "b2": rng.randn(Y.shape[0], 1) * 0.5,
    }
    return p, X, Y


def _numerical_gradients(p, X, Y, activation, output):
    """Central differences of plain.loss for every parameter entry."""
    grads = {}
    for name, value in p.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + EPS
            plus = plain.loss(p, X, Y, activation, output)
            value[idx] = old - EPS
            minus = plain.loss(p, X, Y, activation, output)
            value[idx] = old
            g[idx] = (plus - minus) / (2 * EPS)
        grads[name] = g
    return grads


@pytest.mark.parametrize(
    ("activation", "output"), list(itertools.product(plain.ACTIVATIONS, plain.OUTPUTS))
)
def test_gradients_match_finite_differences(activation, output):
    p, X, Y = _problem(activation, output)
    Z1 = p["W1"] @ X + p["b1"]
    if activation == "relu":
        # finite differences are only valid away from relu's kink at 0; both sides are covered
        assert np.abs(Z1).min() > 1e-3
        assert (Z1 > 0).any() and (Z1 < 0).any()

    analytic = plain.gradients(p, X, Y, activation, output)
    numeric = _numerical_gradients(p, X, Y, activation, output)

    assert set(analytic) == {"W1", "b1", "W2", "b2"}
    for name in ("W1", "b1", "W2", "b2"):
        assert analytic[name].shape == p[name].shape
        assert analytic[name].dtype == np.float64
        assert np.abs(numeric[name]).max() > 1e-4, f"{name}: degenerate check, gradient ~ 0"
        np.testing.assert_allclose(
            analytic[name], numeric[name], rtol=1e-6, atol=1e-8, err_msg=name
        )


def test_gradients_do_not_change_the_parameters():
    p, X, Y = _problem("tanh", "sigmoid")
    before = {k: v.copy() for k, v in p.items()}
    plain.gradients(p, X, Y, "tanh", "sigmoid")
    for k in p:
        np.testing.assert_array_equal(p[k], before[k])


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


@pytest.mark.parametrize(
    ("activation", "g"),
    [("tanh", math.tanh), ("sigmoid", _sigmoid), ("relu", lambda z: max(z, 0.0))],
)
def test_one_hidden_unit_forward_and_loss_match_hand_computation(activation, g):
    # 1 input -> 1 hidden unit -> sigmoid output, two examples
    p = {
        "W1": np.array([[2.0]]),
        "b1": np.array([[0.5]]),
        "W2": np.array([[-1.5]]),
        "b2": np.array([[0.25]]),
    }
    X = np.array([[1.0, -1.0]])
    Y = np.array([[0.0, 1.0]])
    a2 = []
    for x in (1.0, -1.0):
        a1 = g(2.0 * x + 0.5)  # z1 = 2.5 and -1.5
        a2.append(_sigmoid(-1.5 * a1 + 0.25))
    bce = -(math.log(1 - a2[0]) + math.log(a2[1])) / 2

    _, Z2, A2 = plain.forward(p, X, activation, "sigmoid")

    np.testing.assert_allclose(A2, [a2], rtol=1e-12)
    np.testing.assert_allclose(Z2, [[math.log(a / (1 - a)) for a in a2]], rtol=1e-9)
    assert plain.loss(p, X, Y, activation, "sigmoid") == pytest.approx(bce, rel=1e-12)
    expected_labels = [int(a > 0.5) for a in a2]
    np.testing.assert_array_equal(plain.predict(p, X, activation, "sigmoid"), expected_labels)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")
def test_binary_cross_entropy_stays_finite_for_saturated_outputs():
    # outputs of exactly 0 and 1 in floating point: a naive log(a) would give inf
    p = {
        "W1": np.array([[1.0]]),
        "b1": np.array([[0.0]]),
        "W2": np.array([[2000.0]]),
        "b2": np.array([[0.0]]),
    }
    X = np.array([[5.0, -5.0]])
    Y = np.array([[0.0, 1.0]])  # both confidently wrong
    value = plain.loss(p, X, Y, "tanh", "sigmoid")
    assert math.isfinite(value)
    # log(1 + e^z) - y z for z = +-2000 tanh(5): about 2000 tanh(5) per example
    assert value == pytest.approx(2000 * math.tanh(5.0), rel=1e-9)


def test_init_params_draws_w1_then_w2_from_the_seed_scaled_by_0_01():
    rng = np.random.RandomState(0)
    W1 = rng.randn(3, 2) * 0.01
    W2 = rng.randn(1, 3) * 0.01

    p = plain.init_params(2, 3, 1, np.random.RandomState(0))

    np.testing.assert_array_equal(p["W1"], W1)
    np.testing.assert_array_equal(p["W2"], W2)
    np.testing.assert_array_equal(p["b1"], np.zeros((3, 1)))
    np.testing.assert_array_equal(p["b2"], np.zeros((1, 1)))
    assert all(v.dtype == np.float64 for v in p.values())


def test_init_params_in_float32_keeps_the_float64_draw():
    p64 = plain.init_params(2, 5, 1, np.random.RandomState(3))
    p32 = plain.init_params(2, 5, 1, np.random.RandomState(3), dtype=np.float32)
    for k in p64:
        assert p32[k].dtype == np.float32
        np.testing.assert_array_equal(p32[k], p64[k].astype(np.float32))


def test_init_params_differs_between_seeds():
    a = plain.init_params(2, 3, 1, np.random.RandomState(0))
    b = plain.init_params(2, 3, 1, np.random.RandomState(1))
    assert not np.array_equal(a["W1"], b["W1"])


@pytest.mark.parametrize(
    "Y, P",
    [
        (np.array([[1.0, 2.0, 4.0]]), np.array([[1.5, 2.0, 3.0]])),
        (np.array([[2.0, 2.0, 2.0]]), np.array([[2.0, 2.0, 2.0]])),  # constant, matched
        (np.array([[2.0, 2.0, 2.0]]), np.array([[2.0, 2.5, 2.0]])),  # constant, missed
        (np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]]), np.array([[1.0, 2.5, 4.0], [3.0, 3.0, 3.0]])),
    ],
)
def test_r2_is_scikit_learns_r2_score_constant_targets_included(Y, P):
    from sklearn.metrics import r2_score

    assert plain.r2(Y, P) == pytest.approx(r2_score(Y.T, P.T), abs=1e-12)


def test_score_reports_accuracy_for_classes_and_r2_rmse_for_values():
    rng = np.random.RandomState(0)
    X = rng.randn(2, 20)
    p = plain.init_params(2, 3, 1, rng, init_scale=1.0)
    labels = (X[0] > 0).astype(np.intp)
    acc = plain.score(p, X, labels[None].astype(float), labels, "tanh", "sigmoid")
    predicted = plain.predict(p, X, "tanh", "sigmoid")
    assert acc["acc"] == pytest.approx(100.0 * np.mean(predicted == labels))
    Y = rng.randn(1, 20)
    reg = plain.score(p, X, Y, None, "tanh", "linear")
    A2 = plain.forward(p, X, "tanh", "linear").A2
    assert reg["rmse"] == pytest.approx(np.sqrt(np.mean((A2 - Y) ** 2)))
    assert set(reg) == {"loss", "r2", "rmse"}
