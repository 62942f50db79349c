"""The results file reads back whatever text its rows hold, and survives a full disk."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweep_nn import store

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
    row = {c: None for c in store.COLUMNS}
    row |= {"config_id": "h2-tanh-lr0.5-it10", "hidden_size": 2, "activation": "tanh",
            "learning_rate": 0.5, "iterations": 10, "batch_size": "full", "seed": 0,
            "status": "failed", "dtype": "float64", "key": "k1", "stack_size": 1}  # fmt: skip
    return row | changes


def write_and_read(tmp_path, rows: list[dict]) -> list[dict]:
    path = tmp_path / store.RESULTS_FILE
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
    path = tmp_path / store.RESULTS_FILE
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
