"""Rows of an earlier grid in the same folder are kept, and hidden from filter unless asked."""

from __future__ import annotations

import json

from sweep_nn.cli import app


def _run(runner, path, out):
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "-j", "1", "-q"])
    assert result.exit_code == 0, result.output


def test_filter_shows_the_current_grid_and_says_what_it_hides(
    write_config, tiny_config, runner, tmp_path
):
    out = tmp_path / "o"
    tiny_config["grid"]["hidden_sizes"] = [2, 3]
    _run(runner, write_config(tiny_config), out)  # 4 rows
    tiny_config["grid"]["hidden_sizes"] = [3]
    tiny_config["grid"]["learning_rates"] = [0.5, 0.1]
    _run(runner, write_config(tiny_config), out)  # 4 current rows, 2 of them new
    shown = runner.invoke(app, ["filter", str(out), "--format", "json"])
    ids = {row["config_id"] for row in json.loads(shown.stdout)}
    assert ids == {f"h3-tanh-lr{lr}-it{it}" for lr in (0.5, 0.1) for it in (10, 50)}
    assert "2 rows of earlier grids in this folder not shown (--all-rows shows them)" in (
        shown.stderr
    )
    everything = runner.invoke(app, ["filter", str(out), "--format", "json", "--all-rows"])
    assert len(json.loads(everything.stdout)) == 6
    assert "not shown" not in everything.stderr
