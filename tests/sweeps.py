"""Tiny finished sweeps, one per task, run once per test module that asks for them."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from typer.testing import CliRunner

from sweep_nn.cli import app

CLASSIFICATION = {
    "name": "tiny-classification",
    "data": {"dataset": "moons", "n_samples": 200, "noise": 0.25},
    "grid": {
        "hidden_sizes": [2],
        "activations": ["tanh"],
        "learning_rates": [0.5],
        "iterations": [10, 50],
    },
}
REGRESSION = {
    "name": "tiny-regression",
    "task": "regression",
    "data": {"dataset": "regression", "n_samples": 200, "n_features": 3, "noise": 5,
             "scale": "standard"},
    "grid": {
        "hidden_sizes": [2],
        "activations": ["tanh"],
        "learning_rates": [0.01],
        "iterations": [10, 50],
    },
}  # fmt: skip


def run_sweep(root: Path, config: dict, folder: str | None = None) -> Path:
    """Run ``config`` into ``root / folder`` (default: its name) and return the folder."""
    config = copy.deepcopy(config)
    path = root / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    out = root / (folder or config["name"])
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "-j", "1", "-q"])
    assert result.exit_code == 0, result.output
    return out


def run_each_task(root: Path) -> dict[str, Path]:
    """One finished sweep of each task under ``root``: task -> its folder."""
    return {
        "classification": run_sweep(root, CLASSIFICATION),
        "regression": run_sweep(root, REGRESSION),
    }
