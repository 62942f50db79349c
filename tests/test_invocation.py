"""The hints printed after a run are commands that work as printed, wherever sweep-nn is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TINY_CONFIG

from sweep_nn.cli import invocation
from sweep_nn.cli.invocation import command_name

SCRIPT = Path(sys.executable).parent / "sweep-nn"  # the environment's console script


def finds(mapping: dict[str, str]):
    return lambda name: mapping.get(name)


def test_the_name_when_path_finds_this_very_script():
    assert command_name("/env/bin/sweep-nn", which=finds({"sweep-nn": "/env/bin/sweep-nn"})) == (
        "sweep-nn"
    )


@pytest.mark.parametrize(
    ("argv0", "on_path", "expected"),
    [
        ("/elsewhere/bin/sweep-nn", None, "/elsewhere/bin/sweep-nn"),  # not on PATH
        ("/elsewhere/bin/sweep-nn", "/other/bin/sweep-nn", "/elsewhere/bin/sweep-nn"),  # another
        (".venv/bin/sweep-nn", None, ".venv/bin/sweep-nn"),  # as make demo runs it
        ("/my dir/bin/sweep-nn", None, "'/my dir/bin/sweep-nn'"),  # quoted for the shell
    ],
)
def test_the_path_that_ran_it_otherwise(argv0, on_path, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert command_name(argv0, which=finds({"sweep-nn": on_path} if on_path else {})) == expected


def test_a_path_inside_the_working_folder_is_given_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = str(tmp_path / ".venv" / "bin" / "sweep-nn")
    assert command_name(script, which=finds({})) == os.path.join(".venv", "bin", "sweep-nn")
    assert command_name(str(tmp_path / "sweep-nn"), which=finds({})) == "./sweep-nn"


@pytest.mark.parametrize(
    ("on_path", "expected"),
    [
        ({"python": "/env/bin/python"}, "python -m sweep_nn"),
        ({"python": "/usr/bin/python", "python3": "/env/bin/python"}, "python3 -m sweep_nn"),
        ({"python": "/usr/bin/python"}, "/env/bin/python -m sweep_nn"),
    ],
)
def test_python_dash_m_names_the_python_that_ran_it(on_path, expected):
    main = "/src/sweep_nn/__main__.py"
    assert command_name(main, executable="/env/bin/python", which=finds(on_path)) == expected


@pytest.mark.parametrize("argv0", ["/env/bin/pytest", "-c", ""])
def test_run_some_other_way_it_is_the_name(argv0):
    assert command_name(argv0, which=finds({})) == "sweep-nn"


def test_arguments_are_quoted(monkeypatch):
    monkeypatch.setattr(invocation, "command_name", lambda: "sweep-nn")
    assert invocation.command("filter", Path("out dir/results.csv")) == (
        "sweep-nn filter 'out dir/results.csv'"
    )


def _hint(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("next: ")]
    assert lines, result.stderr
    return lines[-1].removeprefix("next: ")


@pytest.mark.skipif(not SCRIPT.exists(), reason="sweep-nn is not installed as a script")
@pytest.mark.parametrize("on_path", [False, True])
def test_the_next_hint_runs_as_printed(tmp_path, on_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    bin_dir = str(SCRIPT.parent)
    others = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != bin_dir]
    env = dict(os.environ, PATH=os.pathsep.join(([bin_dir] if on_path else []) + others))
    run = subprocess.run(
        [str(SCRIPT), "run", "tiny.yaml", "--out", "out here", "-j", "1", "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    hint = _hint(run)
    assert hint.startswith("sweep-nn filter" if on_path else str(SCRIPT))
    again = subprocess.run(
        hint, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert "of 2 configurations" in again.stdout
