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
        if n_jobs != -1 and n_jobs < 2:
            raise UsageError(f"-j must be 2 or more, or -1 (every core); got {n_jobs}")
        workers = resolve_n_jobs(n_jobs)
        if n_jobs > workers:
            err(f"-j {n_jobs}: {plural(workers, 'core')} available here; using {workers}")
        if workers < 2:
            raise UsageError("a pool needs at least 2 workers, and this machine gives 1 core")
        info, new = pool.start(workers, idle_minutes)
        typer.echo(f"{'started' if new else 'already running'}: {_describe(info)}", err=True)
        if not new and info.build != pool.build_id():
            err(_OTHER_BUILD)


_OTHER_BUILD = ("it runs another build of sweep-nn, so runs do not use it; restart it: "
                "sweep-nn workers stop, then sweep-nn workers start")  # fmt: skip


@workers_app.command("stop")
def stop_cmd() -> None:
    """Stop the pool of worker processes; a sweep training on it stops (its rows are kept).

    Example: sweep-nn workers stop
    """
    from ..sweep import pool

    with reported_errors():
        sweeping = pool.running(safe_only=False) is not None and pool.busy()
        pids = pool.stop()
        if not pids:
            typer.echo("no worker pool is running", err=True)
            return
        during = "; the sweep training on it stops, its rows kept" if sweeping else ""
        typer.echo(f"stopped (pid {', '.join(map(str, pids))}){during}", err=True)


@workers_app.command("status")
def status_cmd() -> None:
    """Say whether a pool of worker processes is running, and whether runs can use it:
    one line on stdout, exit 0 if they can, 1 if not (no pool, or one they do not use).

    Example: sweep-nn workers status
    """
    from ..sweep import pool

    with reported_errors():
        info = pool.running(safe_only=False)
        problem = pool.unsafe(pool.folder()) if info or pool.servers() else None
        if info is None:
            lost = pool.servers()
            typer.echo(f"a worker pool (pid {', '.join(map(str, lost))}) serves "
                       f"{pool.folder()}, but its {pool.INFO} cannot be read; runs do not use "
                       "it: sweep-nn workers stop" if lost else "no worker pool is running")  # fmt: skip
            raise typer.Exit(1)
        typer.echo(f"running: {_describe(info)}" + ("; busy with a sweep" if pool.busy() else ""))
        if problem is not None:
            typer.echo(f"runs do not use it: its folder {problem}")
        elif info.build != pool.build_id():
            typer.echo(_OTHER_BUILD)
        else:
            return
        raise typer.Exit(1)
