"""Sweep files: every mistake is reported at once, naming the key and the bad value."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from sweep_nn.cli import app
from sweep_nn.config import load, parse
from sweep_nn.errors import ConfigError

CONFIGS = Path(__file__).parent.parent / "configs"


def grid_yaml(
    hidden_sizes="[1, 3]",
    activations="[tanh, relu]",
    learning_rates="[0.6, 0.1]",
    iterations="[100, 1000]",
) -> str:
    """A sweep file's text with one grid axis (or more) replaced by raw YAML."""
    return (
        "name: t\n"
        "grid:\n"
        f"  hidden_sizes: {hidden_sizes}\n"
        f"  activations: {activations}\n"
        f"  learning_rates: {learning_rates}\n"
        f"  iterations: {iterations}\n"
    )


def test_a_valid_grid_parses_as_written():
    cfg = parse(grid_yaml())
    assert cfg.name == "t"
    assert cfg.grid.hidden_sizes == [1, 3]
    assert cfg.grid.activations == ["tanh", "relu"]
    assert cfg.grid.learning_rates == [0.6, 0.1]
    assert cfg.grid.iterations == [100, 1000]


def test_defaults_fill_the_study_data_settings_and_init_scale():
    cfg = parse(grid_yaml())
    d = cfg.data
    assert (d.dataset, d.n_samples, d.noise, d.random_state, d.dev_size, d.split_random_state) == (
        "moons",
        2000,
        0.25,
        0,
        0.2,
        42,
    )
    assert cfg.train.init_scale == 0.01
    assert cfg.train.init == "normal"
    assert cfg.train.dtype == "float64"


def test_a_partial_data_section_keeps_defaults_for_the_rest():
    cfg = parse(grid_yaml() + "data:\n  n_samples: 300\n")
    assert cfg.data.n_samples == 300
    assert cfg.data.noise == 0.25
    assert cfg.data.split_random_state == 42


def test_unknown_key_is_named_and_the_known_key_suggested():
    text = grid_yaml().replace("learning_rates:", "learning_rate:")
    with pytest.raises(ConfigError, match=r"grid\.learning_rate: unknown key") as info:
        parse(text)
    assert "did you mean 'learning_rates'?" in str(info.value)


def test_unknown_data_key_suggests_the_known_one():
    with pytest.raises(
        ConfigError, match=r"data\.n_sample: unknown key \(did you mean 'n_samples'"
    ):
        parse(grid_yaml() + "data:\n  n_sample: 300\n")


def test_unknown_activation_is_named_with_its_position():
    with pytest.raises(ConfigError, match=r"grid\.activations\[1\]: .*'swish'"):
        parse(grid_yaml(activations="[tanh, swish]"))


@pytest.mark.parametrize("axis", ["hidden_sizes", "activations", "learning_rates", "iterations"])
def test_empty_list_is_refused(axis):
    with pytest.raises(ConfigError, match=rf"grid\.{axis}: must not be empty \(got \[\]\)"):
        parse(grid_yaml(**{axis: "[]"}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (grid_yaml().replace("name: t", "name: my sweep"),
         "name: must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or "
         "digit (it names the output folder) (got 'my sweep')"),
        (grid_yaml().replace("name: t", "name: -t"), "name: must be 1 to 100 letters"),
        (grid_yaml() + "data: moons\n", "data: must be a section: keys indented below it, "
         "each 'key: value' (got 'moons')"),
        (grid_yaml() + "train: [engine, compiled]\n", "train: must be a section"),
        ("name: t\ngrid: [1, 2]\n", "grid: must be a section"),
        (grid_yaml() + "data: {dataset: csv, path: x.csv, sha256: ABC}\n",
         "data.sha256: must be 64 lowercase hexadecimal digits (the file's SHA-256) (got 'ABC')"),
        (grid_yaml(learning_rates="{log_uniform: [0.1]}") + "search: {method: random}\n",
         "grid.learning_rates.log_uniform: must be two numbers: [low, high] (got [0.1])"),
        (grid_yaml(hidden_sizes="{int_uniform: [1, 2, 3]}") + "search: {method: random}\n",
         "grid.hidden_sizes.int_uniform: must be two numbers: [low, high] (got [1, 2, 3])"),
        (grid_yaml().replace("grid:\n  ", "").replace("\n  ", "\n"),
         "iterations: unknown key at the top level (a key of grid: indent it under 'grid:')"),
        (grid_yaml() + "dataset: moons\n",
         "dataset: unknown key at the top level (a key of data: indent it under 'data:')"),
        (grid_yaml() + "engine: compiled\n", "engine: unknown key at the top level (a key of train"),
    ],
)  # fmt: skip
def test_shape_errors_are_said_in_the_config_s_terms(text, message):
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert message in str(info.value)
    assert "pattern" not in str(info.value) and "instance of" not in str(info.value)


@pytest.mark.parametrize("rate", ["0", "-0.5"])
def test_non_positive_learning_rate_is_refused(rate):
    with pytest.raises(ConfigError, match=rf"grid\.learning_rates\[1\]: .*greater than 0.*{rate}"):
        parse(grid_yaml(learning_rates=f"[0.6, {rate}]"))


@pytest.mark.parametrize("axis", ["hidden_sizes", "iterations"])
@pytest.mark.parametrize("count", ["0", "-5"])
def test_non_positive_count_is_refused(axis, count):
    with pytest.raises(ConfigError, match=rf"grid\.{axis}\[0\]: .*greater than 0.*{count}"):
        parse(grid_yaml(**{axis: f"[{count}]"}))


@pytest.mark.parametrize("rate", [".inf", ".nan"])
def test_non_finite_learning_rate_is_refused(rate):
    with pytest.raises(ConfigError, match=r"grid\.learning_rates\[0\]"):
        parse(grid_yaml(learning_rates=f"[{rate}]"))


@pytest.mark.parametrize(
    ("axis", "value", "pattern"),
    [
        ("hidden_sizes", "[1, three]", r"grid\.hidden_sizes\[1\]: .*integer.*'three'"),
        ("learning_rates", "[0.6, '0.1']", r"grid\.learning_rates\[1\]: .*number.*'0\.1'"),
        ("hidden_sizes", "[1.5]", r"grid\.hidden_sizes\[0\]: .*integer.*1\.5"),
        ("iterations", "[true]", r"grid\.iterations\[0\]: .*integer.*True"),
    ],
)
def test_wrong_type_in_a_list_is_named(axis, value, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse(grid_yaml(**{axis: value}))


def test_scalar_instead_of_list_is_refused():
    with pytest.raises(ConfigError, match=r"grid\.hidden_sizes: .*list.*got 3\)"):
        parse(grid_yaml(hidden_sizes="3"))


def test_wrong_type_for_a_data_setting_is_named():
    with pytest.raises(ConfigError, match=r"data\.noise: .*number.*'lots'"):
        parse(grid_yaml() + "data:\n  noise: lots\n")


def test_value_listed_twice_is_refused():
    with pytest.raises(ConfigError, match=r"grid\.hidden_sizes: 3 is listed twice"):
        parse(grid_yaml(hidden_sizes="[3, 1, 3]"))


def test_malformed_yaml_reports_its_line():
    lines = grid_yaml().splitlines(keepends=True)
    lines[3] = "    activations: [tanh]\n"  # line 4 indented deeper than its siblings
    with pytest.raises(ConfigError, match=r"cfg\.yaml: line 4, column \d+: malformed YAML"):
        parse("".join(lines), source="cfg.yaml")


def test_unclosed_bracket_is_malformed_yaml_with_a_line():
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: malformed YAML"):
        parse(grid_yaml(hidden_sizes="[1, 3"))


def test_duplicate_key_is_refused_with_both_lines():
    text = grid_yaml() + "  hidden_sizes: [5]\n"  # line 7 repeats line 3
    with pytest.raises(
        ConfigError, match=r"line 7: key 'hidden_sizes' given twice \(first on line 3\)"
    ):
        parse(text)


def test_list_as_a_key_is_malformed_yaml_with_a_line():
    with pytest.raises(ConfigError, match=r"line 1, column \d+: malformed YAML"):
        parse("? [a, b]\n: 1\n" + grid_yaml())


def test_number_as_a_key_is_named():
    with pytest.raises(ConfigError, match=r"key 1 is not a name"):
        parse("1: 2\n" + grid_yaml())


def test_every_problem_is_reported_in_one_error():
    text = (
        "name: t\n"
        "data:\n"
        "  noise: -1\n"
        "grid:\n"
        "  hidden_sizes: [0]\n"
        "  activations: [swish]\n"
        "  learning_rate: [0.1]\n"
        "  iterations: []\n"
    )
    with pytest.raises(ConfigError) as info:
        parse(text, source="bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml: 6 problems:")
    for expected in [
        "data.noise:",
        "grid.hidden_sizes[0]:",
        "grid.activations[0]:",
        "grid.learning_rate: unknown key",
        "grid.learning_rates: required key is missing",
        "grid.iterations:",
    ]:
        assert expected in message


def test_missing_grid_is_named():
    with pytest.raises(ConfigError, match=r"grid: required key is missing"):
        parse("name: t\n")


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", r"empty"),
        ("# only a comment\n", r"empty"),
        ("- 1\n- 2\n", r"top level must be a mapping"),
    ],
)
def test_file_without_a_mapping_is_refused(text, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse(text)


def test_yaml_tags_that_build_python_objects_are_refused(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ConfigError, match="malformed YAML"):
        parse(f"!!python/object/apply:os.system ['touch {marker}']\n")
    assert not marker.exists()


def test_load_names_the_sweep_after_the_file_when_name_is_absent(write_config):
    path = write_config(grid_yaml().replace("name: t\n", ""), filename="my study.yaml")
    assert load(path).name == "my-study"


def test_load_reports_errors_with_the_file_name(write_config):
    path = write_config(grid_yaml(iterations="[0]"), filename="bad.yaml")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: 1 problem"):
        load(path)


def test_load_of_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.yaml")


def test_shipped_reference_study_config_is_the_study_grid():
    cfg = load(CONFIGS / "reference_study.yaml")
    assert cfg.grid.hidden_sizes == [1, 2, 3, 4, 5, 10, 50]
    assert cfg.grid.activations == ["tanh", "sigmoid", "relu"]
    assert cfg.grid.learning_rates == [1.2, 0.6, 0.1, 0.01, 0.001]
    assert cfg.grid.iterations == [100, 1000, 10000, 100000]
    d = cfg.data
    assert (d.n_samples, d.noise, d.random_state, d.dev_size, d.split_random_state) == (
        2000,
        0.25,
        0,
        0.2,
        42,
    )


def test_shipped_quick_config_is_valid():
    load(CONFIGS / "quick.yaml")


# --- through the command line -------------------------------------------------------------


def test_run_with_a_bad_config_exits_2_without_traceback_or_output(
    runner, write_config, tmp_path, monkeypatch
):
    config = yaml.safe_load(grid_yaml(learning_rates="[0.6, -1]"))
    path = write_config(config, filename="bad.yaml")
    monkeypatch.chdir(tmp_path)

    result = runner.invoke(app, ["run", str(path), "--n-jobs", "1"])

    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "grid.learning_rates[1]" in result.stderr
    assert "-1" in result.stderr
    assert result.stderr.startswith("error: ")
    assert not (tmp_path / "output").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_run_with_malformed_yaml_and_explicit_out_writes_nothing(runner, write_config, tmp_path):
    path = write_config("grid:\n  hidden_sizes: [1\n", filename="broken.yaml")
    out = tmp_path / "sub" / "out"

    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--n-jobs", "1"])

    assert result.exit_code == 2
    assert "malformed YAML" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "sub").exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"dataset": "circles", "factor": 0.3, "noise": 0.1},
        {"dataset": "blobs", "centers": 4, "n_features": 3},
    ],
)
def test_resolved_config_is_a_valid_sweep_file_that_loads_back_equal(data):
    cfg = parse(grid_yaml() + (f"data: {json.dumps(data)}\n" if data else ""))
    text = yaml.safe_dump(cfg.resolved(), sort_keys=False)
    again = parse(text)
    assert again.resolved() == cfg.resolved()
    assert again.data == cfg.data
    assert yaml.safe_load(text)["data"]["split_random_state"] == 42  # defaults written out
