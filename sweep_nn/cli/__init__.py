"""The ``sweep-nn`` command line: Typer commands (:mod:`.commands`) and what they print (:mod:`.show`)."""

from .commands import app, main

__all__ = ["app", "main"]
