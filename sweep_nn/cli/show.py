"""What the command line prints: the progress bar, the run summary, the filter's table.

Everything goes through rich; status lines and the progress bar go to stderr, answers
(tables, CSV, JSON) to stdout.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path

from .invocation import command


def console(stderr: bool = False, lines: bool = False):
    """A rich console that prints text as it is: paths, names and errors are not markup (a
    folder called ``[bold]`` keeps its name) nor coloured. ``lines``: messages, each kept
    whole on one line (soft wrap) so that a path can be copied; else tables."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=lines, markup=False)


def print_table(table, key: str, optional: tuple[str, ...] = (), whole: str = "") -> None:
    """Print a rich table to stdout with its ``key`` column, which names each row (a config
    id, a folder), never shortened. To a pipe or a file, which have no width, the table
    is printed whole. In a terminal too narrow for it, the ``optional`` columns are left
    out, first named first, until it fits (stderr says which, and that ``whole``, an
    option, shows every column), and only then are the others shortened."""
    out = console()
    for column in table.columns:
        if column.header == key:
            column.no_wrap = True
            column.min_width = max([len(str(cell)) for cell in column.cells], default=0)
    unbounded = out.options.update_width(2**16)  # measured as if there were room

    def width() -> int:
        return out.measure(table, options=unbounded).maximum

    left_out = []
    if not out.is_terminal:
        out.width = max(out.width, width())
    for name in optional if out.is_terminal else ():
        if width() <= out.width:
            break
        column = next((c for c in table.columns if c.header == name), None)
        if column is not None:
            table.columns.remove(column)
            left_out.append(name)
    out.print(table)
    if left_out:
        console(stderr=True, lines=True).print(
            f"left out to fit the terminal's {out.width} columns: {', '.join(left_out)} "
            f"(a wider terminal, or {whole}, shows {'it' if len(left_out) == 1 else 'them'})"
        )


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


def clock(seconds: float | None) -> str:
    """``1:02:03`` / ``4:05``; ``-:--`` while unknown."""
    if seconds is None:
        return "-:--"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(p) -> str:
    """One plain line of a sweep's progress (see :class:`sweep_nn.sweep.progress.Progress`)."""
    stage = f"{p.stage}: " if p.stage else ""
    return (
        f"progress: {stage}{100 * p.fraction:.0f}% of the work, {p.rows_done}/{p.rows_total} rows, "
        f"{clock(p.elapsed)} elapsed, time left {clock(p.seconds_left)}"
    )


PLAIN_EVERY = 15.0  # seconds between progress lines when stderr is not a terminal


@contextlib.contextmanager
def progress(quiet: bool, every: float | None = None):
    """A callback for the sweep's progress: a rich bar in a terminal (stderr), else a plain
    line every ``every`` seconds (default :data:`PLAIN_EVERY`); None if ``quiet``, so that
    the sweep does not price the work left for nobody."""
    from rich.console import Console

    every = PLAIN_EVERY if every is None else every
    console = Console(stderr=True)
    if quiet:
        yield None
    elif console.is_terminal:
        with _bar(console) as update:
            yield update
    else:
        with _lines(every) as update:
            yield update


@contextlib.contextmanager
def _bar(console):
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    bar = Progress(
        TextColumn("{task.fields[stage]}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]} rows, time left {task.fields[left]}"),
        console=console,
        transient=True,
    )
    task = None

    def update(p) -> None:
        nonlocal task
        fields = {"rows": f"{p.rows_done}/{p.rows_total}", "left": clock(p.seconds_left),
                  "stage": p.stage or "training"}  # fmt: skip
        if task is None:
            task = bar.add_task("sweep", total=p.work_total or 1, **fields)
        bar.update(task, total=p.work_total or 1, completed=p.work_done, **fields)

    with bar:
        yield update


@contextlib.contextmanager
def _lines(every: float):
    """Print the latest progress every ``every`` seconds from a daemon thread, its time
    left counted down since it was measured."""
    import dataclasses
    import threading
    import time

    latest: list = []  # [(progress, when it came)]
    stop = threading.Event()

    def update(p) -> None:
        latest[:] = [(p, time.perf_counter())]

    def tick() -> None:
        while not stop.wait(every):
            if latest:
                p, when = latest[0]
                waited = time.perf_counter() - when
                left = None if p.seconds_left is None else max(0.0, p.seconds_left - waited)
                p = dataclasses.replace(p, elapsed=p.elapsed + waited, seconds_left=left)
                print(progress_line(p), file=sys.stderr, flush=True)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield update
    finally:
        stop.set()
        thread.join()


def resume_command(config_file: Path, out: Path | None, options: Sequence[object] = ()) -> str:
    """The command that resumes this run: ``options`` are those of the run's own that
    decide what it trains and where (``--halving``, ``--eta``, ``--backend``, ...)."""
    return command("run", config_file, *(["--out", out] if out else []), *options)


def print_start(s) -> None:
    """What ``run`` says once the folder is its own, before it trains: that it resumes, and
    the rows of earlier grids the folder keeps, which this run neither counts nor removes;
    the worker pool it trains on, or why it does not."""
    if s.skipped:
        console(stderr=True, lines=True).print(
            f"resuming {s.out_dir}: {s.skipped} of {plural(s.total, 'row')} already recorded"
        )
    if s.earlier_rows:
        kept = "is kept" if s.earlier_rows == 1 else "are kept"
        console(stderr=True, lines=True).print(
            f"{s.out_dir}: {plural(s.earlier_rows, 'row')} from earlier grids {kept} but not "
            "part of this one (filter --all-rows shows them)"
        )
    if s.on_pool:
        console(stderr=True, lines=True).print("training on the worker pool (sweep-nn workers)")
    elif s.pool_note:
        console(stderr=True, lines=True).print(s.pool_note)


def print_summary(s, config_file: Path, out: Path | None, options: Sequence[object] = ()) -> None:
    say = console(stderr=True, lines=True).print
    if s.moved_to:
        say(f"previous results moved to {s.moved_to}")
    not_run = s.total - sum(s.counts.values())
    counts = ", ".join(
        [f"{n} {status}" for status, n in sorted(s.counts.items())]
        + ([f"{not_run} not done yet"] if not_run else [])
    )
    ran = s.total - s.skipped
    say(
        f"{plural(s.total, 'configuration')}: {counts}"
        + (f" ({s.skipped} already recorded, {ran} to run)" if s.skipped else "")
    )
    if s.stages:
        reached = ", ".join(f"{n} to {b:,}" for b, n in s.stages)
        say(f"halving: {reached} iterations; where each stopped: {s.out_dir / 'halving.csv'}")
    if s.rerun:
        say(f"{s.rerun} training run(s) restarted after their worker process died")
    for failure in s.failures[:3]:
        say(f"failed: {failure}")
    if s.baseline:
        b = s.baseline
        if "error" in b:
            say(f"baseline ({b.get('model')}) could not be fitted: {b['error']}")
        elif "dev_acc" in b:
            say(f"baseline ({b['model']}): train {b['train_acc']:.2f}%, dev {b['dev_acc']:.2f}%")
        else:
            r2 = f"train R² {b['train_r2']:.4f}, dev R² {b['dev_r2']:.4f}"
            say(f"baseline ({b['model']}): {r2}")
    say(f"results: {s.results_path}  ({s.wall_seconds:.1f} s)")
    if s.interrupted:
        resume = resume_command(config_file, out, options)
        say(f"interrupted: finished rows are kept; resume with: {resume}")
    else:
        if s.best:
            say(best_line(s.best, s.task))
        several = s.best and (s.best.get("n_seeds", 1) > 1 or s.best.get("n_folds"))
        aggregate = ["--aggregate"] if several else []  # a row per seed or fold otherwise
        say(f"next: {command('filter', s.results_path, *aggregate)}")


def best_line(best: dict, task: str) -> str:
    """The best configuration, as ``run`` names it at its end."""
    from ..results.query import averaged_over, seconds_text
    from ..results.schema import METRICS

    m = METRICS[task]
    train, dev = best[f"train_{m.key}"], best[f"dev_{m.key}"]
    over = averaged_over(best.get("n_seeds", 1), best.get("n_folds"))
    seeds = f" (mean of {over})" if over else ""
    return (
        f"best: {best['config_id']}{seeds}: dev {m.name} {dev:{m.fmt}}{m.unit}, "
        f"train {train:{m.fmt}}{m.unit}, gap {best['gap']:{m.fmt}}, "
        f"{seconds_text(best['fit_seconds'])} s to train"
    )




# --- filter ----------------------------------------------------------------------------------


def emit(df, fmt: Format, total: int, aggregated: bool, sweep) -> None:
    """Print the filter's rows ``df`` as a table, CSV or JSON.

    ``sweep``: the rows the filter chose from. Its task and the axes it varies set the
    table's columns, so that a table has the same header whichever rows pass, none
    included (CSV keeps its header too; JSON is an empty list).
    """
    if fmt is Format.csv:
        sys.stdout.write(df.to_csv(index=False))
        return
    if fmt is Format.json:
        sys.stdout.write(json_records(df) + "\n")
        return
    from rich.table import Table

    noun = "groups of seeds" if aggregated else "configurations"
    if aggregated and "n_folds" in df:
        noun = "groups of seeds and folds"
    table = Table(title=f"{len(df)} of {total} {noun}")
    columns = _table_columns(df, aggregated, sweep)
    for name, _ in columns:
        table.add_column(
            name, justify="left" if name in ("config_id", "activation", "status") else "right"
        )
    for _, row in df.iterrows():
        table.add_row(*[fmt_(row) for _, fmt_ in columns])
    print_table(table, key="config_id", optional=OPTIONAL_COLUMNS, whole="--format csv")


# what the filter's table leaves out first in a narrow terminal: the axes, which its config
# ids name too, then the counts of seeds and folds, then the time
OPTIONAL_COLUMNS = ("dtype", "init_scale", "init", "batch_size", "folds", "seeds", "fit_seconds")


def _table_columns(df, aggregated: bool, sweep):
    """(header, row -> text) pairs for the table view: the columns that say something of
    the sweep (its metrics, the axes it varies besides the grid's), and the status when a
    row shown is not ok."""
    from ..results.query import task_of

    def num(col, spec):
        return lambda r: "" if r[col] != r[col] else format(r[col], spec)

    def mean_std(col, spec):
        def cell(r):
            if r["n_seeds"] < 2 and r.get("n_folds", 1) < 2:  # one run: no spread to show
                return format(r[col], spec)
            return f"{r[col]:{spec}} ± {r[col + '_std']:{spec}}"

        return cell

    cols: list[tuple[str, Callable]] = [("config_id", lambda r: str(r["config_id"]))]
    if aggregated:
        cols.append(("seeds", lambda r: str(r["n_seeds"])))
        if "n_folds" in df:
            cols.append(("folds", lambda r: str(r["n_folds"])))
    for col in ("batch_size", "init", "init_scale", "dtype"):
        if col in sweep and sweep[col].nunique(dropna=False) > 1:  # empty init_scale: no scale
            cols.append((col, lambda r, c=col: "" if r[c] is None or r[c] != r[c] else str(r[c])))
    metric = mean_std if aggregated else num
    task = task_of(sweep)
    if task == "classification":
        cols += [("train_acc", metric("train_acc", ".2f")), ("dev_acc", metric("dev_acc", ".2f"))]
    if task == "regression":
        cols += [("train_r2", metric("train_r2", ".4f")), ("dev_r2", metric("dev_r2", ".4f"))]
    cols += [
        ("gap", num("gap", ".2f" if task == "classification" else ".4f")),
        ("fit_seconds", metric("fit_seconds", ".3f")),
    ]
    if not aggregated and (df["status"] != "ok").any():
        cols.append(("status", lambda r: str(r["status"])))
    return cols
