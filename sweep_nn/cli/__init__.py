"""The ``sweep-nn`` command line: the app (:mod:`.base`), its commands (:mod:`.commands`,
:mod:`.networks`, :mod:`.folders`) and what they print (:mod:`.show`).

Importing this package is light: :func:`main` makes Ctrl-C quiet before it imports the
commands (see :mod:`.startup`); ``app`` is imported on first use.
"""

from __future__ import annotations

from .startup import end_process, forget_caught_interrupts, quiet_ctrl_c

__all__ = ["app", "main"]


def _app():
    from . import commands, folders, networks, workers  # noqa: F401 - importing them registers them
    from .base import app, reflow_help

    reflow_help(app)
    reflow_help(workers.workers_app)
    return app


def main() -> None:
    """Console-script entry point."""
    quiet_ctrl_c()  # first: the imports below take a second or more
    _app()
    from .base import main as run_app

    status: object = 0
    try:
        run_app()  # ends in SystemExit (Typer's standalone mode)
    except SystemExit as exc:
        status = exc.code
    finally:  # every interrupt that reaches here was handled: it has printed its message
        quiet_ctrl_c()  # over (also said as each command ends): a Ctrl-C ends the process at once
        forget_caught_interrupts()
    end_process(status)


def __getattr__(name: str):
    if name == "app":
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
