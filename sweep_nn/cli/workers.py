"""``sweep-nn workers start | stop | status``: the pool of worker processes kept between
sweeps (see :mod:`sweep_nn.sweep.pool`)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from .base import NUMBER, WHOLE_NUMBER, app, err, reported_errors
from .show import plural

workers_app = typer.Typer(
    no_args_is_help=True,
    help="Keep worker processes up between sweeps, so that each run skips their start-up.",
)
app.add_typer(workers_app, name="workers")


def _describe(info) -> str:
    up = time.time() - info.started
    return (f"{plural(info.n_jobs, 'worker')}, pid {info.pid}, up {up / 60:.0f} min, "
            f"stops after {info.idle_minutes:g} min without a sweep")  # fmt: skip


@workers_app.command("start")
def start_cmd(
    n_jobs: Annotated[
        int,
        typer.Option(
            "-j",
            "--n-jobs",
            parser=WHOLE_NUMBER,
            metavar="N",
            help="Workers (-1: every core, as run's default).",
        ),  # fmt: skip
    ] = -1,
    idle_minutes: Annotated[
        float,
        typer.Option(
            "--idle-minutes",
            parser=NUMBER,
            metavar="MINUTES",
            help="Stop after this long without a sweep.",
        ),  # fmt: skip
    ] = 30.0,
) -> None:
    """Start a pool of worker processes that later runs train on, each skipping the half
    second its own workers would take to start.

    A run uses the pool when it would start as many workers (-j) on this machine, and the
    pool runs the same sweep-nn; otherwise it starts its own, as without one. One sweep
    at a time: a second run meanwhile starts its own workers.

    Example: sweep-nn workers start
    """
    from ..errors import UsageError
    from ..sweep import pool
    from ..sweep.run import resolve_n_jobs

    with reported_errors():
        if not 0 < idle_minutes <= 7 * 24 * 60:
            raise UsageError(f"--idle-minutes must be more than 0 and at most a week; got "
                             f"{idle_minutes:g}")  # fmt: skip
        workers = resolve_n_jobs(n_jobs)
        if n_jobs > workers:
            err(f"-j {n_jobs}: {plural(workers, 'core')} available here; using {workers}")
        if workers < 2:
            raise UsageError(
                "a pool needs at least 2 workers (-j 1 trains in the run's own process)"
            )
        info, new = pool.start(workers, idle_minutes)
        typer.echo(f"{'started' if new else 'already running'}: {_describe(info)}", err=True)


@workers_app.command("stop")
def stop_cmd() -> None:
    """Stop the pool of worker processes; a sweep training on it stops (its rows are kept).

    Example: sweep-nn workers stop
    """
    from ..sweep import pool

    with reported_errors():
        info = pool.stop()
        typer.echo("stopped" if info else "no worker pool is running", err=True)


@workers_app.command("status")
def status_cmd() -> None:
    """Say whether a pool of worker processes is running, and whether runs can use it.

    Example: sweep-nn workers status
    """
    from ..sweep import pool

    with reported_errors():
        info = pool.running()
        if info is None:
            typer.echo("no worker pool is running", err=True)
            return
        same = info.build == pool.build_id()
        typer.echo(f"running: {_describe(info)}", err=True)
        if not same:
            typer.echo("it runs another build of sweep-nn, so runs do not use it; restart it",
                       err=True)  # fmt: skip
