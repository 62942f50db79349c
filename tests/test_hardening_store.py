"""The results file reads back whatever text its rows hold, and survives a full disk."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweep_nn.errors import ResultsError
from sweep_nn.results import store
from sweep_nn.results.schema import COLUMNS, RESULTS_FILE

LINE_BREAKS = [
    "\n",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
]


def a_row(**changes) -> dict:
    row = {c: None for c in COLUMNS}
    row |= {"config_id": "h2-tanh-lr0.5-it10", "hidden_size": 2, "activation": "tanh",
            "learning_rate": 0.5, "iterations": 10, "batch_size": "full", "seed": 0,
            "status": "failed", "dtype": "float64", "key": "k1", "stack_size": 1}  # fmt: skip
    return row | changes


def write_and_read(tmp_path, rows: list[dict]) -> list[dict]:
    path = tmp_path / RESULTS_FILE
    path.unlink(missing_ok=True)
    with store.ResultsWriter(path) as writer:
        for row in rows:
            writer.append(row)
    return store.read_rows(path)


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_an_error_message_with_any_line_break_reads_back(tmp_path, brk):
    rows = write_and_read(tmp_path, [a_row(error=f"ValueError: bad{brk}value"), a_row(key="k2")])
    assert [r["error"] for r in rows] == ["ValueError: bad value" if brk != "\r\n" else
                                          "ValueError: bad  value", None]  # fmt: skip


def test_sanitise_replaces_every_character_splitlines_splits_at():
    for n in range(0x110000):
        ch = chr(n)
        if len(f"a{ch}b".splitlines()) > 1:
            assert store.sanitise(ch) == " ", hex(n)


def test_a_file_with_windows_line_endings_still_reads(tmp_path):
    path = tmp_path / RESULTS_FILE
    write_and_read(tmp_path, [a_row()])
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert [r["key"] for r in store.read_rows(path)] == ["k1"]


texts = st.text(st.characters(codec=None), max_size=40)  # any code point, surrogates too


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(error=texts, config_id=texts.filter(lambda t: t != ""), activation=texts)
def test_any_text_in_a_cell_round_trips_as_its_sanitised_text(
    tmp_path, error, config_id, activation
):
    row = a_row(error=error, config_id=config_id, activation=activation)
    (back,) = write_and_read(tmp_path, [row])
    assert back["error"] == (store.sanitise(error) or None)
    assert back["config_id"] == store.sanitise(config_id)
    assert back["activation"] == (store.sanitise(activation) or None)
    line = store.format_row(row)
    assert line.endswith("\n") and "\n" not in line[:-1] and len(line.splitlines()) == 1


# --- a disk that fills up while the header is written ------------------------------------


@pytest.fixture
def sweep_file(tmp_path):
    import yaml
    from conftest import TINY_CONFIG

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_CONFIG))
    return path


def run(path, out):
    from typer.testing import CliRunner

    from sweep_nn.cli import app

    return CliRunner().invoke(app, ["run", str(path), "--out", str(out), "-j", "1", "-q"])


@pytest.mark.parametrize("room", [0, 40])
def test_a_disk_full_during_the_header_leaves_a_folder_a_rerun_resumes(
    tmp_path, sweep_file, monkeypatch, room
):
    from disks import FillingDisk

    out = tmp_path / "out"
    monkeypatch.setattr(store, "os", FillingDisk(room))
    result = run(sweep_file, out)
    monkeypatch.undo()
    assert result.exit_code == 4, result.output
    assert "No space left on device" in result.stderr and "Traceback" not in result.output
    results = out / RESULTS_FILE
    assert not results.exists() or results.read_bytes().startswith(b"config_id,")
    assert not list(out.glob(".*tmp-*"))

    again = run(sweep_file, out)
    assert again.exit_code == 0, again.output
    assert len(store.read_rows(results)) == 2


def test_a_rerun_resumes_a_folder_whose_results_file_was_left_empty(tmp_path, sweep_file):
    out = tmp_path / "out"
    assert run(sweep_file, out).exit_code == 0
    results = out / RESULTS_FILE
    results.write_bytes(b"")  # as a run stopped by a full disk before its header used to leave
    again = run(sweep_file, out)
    assert again.exit_code == 0, again.output
    assert len(store.read_rows(results)) == 2


def test_filter_still_calls_an_empty_file_not_a_results_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ResultsError, match="is empty: not a sweep-nn results file"):
        store.read_rows(path)
    assert store.read_rows(path, repair=True) == []
