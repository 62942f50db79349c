"""Ctrl-C while sweep-nn starts: one line and exit 130, never a traceback.

Importing the commands (Typer, rich, NumPy, pydantic) takes from a fraction of a second
to several; a KeyboardInterrupt raised inside an import printed a traceback. So the
entry point first makes SIGINT end the process at once, with a message: nothing has been
read or written yet. Once a command handles KeyboardInterrupt itself (keeping the rows
it wrote, printing how to resume), Ctrl-C raises it again.

A Ctrl-C before even this (in Python's own start-up, the first tens of milliseconds) is
Python's: the process ends by the signal itself, which a shell reports as 130.
"""

from __future__ import annotations

# _signal: the module behind ``signal``, loaded by Python before any of sweep-nn, where
# importing ``signal`` itself would take a millisecond or two, a window of its own
import _signal as signal
import os

EXIT_INTERRUPTED = 130


def _exit_at_once(signum, frame) -> None:
    os.write(2, b"interrupted\n")
    os._exit(EXIT_INTERRUPTED)  # nothing to clean up: nothing was started


def quiet_ctrl_c_while_starting() -> None:
    """SIGINT exits at once (unless it is ignored, as under ``nohup``: it stays ignored)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _exit_at_once)


def ctrl_c_raises() -> None:
    """Start-up is over: from here Ctrl-C raises KeyboardInterrupt, which the command handles."""
    if signal.getsignal(signal.SIGINT) is _exit_at_once:
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        except ValueError:  # not the main thread: its handler is not ours to change
            pass
