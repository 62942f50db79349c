"""sweep-nn from Python: what the command line does, as functions.

Each function is the call the matching command makes: ``load_config`` and ``run`` for
``sweep-nn run``, ``read_results`` and ``filter`` for ``sweep-nn filter``, ``evaluate``
for ``sweep-nn eval``. Errors are the same :mod:`sweep_nn.errors` classes the command
line turns into messages and exit codes.

>>> import sweep_nn
>>> cfg = sweep_nn.load_config("configs/quick.yaml")          # doctest: +SKIP
>>> results = sweep_nn.run(cfg)                                # doctest: +SKIP
>>> sweep_nn.filter(results, min_acc=95, max_gap=1).head(3)    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config
from .errors import ConfigError
from .results import evaluate as evaluate_mod
from .results import query, store
from .results.schema import RESULTS_FILE
from .sweep.folder import default_out_dir
from .sweep.run import run_sweep

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["evaluate", "filter", "load_config", "read_results", "run"]


def load_config(source: config.SweepConfig | str | Path | Mapping[str, Any]) -> config.SweepConfig:
    """Validate a sweep configuration: a YAML file's path, or the same content as a dict.

    Raises :class:`~sweep_nn.errors.ConfigError` listing every problem. A dict is checked
    exactly as the equivalent YAML file would be; its ``name`` defaults to ``"sweep"``.
    """
    if isinstance(source, config.SweepConfig):
        return source
    if not isinstance(source, Mapping):
        return config.load(source)
    import yaml

    try:
        text = yaml.safe_dump(_plain(source), sort_keys=False)
    except yaml.YAMLError as exc:
        raise ConfigError(f"<dict>: a value cannot be written as YAML: {exc}") from None
    return config.parse(text, source="<dict>")


def _plain(value):
    """Tuples as lists and NumPy scalars as Python numbers, as YAML would hold them."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value


def run(
    cfg: config.SweepConfig | str | Path | Mapping[str, Any],
    out: str | Path | None = None,
    n_jobs: int = -1,
    fresh: bool = False,
    backend: str = "local",
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Run (or resume) a sweep and return its results, one row per configuration.

    Parameters
    ----------
    cfg : SweepConfig, path or dict
        The sweep; anything :func:`load_config` takes.
    out : path, optional
        Output folder; default ``output/<name>`` (relative to the working directory).
    n_jobs : int
        Worker processes; -1 uses every core.
    fresh : bool
        Start over, keeping any previous results aside as ``<out>.old-<time>``.
    backend : {"local", "dask"}
        Where workers run; "dask" needs ``pip install "sweep-nn[dask]"``.
    scheduler : str, optional
        Dask scheduler address (``tcp://HOST:8786``); without it "dask" starts a local
        cluster.

    Returns
    -------
    pandas.DataFrame
        The results file's rows (those already recorded included), columns as in
        ``results.csv``; ``params_path`` is relative to ``out``.

    Raises
    ------
    KeyboardInterrupt
        If interrupted; every finished row is kept and calling ``run`` again resumes.
    """
    cfg = load_config(cfg)
    out_dir = Path(out) if out is not None else default_out_dir(cfg)
    summary = run_sweep(
        cfg, out_dir, n_jobs=n_jobs, fresh=fresh, backend=backend, scheduler=scheduler
    )
    if summary.interrupted:
        raise KeyboardInterrupt
    return store.read_results(summary.results_path)


def read_results(path: str | Path) -> pd.DataFrame:
    """The results of a sweep: ``results.csv`` or the folder holding it."""
    path = Path(path)
    return store.read_results(path / RESULTS_FILE if path.is_dir() else path)


def filter(  # the name of the command it mirrors
    results: pd.DataFrame | str | Path,
    min_acc: float | None = None,
    max_gap: float | None = None,
    max_time: float | None = None,
    min_dev_acc: float | None = None,
    min_r2: float | None = None,
    min_dev_r2: float | None = None,
    sort: str = "fit_seconds",
    descending: bool = False,
    top: int | None = None,
    aggregate: bool = False,
    include_failed: bool = False,
) -> pd.DataFrame:
    """The rows meeting every condition, sorted; as ``sweep-nn filter`` lists them.

    ``results`` is a DataFrame from :func:`run` / :func:`read_results`, or a path.
    ``min_acc`` / ``min_dev_acc``: accuracy >= (percent); ``max_gap``: |train - dev| <=;
    ``max_time``: ``fit_seconds`` <=; ``min_r2`` / ``min_dev_r2`` for regression.
    ``aggregate`` averages rows that differ only in seed or fold (``n_seeds``, ``n_folds``
    under data.cv, ``*_std``).
    Rows that diverged or failed are left out unless ``include_failed``.
    """
    df = results if hasattr(results, "columns") else read_results(results)
    criteria = query.Criteria(
        min_acc=min_acc, max_gap=max_gap, max_time=max_time,
        min_r2=min_r2, min_dev_acc=min_dev_acc, min_dev_r2=min_dev_r2,
    )  # fmt: skip
    return query.filter_results(
        df, criteria, sort=sort, descending=descending, top=top,
        aggregate_seeds=aggregate, include_failed=include_failed,
    )  # fmt: skip


def evaluate(
    params_path: str | Path,
    n_samples: int | None = None,
    seed: int | None = None,
    noise: float | None = None,
    data: str | Path | tuple[np.ndarray, np.ndarray] | None = None,
    activation: str | None = None,
) -> dict:
    """Score a parameters file on new data, as ``sweep-nn eval`` does.

    Without ``data``, draws ``n_samples`` (default 500) fresh samples from the generator
    the model was trained on (``seed`` defaults to training's + 1, ``noise`` to
    training's); for data sets that cannot draw more, scores the sweep's dev split.
    ``data`` may be a CSV file with the training columns, or a pair ``(X, y)`` with X of
    shape (n_samples, n_features). Where no samples are drawn (``data`` given, or data
    sets that cannot draw), ``n_samples``, ``seed`` and ``noise`` are refused
    (``UsageError``). ``activation`` is needed only for the study's weights-only files.

    Returns ``{"accuracy": ..., "loss": ..., "n_samples": ...}`` (``r2`` and ``rmse``
    instead of ``accuracy`` for regression; ``r2`` is None for a single sample). Accuracy
    is in percent.
    """
    import numpy as np

    model = evaluate_mod.load_model(Path(params_path), activation)
    if data is None or isinstance(data, (str, Path)):
        path = None if data is None else Path(data)
        X, y, _ = evaluate_mod.eval_inputs(model, path, n_samples, seed, noise)
    else:
        evaluate_mod.refuse_drawing_options(n_samples, seed, noise, "data gives the samples")
        X, y = (np.asarray(a) for a in data)
    return evaluate_mod.evaluate(model, np.asarray(X, dtype=np.float64), y)
