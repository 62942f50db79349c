"""Numeric options that are not finite numbers are refused, exit 2, before any file is read."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sweep_nn.cli import app

CRITERIA = ["--min-acc", "--max-gap", "--max-time", "--min-dev-acc", "--min-r2", "--min-dev-r2"]
PLOT_CRITERIA = ["--min-acc", "--max-gap", "--max-time", "--min-r2"]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
@pytest.mark.parametrize("option", CRITERIA)
def test_filter_refuses_a_criterion_that_is_not_finite(tmp_path, option, value):
    result = CliRunner().invoke(app, ["filter", str(tmp_path / "none.csv"), option, value])
    assert result.exit_code == 2, result.output
    assert f"{option} must be a finite number" in result.stderr


@pytest.mark.parametrize("option", PLOT_CRITERIA)
def test_plot_refuses_a_criterion_that_is_not_finite(tmp_path, option):
    result = CliRunner().invoke(app, ["plot", str(tmp_path / "none.csv"), option, "nan"])
    assert result.exit_code == 2, result.output
    assert f"{option} must be a finite number" in result.stderr


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_eval_refuses_noise_that_is_not_finite(tmp_path, value):
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "none.pkl"), "--noise", value])
    assert result.exit_code == 2, result.output
    assert "--noise must be a finite number" in result.stderr
