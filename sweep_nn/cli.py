"""The ``sweep-nn`` command line: parse options, call one library function, print the answer.

Library errors become a one-line message on stderr and a deliberate exit code:
0 done, 1 the sweep finished but its configurations failed, 2 bad input (config, options,
files), 3 the output folder is held by another run, 4 results could not be written,
130 interrupted.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .errors import SweepNNError, UsageError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Sweep the hyperparameters of a small two-layer network, then filter, plot, report and evaluate.",
)

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
DEFAULT_ROOT = Path("output")


def _err(message: str) -> None:
    typer.echo(message, err=True)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn library errors into a message and an exit code; nothing else leaks a traceback."""
    try:
        yield
    except SweepNNError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _err("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        _err(f"error: {exc.strerror or exc}{where}")
        raise typer.Exit(4) from None


class Backend(str, Enum):
    local = "local"
    dask = "dask"


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


# --- run -------------------------------------------------------------------------------------


@app.command()
def run(
    config_file: Annotated[Path, typer.Argument(help="YAML sweep file.", show_default=False)],
    out: Annotated[
        Path | None, typer.Option(help="Output folder \\[default: output/<name>].")
    ] = None,
    n_jobs: Annotated[
        int, typer.Option("--n-jobs", "-j", help="Worker processes; -1 = all cores.")
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
) -> None:
    """Train every configuration of CONFIG_FILE and write results.csv and parameter files.

    Resumes by default: configurations already recorded in the output folder are skipped.

    Example: sweep-nn run configs/quick.yaml
    """
    from . import config as config_mod
    from . import sweep

    with _errors():
        if scheduler is not None and backend is not Backend.dask:
            raise UsageError("--scheduler goes with --backend dask")
        cfg = config_mod.load(config_file)
        out_dir = out if out is not None else sweep.default_out_dir(cfg, DEFAULT_ROOT)
        try:
            with _progress(quiet) as (on_start, on_row):
                summary = sweep.run_sweep(
                    cfg,
                    out_dir,
                    n_jobs=n_jobs,
                    fresh=fresh,
                    backend=backend.value,
                    scheduler=scheduler,
                    on_start=on_start,
                    on_row=on_row,
                )
        except KeyboardInterrupt:  # before the workers started, or a second Ctrl-C while stopping
            _err(
                f"interrupted: finished rows are kept; resume with: {_resume_command(config_file, out)}"
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
        _print_summary(summary, config_file, out)
        if summary.interrupted:
            raise typer.Exit(EXIT_INTERRUPTED)
        counts = summary.counts
        if counts["failed"] and (strict or counts["failed"] == summary.total):
            raise typer.Exit(EXIT_FAILED)


@contextlib.contextmanager
def _progress(quiet: bool):
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

    def on_row(row: dict) -> None:
        bar.advance(task)

    with bar:
        yield on_start, on_row


def _resume_command(config_file: Path, out: Path | None) -> str:
    return f"sweep-nn run {config_file}" + (f" --out {out}" if out else "")


def _print_summary(s, config_file: Path, out: Path | None) -> None:
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
        f"{s.total} configurations: {counts}"
        + (f" ({s.skipped} already recorded, {ran} to run)" if s.skipped else "")
    )
    if s.rerun:
        console.print(f"{s.rerun} training run(s) restarted after their worker process died")
    for failure in s.failures[:3]:
        console.print(f"failed: {failure}")
    if s.baseline:
        b = s.baseline
        if "dev_acc" in b:
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
            f"interrupted: finished rows are kept; resume with: {_resume_command(config_file, out)}"
        )
    else:
        console.print(f"next: sweep-nn filter {s.results_path}")


# --- filter ----------------------------------------------------------------------------------


def _results_path(results: Path | None) -> Path:
    from . import store

    if results is None:
        path = store.find_latest_results(DEFAULT_ROOT)
        _err(f"reading {path}")
        return path
    if results.is_dir():
        return results / store.RESULTS_FILE
    return results


def _check_nonnegative(**options) -> None:
    for name, value in options.items():
        if value is not None and (math.isnan(value) or value < 0):
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0; got {value}")


@app.command("filter")
def filter_cmd(
    results: Annotated[
        Path | None,
        typer.Argument(
            help="results.csv or its folder \\[default: newest under output/].", show_default=False
        ),
    ] = None,
    min_acc: Annotated[float | None, typer.Option(help="Train accuracy >= this (percent).")] = None,
    max_gap: Annotated[
        float | None, typer.Option(help="|train - dev| <= this (accuracy points, or R2).")
    ] = None,
    max_time: Annotated[float | None, typer.Option(help="fit_seconds <= this.")] = None,
    min_dev_acc: Annotated[
        float | None, typer.Option(help="Dev accuracy >= this (percent).")
    ] = None,
    min_r2: Annotated[float | None, typer.Option(help="Train R2 >= this (regression).")] = None,
    min_dev_r2: Annotated[float | None, typer.Option(help="Dev R2 >= this (regression).")] = None,
    sort: Annotated[str, typer.Option(help="Column to sort by.")] = "fit_seconds",
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
    top: Annotated[int | None, typer.Option(help="Show only the first N rows.")] = None,
    aggregate: Annotated[
        bool, typer.Option(help="Average rows that differ only in seed (mean, std, n_seeds).")
    ] = False,
    all_status: Annotated[
        bool, typer.Option("--all-status", help="Include diverged and failed rows.")
    ] = False,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """List the configurations that pass every condition, best first by --sort.

    Example: sweep-nn filter --min-acc 95 --max-gap 1 --max-time 30
    """
    from . import analysis, store

    with _errors():
        _check_nonnegative(max_gap=max_gap, max_time=max_time)
        if top is not None and top < 1:
            raise UsageError(f"--top must be >= 1; got {top}")
        path = _results_path(results)
        df = store.read_results(path)
        criteria = analysis.Criteria(
            min_acc=min_acc,
            max_gap=max_gap,
            max_time=max_time,
            min_r2=min_r2,
            min_dev_acc=min_dev_acc,
            min_dev_r2=min_dev_r2,
        )
        kept = analysis.filter_results(
            df,
            criteria,
            sort=sort,
            descending=desc,
            top=top,
            aggregate_seeds=aggregate,
            include_failed=all_status,
        )
        _emit(kept, fmt, len(df), aggregate)


def _emit(df, fmt: Format, total: int, aggregated: bool) -> None:
    if fmt is Format.csv:
        sys.stdout.write(df.to_csv(index=False))
        return
    if fmt is Format.json:
        sys.stdout.write(df.to_json(orient="records", indent=2, double_precision=15) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(df)} of {total} configurations")
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
        return lambda r: f"{r[col]:{spec}} ± {r[col + '_std']:{spec}}"

    cols = [("config_id", lambda r: str(r["config_id"]))]
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


# --- plot ------------------------------------------------------------------------------------


@app.command()
def plot(
    results: Annotated[
        Path | None,
        typer.Argument(
            help="results.csv or its folder \\[default: newest under output/].", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the images \\[default: plots/ beside the results]."),
    ] = None,
    min_acc: Annotated[
        float | None, typer.Option(help="Highlight train accuracy >= this (percent).")
    ] = None,
    max_gap: Annotated[
        float | None, typer.Option(help="Highlight |train - dev| <= this (accuracy points, or R2).")
    ] = None,
    max_time: Annotated[float | None, typer.Option(help="Highlight fit_seconds <= this.")] = None,
    min_r2: Annotated[
        float | None, typer.Option(help="Highlight train R2 >= this (regression).")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME",
            help="Draw only this figure; repeatable. One of: overview, train_vs_dev, time_vs_dev, heatmap, hidden_size, learning_curves, data, importance, parallel.",
        ),
    ] = None,
) -> None:
    """Draw the sweep's figures, one PNG each, and print their paths.

    Every configuration at a glance, train vs dev, dev score vs training time
    with its Pareto front, heatmaps of hidden units x learning rate, score vs
    hidden units, learning curves of the best, the data when it is 2-D,
    hyperparameter importance and parallel coordinates.
    The filter options mark the configurations `filter` would keep.

    Example: sweep-nn plot output/reference-study --min-acc 95 --max-gap 1
    """
    from . import analysis, plots

    with _errors():
        _check_nonnegative(max_gap=max_gap, max_time=max_time)
        path = _results_path(results)
        criteria = analysis.Criteria(
            min_acc=min_acc, max_gap=max_gap, max_time=max_time, min_r2=min_r2
        )
        report = plots.plot_sweep(path, out, criteria, only=only)
        for name, reason in report.skipped:
            _err(f"skipped {name}: {reason}")
        for written in report.written:
            typer.echo(written)


# --- report ----------------------------------------------------------------------------------


@app.command()
def report(
    results: Annotated[
        Path | None,
        typer.Argument(
            help="results.csv or its folder \\[default: newest under output/].", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="The page to write \\[default: report.html beside the results]."),
    ] = None,
    min_acc: Annotated[float | None, typer.Option(help="Train accuracy >= this (percent).")] = None,
    max_gap: Annotated[
        float | None, typer.Option(help="|train - dev| <= this (accuracy points, or R2).")
    ] = None,
    max_time: Annotated[float | None, typer.Option(help="fit_seconds <= this.")] = None,
    min_dev_acc: Annotated[
        float | None, typer.Option(help="Dev accuracy >= this (percent).")
    ] = None,
    min_r2: Annotated[float | None, typer.Option(help="Train R2 >= this (regression).")] = None,
    min_dev_r2: Annotated[float | None, typer.Option(help="Dev R2 >= this (regression).")] = None,
    figures: Annotated[
        bool, typer.Option(help="Embed the figures of `plot` (the slow part).")
    ] = True,
) -> None:
    """Write one self-contained HTML page about the sweep and print its path.

    Summary, a sortable and filterable table of every row, learning curves, parallel
    coordinates, hyperparameter importance and the figures of `plot`; it opens offline.
    The filter options set the table's filters to the rows `filter` would keep.

    Example: sweep-nn report output/reference-study --min-acc 95 --max-gap 1
    """
    from . import analysis
    from .report import build_report

    with _errors():
        _check_nonnegative(max_gap=max_gap, max_time=max_time)
        path = _results_path(results)
        criteria = analysis.Criteria(
            min_acc=min_acc,
            max_gap=max_gap,
            max_time=max_time,
            min_r2=min_r2,
            min_dev_acc=min_dev_acc,
            min_dev_r2=min_dev_r2,
        )
        typer.echo(build_report(path, criteria, out, figures=figures))


# --- eval ------------------------------------------------------------------------------------


@app.command("eval")
def eval_cmd(
    params_file: Annotated[
        Path, typer.Argument(help="A parameters file (.pkl).", show_default=False)
    ],
    data: Annotated[
        Path | None, typer.Option("--data", help="Evaluate on this CSV (same columns as training).")
    ] = None,
    n_samples: Annotated[
        int, typer.Option(help="Fresh samples to draw from the training generator.")
    ] = 500,
    seed: Annotated[
        int | None, typer.Option(help="Seed for fresh samples \\[default: training's + 1].")
    ] = None,
    noise: Annotated[
        float | None, typer.Option(help="Noise for fresh samples \\[default: training's].")
    ] = None,
    activation: Annotated[
        str | None, typer.Option(help="Hidden activation, for weights-only files.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE.png",
            help="Also draw the decision boundary over the evaluation data (2-D inputs).",
        ),
    ] = None,
) -> None:
    """Rebuild the network in PARAMS_FILE and report accuracy and loss on new data.

    Without --data: fresh samples from the training generator, or, for datasets that
    cannot draw them (iris, wine, breast_cancer, digits, csv, classification), the dev
    split the sweep held out, rebuilt from the data settings in the file.

    Reads sweep-nn's parameter files and the reference study's plain weight dicts (give
    --activation for those). Files are loaded without running any code they contain.

    Example: sweep-nn eval output/reference-study/params/h3-tanh-lr0.6-it10000.pkl --seed 0
    """
    from . import analysis
    from .network import ACTIVATIONS

    with _errors():
        if activation is not None and activation not in ACTIVATIONS:
            raise UsageError(
                f"--activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}"
            )
        _check_nonnegative(noise=noise, seed=seed)
        model = analysis.load_model(params_file, activation)
        if plot is not None:
            from . import plots

            plots.check_boundary(model, plot)
        X, y, source = analysis.eval_inputs(model, data, n_samples, seed, noise)
        result = analysis.evaluate(model, X, y)
        if plot is not None:
            plots.decision_boundary(
                model, X, y, result["accuracy"], plot, f"{params_file.name}, {source}"
            )
            _err(f"decision boundary: {plot}")
        if as_json:
            typer.echo(json.dumps(result))
            return
        metric = (
            f"accuracy {result['accuracy']:.2f}%"
            if "accuracy" in result
            else f"R2 {result['r2']:.4f}, RMSE {result['rmse']:.4g}"
        )
        typer.echo(
            f"{params_file}: {metric}, loss {result['loss']:.4f} on {result['n_samples']} samples ({source})"
        )


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning:joblib")
    app()
