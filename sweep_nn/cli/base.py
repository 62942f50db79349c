"""What every command shares: the Typer app, its exit codes, and errors turned into messages.

Library errors become a one-line message on stderr and a deliberate exit code:
0 done, 1 the sweep finished but its configurations failed, 2 bad input (config, options,
files), 3 the output folder is held by another run, 4 results could not be written,
130 interrupted. The commands live in :mod:`.commands` (run and the results),
:mod:`.networks` (eval, predict) and :mod:`.folders` (ls).
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import SweepNNError
from .startup import EXIT_INTERRUPTED, command_over, ctrl_c_raises, say_interrupted

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Sweep the hyperparameters of a small two-layer network, then filter, plot, report and evaluate.",
)

EXIT_FAILED = 1
DEFAULT_ROOT = Path("output")


def reflow_help(typer_app: typer.Typer) -> None:
    """Give each command its docstring as help, each paragraph on one line, so that the
    help screen wraps it to the terminal's width: Typer keeps a docstring's own line
    breaks, and a terminal narrower than them broke each line again mid-sentence."""
    for info in typer_app.registered_commands:
        doc = inspect.getdoc(info.callback) or ""
        info.help = "\n\n".join(" ".join(p.split()) for p in doc.split("\n\n"))


def _numeric(kind: type, what: str) -> Callable[[Any], Any]:
    """The parser of a numeric option: the values Typer would take, and an error that
    names the value given (Typer's own names only the option)."""

    def parse(value: Any) -> Any:
        from pydantic import TypeAdapter, ValidationError

        try:
            return TypeAdapter(kind).validate_python(value)
        except ValidationError:
            shown = repr(value) if len(str(value)) <= 40 else repr(str(value)[:37]) + "..."
            raise typer.BadParameter(f"{shown} is not {what}") from None

    return parse


NUMBER = _numeric(float, "a number")  # parser= of every float option
WHOLE_NUMBER = _numeric(int, "a whole number")  # parser= of every int option


def err(message: str) -> None:
    typer.echo(message, err=True)


def make_parent(path: Path) -> None:
    """Create the folder a file goes into, as plot --out creates its folder."""
    from ..results.store import create_folder

    create_folder(path.parent)


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
def reported_errors() -> Iterator[None]:
    """Turn library errors into a message and an exit code; nothing else leaks a traceback.

    A Ctrl-C that lands while an error is told, or while Ctrl-C goes back to exiting at
    once (:func:`.startup.command_over`), is caught outside: Typer would turn it into
    exit 130 without a word (under load, 3 in 25 sweeps interrupted as their summary
    ended did so).
    """
    try:
        try:
            ctrl_c_raises()  # handled below from here on
            yield
        except SweepNNError as exc:
            err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            say_interrupted()
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            err(f"error: {exc.strerror or exc}{where}")
            raise typer.Exit(4) from None
        finally:  # before Typer's exit: an interrupt raised there printed a traceback
            command_over()
    except KeyboardInterrupt:
        say_interrupted()
        raise typer.Exit(EXIT_INTERRUPTED) from None


def main() -> None:
    """Console-script entry point."""
    # for the processes joblib starts: its own warnings, and its resource tracker's about
    # the semaphores of a command that a Ctrl-C ended as it exited (the tracker frees them)
    os.environ.setdefault(
        "PYTHONWARNINGS",
        "ignore::UserWarning:joblib,"
        "ignore::UserWarning:joblib.externals.loky.backend.resource_tracker",
    )
    app()
