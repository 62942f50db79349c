"""Figures of a finished sweep, one PNG per view: the entry point of ``sweep-nn plot``.

The work is split by concern: :mod:`.sweep` reads a sweep's results, :mod:`.prepare`
computes what each figure shows (no matplotlib), :mod:`.draw`, :mod:`.draw_grid` and
:mod:`.draw_runs` draw it, :mod:`.style` holds the look. matplotlib is imported inside the
functions, so the rest of sweep-nn starts quickly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..results import query, store
from .draw import overview, time_vs_score, train_vs_dev
from .draw_analysis import importance_figure, parallel_figure
from .draw_grid import heatmap, hidden_size
from .draw_runs import learning_curves, training_data
from .style import STYLE, png_bytes
from .sweep import NotDrawn, PlotReport, Sweep, load_sweep

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FIGURES", "PLOTS_DIR", "NotDrawn", "PlotReport", "Sweep", "load_sweep", "plot_sweep"]

PLOTS_DIR = "plots"

FIGURES: dict[str, Callable[[Sweep], Figure]] = {
    "overview": overview,
    "train_vs_dev": train_vs_dev,
    "time_vs_dev": time_vs_score,
    "heatmap": heatmap,
    "hidden_size": hidden_size,
    "learning_curves": learning_curves,
    "data": training_data,
    "importance": importance_figure,
    "parallel": parallel_figure,
}


def draw(name: str, sweep: Sweep) -> Figure:
    """Figure ``name`` of ``sweep``, in the figures' style (raises NotDrawn when it does not apply)."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        return FIGURES[name](sweep)


def plot_sweep(
    results_path: Path,
    out_dir: Path | None = None,
    criteria: query.Criteria | None = None,
    only: list[str] | None = None,
    all_rows: bool = False,
) -> PlotReport:
    """Draw the figures of a sweep as PNG files in ``out_dir`` (default: ``plots/`` beside it).

    ``criteria`` marks the configurations ``filter`` would keep; ``only`` names a subset of
    :data:`FIGURES`. Figures that do not apply (e.g. the data when it is not 2-D) are skipped
    and reported. The rows drawn are those of the folder's current grid (every row with
    ``all_rows``), as ``filter`` shows them.
    """
    import matplotlib

    unknown = sorted(set(only or ()) - FIGURES.keys())
    if unknown:
        raise UsageError(
            f"--only: no figure {', '.join(map(repr, unknown))}; choose from {', '.join(FIGURES)}"
        )
    sweep = load_sweep(results_path, criteria or query.Criteria(), all_rows)
    out_dir = results_path.parent / PLOTS_DIR if out_dir is None else out_dir
    store.create_folder(out_dir)
    report = PlotReport()
    with matplotlib.rc_context(STYLE):
        for name, draw_figure in FIGURES.items():
            if only and name not in only:
                continue
            try:
                fig = draw_figure(sweep)
            except NotDrawn as exc:
                report.skipped.append((name, str(exc)))
                with contextlib.suppress(OSError):  # an earlier plot's, stale now
                    (out_dir / f"{name}.png").unlink(missing_ok=True)
                continue
            path = out_dir / f"{name}.png"
            store.atomic_write(path, png_bytes(fig))
            report.written.append(path)
    return report
