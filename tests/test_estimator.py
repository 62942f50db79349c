"""The scikit-learn estimators: scikit-learn's own checks, same weights as the CLI, use in
GridSearchCV and Pipeline, multi-class and multi-output, divergence and bad parameters."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_moons, make_regression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sweep_nn import TwoLayerNetClassifier, TwoLayerNetRegressor, cli
from sweep_nn.results import store
from sweep_nn.results.params import load_params

# Every check passes, so nothing is listed as an expected failure.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}


@parametrize_with_checks(
    [TwoLayerNetClassifier(iterations=100), TwoLayerNetRegressor(iterations=100)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_estimators_pass_scikit_learn_checks(estimator, check):
    check(estimator)


def test_classifier_learns_the_same_weights_as_the_cli(write_config, runner, tmp_path):
    cfg = {
        "name": "pick",
        "data": {"dataset": "moons", "n_samples": 2000, "noise": 0.25, "random_state": 0},
        "grid": {"hidden_sizes": [3], "activations": ["tanh"], "learning_rates": [0.6],
                 "iterations": [1000]},
    }  # fmt: skip
    out = tmp_path / "out"
    done = runner.invoke(
        cli.app, ["run", str(write_config(cfg)), "--out", str(out), "-j", "1", "-q"]
    )
    assert done.exit_code == 0, done.output
    saved = load_params(out / "params" / "h3-tanh-lr0.6-it1000.pkl")

    X, y = make_moons(n_samples=2000, noise=0.25, random_state=0)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=42)
    clf = TwoLayerNetClassifier(hidden_size=3, activation="tanh", learning_rate=0.6,
                                iterations=1000, random_state=0).fit(X_train, y_train)  # fmt: skip

    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(clf.params_[name], saved[name], err_msg=name)
    row = store.read_rows(out / "results.csv")[0]
    assert 100 * clf.score(X_train, y_train) == row["train_acc"]
    np.testing.assert_array_equal(clf.loss_curve_, saved["loss_curve"]["loss"])


def test_grid_search_and_pipeline_with_scaler_pick_and_refit_a_model():
    X, y = make_moons(n_samples=300, noise=0.2, random_state=1)
    X = X * 50 + 100  # far from standardised: the scaler has work to do
    net = TwoLayerNetClassifier(init="xavier", iterations=500)
    pipe = Pipeline([("scale", StandardScaler()), ("net", net)])
    search = GridSearchCV(pipe, {"net__hidden_size": [1, 4], "net__learning_rate": [0.6]}, cv=3)
    search.fit(X, y)

    assert search.best_params_["net__hidden_size"] == 4  # one unit cannot bend round the moons
    assert search.best_score_ > 0.9
    assert search.score(X, y) > 0.9
    grid_clf = GridSearchCV(TwoLayerNetClassifier(iterations=50), {"hidden_size": [2, 3]}, cv=2)
    assert grid_clf.fit(X, y).best_estimator_.n_features_in_ == 2


def test_more_than_two_classes_use_a_softmax_output():
    X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = TwoLayerNetClassifier(hidden_size=5, learning_rate=0.1, iterations=300).fit(X, labels)

    proba = clf.predict_proba(X)
    assert clf.output_ == "softmax" and list(clf.classes_) == ["ant", "bee", "cat"]
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (clf.predict(X) == clf.classes_[proba.argmax(axis=1)]).all()
    assert clf.score(X, labels) > 0.9


def test_binary_classes_use_the_studys_sigmoid_unit():
    X, y = make_moons(n_samples=200, noise=0.2, random_state=0)
    clf = TwoLayerNetClassifier(iterations=50).fit(X, y)
    assert clf.output_ == "sigmoid" and clf.params_["W2"].shape == (1, 3)
    assert clf.coefs_[0].shape == (2, 3) and clf.coefs_[1].shape == (3, 1)
    assert clf.loss_curve_iterations_[0] == 0 and clf.loss_curve_iterations_[-1] == 50
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_regressor_predicts_the_shape_of_its_targets():
    X, y = make_regression(n_samples=200, n_features=3, n_targets=2, noise=1.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    Y = StandardScaler().fit_transform(y)
    reg = TwoLayerNetRegressor(hidden_size=8, learning_rate=0.1, iterations=500)

    assert reg.fit(X, Y).predict(X).shape == (200, 2)
    assert reg.score(X, Y) > 0.9
    assert clone(reg).fit(X, Y[:, 0]).predict(X).shape == (200,)
    assert clone(reg).fit(X, Y[:, :1]).predict(X).shape == (200, 1)


def test_float32_trains_float32_weights():
    X, y = make_moons(n_samples=200, noise=0.2, random_state=0)
    clf = TwoLayerNetClassifier(iterations=50, dtype="float32").fit(X, y)
    assert clf.params_["W1"].dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float64


def test_divergence_raises_a_value_error_naming_the_iteration():
    X, y = make_regression(n_samples=100, n_features=3, random_state=0)
    reg = TwoLayerNetRegressor(learning_rate=50.0, iterations=200, init_scale=1.0)
    with pytest.raises(ValueError, match=r"diverged at iteration \d+.*Lower learning_rate"):
        reg.fit(X * 100, y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"activation": "swish"}, r"'activation' parameter .* must be one of 'tanh', 'sigmoid'"),
        ({"hidden_size": 0}, r"'hidden_size' parameter .* positive integer. Got 0"),
        ({"learning_rate": -0.1}, r"'learning_rate' parameter .* positive number. Got -0.1"),
        ({"iterations": 2.5}, r"'iterations' parameter .* positive integer. Got 2.5"),
        ({"batch_size": "half"}, r"'batch_size' parameter .* None, 'full' or a positive"),
        ({"dtype": "float16"}, r"'dtype' parameter .* one of 'float64', 'float32'"),
    ],
)
def test_bad_parameters_are_named_when_fitting(params, message):
    X, y = make_moons(n_samples=20, random_state=0)
    with pytest.raises(ValueError, match=message):
        TwoLayerNetClassifier(**params).fit(X, y)


def test_mini_batches_train_differently_from_full_batch():
    X, y = make_moons(n_samples=200, noise=0.2, random_state=0)
    full = TwoLayerNetClassifier(iterations=20).fit(X, y)
    batched = TwoLayerNetClassifier(iterations=20, batch_size=32).fit(X, y)
    assert not np.array_equal(full.params_["W1"], batched.params_["W1"])
    same = TwoLayerNetClassifier(iterations=20, batch_size="full").fit(X, y)
    np.testing.assert_array_equal(full.params_["W1"], same.params_["W1"])
