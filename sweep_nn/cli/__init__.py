"""The ``sweep-nn`` command line: the app (:mod:`.base`), its commands (:mod:`.commands`,
:mod:`.networks`, :mod:`.folders`) and what they print (:mod:`.show`)."""

from . import commands, folders, networks  # noqa: F401 - importing them registers their commands
from .base import app, main

__all__ = ["app", "main"]
