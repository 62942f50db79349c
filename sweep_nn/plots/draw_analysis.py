"""Two static figures for ``sweep-nn plot``: hyperparameter importance and parallel coordinates.

They are the PNG counterparts of the report's interactive views, drawn from the same
:class:`Sweep` the other figures get (seed means in ``rows``, ok runs in ``runs``).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np

from ..results.importance import importance

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .sweep import Sweep

TOP_PARTS = 12  # bars in the importance figure (the rest summed into one)
HYPERPARAMETERS = ["hidden_size", "activation", "learning_rate", "iterations", "batch_size",
                   "dtype"]  # fmt: skip


def _not_drawn(reason: str) -> Exception:
    from .sweep import NotDrawn

    return NotDrawn(reason)


def _title(fig, s: Sweep, title: str) -> None:
    fig.suptitle(f"{title}\n{s.subtitle()}", fontsize=11, linespacing=1.5)


def importance_figure(s: Sweep) -> Figure:
    """Share of the dev score's variance explained by each axis and pair of axes."""
    from matplotlib.figure import Figure

    imp = importance(s.runs, score=s.metric.dev, floor=s.metric.floor)
    if not imp.axes:
        raise _not_drawn("no hyperparameter varies")
    parts = imp.ranked()
    mains = set(imp.axes)
    shown = [p for p in parts if p[0] in mains or p[0] == "higher-order"]
    pairs = [p for p in parts if p not in shown]
    room = max(0, TOP_PARTS - len(shown))
    shown += pairs[:room]
    if pairs[room:]:
        shown.append(("other pairs", sum(v for _, v in pairs[room:])))
    shown.sort(key=lambda kv: -kv[1])

    fig = Figure(figsize=(9.5, 0.34 * len(shown) + 2.6), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(shown))[::-1]
    colors = [
        "#2462c9" if n in mains else "#b0b7c2" if n == "higher-order" else "#7d9fd8"
        for n, _ in shown
    ]
    ax.barh(y, [100 * v for _, v in shown], color=colors)
    ax.set_yticks(y, [n for n, _ in shown])
    for yi, (_, v) in zip(y, shown):
        ax.text(100 * v + 0.8, yi, f"{100 * v:.1f}%", va="center", fontsize=8)
    ax.set_xlim(0, max(100 * v for _, v in shown) * 1.15 + 1)
    ax.set_xlabel(f"share of the variance of {imp.score} (%)")
    ax.grid(axis="y", visible=False)
    ax.set_axisbelow(True)
    # the method says its kind first ("exact functional ANOVA", "estimate: ...")
    ax.set_title("\n".join(textwrap.wrap(imp.method, 110)), fontsize=8, loc="left")
    _title(fig, s, f"Hyperparameter importance for dev {s.metric.name}")
    return fig


def parallel_figure(s: Sweep) -> Figure:
    """Parallel coordinates of every configuration, coloured by dev score."""
    import matplotlib
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    m, rows = s.metric, s.rows
    axes = []  # (label, positions in [0, 1], tick positions, tick labels)
    for key in HYPERPARAMETERS:
        values = list(dict.fromkeys(rows[key].tolist()))
        if len(values) < 2:
            continue
        order = sorted(values, key=lambda v: (0, v, "") if isinstance(v, (int, float))
                       else (1, 0, str(v)))  # fmt: skip
        pos = {v: i / (len(order) - 1) for i, v in enumerate(order)}
        axes.append((key, rows[key].map(pos).to_numpy(float), list(pos.values()),
                     [f"{v:g}" if isinstance(v, float) else str(v) for v in order]))  # fmt: skip
    if not axes:
        raise _not_drawn("no hyperparameter varies")
    for key in (m.train, m.dev, "fit_seconds"):
        col = rows[key].to_numpy(float)
        lo, hi = np.nanmin(col), np.nanmax(col)
        span = hi - lo or 1.0
        ticks = np.linspace(lo, hi, 5)
        axes.append((key, (col - lo) / span, list((ticks - lo) / span),
                     [format(t, ".3g") for t in ticks]))  # fmt: skip

    fig = Figure(figsize=(max(8.0, 1.5 * len(axes) + 2), 5.6), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(axes))
    ys = np.column_stack([a[1] for a in axes])
    score = rows[m.dev].to_numpy(float)
    norm = Normalize(np.nanmin(score), np.nanmax(score))
    cmap = matplotlib.colormaps["viridis"]
    hit = rows["survives"].to_numpy() if s.filtered else np.ones(len(rows), dtype=bool)
    drawn = np.argsort(np.where(hit, score, -np.inf))  # survivors and the best on top
    segs = [np.column_stack([x, ys[i]]) for i in drawn]
    colors = [cmap(norm(score[i])) if hit[i] else (0.8, 0.8, 0.8, 0.35) for i in drawn]
    ax.add_collection(LineCollection(segs, colors=colors, linewidths=1.1))
    for i, (_, _, tick_at, names) in enumerate(axes):
        ax.axvline(i, color="0.35", lw=0.8)
        for t, name in zip(tick_at, names):
            ax.text(i + 0.04, t, name, fontsize=7.5, va="center",
                    bbox={"fc": "white", "ec": "none", "pad": 0.5, "alpha": 0.8})  # fmt: skip
    ax.set_xticks(x, [a[0] for a in axes])
    ax.set_xlim(-0.15, len(axes) - 0.6)
    ax.set_ylim(-0.04, 1.04)
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    fig.colorbar(
        matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=s.score_label("dev")
    )
    note = " (grey: fails the filter)" if s.filtered else ""
    _title(fig, s, f"Parallel coordinates, coloured by dev {m.name}{note}")
    return fig
