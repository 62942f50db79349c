"""How the process starts and ends: Ctrl-C while sweep-nn starts or ends gives one line and
exit 130, never a traceback; a finished command's process ends at once (:func:`end_process`).

Importing the commands (Typer, rich, NumPy, pydantic) takes from a fraction of a second
to several; a KeyboardInterrupt raised inside an import printed a traceback. So the
entry point first makes SIGINT end the process at once, with a message: nothing has been
read or written yet. Once a command handles KeyboardInterrupt itself (keeping the rows
it wrote, printing how to resume), Ctrl-C raises it again; once the command is over (its
files closed, its output written), SIGINT ends the process at once again, while Python
joins its threads and unloads its modules.

A Ctrl-C before even this (in Python's own start-up, the first tens of milliseconds) is
Python's: the process ends by the signal itself, which a shell reports as 130.
"""

from __future__ import annotations

# _signal: the module behind ``signal``, loaded by Python before any of sweep-nn, where
# importing ``signal`` itself would take a millisecond or two, a window of its own
import _signal as signal
import atexit
import os
import sys
import threading
from typing import NoReturn

EXIT_INTERRUPTED = 130


def say_interrupted() -> None:
    """The one line of a Ctrl-C, after what the command printed (flushed first): to the
    file descriptor itself, which a signal handler may write to while a stream is busy;
    into ``sys.stderr`` when a program has replaced it (a test runner's capture)."""
    for stream in (sys.stdout, sys.stderr):  # what the command printed, if it is over
        try:
            stream.flush()
        except (OSError, ValueError, RuntimeError):  # closed, or being written to right now
            pass
    try:
        real = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # not a file: a capture
        real = False
    if real:
        os.write(2, b"interrupted\n")
    elif sys.stderr is not None:
        try:
            print("interrupted", file=sys.stderr, flush=True)
        except (OSError, ValueError, RuntimeError):  # as above
            pass


def _exit_at_once(signum, frame) -> None:
    try:
        say_interrupted()
    finally:
        os._exit(EXIT_INTERRUPTED)  # nothing to clean up: nothing started yet, or all of it over


_owns_process = False  # set once the entry point has run: the process is sweep-nn's


def quiet_ctrl_c() -> None:
    """SIGINT exits at once (unless it is ignored, as under ``nohup``: it stays ignored)."""
    global _owns_process
    _owns_process = True
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _exit_at_once)


def command_over() -> None:
    """The command has done its work or reported its error: in a process the entry point
    started, Ctrl-C exits at once again (a program that runs the commands itself, such as
    a test runner, keeps its own Ctrl-C)."""
    if _owns_process:
        quiet_ctrl_c()


def ctrl_c_raises() -> None:
    """Start-up is over: from here Ctrl-C raises KeyboardInterrupt, which the command handles."""
    if signal.getsignal(signal.SIGINT) is _exit_at_once:
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        except ValueError:  # not the main thread: its handler is not ours to change
            pass


def forget_caught_interrupts() -> None:
    """Tell Python that every KeyboardInterrupt so far was handled, so it exits with our code.

    CPython notes a KeyboardInterrupt that leaves ``exec`` of a string as unhandled, even
    when a caller catches it, and at exit then kills itself with SIGINT instead of
    exiting with the code asked for. ``dataclasses`` builds its methods with such an
    exec while a module loads, so a Ctrl-C during a late import (filelock's, as the
    output folder is locked) turned exit 130 into death by signal (-2 to a parent process;
    a shell shows 130 either way). An exec of a string clears that note as it starts.
    """
    exec("")  # noqa: S102 - an empty string: runs nothing, only clears the note


def end_process(code: object) -> NoReturn:
    """End the process with ``SystemExit(code)``'s status, as Python would, but without
    tearing down its modules, which takes 0.1 s with pandas loaded and 0.2 s with
    scikit-learn, on every command.

    What Python's exit does that matters is done first, in Python's order: the functions
    registered to run before threads are joined (joblib's, which tells its worker pool's
    manager thread to end), then other non-daemon threads are joined, the ``atexit``
    functions run (multiprocessing's among them) and the output is flushed. Joining the
    threads without those functions first waited for ever on a pool left running. Every
    file sweep-nn writes is closed (and made durable) by the command itself. A status
    that is not an int is printed and gives 1, as in Python. Under a profiler or a
    debugger (``python -m cProfile -m sweep_nn``), which writes its results once the
    program returns, Python ends the process itself.
    """
    if sys.getprofile() is not None or sys.gettrace() is not None:
        raise SystemExit(code)
    threading._shutdown()  # type: ignore[attr-defined]  # Python's own first step of exit
    atexit._run_exitfuncs()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``| head``): as Python, exit 120
            status = status or 120
    os._exit(status)
