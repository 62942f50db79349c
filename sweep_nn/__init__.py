"""sweep-nn: hyperparameter sweeps for a small two-layer NumPy network.

From Python: ``load_config``, ``run``, ``read_results``, ``filter`` and ``evaluate``
(see :mod:`sweep_nn.api`), and the scikit-learn estimators ``TwoLayerNetClassifier``
and ``TwoLayerNetRegressor`` (see :mod:`sweep_nn.estimator`).

They are imported on first use, so that ``import sweep_nn`` stays light: worker
processes import ``sweep_nn.sweep.worker`` and need NumPy only, not pandas, scikit-learn or
pydantic.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (a Ctrl-C window)

__version__ = "0.1.0"

_EXPORTS = {
    "load_config": "api",
    "run": "api",
    "read_results": "api",
    "filter": "api",
    "evaluate": "api",
    "TwoLayerNetClassifier": "estimator",
    "TwoLayerNetRegressor": "estimator",
}
__all__ = [
    "TwoLayerNetClassifier",
    "TwoLayerNetRegressor",
    "__version__",
    "evaluate",
    "filter",
    "load_config",
    "read_results",
    "run",
]

if TYPE_CHECKING:  # what type checkers and editors see; at run time, __getattr__ below
    from .api import evaluate, filter, load_config, read_results, run
    from .estimator import TwoLayerNetClassifier, TwoLayerNetRegressor


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
