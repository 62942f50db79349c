"""The commands of a sweep: ``run`` trains it; ``filter``, ``plot`` and ``report`` read its results.

Each parses its options, calls one library function and prints the answer (see
:mod:`.base` for the exit codes).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from ..results.query import CRITERIA
from . import show
from .base import (
    DEFAULT_ROOT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    NUMBER,
    WHOLE_NUMBER,
    app,
    err,
    reported_errors,
)

AllRows = Annotated[
    bool,
    typer.Option("--all-rows", help="Also rows of earlier grids run into the same folder."),
]


def _select(path: Path, criteria, all_rows: bool):
    """The rows a command works on (see results.query.select), saying what is hidden and
    which bounds look like a slip."""
    from ..results import query

    selection = query.select(path, criteria, all_rows)
    if selection.hidden:
        err(
            f"{show.plural(selection.hidden, 'row')} of earlier grids in this folder not shown "
            "(--all-rows shows them)"
        )
    for warning in selection.warnings:
        err(f"warning: {warning}")
    return selection.rows


class Backend(str, Enum):
    local = "local"
    dask = "dask"


# --- run -------------------------------------------------------------------------------------


@app.command()
def run(
    config_file: Annotated[
        Path, typer.Argument(help="YAML sweep file.", show_default=False, metavar="CONFIG_FILE")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Output folder \\[default: output/<name>].")
    ] = None,
    n_jobs: Annotated[
        int,
        typer.Option(
            "--n-jobs", "-j", help="Worker processes; -1 = all cores.", parser=WHOLE_NUMBER
        ),
    ] = -1,
    fresh: Annotated[
        bool, typer.Option(help="Start over; keep old results aside as <out>.old-<time>.")
    ] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any configuration failed.")] = False,
    backend: Annotated[Backend, typer.Option(help="Where workers run.")] = Backend.local,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (tcp://HOST:PORT).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    halving: Annotated[
        bool, typer.Option(help="Successive halving: only the best 1/eta go on past each budget.")
    ] = False,
    eta: Annotated[
        int | None,
        typer.Option(
            help="With --halving: keep the best 1/ETA \\[default: 3].", parser=WHOLE_NUMBER
        ),
    ] = None,
) -> None:
    """Train every configuration of CONFIG_FILE and write results.csv and parameter files.

    Resumes by default: configurations already recorded in the output folder are skipped.

    Example: sweep-nn run configs/quick.yaml
    """
    from .. import config as config_mod
    from ..sweep.dispatch import stop_idle_workers
    from ..sweep.folder import default_out_dir
    from ..sweep.run import resolve_n_jobs, run_sweep

    with reported_errors():
        if scheduler is not None and backend is not Backend.dask:
            raise UsageError("--scheduler goes with --backend dask")
        cfg = config_mod.load(config_file)
        if halving or eta is not None:
            cfg = config_mod.with_halving(cfg, halving, eta)
        out_dir = out if out is not None else default_out_dir(cfg, DEFAULT_ROOT)
        again = _same_run(halving, eta, backend, scheduler)  # in the resume hint
        workers = resolve_n_jobs(n_jobs, backend.value)
        if n_jobs > workers:
            err(f"-j {n_jobs}: {show.plural(workers, 'core')} available here; using {workers}")
        try:
            with show.progress(quiet) as on_progress:
                summary = run_sweep(
                    cfg,
                    out_dir,
                    n_jobs=n_jobs,
                    fresh=fresh,
                    backend=backend.value,
                    scheduler=scheduler,
                    on_progress=on_progress,
                    on_start=show.print_start,
                )
        except KeyboardInterrupt:  # outside the training (before or after), or a second Ctrl-C
            stop_idle_workers()  # every result they sent is recorded: nothing of theirs to keep
            err(
                "interrupted: finished rows are kept; resume with: "
                + show.resume_command(config_file, out, again)
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
        stop_idle_workers()  # the command ends with its sweep
        show.print_summary(summary, config_file, out, again)
        if summary.interrupted:
            raise typer.Exit(EXIT_INTERRUPTED)
        counts = summary.counts
        if counts["failed"] and (strict or counts["failed"] == summary.total):
            raise typer.Exit(EXIT_FAILED)


def _same_run(halving: bool, eta: int | None, backend: Backend, scheduler: str | None) -> list:
    """The options of ``run`` that a resume must repeat: without them it would train
    another search (the whole grid rather than its halving), or train elsewhere."""
    return [
        *(["--halving"] if halving else []),
        *(["--eta", eta] if eta is not None else []),
        *(["--backend", backend.value] if backend is not Backend.local else []),
        *(["--scheduler", scheduler] if scheduler is not None else []),
    ]


def _results_path(results: Path | None) -> Path:
    from ..results import store
    from ..results.schema import RESULTS_FILE

    if results is None:
        path = store.find_latest_results(DEFAULT_ROOT)
        err(f"reading {path}")
        return path
    if results.is_dir():
        return results / RESULTS_FILE
    return results


def _option(criterion: str):
    """The option of one filter criterion, its help taken from the criteria table."""
    return typer.Option(help=CRITERIA[criterion].help, show_default=False, parser=NUMBER)


# one option per criterion of results.query.CRITERIA, shared by filter, plot and report
MinAcc = Annotated[float | None, _option("min_acc")]
MinDevAcc = Annotated[float | None, _option("min_dev_acc")]
MaxGap = Annotated[float | None, _option("max_gap")]
MaxTime = Annotated[float | None, _option("max_time")]
MinR2 = Annotated[float | None, _option("min_r2")]
MinDevR2 = Annotated[float | None, _option("min_dev_r2")]
ResultsArg = Annotated[
    Path | None,
    typer.Argument(
        help="results.csv or its folder \\[default: newest under output/].", show_default=False,
        metavar="RESULTS",
    ),
]


@app.command("filter")
def filter_cmd(
    results: ResultsArg = None,
    min_acc: MinAcc = None,
    min_dev_acc: MinDevAcc = None,
    max_gap: MaxGap = None,
    max_time: MaxTime = None,
    min_r2: MinR2 = None,
    min_dev_r2: MinDevR2 = None,
    sort: Annotated[str, typer.Option(help="Column to sort by.")] = "fit_seconds",
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
    top: Annotated[
        int | None, typer.Option(help="Show only the first N rows.", parser=WHOLE_NUMBER)
    ] = None,
    aggregate: Annotated[
        bool,
        typer.Option(help="Average rows that differ only in seed or fold (mean, std, n_seeds, n_folds)."),
    ] = False,
    all_status: Annotated[
        bool, typer.Option("--all-status", help="Include diverged and failed rows.")
    ] = False,
    all_rows: AllRows = False,
    fmt: Annotated[
        show.Format, typer.Option("--format", help="Output format.")
    ] = show.Format.table,
) -> None:
    """List the configurations that pass every condition, in --sort order (default: quickest first).

    Example: sweep-nn filter --min-acc 95 --max-gap 1 --max-time 30
    """
    from ..results import query

    with reported_errors():
        criteria = query.Criteria(min_acc, min_dev_acc, max_gap, max_time, min_r2, min_dev_r2)
        path = _results_path(results)
        df = _select(path, criteria, all_rows)
        kept = query.filter_results(
            df,
            criteria,
            sort=sort,
            descending=desc,
            top=top,
            aggregate_seeds=aggregate,
            include_failed=all_status,
        )
        total = len(query.aggregate(df)) if aggregate else len(df)
        show.emit(kept, fmt, total, aggregate, df)


# --- plot ------------------------------------------------------------------------------------


@app.command()
def plot(
    results: ResultsArg = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the images \\[default: plots/ beside the results]."),
    ] = None,
    min_acc: MinAcc = None,
    min_dev_acc: MinDevAcc = None,
    max_gap: MaxGap = None,
    max_time: MaxTime = None,
    min_r2: MinR2 = None,
    min_dev_r2: MinDevR2 = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME",
            help="Draw only this figure; repeatable. One of: overview, train_vs_dev, time_vs_dev, heatmap, hidden_size, learning_curves, data, importance, parallel.",
        ),
    ] = None,
    all_rows: AllRows = False,
) -> None:
    """Draw the sweep's figures, one PNG each, and print their paths.

    Every configuration at a glance, train vs dev, dev score vs training time
    with its Pareto front, heatmaps of hidden units x learning rate, score vs
    hidden units, learning curves of the best, the data when it is 2-D,
    hyperparameter importance and parallel coordinates.
    The filter options (the same as filter's) mark the configurations `filter` would keep,
    of the folder's current grid as in filter (--all-rows: every row).

    Example: sweep-nn plot output/reference-study --min-acc 95 --max-gap 1
    """
    from ..plots import figures
    from ..results import query

    with reported_errors():
        criteria = query.Criteria(min_acc, min_dev_acc, max_gap, max_time, min_r2, min_dev_r2)
        path = _results_path(results)
        _select(path, criteria, all_rows)
        report = figures.plot_sweep(path, out, criteria, only=only, all_rows=all_rows)
        for name, reason in report.skipped:
            err(f"skipped {name}: {reason}")
        for written in report.written:
            typer.echo(written)


# --- report ----------------------------------------------------------------------------------


@app.command()
def report(
    results: ResultsArg = None,
    out: Annotated[
        Path | None,
        typer.Option(help="The page to write \\[default: report.html beside the results]."),
    ] = None,
    min_acc: MinAcc = None,
    min_dev_acc: MinDevAcc = None,
    max_gap: MaxGap = None,
    max_time: MaxTime = None,
    min_r2: MinR2 = None,
    min_dev_r2: MinDevR2 = None,
    figures: Annotated[
        bool, typer.Option(help="Embed the figures of `plot` (the slow part).")
    ] = True,
    all_rows: AllRows = False,
) -> None:
    """Write one self-contained HTML page about the sweep and print its path.

    Summary, a sortable and filterable table of every row, learning curves, parallel
    coordinates, hyperparameter importance and the figures of `plot`; it opens offline.
    The filter options (the same as filter's) set the table's filters to the rows
    `filter` would keep, of the folder's current grid as in filter (--all-rows: every row).

    Example: sweep-nn report output/reference-study --min-acc 95 --max-gap 1
    """
    from ..report import build_report
    from ..results import query

    with reported_errors():
        criteria = query.Criteria(min_acc, min_dev_acc, max_gap, max_time, min_r2, min_dev_r2)
        path = _results_path(results)
        _select(path, criteria, all_rows)
        typer.echo(build_report(path, criteria, out, figures=figures, all_rows=all_rows))
