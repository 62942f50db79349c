"""Small things a new user meets first: the version, counts, JSON, option spellings."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from sweep_nn import __version__
from sweep_nn.cli import app


@pytest.fixture
def seeded(write_config, tiny_config, runner, tmp_path):
    """A tiny sweep with two seeds and one with one seed, both run."""
    outs = {}
    for name, seeds in (("two", [0, 1]), ("one", [0])):
        cfg = dict(tiny_config, name=name)
        cfg["grid"] = dict(cfg["grid"], seeds=seeds)
        path = write_config(cfg, f"{name}.yaml")
        out = tmp_path / name
        result = runner.invoke(app, ["run", str(path), "--out", str(out), "-j", "1", "-q"])
        assert result.exit_code == 0, result.output
        outs[name] = out
    return outs


def test_version_prints_the_package_version(runner):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"sweep-nn {__version__}"


def test_shell_completion_is_offered(runner):
    assert "--install-completion" in runner.invoke(app, ["--help"]).output


@pytest.mark.parametrize("width", ["60", "100"])
def test_help_wraps_each_paragraph_to_the_terminal_s_width(runner, width):
    shown = runner.invoke(app, ["eval", "--help"], env={"COLUMNS": width, "NO_COLOR": "1"}).output
    text = " ".join(line.strip(" │") for line in shown.splitlines())  # the screen's words, in order
    # a sentence the docstring breaks across lines reads whole, and no line is left short
    assert "for datasets that cannot draw them (iris, wine, breast_cancer, digits, csv," in text
    lines = [line.rstrip() for line in shown.splitlines()]
    start = next(i for i, line in enumerate(lines) if "Without --data" in line)
    paragraph = lines[start : lines.index("", start)]
    assert all(len(line) > int(width) - 25 for line in paragraph[:-1]), paragraph
    for info in app.registered_commands:  # every command's help: one line per paragraph
        assert all("\n" not in part for part in info.help.split("\n\n")), info.name


def test_one_configuration_is_said_in_the_singular(write_config, tiny_config, runner, tmp_path):
    tiny_config["grid"]["iterations"] = [10]
    path = write_config(tiny_config)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "o"), "-j", "1"])
    assert "1 configuration: 1 ok" in result.output


def test_aggregate_counts_groups_against_groups(seeded, runner):
    result = runner.invoke(app, ["filter", str(seeded["two"]), "--aggregate"])
    assert "2 of 2 groups of seeds" in result.output  # 4 rows, 2 groups of 2 seeds


def test_a_single_seed_shows_no_spread(seeded, runner):
    one = runner.invoke(app, ["filter", str(seeded["one"]), "--aggregate"]).output
    two = runner.invoke(app, ["filter", str(seeded["two"]), "--aggregate"]).output
    assert "±" not in one
    assert "±" in two


def test_json_floats_read_as_written_and_paths_keep_their_slashes(seeded, runner):
    result = runner.invoke(app, ["filter", str(seeded["one"]), "--format", "json"])
    assert "\\/" not in result.output
    rows = json.loads(result.output)
    for row in rows:
        assert row["params_path"].startswith("params/")
    numbers = re.findall(r"-?\d+\.\d+(?:e-?\d+)?", result.output)
    assert numbers
    assert all(repr(float(n)) == n for n in numbers)  # 81.65, not 81.650000000000006
    assert all(row["error"] is None for row in rows)


def test_activation_names_are_not_case_sensitive(data_dir, runner):
    pkl = str(data_dir / "study_params_3_tanh_0.6_10000.pkl")
    lower = runner.invoke(app, ["eval", pkl, "--activation", "tanh", "--json"])
    upper = runner.invoke(app, ["eval", pkl, "--activation", "Tanh", "--json"])
    assert upper.exit_code == 0, upper.output
    assert json.loads(upper.output) == json.loads(lower.output)


def test_eval_plot_creates_its_folder(seeded, runner, tmp_path):
    rows = yaml.safe_load((seeded["one"] / "config.yaml").read_text())
    assert rows["name"] == "one"
    params = sorted((seeded["one"] / "params").glob("*.pkl"))[0]
    target = tmp_path / "new" / "folder" / "boundary.png"
    result = runner.invoke(app, ["eval", str(params), "--plot", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0


def test_more_workers_than_cores_are_capped_with_a_message(write_config, runner, tmp_path):
    from sweep_nn.sweep.run import available_cores, resolve_n_jobs

    cores = available_cores()
    assert resolve_n_jobs(100) == cores == resolve_n_jobs(-1)
    assert resolve_n_jobs(100, "dask") == 100  # a cluster has its own cores
    result = runner.invoke(
        app, ["run", str(write_config()), "--out", str(tmp_path / "o"), "-j", "100", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert f"-j 100: {cores} core" in result.stderr


@pytest.mark.parametrize("interrupted", ["in the summary", "raised"])
def test_the_resume_hint_trains_the_same_search(runner, write_config, tmp_path, monkeypatch,
                                                interrupted):  # fmt: skip
    """Following the hint after Ctrl-C resumes the same sweep: with --halving and --eta as
    given (without them it would train the whole grid), on the same backend."""
    import shlex

    from sweep_nn.sweep import run as run_mod

    configs = []

    def stopped(cfg, out_dir, **options):
        configs.append((cfg, options["backend"]))
        if interrupted == "raised":
            raise KeyboardInterrupt
        return run_mod.SweepSummary(out_dir, out_dir / "results.csv", total=4, skipped=0,
                                    interrupted=True)  # fmt: skip

    monkeypatch.setattr(run_mod, "run_sweep", stopped)
    path, out = write_config(), tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--halving", "--eta", "2"])
    assert result.exit_code == 130, result.output
    hint = shlex.split(result.stderr.split("resume with: ")[1].splitlines()[0])
    again = hint[hint.index("run") :]
    assert again == ["run", str(path), "--out", str(out), "--halving", "--eta", "2"]
    assert runner.invoke(app, again).exit_code == 130
    assert configs[1] == configs[0]
    assert configs[0][0].search.method == "halving"


def test_a_second_run_says_it_resumes_and_next_aggregates_seeds(seeded, write_config,
                                                                 tiny_config, runner):  # fmt: skip
    for name, seeds in (("two", [0, 1]), ("one", [0])):
        cfg = dict(tiny_config, name=name)
        cfg["grid"] = dict(cfg["grid"], seeds=seeds)
        path = write_config(cfg, f"{name}.yaml")
        result = runner.invoke(app, ["run", str(path), "--out", str(seeded[name]), "-j", "1", "-q"])
        assert result.exit_code == 0, result.output
        total = len(list((seeded[name] / "params").glob("*.pkl")))
        assert f"resuming {seeded[name]}: {total} of {total} rows already recorded" in result.stderr
        next_line = next(line for line in result.stderr.splitlines() if line.startswith("next:"))
        assert next_line.endswith("--aggregate") == (name == "two"), next_line
