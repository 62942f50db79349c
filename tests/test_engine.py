"""The exact NumPy engine gives the numbers of the plain maths (nn.plain), bit for bit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from problems import examples

from sweep_nn import config, data
from sweep_nn.nn import engine, plain
from sweep_nn.sweep import jobs, worker

NAMES = plain.PARAM_NAMES


def reference_step(p, X, Y, activation, output, lr):
    """One step of the plain maths: the study's gradient descent, written the obvious way."""
    return plain.step(p, X, Y, lr, activation, output)


def _problem(output, m=37, n_in=3, n_hidden=4, seed=0):
    rng = np.random.RandomState(seed)
    X, Y = examples(output, rng, m, n_in)
    p = plain.init_params(n_in, n_hidden, Y.shape[0], rng, init_scale=0.5)
    return p, X, Y


def _copy(p):
    return {k: v.copy() for k, v in p.items()}


# --- the gradient step ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activation", "output"), list(itertools.product(plain.ACTIVATIONS, plain.OUTPUTS))
)
def test_engine_steps_are_the_plain_steps_bit_for_bit(activation, output):
    p, X, Y = _problem(output)
    expected = _copy(p)
    ws = engine.Workspace(X.shape[0], 4, Y.shape[0], X.shape[1], activation, output)
    run = ws.trainer(p, X, Y, 0.3)
    for _ in range(8):
        expected = reference_step(expected, X, Y, activation, output, 0.3)
    run(8)
    for k in NAMES:
        np.testing.assert_array_equal(p[k], expected[k], err_msg=k)
        assert not np.array_equal(p[k], _problem(output)[0][k]), f"{k} did not move"


@pytest.mark.parametrize("activation", list(plain.ACTIVATIONS))
def test_study_network_steps_are_bit_identical_to_the_plain_reference(activation):
    # The study's configuration (sigmoid output, float64) must give its exact numbers.
    p, X, Y = _problem("sigmoid", m=200, n_in=2, n_hidden=5, seed=1)
    expected = _copy(p)
    run = engine.Workspace(2, 5, 1, 200, activation, "sigmoid").trainer(p, X, Y, 1.2)
    for _ in range(30):
        expected = reference_step(expected, X, Y, activation, "sigmoid", 1.2)
    run(30)
    for k in NAMES:
        np.testing.assert_array_equal(p[k], expected[k], err_msg=k)


def test_step_calls_add_up_to_one_run():
    p, X, Y = _problem("sigmoid")
    q = _copy(p)
    ws = engine.Workspace(3, 4, 1, X.shape[1], "tanh", "sigmoid")
    for _ in range(5):
        ws.step(p, X, Y, 0.5)
    engine.Workspace(3, 4, 1, X.shape[1], "tanh", "sigmoid").trainer(q, X, Y, 0.5)(5)
    for k in NAMES:
        np.testing.assert_array_equal(p[k], q[k])


def test_gradients_are_the_plain_reference_gradients():
    p, X, Y = _problem("sigmoid")
    expected = reference_step(_copy(p), X, Y, "relu", "sigmoid", 1.0)  # p - gradient
    ws = engine.Workspace(3, 4, 1, X.shape[1], "relu", "sigmoid")
    ws.forward(p, X)
    grads = ws.backward(p, X, Y)
    for k in NAMES:
        np.testing.assert_array_equal(p[k] - grads[k], expected[k], err_msg=k)


def test_pack_keeps_values_and_shares_one_buffer():
    p, _, _ = _problem("softmax")
    before = _copy(p)
    flat = engine.pack(p)
    assert flat.size == sum(v.size for v in before.values())
    for k in NAMES:
        np.testing.assert_array_equal(p[k], before[k])
        assert np.shares_memory(p[k], flat)
    flat -= 1.0  # one update reaches every parameter
    np.testing.assert_array_equal(p["b2"], before["b2"] - 1.0)
    assert engine.pack(p) is flat  # already packed: kept as it is


def test_float32_steps_stay_float32_and_close_to_float64():
    p64, X, Y = _problem("sigmoid", m=300, n_in=2, n_hidden=5)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    engine.Workspace(2, 5, 1, 300, "tanh", "sigmoid").trainer(p64, X, Y, 0.5)(50)
    ws = engine.Workspace(2, 5, 1, 300, "tanh", "sigmoid", np.float32)
    ws.trainer(p32, X.astype(np.float32), Y.astype(np.float32), 0.5)(50)
    for k in NAMES:
        assert p32[k].dtype == np.float32
        np.testing.assert_allclose(p32[k], p64[k], rtol=1e-3, atol=1e-5, err_msg=k)


# --- through the worker ----------------------------------------------------------------------


def _data(m=120, seed=3):
    rng = np.random.RandomState(seed)
    X = rng.randn(2, m + 40)
    labels = (X[0] * X[1] > 0).astype(np.intp)
    Y = labels[None, :].astype(float)
    return data.TrainingData(
        X_train=X[:, :m], Y_train=Y[:, :m], X_dev=X[:, m:], Y_dev=Y[:, m:],
        labels_train=labels[:m], labels_dev=labels[m:], task="classification",
    )  # fmt: skip


def _job(activation="tanh", batch_size="full", dtype="float64", iterations=(40,), lr=0.8):
    text = f"""
name: engine
grid:
  hidden_sizes: [3]
  activations: [{activation}]
  learning_rates: [{lr}]
  iterations: {list(iterations)}
  batch_sizes: [{batch_size}]
train:
  dtype: {dtype}
  loss_points: 0
"""
    (job,) = jobs.expand(config.parse(text), "sigmoid")
    return job


def _trained(job, training):
    return [r.params for r in worker.train(job, training)]


@pytest.mark.parametrize("activation", list(plain.ACTIVATIONS))
def test_full_batch_training_is_the_study_loop_bit_for_bit(activation):
    data = _data()
    (got,) = _trained(_job(activation), data)
    p = plain.init_params(2, 3, 1, np.random.RandomState(0))
    for _ in range(40):
        p = reference_step(p, data.X_train, data.Y_train, activation, "sigmoid", 0.8)
    for k in NAMES:
        np.testing.assert_array_equal(got[k], p[k], err_msg=k)


def test_mini_batch_training_is_shuffled_batches_of_the_plain_step():
    data, size, epochs = _data(m=100), 32, 3  # batches of 32, 32, 32 and 4
    (got,) = _trained(_job("relu", batch_size=size, iterations=(epochs,)), data)
    rng = np.random.RandomState(0)
    p = plain.init_params(2, 3, 1, rng)
    for _ in range(epochs):
        order = rng.permutation(100)
        for start in range(0, 100, size):
            idx = order[start : start + size]
            X, Y = data.X_train[:, idx], data.Y_train[:, idx]
            p = reference_step(p, X, Y, "relu", "sigmoid", 0.8)
    for k in NAMES:
        np.testing.assert_allclose(got[k], p[k], rtol=1e-12, atol=1e-15, err_msg=k)
    (full,) = _trained(_job("relu", iterations=(epochs,)), data)
    assert not np.allclose(got["W1"], full["W1"])


def test_float32_training_runs_in_float32_and_scores_like_float64():
    data = _data()
    (p32,) = _trained(_job(dtype="float32", iterations=(200,)), data)
    (p64,) = _trained(_job(iterations=(200,)), data)
    assert p32["W1"].dtype == np.float32
    np.testing.assert_allclose(p32["W1"], p64["W1"], rtol=1e-3, atol=1e-5)
