"""The Python API: the same calls as the command line, the same answers; lazy exports;
and the README's Python examples, executed."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sweep_nn
from sweep_nn import api, cli
from sweep_nn.errors import ConfigError, UsageError
from sweep_nn.results import schema, store

README = Path(__file__).resolve().parent.parent / "README.md"
PYTHON_SECTION = "Use from Python / scikit-learn"

SWEEP = {
    "name": "api",
    "data": {"dataset": "moons", "n_samples": 300},
    "grid": {"hidden_sizes": [1, 3], "activations": ["tanh"], "learning_rates": [0.6],
             "iterations": [50, 2000]},
}  # fmt: skip


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """One small sweep run through the API: (results DataFrame, output folder)."""
    out = tmp_path_factory.mktemp("api") / "out"
    return api.run(SWEEP, out=out, n_jobs=1), out


def test_load_config_checks_a_dict_exactly_as_a_yaml_file(write_config):
    bad = {**SWEEP, "grid": {**SWEEP["grid"], "learning_rate": [0.1], "activations": ["swish"]}}
    with pytest.raises(ConfigError) as from_dict:
        api.load_config(bad)
    with pytest.raises(ConfigError) as from_file:
        api.load_config(write_config(bad))
    problems = str(from_dict.value).split(":", 1)[1]
    assert problems == str(from_file.value).split(":", 1)[1]
    assert "grid.learning_rate: unknown key" in problems and "'swish'" in problems

    cfg = api.load_config(
        {**SWEEP, "grid": {**SWEEP["grid"], "learning_rates": (np.float64(0.6),)}}
    )
    assert cfg == api.load_config(write_config(SWEEP)) and api.load_config(cfg) is cfg


def test_run_returns_the_results_file_as_a_dataframe_and_resumes(swept):
    results, out = swept
    assert list(results.columns) == schema.COLUMNS
    assert sorted(results["config_id"]) == sorted(
        f"h{h}-tanh-lr0.6-it{it}" for h in (1, 3) for it in (50, 2000)
    )
    assert (results["status"] == "ok").all()
    pd.testing.assert_frame_equal(results, api.read_results(out))
    pd.testing.assert_frame_equal(results, api.read_results(out / "results.csv"))

    again = api.run(SWEEP, out=out, n_jobs=1)  # everything recorded: nothing reruns
    pd.testing.assert_frame_equal(again, results)
    assert len(store.read_rows(out / "results.csv")) == 4


def test_filter_keeps_the_rows_the_cli_filter_prints(swept, runner):
    results, out = swept
    options = {"min_acc": 80.0, "max_gap": 3.0}
    kept = api.filter(results, **options, sort="dev_acc", descending=True)
    printed = runner.invoke(cli.app, ["filter", str(out), "--min-acc", "80", "--max-gap", "3",
                                      "--sort", "dev_acc", "--desc", "--format", "csv"])  # fmt: skip
    assert printed.exit_code == 0, printed.output
    expected = pd.read_csv(io.StringIO(printed.stdout))
    assert 0 < len(kept) < len(results)  # h3 at 2000 iterations overfits: gap > 3
    assert list(kept["config_id"]) == list(expected["config_id"])
    assert list(api.filter(out, **options, top=1)["config_id"]) == [
        api.filter(results, **options).iloc[0]["config_id"]
    ]


def test_evaluate_gives_what_cli_eval_prints(swept, runner, tmp_path):
    results, out = swept
    params = out / results.iloc[0]["params_path"]
    printed = runner.invoke(
        cli.app, ["eval", str(params), "--n-samples", "200", "--seed", "3", "--json"]
    )
    assert printed.exit_code == 0, printed.output
    assert api.evaluate(params, n_samples=200, seed=3) == json.loads(printed.stdout)

    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=120, noise=0.25, random_state=5)
    on_arrays = api.evaluate(params, data=(X, y))
    csv = tmp_path / "fresh.csv"
    pd.DataFrame({"x0": X[:, 0], "x1": X[:, 1], "label": y}).to_csv(csv, index=False)
    assert on_arrays == api.evaluate(params, data=csv)
    assert on_arrays["n_samples"] == 120 and 0 <= on_arrays["accuracy"] <= 100
    with pytest.raises(UsageError, match="n_samples must be >= 1; got 0"):
        api.evaluate(params, n_samples=0)


def test_package_exports_the_api_and_estimators_on_first_use():
    from sweep_nn import estimator

    assert sweep_nn.run is api.run and sweep_nn.filter is api.filter
    assert sweep_nn.TwoLayerNetClassifier is estimator.TwoLayerNetClassifier
    assert {"load_config", "evaluate", "TwoLayerNetRegressor"} <= set(dir(sweep_nn))
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        sweep_nn.nothing  # noqa: B018


def test_importing_sweep_nn_and_its_worker_module_loads_no_heavy_library():
    code = (
        "import sys, sweep_nn, sweep_nn.sweep.worker; "
        "print(sorted(m for m in ('pandas', 'sklearn', 'pydantic', 'matplotlib', 'distributed') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _python_blocks(markdown: str, heading: str) -> list[str] | None:
    """The ```python blocks of the section titled ``heading`` (None if there is none)."""
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", markdown, flags=re.MULTILINE)
    if match is None:
        return None
    level = len(match.group(1))
    rest = markdown[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, flags=re.MULTILINE)
    section = rest[: end.start()] if end else rest
    return re.findall(r"^```python\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)


def test_readme_python_examples_run(tmp_path, monkeypatch):
    blocks = _python_blocks(README.read_text(encoding="utf-8"), PYTHON_SECTION)
    if blocks is None:
        pytest.skip(f"README.md has no '{PYTHON_SECTION}' section yet")
    assert blocks, f"the README's '{PYTHON_SECTION}' section has no ```python example"
    monkeypatch.chdir(tmp_path)  # examples write under output/ like the CLI does
    for i, block in enumerate(blocks):
        code = compile(block, f"README.md ({PYTHON_SECTION}, example {i + 1})", "exec")
        exec(code, {})  # noqa: S102 - running the README's own examples is the test


def test_readme_report_example_runs(tmp_path, monkeypatch):
    """The Report section's example, on a small sweep saved where it looks."""
    blocks = _python_blocks(README.read_text(encoding="utf-8"), "Report")
    assert blocks, "the README's 'Report' section has no ```python example"
    monkeypatch.chdir(tmp_path)
    cfg = sweep_nn.load_config({
        "name": "reference-study",
        "data": {"dataset": "moons", "n_samples": 200},
        "grid": {"hidden_sizes": [1, 3], "activations": ["tanh", "relu"],
                 "learning_rates": [0.6, 1.2], "iterations": [20, 60]},
    })  # fmt: skip
    sweep_nn.run(cfg, out="output/reference-study", n_jobs=1)
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md (Report, example {i + 1})", "exec"), namespace)  # noqa: S102
    ranked = namespace["imp"].ranked()
    assert {name for name, _ in ranked} >= {"learning_rate", "hidden_size", "activation"}
    assert (tmp_path / "report.html").stat().st_size > 0
