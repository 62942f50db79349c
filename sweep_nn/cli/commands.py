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
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import SweepNNError, UsageError
from ..results.query import CRITERIA
from . import show
from .startup import EXIT_INTERRUPTED, ctrl_c_raises

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Sweep the hyperparameters of a small two-layer network, then filter, plot, report and evaluate.",
)

EXIT_FAILED = 1
DEFAULT_ROOT = Path("output")
MAX_EVAL_SAMPLES = 10_000_000  # as many as a generated dataset may hold (config.MAX_SAMPLES)


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _make_parent(path: Path) -> None:
    """Create the folder a file goes into, as plot --out creates its folder."""
    from ..errors import StorageError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {path.parent}: {exc.strerror}") from None


AllRows = Annotated[
    bool,
    typer.Option("--all-rows", help="Also rows of earlier grids run into the same folder."),
]


def _current(df, path: Path, all_rows: bool):
    """The rows of the folder's current grid (all with ``all_rows``), saying what is hidden."""
    from ..results import query

    if all_rows:
        return df
    current, hidden = query.current_rows(df, path.parent)
    if hidden:
        _err(
            f"{show.plural(hidden, 'row')} of earlier grids in this folder not shown "
            "(--all-rows shows them)"
        )
    return current


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"sweep-nn {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Sweep the hyperparameters of a small two-layer network, then filter, plot and evaluate."""


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn library errors into a message and an exit code; nothing else leaks a traceback."""
    try:
        ctrl_c_raises()  # handled below from here on
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
    from .. import config as config_mod
    from ..sweep.folder import default_out_dir
    from ..sweep.run import resolve_n_jobs, run_sweep

    with _errors():
        if scheduler is not None and backend is not Backend.dask:
            raise UsageError("--scheduler goes with --backend dask")
        cfg = config_mod.load(config_file)
        out_dir = out if out is not None else default_out_dir(cfg, DEFAULT_ROOT)
        workers = resolve_n_jobs(n_jobs, backend.value)
        if n_jobs > workers:
            _err(f"-j {n_jobs}: {show.plural(workers, 'core')} available here; using {workers}")
        try:
            with show.progress(quiet) as (on_start, on_row):
                summary = run_sweep(
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
                f"interrupted: finished rows are kept; resume with: {show.resume_command(config_file, out)}"
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
        show.print_summary(summary, config_file, out)
        if summary.interrupted:
            raise typer.Exit(EXIT_INTERRUPTED)
        counts = summary.counts
        if counts["failed"] and (strict or counts["failed"] == summary.total):
            raise typer.Exit(EXIT_FAILED)


def _results_path(results: Path | None) -> Path:
    from ..results import store
    from ..results.schema import RESULTS_FILE

    if results is None:
        path = store.find_latest_results(DEFAULT_ROOT)
        _err(f"reading {path}")
        return path
    if results.is_dir():
        return results / RESULTS_FILE
    return results


def _check_finite(**options) -> None:
    for name, value in options.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"--{name.replace('_', '-')} must be a finite number; got {value}")


def _check_nonnegative(**options) -> None:
    _check_finite(**options)
    for name, value in options.items():
        if value is not None and (math.isnan(value) or value < 0):
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0; got {value}")


def _option(criterion: str):
    """The option of one filter criterion, its help taken from the criteria table."""
    return typer.Option(help=CRITERIA[criterion].help, show_default=False)


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
        help="results.csv or its folder \\[default: newest under output/].", show_default=False
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
    top: Annotated[int | None, typer.Option(help="Show only the first N rows.")] = None,
    aggregate: Annotated[
        bool, typer.Option(help="Average rows that differ only in seed (mean, std, n_seeds).")
    ] = False,
    all_status: Annotated[
        bool, typer.Option("--all-status", help="Include diverged and failed rows.")
    ] = False,
    all_rows: AllRows = False,
    fmt: Annotated[
        show.Format, typer.Option("--format", help="Output format.")
    ] = show.Format.table,
) -> None:
    """List the configurations that pass every condition, best first by --sort.

    Example: sweep-nn filter --min-acc 95 --max-gap 1 --max-time 30
    """
    from ..results import query, store

    with _errors():
        criteria = query.Criteria(min_acc, min_dev_acc, max_gap, max_time, min_r2, min_dev_r2)
        path = _results_path(results)
        df = _current(store.read_results(path), path, all_rows)
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
        show.emit(kept, fmt, total, aggregate)


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
) -> None:
    """Draw the sweep's figures, one PNG each, and print their paths.

    Every configuration at a glance, train vs dev, dev score vs training time
    with its Pareto front, heatmaps of hidden units x learning rate, score vs
    hidden units, learning curves of the best, the data when it is 2-D,
    hyperparameter importance and parallel coordinates.
    The filter options (the same as filter's) mark the configurations `filter` would keep.

    Example: sweep-nn plot output/reference-study --min-acc 95 --max-gap 1
    """
    from ..plots import figures
    from ..results import query

    with _errors():
        criteria = query.Criteria(min_acc, min_dev_acc, max_gap, max_time, min_r2, min_dev_r2)
        path = _results_path(results)
        report = figures.plot_sweep(path, out, criteria, only=only)
        for name, reason in report.skipped:
            _err(f"skipped {name}: {reason}")
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
) -> None:
    """Write one self-contained HTML page about the sweep and print its path.

    Summary, a sortable and filterable table of every row, learning curves, parallel
    coordinates, hyperparameter importance and the figures of `plot`; it opens offline.
    The filter options (the same as filter's) set the table's filters to the rows
    `filter` would keep.

    Example: sweep-nn report output/reference-study --min-acc 95 --max-gap 1
    """
    from ..report import build_report
    from ..results import query

    with _errors():
        criteria = query.Criteria(min_acc, min_dev_acc, max_gap, max_time, min_r2, min_dev_r2)
        path = _results_path(results)
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
    from ..nn.plain import ACTIVATIONS
    from ..results import evaluate as evaluate_mod

    with _errors():
        activation = None if activation is None else activation.lower()
        if activation is not None and activation not in ACTIVATIONS:
            raise UsageError(
                f"--activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}"
            )
        _check_nonnegative(noise=noise, seed=seed)
        if seed is not None and seed >= 2**32:
            raise UsageError(f"--seed must be between 0 and 2**32 - 1 (4294967295); got {seed}")
        if n_samples > MAX_EVAL_SAMPLES:
            raise UsageError(f"--n-samples must be at most {MAX_EVAL_SAMPLES:,}; got {n_samples}")
        model = evaluate_mod.load_model(params_file, activation)
        if plot is not None:
            from ..plots import boundary

            boundary.check_boundary(model, plot)
            _make_parent(plot)
        X, y, source = evaluate_mod.eval_inputs(model, data, n_samples, seed, noise)
        result = evaluate_mod.evaluate(model, X, y)
        if plot is not None:
            boundary.decision_boundary(
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
