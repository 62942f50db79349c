"""Drawing the figures over the grid's axes: the heatmap and the hidden-size curves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import prepare
from .draw import log_hidden_axis, panel_axes, row_label
from .style import CELL_FORMAT, HIGHLIGHT, colors, figure, legend, lr_text, marker, title
from .sweep import NotDrawn

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .sweep import Sweep

MARKERS = "osD^vP*X"


def heatmap(s: Sweep) -> Figure:
    """Dev score on a hidden size x learning rate grid: a panel per activation and budget."""
    import matplotlib
    from matplotlib.colors import Normalize

    m, rows = s.metric, s.rows
    hidden = sorted(rows["hidden_size"].unique())
    rates = sorted(rows["learning_rate"].unique())
    refusal = prepare.heatmap_refusal(rows)
    if refusal is not None:
        raise NotDrawn(f"{refusal}; the overview and parallel coordinates show every configuration")
    lo, hi, low_clipped = prepare.color_range(rows[m.dev])
    norm = Normalize(lo, hi, clip=False)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    pw, ph = max(2.2, 0.62 * len(rates) + 0.7), max(1.7, 0.34 * len(hidden) + 0.9)
    lay = prepare.layout(rows, aspect=pw / ph)
    fig = figure(max(6.5, pw * lay.ncols + 2.2), ph * lay.nrows + 2.2)
    axes = panel_axes(fig, lay, sharey=False)
    image, missing = None, False
    for p in lay.panels:
        ax = axes[p.r, p.c]
        grid, passes = prepare.heatmap_grid(p.frame, hidden, rates, m)
        image = ax.imshow(grid, cmap=cmap, norm=norm, origin="lower", aspect="auto")
        missing |= bool(np.isnan(grid).any())
        _cells(ax, grid, passes if s.filtered else None, norm, m.key)
        ax.grid(False)
        ax.set_xticks(range(len(rates)), [lr_text(lr) for lr in rates], fontsize=8)
        ax.set_yticks(range(len(hidden)), [str(h) for h in hidden], fontsize=8)
        ax.set_ylabel(row_label(lay, p, "hidden units"))
        if not any(q.r == p.r + 1 and q.c == p.c for q in lay.panels):
            ax.set_xlabel("learning rate")
    if image is None:
        raise NotDrawn("no configuration to draw")
    label = s.score_label("dev")
    if low_clipped:
        label += f"\n(colour clipped below {lo:{CELL_FORMAT[m.key]}})"
    bar = fig.colorbar(image, ax=list(axes.values()), shrink=0.8, extend="min" if low_clipped
                       else "neither", aspect=30)  # fmt: skip
    bar.set_label(label)
    notes = []
    if missing:
        notes.append("grey: no ok row (diverged, failed, or not trained: halving stops some)")
    if s.filtered:
        notes.append("red outline: passes the filter")
    note = f"\n{'; '.join(notes)}" if notes else ""
    title(fig, s, f"Dev {m.name} by hidden units and learning rate{note}")
    return fig


def _cells(ax, grid: np.ndarray, passes: np.ndarray | None, norm, key: str) -> None:
    from matplotlib.patches import Rectangle

    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            dark = norm(v) < 0.55
            ax.text(j, i, format(v, CELL_FORMAT[key]), ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")  # fmt: skip
        if passes is not None and passes[i, j]:
            ax.add_patch(Rectangle((j - 0.46, i - 0.46), 0.92, 0.92, fill=False,
                                   edgecolor=HIGHLIGHT, lw=1.8))  # fmt: skip


def hidden_size(s: Sweep) -> Figure:
    """Best dev (and train) score at each hidden size: a panel per activation, a line per budget."""
    m, rows = s.metric, s.rows
    hidden = sorted(rows["hidden_size"].unique())
    log_x = prepare.by_value(rows, "hidden_size")  # each size where it falls, on a log axis
    pos = {h: float(h) for h in hidden} if log_x else prepare.positions(hidden)
    budgets = sorted(rows["iterations"].unique())
    color = dict(zip(budgets, colors("plasma", len(budgets), 0.0, 0.8)))
    shift = dict(zip(budgets, (np.arange(len(budgets)) - (len(budgets) - 1) / 2) * 0.08))
    seeds = bool(s.averaged)  # several runs per configuration: show their spread
    pw, ph = (6.0 if log_x else max(3.4, 0.45 * len(hidden) + 1.6)), 3.4
    lay = prepare.layout(rows, budgets=False, aspect=pw / ph)
    fig = figure(max(6.5, pw * lay.ncols + 1.0), ph * lay.nrows + 2.6)
    axes = panel_axes(fig, lay)
    for p in lay.panels:
        ax = axes[p.r, p.c]
        for k, it in enumerate(budgets):
            frame = p.frame[p.frame["iterations"] == it]
            if frame.empty:
                continue
            best = prepare.best_by_hidden(frame, m)
            x = best["hidden_size"].map(pos).to_numpy(float)
            x = x * (1 + shift[it]) if log_x else x + shift[it]
            ax.errorbar(x, best[m.dev], yerr=best[m.dev + "_std"] if seeds else None,
                        color=color[it], marker=MARKERS[k % len(MARKERS)], ms=5, capsize=3,
                        lw=1.5)  # fmt: skip
            ax.plot(x, best[m.train], color=color[it], ls="--", lw=1, alpha=0.7,
                    marker=MARKERS[k % len(MARKERS)], ms=3, mfc="none")  # fmt: skip
        if log_x:
            log_hidden_axis(ax, hidden)
        else:
            ax.set_xticks(range(len(hidden)), [str(h) for h in hidden])
            ax.set_xlim(-0.5, len(hidden) - 0.5)
        ax.set_xlabel("hidden units (log scale)" if log_x else "hidden units")
        ax.set_ylabel(row_label(lay, p, s.score_label()))
    handles = [marker(marker=MARKERS[k % len(MARKERS)], color=color[it], linestyle="-",
                      label=f"{it} iterations") for k, it in enumerate(budgets)]  # fmt: skip
    handles += [marker(linestyle="-", color="0.3", label="dev"),
                marker(linestyle="--", color="0.3", label="train")]  # fmt: skip
    if seeds:
        handles.append(marker(marker="|", color="0.3", markersize=10,
                              label=f"± std over {s.averaged}"))  # fmt: skip
    legend(fig, handles)
    title(fig, s, f"{m.name.capitalize()} against hidden units (best learning rate at each point)")
    return fig
