"""A saved baseline is reused only when it is a success of this task; anything else is refit.

A failed baseline used to stay in baseline.json for ever (every rerun printed the old
error), and a damaged one was trusted: strings for scores ended the rerun in a
traceback, a FIFO in its place hung it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import TINY_CONFIG
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.sweep import baseline


@pytest.fixture
def swept(tmp_path):
    """A finished tiny sweep: (its config file, its output folder)."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(TINY_CONFIG))
    out = tmp_path / "out"
    assert run(path, out).exit_code == 0
    return path, out


def run(path, out):
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "-j", "1"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def saved(out) -> dict:
    return json.loads((out / "baseline.json").read_text())


def test_a_saved_failure_is_fitted_again_by_the_next_run(swept, monkeypatch):
    path, out = swept
    (out / "baseline.json").unlink()
    monkeypatch.setattr(baseline, "_binary_logistic", lambda *a: 1 / 0)
    assert "could not be fitted: ZeroDivisionError" in run(path, out).stderr
    assert "error" in saved(out)
    monkeypatch.undo()
    again = run(path, out)  # a resume: every row is recorded, only the baseline is redone
    assert again.exit_code == 0, again.output
    assert "could not be fitted" not in again.stderr
    assert "baseline (logistic regression): train" in again.stderr
    assert set(saved(out)) == {"model", "train_acc", "dev_acc"}


def test_a_failure_that_persists_is_recorded_again_not_raised(swept, monkeypatch):
    path, out = swept
    (out / "baseline.json").unlink()
    monkeypatch.setattr(baseline, "_binary_logistic", lambda *a: 1 / 0)
    for _ in range(2):
        result = run(path, out)
        assert result.exit_code == 0 and "could not be fitted" in result.stderr


def test_a_saved_success_is_reused_not_refitted(swept, monkeypatch):
    path, out = swept
    mark = {"model": "logistic regression", "train_acc": 12.5, "dev_acc": 25.0}
    (out / "baseline.json").write_text(json.dumps(mark))
    monkeypatch.setattr(baseline, "fit", lambda ds: pytest.fail("refitted"))
    assert "baseline (logistic regression): train 12.50%, dev 25.00%" in run(path, out).stderr
    assert saved(out) == mark


DAMAGED = {
    "not-json": "{",
    "a-list": "[]",
    "a-string": '"ok"',
    "too-deep": "[" * 100_000 + "]" * 100_000,
    "nan": '{"model": "logistic regression", "train_acc": NaN, "dev_acc": 50}',
    "string-scores": '{"model": "logistic regression", "train_acc": "high", "dev_acc": "low"}',
    "bool-scores": '{"model": "logistic regression", "train_acc": true, "dev_acc": false}',
    "out-of-range": '{"model": "logistic regression", "train_acc": 150, "dev_acc": -1}',
    "missing-score": '{"model": "logistic regression", "train_acc": 80}',
    "extra-key": '{"model": "logistic regression", "train_acc": 80, "dev_acc": 70, "x": 1}',
    "error-and-scores": '{"model": "logistic regression", "train_acc": 80, "dev_acc": 70, '
    '"error": "old"}',
    "other-model": '{"model": "svm", "train_acc": 80, "dev_acc": 70}',
    "other-task": '{"model": "linear regression", "train_r2": 0.5, "dev_r2": 0.4, '
    '"train_rmse": 1, "dev_rmse": 1}',
    "huge": '{"model": "logistic regression", "train_acc": 80, "dev_acc": 70, "x": "'
    + "y" * 2**20
    + '"}',
    "binary": "\xff\xfe\x00",
}


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_baseline_is_refitted_and_rewritten(swept, content):
    path, out = swept
    (out / "baseline.json").write_text(content, encoding="latin-1")
    result = run(path, out)
    assert result.exit_code == 0, result.output
    assert "baseline (logistic regression): train" in result.stderr
    assert baseline.read_saved(out / "baseline.json", "classification") is not None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX")
def test_a_fifo_in_place_of_the_baseline_does_not_hang_the_run(swept):
    path, out = swept
    (out / "baseline.json").unlink()
    os.mkfifo(out / "baseline.json")
    done = subprocess.run(
        [sys.executable, "-m", "sweep_nn", "run", str(path), "--out", str(out), "-j", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "baseline (logistic regression): train" in done.stderr
    assert (out / "baseline.json").is_file()  # replaced by the new baseline
