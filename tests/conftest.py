"""Shared fixtures: a tiny sweep configuration, written to disk on demand, and a CLI runner."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from sweeps import CLASSIFICATION
from typer.testing import CliRunner

# A sweep that trains in well under a second: 200 moons samples, two budgets.
TINY_CONFIG = copy.deepcopy(CLASSIFICATION) | {"name": "tiny"}


@pytest.fixture
def tiny_config() -> dict:
    """A fresh copy of :data:`TINY_CONFIG`, free to modify."""
    return copy.deepcopy(TINY_CONFIG)


@pytest.fixture
def write_config(tmp_path):
    """Write a sweep file into ``tmp_path`` and return its path.

    ``write_config()`` writes :data:`TINY_CONFIG`; ``write_config(cfg)`` writes a dict as
    YAML; ``write_config("text")`` writes the text as it is (for malformed files).
    """

    def write(config: dict | str | None = None, filename: str = "tiny.yaml") -> Path:
        if config is None:
            config = TINY_CONFIG
        text = config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False)
        path = tmp_path / filename
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def data_dir() -> Path:
    """``tests/data``: small files the tests read (figures and weights from the study)."""
    return Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _no_worker_pool(tmp_path_factory, monkeypatch):
    """Every test trains with workers of its own, whatever pool the machine runs: the pool's
    folder is one no pool uses (tests of the pool set their own)."""
    monkeypatch.setenv("SWEEP_NN_POOL_DIR", str(tmp_path_factory.getbasetemp() / "no-pool"))
