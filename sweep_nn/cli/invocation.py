"""How to type sweep-nn again: what the hints printed after a run (``next:``, resume) start with.

``sweep-nn`` only works where that name is on PATH; after ``make demo`` it is not (the
command is ``.venv/bin/sweep-nn``). The hints therefore start with the name when PATH finds
this same command, and otherwise with the path that ran it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable

NAME = "sweep-nn"


def _same(a: str, b: str) -> bool:
    # absolute, not resolved: a virtual environment's python is a link to the system's, and
    # running the link is what picks the environment
    return os.path.abspath(a) == os.path.abspath(b)


def _shortest(path: str) -> str:
    """``path`` relative to the working folder when it lies inside it, else absolute."""
    full = os.path.abspath(path)
    inside = os.path.relpath(full)
    if inside.startswith(os.pardir):
        return full
    return inside if os.sep in inside else os.path.join(os.curdir, inside)


def command_name(
    argv0: str | None = None,
    executable: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> str:
    """The command that runs this sweep-nn, as the user can type it in this folder.

    ``sweep-nn`` when PATH finds the running script; else the script's path
    (``.venv/bin/sweep-nn``); for ``python -m sweep_nn``, the Python that ran it. Run any
    other way (inside a test, say), ``sweep-nn``.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    base = os.path.basename(argv0)
    if base == "__main__.py" and os.path.basename(os.path.dirname(argv0)) == "sweep_nn":
        for python in ("python", "python3"):
            found = which(python)
            if found and _same(found, executable):
                return f"{python} -m sweep_nn"
        return f"{shlex.quote(_shortest(executable))} -m sweep_nn"
    if base != NAME:
        return NAME
    found = which(NAME)
    if found and _same(found, argv0):
        return NAME
    return shlex.quote(_shortest(argv0))


def command(*args: object) -> str:
    """A whole command line: :func:`command_name` and ``args``, each quoted for the shell."""
    return " ".join([command_name(), *(shlex.quote(str(a)) for a in args)])
