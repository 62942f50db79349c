"""Drawing the figures that compare configurations: overview, train vs dev, time vs dev."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import prepare
from .style import (
    HIGHLIGHT,
    MUTED,
    activation_colors,
    colors,
    figure,
    legend,
    lr_text,
    marker,
    metric_axis,
    title,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .sweep import Sweep


def panel_axes(fig: Figure, lay: prepare.Layout, sharey: bool = True) -> dict:
    """The axes of a layout's panels, by (row, column); x tick labels only at the bottom."""
    grid = fig.subplots(lay.nrows, lay.ncols, sharey=sharey, squeeze=False)
    used = {(p.r, p.c) for p in lay.panels}
    for r in range(lay.nrows):
        for c in range(lay.ncols):
            if (r, c) not in used:
                grid[r][c].remove()
    axes = {}
    for p in lay.panels:
        ax = axes[p.r, p.c] = grid[p.r][p.c]
        if (p.r + 1, p.c) in used:
            ax.tick_params(labelbottom=False)
        if p.c and sharey:
            ax.tick_params(labelleft=False)
        if p.r == 0 or lay.wrapped:
            ax.set_title(p.title)
    return axes


def row_label(lay: prepare.Layout, p: prepare.Panel, what: str) -> str:
    """The y label of a panel: the budget (unless in its title) and ``what``, first column only."""
    if p.c:
        return ""
    return f"{p.row_label}\n{what}" if p.row_label and not lay.wrapped else what


def overview(s: Sweep) -> Figure:
    """Train and dev score of every configuration: a panel per activation and budget."""
    m, rows = s.metric, s.rows
    if prepare.by_value(rows, "overview"):
        return _overview_by_value(s)
    hidden = sorted(rows["hidden_size"].unique())
    rates = sorted(rows["learning_rate"].unique())
    color = dict(zip(rates, colors("viridis", len(rates))))
    pw, ph = max(2.8, 0.32 * len(hidden) * len(rates) + 1.0), 2.3
    lay = prepare.layout(rows, aspect=pw / ph)
    fig = figure(max(6.5, pw * lay.ncols + 1.2), ph * lay.nrows + 2.4)
    axes = panel_axes(fig, lay)
    for p in lay.panels:
        ax = axes[p.r, p.c]
        x = prepare.overview_x(p.frame, hidden, rates)
        c = p.frame["learning_rate"].map(color).tolist()
        ax.vlines(x, p.frame[m.train], p.frame[m.dev], colors=c, lw=1, alpha=0.8)
        ax.scatter(x, p.frame[m.train], marker="_", s=30, c=c, lw=1.2)
        ax.scatter(x, p.frame[m.dev], marker="o", s=14, c=c, zorder=3)
        if s.filtered:
            hit = p.frame["survives"].to_numpy(dtype=bool)
            ax.scatter(x[hit], p.frame[m.dev][hit], s=60, facecolors="none",
                       edgecolors=HIGHLIGHT, lw=1.3, zorder=4)  # fmt: skip
        for i in range(len(hidden) - 1):
            ax.axvline(i + 0.5, color="0.88", lw=0.8)
        ax.grid(axis="x", visible=False)
        ax.set_xticks(range(len(hidden)), [str(h) for h in hidden])
        ax.set_xlim(-0.5, len(hidden) - 0.5)
        ax.set_ylabel(row_label(lay, p, metric_axis(s)))
        if (p.r + 1, p.c) not in axes:
            ax.set_xlabel("hidden units")
    handles = [marker(marker="o", color=color[lr], label=f"lr {lr_text(lr)}") for lr in rates]
    handles += [
        marker(marker="o", color="0.3", label="dev"),
        marker(marker="_", color="0.3", markersize=10, mew=1.5, label="train"),
    ]
    if s.filtered and rows["survives"].any():
        handles.append(marker(marker="o", mfc="none", mec=HIGHLIGHT, mew=1.3, markersize=8,
                              label="passes filter"))  # fmt: skip
    legend(fig, handles, "learning rates side by side within each hidden size, smallest left")
    title(fig, s, f"Train and dev {m.name} of every configuration")
    return fig


def _overview_by_value(s: Sweep) -> Figure:
    """:func:`overview` of a sweep with too many values to lay out side by side: each
    configuration at its hidden size on a log axis, coloured by its learning rate."""
    from matplotlib.colors import LogNorm

    m, rows = s.metric, s.rows
    norm = LogNorm(rows["learning_rate"].min(), rows["learning_rate"].max())
    lay = prepare.layout(rows, aspect=4.6 / 2.3)
    fig = figure(max(6.5, 4.6 * lay.ncols + 2.2), 2.3 * lay.nrows + 2.4)
    axes = panel_axes(fig, lay)
    image = None
    for p in lay.panels:
        ax, frame = axes[p.r, p.c], p.frame
        x, lr = frame["hidden_size"].to_numpy(float), frame["learning_rate"].to_numpy(float)
        c = [tuple(v) for v in image_colors(norm(lr))]
        ax.vlines(x, frame[m.train], frame[m.dev], colors=c, lw=1, alpha=0.8)
        ax.scatter(x, frame[m.train], marker="_", s=30, c=c, lw=1.2)
        image = ax.scatter(x, frame[m.dev], marker="o", s=14, c=lr, cmap="viridis", norm=norm,
                           zorder=3)  # fmt: skip
        if s.filtered:
            hit = frame["survives"].to_numpy(dtype=bool)
            ax.scatter(x[hit], frame[m.dev][hit], s=60, facecolors="none",
                       edgecolors=HIGHLIGHT, lw=1.3, zorder=4)  # fmt: skip
        log_hidden_axis(ax, rows["hidden_size"])
        ax.set_ylabel(row_label(lay, p, metric_axis(s)))
        if (p.r + 1, p.c) not in axes:
            ax.set_xlabel("hidden units (log scale)")
    if image is not None:
        bar = fig.colorbar(image, ax=list(axes.values()), shrink=0.8, aspect=30)
        bar.set_label("learning rate (log scale)")
    handles = [marker(marker="o", color="0.3", label="dev"),
               marker(marker="_", color="0.3", markersize=10, mew=1.5, label="train")]  # fmt: skip
    if s.filtered and rows["survives"].any():
        handles.append(marker(marker="o", mfc="none", mec=HIGHLIGHT, mew=1.3, markersize=8,
                              label="passes filter"))  # fmt: skip
    n_h, n_lr = rows["hidden_size"].nunique(), rows["learning_rate"].nunique()
    legend(fig, handles, f"{n_h} hidden sizes x {n_lr} learning rates: each where it falls")
    title(fig, s, f"Train and dev {m.name} of every configuration")
    return fig


def log_hidden_axis(ax, hidden) -> None:
    """A log x axis over every hidden size of the sweep (the same in every panel), ticked
    at the powers of two between them."""
    from matplotlib.ticker import NullFormatter

    lo, hi = float(min(hidden)), float(max(hidden))
    ax.set_xscale("log")
    ticks = [2**k for k in range(0, 31) if lo <= 2**k <= hi] or [lo]
    ax.set_xticks(ticks, [str(int(v)) for v in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(lo / 1.25, hi * 1.25)


def image_colors(values) -> np.ndarray:
    """RGBA of ``values`` (0 to 1) in the overview's colour map."""
    import matplotlib

    return matplotlib.colormaps["viridis"](values)


def train_vs_dev(s: Sweep) -> Figure:
    """Dev against train score: the diagonal, the --max-gap band, survivors highlighted."""
    m = s.metric
    zoom = prepare.zoom_limits(s)
    fig = figure(11 if zoom else 6.8, 6.6)
    axes = fig.subplots(1, 2 if zoom else 1, squeeze=False)[0]
    acts = prepare.shown_activations(s.rows, s.hit)
    palette = activation_colors(prepare.ordered(s.rows["activation"]))
    full = prepare.limits(s.rows, m)
    for ax in axes:
        _train_dev_panel(ax, s, palette, full)
    axes[0].set_title("all configurations")
    if zoom:
        axes[1].set_xlim(zoom)
        axes[1].set_ylim(zoom)
        axes[1].set_title("close-up of the configurations that pass")
        axes[0].indicate_inset((zoom[0], zoom[0], zoom[1] - zoom[0], zoom[1] - zoom[0]),
                               edgecolor="0.3")  # fmt: skip
    handles = [marker(marker="o", color=palette[a], label=a) for a in acts]
    if s.filtered:
        handles.append(marker(marker="o", color=MUTED, label="fails the filter"))
    handles.append(marker(linestyle="--", color="0.2", label="train = dev"))
    if s.criteria.max_gap is not None:
        from matplotlib.patches import Patch

        gap = f"|train − dev| ≤ {s.criteria.max_gap:g}"
        handles.append(Patch(color="tab:green", alpha=0.18, label=gap))
    if s.threshold is not None:
        handles.append(marker(linestyle=":", color="0.2", label=f"train ≥ {s.threshold:g}"))
    legend(fig, handles)
    title(fig, s, f"Dev {m.name} against train {m.name}: points below the diagonal overfit")
    return fig


def _train_dev_panel(ax, s: Sweep, palette: dict, lims: tuple[float, float]) -> None:
    m, rows = s.metric, s.rows
    span = lims[1] - lims[0]
    line = np.array([lims[0] - span, lims[1] + span])  # past the edges of a close-up too
    ax.plot(line, line, "--", color="0.2", lw=0.9, zorder=1)
    if s.criteria.max_gap is not None:
        g = s.criteria.max_gap
        ax.fill_between(line, line - g, line + g, color="tab:green", alpha=0.18, lw=0, zorder=0)
    if s.threshold is not None:
        ax.axvline(s.threshold, ls=":", color="0.2", lw=1)
    hit = s.hit
    ax.scatter(rows[m.train][~hit], rows[m.dev][~hit], s=14, color=MUTED, zorder=2)
    for act in prepare.shown_activations(rows, hit):
        d = rows[hit & (rows["activation"] == act).to_numpy()]
        ax.scatter(d[m.train], d[m.dev], s=26, color=palette[act], edgecolors="0.15", lw=0.5,
                   zorder=3)  # fmt: skip
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_aspect("equal")
    ax.set_xlabel(s.score_label("train"))
    ax.set_ylabel(s.score_label("dev"))


def time_vs_score(s: Sweep) -> Figure:
    """Dev score against training time (log), with the Pareto front named: the selection view."""
    m, rows = s.metric, s.rows
    seconds = rows["fit_seconds"].clip(lower=1e-6)
    front = prepare.time_front(s)
    palette = activation_colors(prepare.ordered(rows["activation"]))
    fig = figure(11.5, 6.4)
    ax, side = fig.subplots(1, 2, width_ratios=[3.2, 1])
    hit = s.hit
    for act in prepare.shown_activations(rows, hit):
        mask = hit & (rows["activation"] == act).to_numpy()
        ax.scatter(seconds[mask], rows[m.dev][mask], s=24, color=palette[act], alpha=0.85,
                   edgecolors="0.15", lw=0.4, zorder=3, label=act)  # fmt: skip
    if s.filtered:
        ax.scatter(seconds[~hit], rows[m.dev][~hit], s=12, color=MUTED, zorder=2,
                   label="fails the filter")  # fmt: skip
    fx = front["fit_seconds"].clip(lower=1e-6).to_numpy()
    fy = front[m.dev].to_numpy()
    named = prepare.spread(len(front), prepare.MAX_LABELS)
    if len(front):
        ax.step(fx, fy, where="post", color=HIGHLIGHT, lw=1.4, zorder=4)
        ax.scatter(fx, fy, s=90, facecolors="none", edgecolors=HIGHLIGHT, lw=1.6, zorder=5,
                   label="Pareto front")  # fmt: skip
        for k, i in enumerate(named, start=1):
            ax.annotate(str(k), (fx[i], fy[i]), xytext=(-7, 7) if k % 2 else (6, -12),
                        textcoords="offset points", fontsize=9, fontweight="bold",
                        color=HIGHLIGHT, zorder=6)  # fmt: skip
    if s.criteria.max_time is not None:
        ax.axvline(s.criteria.max_time, ls=":", color="0.2", lw=1, label="--max-time")
    _log_seconds_axis(ax, seconds)
    ax.set_xlabel("training time, fit_seconds (log scale)")
    ax.set_ylabel(s.score_label("dev"))
    side.axis("off")
    side.legend(*ax.get_legend_handles_labels(), loc="lower left", frameon=False)
    side.text(0, 1, "\n".join(_front_lines(s, front, named)), va="top", ha="left",
              family="monospace", fontsize=9, transform=side.transAxes)  # fmt: skip
    what = "nothing passes the filter" if s.none_pass else "the fastest good configurations"
    title(fig, s, f"Dev {m.name} against training time: {what}")
    return fig


def _log_seconds_axis(ax, seconds) -> None:
    """A log x axis of training times. Over less than a decade (runs that all take about
    as long) Matplotlib labels its minor ticks, 2.6e-4 over 2.8e-4; there, four round
    times across the range are labelled instead."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    lo, hi = float(np.min(seconds)), float(np.max(seconds))
    if hi < 10 * lo:
        ax.set_xticks(sorted({float(f"{v:.2g}") for v in np.geomspace(lo, hi, 4)}))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())


def _front_lines(s: Sweep, front, named: list[int]) -> list[str]:
    """The side panel of the time figure: what the front is, and its numbered points."""
    if s.none_pass:
        return ["Nothing passes the filter:", "no Pareto front drawn.", "", s.criteria.describe()]
    which = ["that passes the filter"] if s.filtered else []
    lines = ["Pareto front (red):", "no other configuration", *which,
             "is both faster and better", ""]  # fmt: skip
    for k, i in enumerate(named, start=1):
        row = front.iloc[i]
        lines.append(f"{k}  {row['config_id']}")
        lines.append(f"    dev {s.metric.show(row[s.metric.dev])}, {row['fit_seconds']:.3g} s")
    if len(named) < len(front):
        lines.append(f"({len(front) - len(named)} more front\npoints not numbered)")
    return lines
