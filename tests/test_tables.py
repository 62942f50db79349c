"""What the command line prints. Tables: the column naming each row is never cut; a pipe
gets the whole table; a narrow terminal loses the columns that matter least first, and is
told. A run's summary: what its counts call the rows not done."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table

from sweep_nn.cli import show

LONG_ID = "h26-sigmoid-lr0.00248-it1000-scale0.0185-bs32-float32-s7"
HEADERS = ["config_id", "batch_size", "init", "init_scale", "train_acc", "dev_acc", "gap",
           "fit_seconds"]  # fmt: skip
CELLS = [LONG_ID, "32", "normal", "0.0185", "50.62", "47.50", "3.12", "0.001"]


def _table() -> Table:
    table = Table(title="1 of 1 configurations")
    for name in HEADERS:
        table.add_column(name)
    table.add_row(*CELLS)
    return table


@pytest.fixture
def screens(monkeypatch):
    """Every console the table code makes writes here: a terminal of a width, or a pipe."""
    made: dict[str, io.StringIO] = {}

    def use(terminal: bool, width: int = 80) -> dict[str, io.StringIO]:
        def console(stderr: bool = False, lines: bool = False):
            made["stderr" if stderr else "stdout"] = buffer = io.StringIO()
            return Console(file=buffer, force_terminal=terminal, width=width, soft_wrap=lines,
                           color_system=None, highlight=False, markup=False)  # fmt: skip

        monkeypatch.setattr(show, "console", console)
        return made

    return use


def test_a_pipe_gets_the_whole_table_whatever_its_width(screens):
    made = screens(terminal=False, width=80)
    show.print_table(_table(), key="config_id", optional=("init",), whole="--format csv")
    out = made["stdout"].getvalue()
    assert max(len(line) for line in out.splitlines()) > 80
    for text in HEADERS + CELLS:
        assert text in out
    assert "…" not in out
    assert "stderr" not in made  # nothing left out, nothing to say


def test_a_narrow_terminal_leaves_out_the_optional_columns_first_and_says_so(screens):
    made = screens(terminal=True, width=100)
    optional = ("init_scale", "init", "batch_size", "fit_seconds")
    show.print_table(_table(), key="config_id", optional=optional, whole="--format csv")
    out = made["stdout"].getvalue()
    assert max(len(line) for line in out.splitlines()) <= 100
    assert LONG_ID in out and "…" not in out
    kept = [h for h in HEADERS if h in out.splitlines()[2]]  # the header line
    left_out = [h for h in HEADERS if h not in kept]
    assert left_out and left_out == [h for h in HEADERS if h in optional[: len(left_out)]]
    assert {"train_acc", "dev_acc", "gap"} <= set(kept)
    note = made["stderr"].getvalue()
    assert (
        f"left out to fit the terminal's 100 columns: {', '.join(optional[: len(left_out)])}"
        in note
    )
    assert "--format csv" in note
    assert note.strip().endswith("shows them)")


def test_one_column_left_out_is_said_in_the_singular(screens):
    optional = ("init_scale", "init", "batch_size", "fit_seconds")
    for width in range(100, 220, 2):  # the width at which only the first optional one goes
        made = screens(terminal=True, width=width)
        show.print_table(_table(), key="config_id", optional=optional, whole="--format csv")
        note = made["stderr"].getvalue().strip()
        if note.startswith(f"left out to fit the terminal's {width} columns: init_scale ("):
            assert note.endswith("(a wider terminal, or --format csv, shows it)")
            return
    raise AssertionError("no width leaves out exactly one column")


def test_a_terminal_too_narrow_for_the_rest_still_shows_the_key_whole(screens):
    made = screens(terminal=True, width=len(LONG_ID) + 12)
    show.print_table(_table(), key="config_id", optional=("init",))
    out = made["stdout"].getvalue()
    assert LONG_ID in out  # the others are shortened, never the key


def test_a_wide_terminal_leaves_nothing_out(screens):
    made = screens(terminal=True, width=200)
    show.print_table(_table(), key="config_id", optional=("init", "batch_size"))
    out = made["stdout"].getvalue()
    assert all(text in out for text in HEADERS + CELLS)
    assert "stderr" not in made


def test_an_interrupted_summary_counts_unfinished_rows_as_not_done(screens, tmp_path):
    from collections import Counter

    from sweep_nn.sweep.run import SweepSummary

    made = screens(terminal=False)
    summary = SweepSummary(tmp_path, tmp_path / "results.csv", total=5, skipped=0,
                           counts=Counter(ok=3), interrupted=True)  # fmt: skip
    show.print_summary(summary, tmp_path / "grid.yaml", None)
    said = made["stderr"].getvalue()
    # some of the two may be partly trained (a checkpoint): "not run" would be wrong of them
    assert "5 configurations: 3 ok, 2 not done yet" in said
    assert "interrupted: finished rows are kept; resume with:" in said
