"""Reads are bounded: devices, FIFOs and oversized files are refused, never read or waited on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sweep_nn import config, data
from sweep_nn.cli import app
from sweep_nn.errors import ConfigError, DataError, ParamsError, ResultsError
from sweep_nn.results import params as params_mod
from sweep_nn.results import store
from sweep_nn.safe_read import ReadRefused, read_regular_file

SWEEP_NN = [sys.executable, "-m", "sweep_nn"]


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def test_read_regular_file_reads_a_file_within_its_limit(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_regular_file(path, 100) == b"x" * 100


def test_read_regular_file_refuses_a_file_over_its_limit(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 101)
    with pytest.raises(ReadRefused, match=r"too large for a thing \(101 bytes; the limit is 100\)"):
        read_regular_file(path, 100, "thing")


def test_read_regular_file_refuses_devices_and_fifos_at_once(fifo):
    started = time.perf_counter()
    with pytest.raises(ReadRefused, match="is a device"):
        read_regular_file("/dev/zero", 100)
    with pytest.raises(ReadRefused, match="is a FIFO"):
        read_regular_file(fifo, 100)
    assert time.perf_counter() - started < 1.0


def test_read_regular_file_raises_as_open_does(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing", 100)
    with pytest.raises(IsADirectoryError):
        read_regular_file(tmp_path, 100)


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_every_reader_refuses_devices_and_fifos(special, fifo):
    import pandas  # noqa: F401 - imported before the clock starts

    path = Path("/dev/zero") if special == "/dev/zero" else fifo
    for read, error in [
        (config.load, ConfigError),
        (store.read_rows, ResultsError),
        (params_mod.load_params, ParamsError),
        (lambda p: data.read_csv(p, None), DataError),
    ]:
        started = time.perf_counter()
        with pytest.raises(error, match="is a (device|FIFO)"):
            read(path)
        assert time.perf_counter() - started < 1.0


def test_oversized_files_are_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big"
    with open(path, "wb") as fh:
        fh.truncate(2**30 + 1)  # sparse: takes no room
    with pytest.raises(ConfigError, match="too large for a config file"):
        config.load(path)
    with pytest.raises(ResultsError, match="too large for a results file"):
        store.read_rows(path)
    with pytest.raises(ParamsError, match="too large for a parameters file"):
        params_mod.load_params(path)
    with pytest.raises(DataError, match="too large for a CSV data file"):
        data.read_csv(path, None)


@pytest.mark.parametrize(
    "args",
    [["run", "{target}"], ["filter", "{target}"], ["eval", "{target}"]],
)
@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_the_commands_refuse_them_with_exit_2_without_hanging(tmp_path, fifo, args, special):
    target = "/dev/zero" if special == "/dev/zero" else str(fifo)
    cmd = [*SWEEP_NN, *(a.format(target=target) for a in args)]
    done = subprocess.run(
        cmd, check=False, capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "is a " in done.stderr


def test_eval_data_refuses_a_fifo(tmp_path, fifo):
    result = CliRunner().invoke(app, ["eval", "missing.pkl", "--data", str(fifo)])
    assert result.exit_code == 2
