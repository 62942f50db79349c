"""``sweep-nn ls``: the sweeps under a folder, a line each."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from . import show
from .base import DEFAULT_ROOT, app, err, reported_errors


@app.command("ls")
def ls_cmd(
    output_dir: Annotated[
        Path | None,
        typer.Argument(help="Folder to look in \\[default: output/].", show_default=False,
                       metavar="OUTPUT_DIR"),  # fmt: skip
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List the sweeps under OUTPUT_DIR: rows done of the current grid, status, best dev score.

    Every folder holding a results.csv is a sweep; the most recently changed comes first.
    A sweep that a run is training into now says `running`.

    Example: sweep-nn ls output
    """
    from ..results.listing import list_sweeps
    from ..sweep.folder import in_use

    with reported_errors():
        root = DEFAULT_ROOT if output_dir is None else output_dir
        lines = list_sweeps(root, in_use)
        if as_json:
            typer.echo(json.dumps([line.as_dict() for line in lines], indent=2, ensure_ascii=False))
            return
        if not lines:
            err(f"no sweeps under {root}/ (no results.csv found)")
            return
        _table(lines)


def _when(timestamp: float, now: datetime) -> str:
    """As ``ls -l`` shows a time: the hour today, else the day."""
    when = datetime.fromtimestamp(timestamp)
    return when.strftime("%H:%M" if when.date() == now.date() else "%Y-%m-%d")


def _table(lines) -> None:
    """The table on stdout; the reasons of unreadable sweeps after it, on stderr."""
    from rich.table import Table

    from ..results.schema import METRICS, RESULTS_FILE

    now = datetime.now()
    names = any(line.name != line.folder.resolve().name for line in lines)
    earlier = any(line.earlier for line in lines)
    columns = ["folder", *(["name"] if names else []), "done", "status", "best dev", "modified"]
    table = Table(title=f"{len(lines)} sweep{'s' if len(lines) != 1 else ''}")
    for name in columns + (["earlier rows"] if earlier else []):
        table.add_column(
            name,
            justify="right" if name in ("done", "earlier rows") else "left",
            no_wrap=name != "status",  # the folder is copied whole; the rest is short
        )
    for line in lines:
        total = "?" if line.total is None else str(line.total)
        counts = ", ".join(f"{n} {s}" for s, n in line.counts.items() if n)
        status = "unreadable" if line.error else counts
        if line.running:
            status = f"running: {status}" if status else "running"
        best = ""
        if line.best is not None:
            metric = METRICS[line.task]
            best = metric.show(line.best) if metric.unit else f"R² {metric.show(line.best)}"
        cells = [
            str(line.folder),
            *([line.name] if names else []),
            f"{line.done}/{total}",
            status,
            best,
            _when(line.modified, now) if line.modified else "",
        ]
        table.add_row(*cells, *([str(line.earlier)] if earlier else []))
    show.print_table(table, key="folder", optional=("modified", "name", "earlier rows"),
                     whole="--json")  # fmt: skip
    for line in lines:
        if line.error:
            reason = line.error.replace(str(line.folder / RESULTS_FILE), RESULTS_FILE)
            err(f"{line.folder}: {reason}")
