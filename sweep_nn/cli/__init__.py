"""The ``sweep-nn`` command line: Typer commands (:mod:`.commands`) and what they print (:mod:`.show`).

Importing this package is light: :func:`main` makes Ctrl-C quiet before it imports the
commands (see :mod:`.startup`); ``app`` is imported on first use.
"""

from __future__ import annotations

from .startup import quiet_ctrl_c_while_starting

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    quiet_ctrl_c_while_starting()  # first: the imports below take a second or more
    from .commands import main as run_app

    run_app()


def __getattr__(name: str):
    if name == "app":
        from .commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
