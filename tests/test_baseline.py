"""The linear baseline: the optimum scikit-learn's models reach, without importing it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LinearRegression, LogisticRegression

from sweep_nn import config, data
from sweep_nn.sweep import baseline


def dataset(**spec):
    cfg = config.parse(yaml.safe_dump({"name": "b", "data": spec, "grid": {
        "hidden_sizes": [1], "activations": ["tanh"], "learning_rates": [0.1], "iterations": [1]}}))  # fmt: skip
    return data.load(cfg.data, cfg.task)


TWO_CLASS = [
    {"dataset": "moons", "n_samples": 600, "noise": 0.3},
    {"dataset": "circles", "n_samples": 400, "noise": 0.1},
    {"dataset": "breast_cancer", "scale": "standard"},
]


@pytest.mark.parametrize("spec", TWO_CLASS, ids=lambda s: s["dataset"])
def test_two_class_baseline_is_scikit_learns_logistic_regression(spec):
    ds = dataset(**spec)
    got = baseline.fit(ds)
    model = LogisticRegression(max_iter=10000, tol=1e-10).fit(ds.X_train, ds.y_train)
    assert got["model"] == "logistic regression"
    assert got["train_acc"] == pytest.approx(100 * model.score(ds.X_train, ds.y_train))
    assert got["dev_acc"] == pytest.approx(100 * model.score(ds.X_dev, ds.y_dev))


def test_logistic_newton_reaches_the_regularised_optimum():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 3)
    positive = X @ [1.5, -2.0, 0.5] + 0.3 + rng.randn(300) > 0
    predict = baseline._binary_logistic(X, positive, np.array(["no", "yes"]))
    model = LogisticRegression(max_iter=10000, tol=1e-12).fit(X, positive)
    assert set(predict(X)) <= {"no", "yes"}
    np.testing.assert_array_equal(predict(X) == "yes", model.predict(X))


def test_regression_baseline_is_least_squares_with_an_intercept():
    ds = dataset(dataset="regression", n_samples=300, n_features=4, n_targets=2, noise=5.0)
    got = baseline.fit(ds)
    model = LinearRegression().fit(ds.X_train, ds.y_train)
    assert got["model"] == "linear regression"
    assert got["train_r2"] == pytest.approx(model.score(ds.X_train, ds.y_train), abs=1e-12)
    assert got["dev_r2"] == pytest.approx(model.score(ds.X_dev, ds.y_dev), abs=1e-12)
    rmse = np.sqrt(np.mean((model.predict(ds.X_dev) - ds.y_dev) ** 2))
    assert got["dev_rmse"] == pytest.approx(rmse, rel=1e-9)


def test_multi_class_baseline_uses_the_multinomial_model():
    ds = dataset(dataset="iris")
    got = baseline.fit(ds)
    model = LogisticRegression(max_iter=5000).fit(ds.X_train, ds.y_train)
    assert got["dev_acc"] == pytest.approx(100 * model.score(ds.X_dev, ds.y_dev))


def test_a_moons_sweep_never_imports_scikit_learn(tmp_path):
    # scikit-learn takes seconds to import: a moons sweep (the study's) must not pay for it
    script = textwrap.dedent(f"""
        import sys
        from sweep_nn import config
        from sweep_nn.sweep import run as sweep
        cfg = config.parse('''
            name: m
            data: {{n_samples: 200}}
            grid: {{hidden_sizes: [2], activations: [tanh], learning_rates: [0.5], iterations: [5]}}
        ''')
        summary = sweep.run_sweep(cfg, {str(tmp_path / "out")!r}, n_jobs=1)
        assert summary.counts["ok"] == 1 and summary.baseline["dev_acc"] > 50, summary
        print(sorted(m for m in sys.modules if m.split(".")[0] == "sklearn"))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
