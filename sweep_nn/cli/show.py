"""What the command line prints: the progress bar, the run summary, the filter's table.

Everything goes through rich; status lines and the progress bar go to stderr, answers
(tables, CSV, JSON) to stdout.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path

from .invocation import command


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def json_records(df) -> str:
    """Rows as a JSON list: floats as Python prints them (81.65, not 81.650000000000006),
    missing values as null, and slashes left alone."""
    import json
    import math

    def plain(v):
        if hasattr(v, "item"):  # NumPy scalars
            v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v

    rows = [{k: plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
    return json.dumps(rows, indent=2, ensure_ascii=False)


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@contextlib.contextmanager
def progress(quiet: bool):
    """A rich progress bar (on stderr) counting result rows; callbacks for the sweep."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield (lambda total, done: None), (lambda row: None)
        return
    bar = Progress(
        TextColumn("configurations"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("time left"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = None

    def on_start(total: int, done: int) -> None:
        nonlocal task
        task = bar.add_task("sweep", total=total, completed=done)

    def on_row(row) -> None:
        if task is not None:
            bar.advance(task)

    with bar:
        yield on_start, on_row


def resume_command(config_file: Path, out: Path | None) -> str:
    return command("run", config_file, *(["--out", out] if out else []))


def print_summary(s, config_file: Path, out: Path | None) -> None:
    from rich.console import Console

    console = Console(stderr=True, highlight=False, soft_wrap=True)  # paths stay whole for copying
    if s.moved_to:
        console.print(f"previous results moved to {s.moved_to}")
    not_run = s.total - sum(s.counts.values())
    counts = ", ".join(
        [f"{n} {status}" for status, n in sorted(s.counts.items())]
        + ([f"{not_run} not run yet"] if not_run else [])
    )
    ran = s.total - s.skipped
    console.print(
        f"{plural(s.total, 'configuration')}: {counts}"
        + (f" ({s.skipped} already recorded, {ran} to run)" if s.skipped else "")
    )
    if s.rerun:
        console.print(f"{s.rerun} training run(s) restarted after their worker process died")
    for failure in s.failures[:3]:
        console.print(f"failed: {failure}")
    if s.baseline:
        b = s.baseline
        if "error" in b:
            console.print(f"baseline ({b.get('model')}) could not be fitted: {b['error']}")
        elif "dev_acc" in b:
            console.print(
                f"baseline ({b['model']}): train {b['train_acc']:.2f}%, dev {b['dev_acc']:.2f}%"
            )
        else:
            console.print(
                f"baseline ({b['model']}): train R2 {b['train_r2']:.3f}, dev R2 {b['dev_r2']:.3f}"
            )
    console.print(f"results: {s.results_path}  ({s.wall_seconds:.1f} s)")
    if s.interrupted:
        console.print(
            f"interrupted: finished rows are kept; resume with: {resume_command(config_file, out)}"
        )
    else:
        console.print(f"next: {command('filter', s.results_path)}")


# --- filter ----------------------------------------------------------------------------------


def emit(df, fmt: Format, total: int, aggregated: bool) -> None:
    if fmt is Format.csv:
        sys.stdout.write(df.to_csv(index=False))
        return
    if fmt is Format.json:
        sys.stdout.write(json_records(df) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    noun = "groups of seeds" if aggregated else "configurations"
    table = Table(title=f"{len(df)} of {total} {noun}")
    columns = _table_columns(df, aggregated)
    for name, _ in columns:
        table.add_column(
            name, justify="left" if name in ("config_id", "activation", "status") else "right"
        )
    for _, row in df.iterrows():
        table.add_row(*[fmt_(row) for _, fmt_ in columns])
    Console(highlight=False).print(table)


def _table_columns(df, aggregated: bool):
    """(header, row -> text) pairs for the table view; only the columns that say something."""

    def num(col, spec):
        return lambda r: "" if r[col] != r[col] else format(r[col], spec)

    def mean_std(col, spec):
        def cell(r):
            if r["n_seeds"] < 2:  # one seed: no spread to show
                return format(r[col], spec)
            return f"{r[col]:{spec}} ± {r[col + '_std']:{spec}}"

        return cell

    cols: list[tuple[str, Callable]] = [("config_id", lambda r: str(r["config_id"]))]
    if aggregated:
        cols.append(("seeds", lambda r: str(r["n_seeds"])))
    for col in ("batch_size", "dtype"):
        if df[col].nunique() > 1:
            cols.append((col, lambda r, c=col: str(r[c])))
    metric = mean_std if aggregated else num
    if df["train_acc"].notna().any():
        cols += [("train_acc", metric("train_acc", ".2f")), ("dev_acc", metric("dev_acc", ".2f"))]
    if df["train_r2"].notna().any():
        cols += [("train_r2", metric("train_r2", ".4f")), ("dev_r2", metric("dev_r2", ".4f"))]
    cols += [
        ("gap", num("gap", ".4f" if df["train_acc"].isna().all() else ".2f")),
        ("fit_seconds", metric("fit_seconds", ".3f")),
    ]
    if not aggregated and (df["status"] != "ok").any():
        cols.append(("status", lambda r: str(r["status"])))
    return cols
