"""A filter that cannot apply to the sweep is refused; a bound on the wrong scale is warned about."""

from __future__ import annotations

import pytest
from sweeps import run_each_task
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.errors import UsageError
from sweep_nn.results import query, store
from sweep_nn.results.query import CRITERIA, Criteria

OF_TASK = {
    task: [name for name, rule in CRITERIA.items() if rule.task == task]
    for task in ("classification", "regression")
}
OTHER = {"classification": "regression", "regression": "classification"}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    return run_each_task(tmp_path_factory.mktemp("sweeps"))


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def test_every_score_criterion_belongs_to_one_task():
    assert OF_TASK["classification"] == ["min_acc", "min_dev_acc"]
    assert OF_TASK["regression"] == ["min_r2", "min_dev_r2"]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_criterion_of_the_other_task_is_refused_naming_it_and_the_ones_that_fit(task):
    for name in OF_TASK[OTHER[task]]:
        with pytest.raises(UsageError) as caught:
            Criteria(**{name: 0.5}).check(task)
        message = str(caught.value)
        assert message.startswith(f"{_option(name)} does not apply to a {task} sweep")
        assert all(_option(fit) in message for fit in OF_TASK[task])


def test_two_criteria_that_cannot_apply_are_named_together():
    with pytest.raises(UsageError, match="--min-r2 and --min-dev-r2 do not apply"):
        Criteria(min_r2=0.5, min_dev_r2=0.5, max_gap=1).check("classification")


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_criteria_of_the_task_and_of_both_pass_the_check(task):
    bounds = {name: 1.0 for name in OF_TASK[task]} | {"max_gap": 1.0, "max_time": 5.0}
    Criteria(**bounds).check(task)


def test_rows_scored_by_nothing_check_nothing():
    assert Criteria(min_r2=0.5, min_acc=0.5).check(None) == []


@pytest.mark.parametrize(
    ("name", "value", "task", "said"),
    [
        ("min_acc", 0.95, "classification", "accuracy is in percent: did you mean 95?"),
        ("min_acc", 0.5, "classification", "accuracy is in percent: did you mean 50?"),
        ("min_dev_acc", 1, "classification", "accuracy is in percent: did you mean 100?"),
        ("min_acc", 100.5, "classification", "at most 100, so no row can pass"),
        ("max_gap", 0.02, "classification", "in accuracy points: did you mean 2?"),
        ("min_r2", 95, "regression", "R² is at most 1, so no row can pass: did you mean 0.95?"),
        ("min_dev_r2", 1.5, "regression", "did you mean 0.015?"),
        ("min_r2", 500, "regression", "R² is at most 1, so no row can pass"),
    ],
)
def test_a_bound_on_the_wrong_scale_is_warned_about(name, value, task, said):
    (warning,) = Criteria(**{name: value}).check(task)
    assert warning.startswith(f"{_option(name)} {value:g}: ")
    assert said in warning


@pytest.mark.parametrize(
    ("name", "value", "task"),
    [
        ("min_acc", 0, "classification"),
        ("min_acc", 1.5, "classification"),
        ("min_acc", 95, "classification"),
        ("min_dev_acc", 100, "classification"),
        ("max_gap", 0, "classification"),
        ("max_gap", 0.5, "classification"),
        ("max_gap", 0.02, "regression"),  # R² points: a fraction is the right scale
        ("max_time", 0.01, "classification"),
        ("min_r2", 0.95, "regression"),
        ("min_r2", -3, "regression"),
        ("min_dev_r2", 1, "regression"),
    ],
)
def test_a_bound_on_the_right_scale_is_not_warned_about(name, value, task):
    assert Criteria(**{name: value}).check(task) == []


def test_filter_results_refuses_a_criterion_that_cannot_apply(sweeps):
    df = store.read_results(sweeps["classification"] / "results.csv")
    with pytest.raises(UsageError, match="--min-dev-r2 does not apply"):
        query.filter_results(df, Criteria(min_dev_r2=0.1))
    with pytest.raises(UsageError, match="--min-dev-r2 does not apply"):
        query.filter_results(df, Criteria(min_dev_r2=0.1), aggregate_seeds=True)


# --- the commands ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["filter", "plot", "report"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_commands_refuse_a_criterion_of_the_other_task_with_exit_2(sweeps, tmp_path, command, task):
    for name in OF_TASK[OTHER[task]]:
        args = [command, str(sweeps[task]), _option(name), "0.5"]
        if command != "filter":
            args += ["--out", str(tmp_path / command)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert f"error: {_option(name)} does not apply to a {task} sweep" in result.stderr
        assert "Traceback" not in result.output
        assert not (tmp_path / command).exists()  # refused before drawing anything


def test_filter_warns_about_a_fraction_and_still_answers(sweeps):
    result = CliRunner().invoke(app, ["filter", str(sweeps["classification"]), "--min-acc", "0.95"])
    assert result.exit_code == 0, result.output
    assert "warning: --min-acc 0.95: accuracy is in percent: did you mean 95?" in result.stderr
    assert "of 2 configurations" in result.stdout


def test_filter_in_percent_says_nothing_more(sweeps):
    result = CliRunner().invoke(app, ["filter", str(sweeps["classification"]), "--min-acc", "50"])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr


def test_plot_warns_about_an_r2_in_percent(sweeps, tmp_path):
    result = CliRunner().invoke(
        app,
        ["plot", str(sweeps["regression"]), "--min-r2", "90", "--only", "overview",
         "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: --min-r2 90: R² is at most 1" in result.stderr
    assert (tmp_path / "overview.png").exists()


def test_the_python_filter_refuses_it_too(sweeps):
    import sweep_nn

    with pytest.raises(UsageError, match="--min-acc does not apply to a regression sweep"):
        sweep_nn.filter(sweeps["regression"], min_acc=90)
    assert len(sweep_nn.filter(sweeps["regression"], min_r2=-100)) == 2


# --- a filter that nothing passes ------------------------------------------------------------

PASSES_NONE = {
    "classification": ["--min-dev-acc", "99.99"],
    "regression": ["--min-dev-r2", "0.99999"],
}


def _header(table: str) -> list[str]:
    (line,) = [line for line in table.splitlines() if "┃" in line]
    return [cell.strip() for cell in line.strip("┃").split("┃")]


def _filter(folder, *args):
    result = CliRunner().invoke(app, ["filter", str(folder), *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("aggregate", [[], ["--aggregate"]])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_filter_nothing_passes_keeps_the_columns_of_one_that_rows_pass(sweeps, task, aggregate):
    folder = sweeps[task]
    every, none = _filter(folder, *aggregate), _filter(folder, *aggregate, *PASSES_NONE[task])
    assert "0 of 2" in none
    metric = "dev_acc" if task == "classification" else "dev_r2"
    assert _header(none) == _header(every)
    assert {metric, "gap", "fit_seconds"} <= set(_header(none))
    csv_every = _filter(folder, *aggregate, "--format", "csv")
    csv_none = _filter(folder, *aggregate, *PASSES_NONE[task], "--format", "csv")
    assert csv_none == csv_every.splitlines()[0] + "\n"
    assert _filter(folder, *aggregate, *PASSES_NONE[task], "--format", "json") == "[]\n"
