"""Data that cannot be trained on is refused before training; a failed baseline is recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from sweep_nn import config, data
from sweep_nn.cli import app
from sweep_nn.errors import DataError
from sweep_nn.sweep import baseline

GRID = {"hidden_sizes": [2], "activations": ["tanh"], "learning_rates": [0.5], "iterations": [10]}


def csv_sweep(tmp_path, text: str, **data_changes):
    (tmp_path / "d.csv").write_text(text)
    path = tmp_path / "s.yaml"
    cfg = {"name": "s", "data": {"dataset": "csv", "path": "d.csv", **data_changes}, "grid": GRID}
    path.write_text(yaml.safe_dump(cfg))
    return path


def run(path, out):
    return CliRunner().invoke(app, ["run", str(path), "--out", str(out), "-j", "1", "-q"])


def rows(n: int, bad: str | None = None) -> str:
    lines = ["a,b,y"] + [f"{i},{i % 3},{i % 2}" for i in range(n)]
    if bad is not None:
        lines[3] = f"{bad},1,0"
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("bad", ["inf", "-inf", "1e400"])
def test_a_csv_with_an_infinite_feature_is_refused_naming_its_row(tmp_path, bad):
    path = csv_sweep(tmp_path, rows(20, bad))
    with pytest.raises(DataError, match=r"inf or nan in 1 sample\(s\) \(row\(s\) 3;"):
        data.load(config.load(path).data)
    result = run(path, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "inf or nan" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_an_infinite_regression_target_is_refused(tmp_path):
    text = "a,y\n" + "".join(f"{i},{i * 0.5 + 0.1}\n" for i in range(20)).replace("1.1", "inf")
    path = csv_sweep(tmp_path, text)
    with pytest.raises(DataError, match="the target hold inf or nan"):
        data.load(config.load(path).data, "regression")


def test_non_finite_values_are_refused_whatever_the_source():
    X = np.zeros((5, 2))
    X[4, 1] = np.nan
    with pytest.raises(DataError, match=r"features hold inf or nan in 1 sample\(s\) \(row\(s\) 5"):
        data.check_finite(X, np.arange(5), "classification")
    data.check_finite(np.zeros((5, 2)), np.array(list("abcde"), dtype=object), "classification")
    with pytest.raises(DataError, match="target"):
        data.check_finite(np.zeros((2, 1)), np.array([1.0, np.inf]), "regression")


def test_a_split_that_leaves_one_class_for_training_is_refused(tmp_path):
    # 2 of 10 samples are class 1; find a split seed that sends both to the dev split
    y = [0] * 8 + [1, 1]
    seed = next(
        s for s in range(10_000)
        if set(np.array(y)[data.split_indices(10, 0.2, s)[0]]) == {0}
    )  # fmt: skip
    text = "a,y\n" + "".join(f"{i},{c}\n" for i, c in enumerate(y))
    path = csv_sweep(tmp_path, text, split_random_state=seed)
    with pytest.raises(DataError, match=r"training split \(8 of 10 samples\) holds a single class"):
        data.load(config.load(path).data)
    result = run(path, tmp_path / "out")
    assert result.exit_code == 2 and "single class" in result.stderr


def test_baseline_fit_never_raises(monkeypatch):
    ds = data.load(config.parse(yaml.safe_dump({"name": "b", "grid": GRID})).data)

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(baseline, "_binary_logistic", broken)
    assert baseline.fit(ds) == {
        "model": "logistic regression",
        "error": "LinAlgError: SVD did not converge",
    }


def test_a_failed_baseline_is_recorded_and_never_blocks_a_run_or_its_rerun(tmp_path, monkeypatch):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "b", "data": {"n_samples": 100}, "grid": GRID}))
    monkeypatch.setattr(baseline, "_binary_logistic", lambda *a: 1 / 0)
    result = run(path, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "could not be fitted: ZeroDivisionError" in result.stderr
    saved = json.loads((tmp_path / "out" / "baseline.json").read_text())
    assert saved["error"].startswith("ZeroDivisionError")
    monkeypatch.undo()
    assert run(path, tmp_path / "out").exit_code == 0
