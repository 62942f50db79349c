"""Numba's start in the processes sweep-nn starts for itself: its workers, and the process
that compiles a kernel into the cache.

The first kernel a process loads or compiles makes Numba set up its CPU target, and with
it check that SciPy's BLAS is there for ``np.dot`` and ``np.linalg``. The check imports
``scipy.linalg``: 0.13 s of the first load's 0.26 s, in every worker of every compiled
sweep. The kernels use no linear algebra, and nothing else is compiled in these
processes, so there the check is skipped and Numba takes BLAS to be missing. Any other
process (a program that imports sweep-nn, and may compile linear algebra of its own)
keeps Numba as it is.
"""

from __future__ import annotations

import sys

_own_process = False


def in_own_process() -> None:
    """Mark this process as one sweep-nn started for itself; call before any kernel runs."""
    global _own_process
    _own_process = True


def before_first_kernel() -> None:
    """Called before this process first loads or compiles a kernel."""
    if not _own_process or "numba.np.arraymath" in sys.modules:
        return  # not ours, or Numba's target is already set up, its check made
    try:
        from numba.np import linalg
    except ImportError:  # a Numba built otherwise: the check is made, as anywhere else
        return
    if hasattr(linalg, "ensure_blas"):
        linalg.ensure_blas = _no_blas  # read once, as Numba's array maths is set up


def _no_blas() -> None:
    raise ImportError("sweep-nn's kernels use no BLAS")


def set_up() -> None:
    """Set up Numba's CPU target now, as the first kernel load would (about 0.1 s: its
    typing and lowering registries, its runtime), in a process that waits for work, so that
    the first kernel then costs its task nothing. Loads and compiles no kernel."""
    before_first_kernel()
    try:
        from numba.core.registry import cpu_target

        cpu_target.typing_context.refresh()
        cpu_target.target_context.refresh()
    except (ImportError, AttributeError):  # a Numba laid out otherwise: the first load does it
        pass
