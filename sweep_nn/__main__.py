"""``python -m sweep_nn``: the same as the ``sweep-nn`` command."""

from .cli import main

main()
