"""Numeric options that are not finite numbers, or not numbers at all, are refused, exit 2,
before any file is read; the message names the option and the value given."""

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


# every numeric option: (the command up to it, the option, what it takes)
NUMERIC_OPTIONS = [
    *((["filter", "none.csv"], option, "a number") for option in CRITERIA),
    *((["plot", "none.csv"], option, "a number") for option in CRITERIA),
    *((["report", "none.csv"], option, "a number") for option in CRITERIA),
    (["filter", "none.csv"], "--top", "a whole number"),
    (["run", "none.yaml"], "--n-jobs", "a whole number"),
    (["run", "none.yaml"], "-j", "a whole number"),
    (["run", "none.yaml", "--halving"], "--eta", "a whole number"),
    (["eval", "none.pkl"], "--n-samples", "a whole number"),
    (["eval", "none.pkl"], "--seed", "a whole number"),
    (["eval", "none.pkl"], "--noise", "a number"),
]
NOT_NUMBERS = ["abc", "1,5", "0x10", "", "\x1b[2J"]


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize(("before", "option", "what"), NUMERIC_OPTIONS)
def test_a_numeric_option_that_is_not_a_number_is_named_with_its_value(
    before, option, what, value
):
    result = CliRunner().invoke(app, [*before, option, value])
    assert result.exit_code == 2, result.output
    assert f"{value!r} is not {what}" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value", ["1.5", "1e3", "2.5e0"])
def test_a_whole_number_option_given_a_fraction_names_it(value):
    result = CliRunner().invoke(app, ["filter", "none.csv", f"--top={value}"])
    assert result.exit_code == 2, result.output
    assert f"{value!r} is not a whole number" in result.stderr


def test_a_long_value_is_shown_cut_short():
    value = "9" * 30 + "z" * 5000
    result = CliRunner().invoke(app, ["filter", "none.csv", "--max-gap", value])
    assert result.exit_code == 2, result.output
    assert "'999999999" in result.stderr and "z" * 8 not in result.stderr  # cut after 37
    assert len(result.stderr) < 1000
