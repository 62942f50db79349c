"""The output folder: one lock however it is spelled, nothing written on bad input, --fresh
moves only what sweep-nn made, and rows of other settings never mix in."""

from __future__ import annotations

import os

import pytest

from sweep_nn.cli import app
from sweep_nn.sweep.folder import LOCK_FILE, locked


def _run(runner, path, *args):
    return runner.invoke(app, ["run", str(path), "-j", "1", "-q", *args])


@pytest.fixture
def swept(write_config, runner, tmp_path):
    path = write_config()
    out = tmp_path / "out"
    assert _run(runner, path, "--out", str(out)).exit_code == 0
    return path, out


@pytest.mark.parametrize("spelling", ["dot", "dotdot", "symlink"])
def test_the_lock_holds_however_the_folder_is_spelled(
    swept, runner, tmp_path, spelling, monkeypatch
):
    path, out = swept
    if spelling == "symlink":
        other = tmp_path / "link"
        other.symlink_to(out)
    elif spelling == "dot":
        monkeypatch.chdir(out)
        other = "."
    else:
        (tmp_path / "sub").mkdir()
        monkeypatch.chdir(tmp_path / "sub")
        other = "../out"
    with locked(out):
        result = _run(runner, path, "--out", str(other))
    assert result.exit_code == 3, result.output
    assert "in use by another sweep-nn run" in result.stderr


def test_the_lock_file_lives_inside_the_folder(swept, tmp_path):
    _, out = swept
    assert (out / LOCK_FILE).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".lock")]


def test_fresh_on_the_current_folder_moves_its_contents_aside(swept, runner, monkeypatch):
    path, out = swept
    monkeypatch.chdir(out)
    result = _run(runner, path, "--out", ".", "--fresh")
    assert result.exit_code == 0, result.output
    aside = [p for p in out.parent.iterdir() if p.name.startswith("out.old-")]
    assert len(aside) == 1 and (aside[0] / "results.csv").is_file()
    assert (out / "results.csv").is_file()


def test_a_folder_of_other_files_is_refused_and_left_alone(write_config, runner, tmp_path):
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.txt").write_text("my work")
    for extra in ([], ["--fresh"]):
        result = _run(runner, write_config(), "--out", str(mine), *extra)
        assert result.exit_code == 2, result.output
        assert "is not a sweep-nn output folder (it holds thesis.txt)" in result.stderr
        assert sorted(p.name for p in mine.iterdir()) == ["thesis.txt"]
        assert not [p for p in tmp_path.iterdir() if ".old-" in p.name]


def test_bad_data_writes_nothing(write_config, tiny_config, runner, tmp_path):
    tiny_config["data"] = {"dataset": "csv", "path": "missing.csv"}
    out = tmp_path / "out"
    result = _run(runner, write_config(tiny_config), "--out", str(out))
    assert result.exit_code == 2
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if "lock" in p.name]


def test_rows_of_other_settings_never_overwrite_params_after_config_yaml_is_lost(
    swept, write_config, tiny_config, runner
):
    _, out = swept
    before = {p.name: p.read_bytes() for p in (out / "params").iterdir()}
    os.remove(out / "config.yaml")
    tiny_config["data"]["noise"] = 0.3  # same configuration ids, other data
    result = _run(runner, write_config(tiny_config, "other.yaml"), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "holds results of other settings for 2 of these configurations" in result.stderr
    assert {p.name: p.read_bytes() for p in (out / "params").iterdir()} == before


def test_a_resume_refusal_says_which_settings_differ(swept, write_config, tiny_config, runner):
    _, out = swept
    tiny_config["data"]["n_samples"] = 300
    tiny_config["train"] = {"dtype": "float32"}
    result = _run(runner, write_config(tiny_config, "other.yaml"), "--out", str(out))
    assert result.exit_code == 2
    assert "data.n_samples: 200 -> 300" in result.stderr
    assert "train.dtype: float64 -> float32" in result.stderr


def test_each_run_records_when_it_started_its_command_and_the_version(tmp_path, monkeypatch):
    import json
    import sys

    import yaml

    from sweep_nn import __version__
    from sweep_nn.config import parse
    from sweep_nn.sweep.folder import RUNS_FILE
    from sweep_nn.sweep.run import run_sweep

    cfg = parse(yaml.safe_dump({
        "name": "runs", "data": {"dataset": "moons", "n_samples": 60},
        "grid": {"hidden_sizes": [2], "activations": ["tanh"], "learning_rates": [0.6],
                 "iterations": [5]},
    }))  # fmt: skip
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["sweep-nn", "run", "my grid.yaml", "-j", "1"])
    run_sweep(cfg, out, n_jobs=1)
    run_sweep(cfg, out, n_jobs=1)  # a resume: nothing to do, but it ran
    runs = json.loads((out / RUNS_FILE).read_text())
    assert [r["rows_already_recorded"] for r in runs] == [0, 1]
    assert runs[0]["command"] == "sweep-nn run 'my grid.yaml' -j 1"
    assert runs[0]["version"] == __version__ and runs[0]["started"].endswith("+00:00")
    (out / RUNS_FILE).write_text("[{broken")
    run_sweep(cfg, out, n_jobs=1)
    assert len(json.loads((out / RUNS_FILE).read_text())) == 1
    assert [p.name for p in out.glob(f"{RUNS_FILE}.unreadable-*")]  # kept aside, not lost


@pytest.mark.parametrize(
    ("command", "target", "said"),
    [
        (["run", "CONFIG", "--out"], "a-file", "cannot use {f} as the output folder: it is a file"),
        (["run", "CONFIG", "--out"], "a-file/sub", "{f} is a file, not a folder"),
        (["plot", "OUT", "--only", "overview", "--out"], "a-file", "{f} is a file, not a"),
        (["plot", "OUT", "--only", "overview", "--out"], "a-file/sub", "{f} is a file, not a"),
        (["report", "OUT", "--no-figures", "--out"], "a-file/r.html", "{f} is a file, not a"),
        (["eval", "PARAMS", "--plot"], "a-file/b.png", "{f} is a file, not a folder"),
        (["predict", "PARAMS", "INPUT", "-o"], "a-folder", "cannot write {d}: it is a folder"),
        (["predict", "PARAMS", "INPUT", "-o"], "a-file/p.csv", "{f} is a file, not a folder"),
    ],
)
def test_a_path_blocked_by_a_file_or_a_folder_is_bad_input(swept, runner, tmp_path, command,
                                                           target, said):  # fmt: skip
    """Exit 2, as bad input, not 4 (which says the disk or permissions failed a write)."""
    path, out = swept
    blocker, folder = tmp_path / "a-file", tmp_path / "a-folder"
    blocker.write_text("in the way")
    folder.mkdir()
    inputs = tmp_path / "in.csv"
    inputs.write_text("x0,x1\n0.1,0.2\n")
    params = next((out / "params").glob("*.pkl"))
    named = {"CONFIG": path, "OUT": out, "PARAMS": params, "INPUT": inputs}
    argv = [str(named.get(a, a)) for a in command] + [str(tmp_path / target)]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert said.format(f=blocker, d=folder) in result.stderr
    assert blocker.read_text() == "in the way" and not any(folder.iterdir())
