"""Figures of a finished sweep, one PNG per view, and the decision boundary of one network.

The figures read what a sweep wrote (``results.csv``, the parameter files), never its
memory, so they redraw in seconds. matplotlib is imported inside the functions and every
figure is drawn on its headless Agg canvas (no display, no pyplot state), so the rest of
sweep-nn starts quickly.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from . import analysis, store
from .errors import ConfigError, ParamsError, ResultsError, StorageError, UsageError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

PLOTS_DIR = "plots"
DPI = 150
TOP_CURVES = 5  # configurations in the learning-curve figure
MAX_LABELS = 8  # Pareto points named in the time-vs-score figure
GRID_POINTS = 300  # decision-boundary resolution along each axis

STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "figure.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "0.92",
    "savefig.facecolor": "white",
}
HIGHLIGHT = "#d62728"  # survivors of the filter, the Pareto front
MUTED = "0.78"  # configurations the filter leaves out


class Metric(NamedTuple):
    """How a task's results are scored, and how to show the score."""

    name: str  # "accuracy" or "R²"
    train: str  # column of the train score
    dev: str  # column of the dev score
    unit: str  # "%" or ""
    fmt: str  # format spec for one value
    threshold: str  # the Criteria field that bounds the train score
    floor: float  # scores below are drawn at the floor (R² has no lower bound)

    def label(self, split: str = "") -> str:
        return f"{split} {self.name}".strip() + (f" ({self.unit})" if self.unit else "")

    def show(self, value: float) -> str:
        return f"{value:{self.fmt}}{self.unit}"


METRICS = {
    "classification": Metric("accuracy", "train_acc", "dev_acc", "%", ".1f", "min_acc", 0.0),
    "regression": Metric("R²", "train_r2", "dev_r2", "", ".3f", "min_r2", -1.0),
}

CRITERIA_TEXT = {
    "min_acc": "train acc ≥ {}",
    "min_dev_acc": "dev acc ≥ {}",
    "min_r2": "train R² ≥ {}",
    "min_dev_r2": "dev R² ≥ {}",
    "max_gap": "|train − dev| ≤ {}",
    "max_time": "fit ≤ {} s",
}


class NotDrawn(Exception):
    """A figure that does not apply to this sweep; the message says why."""


@dataclass
class Sweep:
    """A finished sweep as the figures see it."""

    folder: Path  # where results.csv and params/ live
    name: str
    metric: Metric
    runs: pd.DataFrame  # successful rows, one per configuration and seed
    rows: pd.DataFrame  # one per configuration: seed means, *_std, n_seeds, survives
    criteria: analysis.Criteria
    left_out: int  # diverged or failed rows, not drawn
    clipped: bool  # some scores were below metric.floor

    @property
    def filtered(self) -> bool:
        return any(v is not None for v in dataclasses.astuple(self.criteria))

    @property
    def n_seeds(self) -> int:
        return int(self.rows["n_seeds"].max())

    @property
    def pool(self) -> pd.DataFrame:
        """The filter's survivors if there are any, else every configuration."""
        kept = self.rows[self.rows["survives"]]
        return kept if self.filtered and len(kept) else self.rows

    def subtitle(self) -> str:
        text = f"sweep {self.name!r}: {len(self.rows)} configurations"
        if self.n_seeds > 1:
            text += f", mean of {self.n_seeds} seeds"
        if self.left_out:
            text += f" ({self.left_out} diverged or failed rows not shown)"
        if self.filtered:
            conditions = ", ".join(
                CRITERIA_TEXT[k].format(f"{v:g}")
                for k, v in dataclasses.asdict(self.criteria).items()
                if v is not None
            )
            text += f"\nfilter {conditions}: {int(self.rows['survives'].sum())} pass"
        return text

    def score_label(self, split: str = "") -> str:
        clip = (
            f", below {self.metric.floor:g} drawn at {self.metric.floor:g}" if self.clipped else ""
        )
        return self.metric.label(split) + clip


@dataclass
class PlotReport:
    """What :func:`plot_sweep` did: files written and figures left out (with the reason)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


# --- reading a sweep -------------------------------------------------------------------------


def load_sweep(results_path: Path, criteria: analysis.Criteria) -> Sweep:
    """Read a results file into what the figures need; survivors of ``criteria`` marked."""
    df = store.read_results(results_path)
    runs = df[df["status"] == "ok"].reset_index(drop=True)
    if runs.empty:
        raise ResultsError(f"{results_path}: no successful configurations to plot")
    task = "classification" if runs["train_acc"].notna().any() else "regression"
    metric = METRICS[task]
    rows = analysis.aggregate(runs)
    kept = analysis.filter_results(rows, criteria, include_failed=True)
    rows["survives"] = rows.index.isin(kept.index)
    clipped = bool((rows[[metric.train, metric.dev]] < metric.floor).any().any())
    for col in (metric.train, metric.dev):
        rows[col] = rows[col].clip(lower=metric.floor)
    folder = results_path.parent
    return Sweep(
        folder,
        _sweep_name(folder),
        metric,
        runs,
        rows,
        criteria,
        left_out=len(df) - len(runs),
        clipped=clipped,
    )


def _sweep_name(folder: Path) -> str:
    """The name in the sweep's config copy, or the folder's name when there is no usable copy."""
    from . import config
    from .sweep import CONFIG_COPY

    try:
        return config.load(folder / CONFIG_COPY).name
    except ConfigError:
        return folder.resolve().name


def _ordered(values) -> list:
    """Distinct values in the order they first appear (the grid's order)."""
    return list(dict.fromkeys(values))


def _facets(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One group per training budget (and batch size / dtype when those vary), labelled."""
    axes = ["iterations"] + [c for c in ("batch_size", "dtype") if rows[c].nunique() > 1]
    names = {"iterations": "{} iterations", "batch_size": "batch {}", "dtype": "{}"}
    keys = sorted(_ordered(rows[axes].itertuples(index=False, name=None)), key=_facet_order)
    out = []
    for key in keys:
        mask = np.logical_and.reduce([rows[c] == v for c, v in zip(axes, key)])
        out.append((", ".join(names[c].format(v) for c, v in zip(axes, key)), rows[mask]))
    return out


def _facet_order(key: tuple) -> tuple:
    # "full" batch after numeric sizes; everything else as is
    return tuple(
        (1, 0) if v == "full" else (0, v) if isinstance(v, (int, float)) else (2, str(v))
        for v in key
    )


# --- drawing helpers -------------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _title(fig: Figure, sweep: Sweep, title: str, results: bool = True) -> None:
    below = sweep.subtitle() if results else f"sweep {sweep.name!r}"
    fig.suptitle(f"{title}\n{below}", fontsize=11, linespacing=1.5)


def _png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _colors(cmap: str, n: int, lo: float = 0.0, hi: float = 0.85) -> list:
    import matplotlib

    return (
        [matplotlib.colormaps[cmap](x) for x in np.linspace(lo, hi, n)]
        if n > 1
        else [matplotlib.colormaps[cmap]((lo + hi) / 2)]
    )


def _activation_colors(rows: pd.DataFrame) -> dict:
    import matplotlib

    palette = matplotlib.colormaps["tab10"]
    return {act: palette(i % 10) for i, act in enumerate(_ordered(rows["activation"]))}


def _legend_marker(**kw):
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle=kw.pop("linestyle", "none"), **kw)


def _lr_text(lr: float) -> str:
    return f"{lr:g}"


# --- the figures -----------------------------------------------------------------------------


def overview(s: Sweep) -> Figure:
    """Train and dev score of every configuration: a panel per activation and budget."""
    m, rows = s.metric, s.rows
    facets = _facets(rows)
    acts = _ordered(rows["activation"])
    hidden = sorted(rows["hidden_size"].unique())
    rates = sorted(rows["learning_rate"].unique())
    color = dict(zip(rates, _colors("viridis", len(rates))))
    pos = {h: i for i, h in enumerate(hidden)}
    width = 0.8 / len(rates)

    fig = _figure(3.4 * len(acts) + 1.8, 2.3 * len(facets) + 1.2)
    axes = fig.subplots(len(facets), len(acts), sharex=True, sharey=True, squeeze=False)
    for r, (label, frame) in enumerate(facets):
        for c, act in enumerate(acts):
            ax = axes[r][c]
            sub = frame[frame["activation"] == act]
            for j, lr in enumerate(rates):
                d = sub[sub["learning_rate"] == lr]
                x = d["hidden_size"].map(pos).to_numpy() + (j - (len(rates) - 1) / 2) * width
                ax.vlines(x, d[m.train], d[m.dev], color=color[lr], lw=1, alpha=0.8)
                ax.scatter(x, d[m.train], marker="_", s=30, color=color[lr], lw=1.2)
                ax.scatter(x, d[m.dev], marker="o", s=14, color=color[lr], zorder=3)
                if s.filtered:
                    hit = d["survives"].to_numpy()
                    ax.scatter(
                        x[hit],
                        d[m.dev][hit],
                        s=60,
                        facecolors="none",
                        edgecolors=HIGHLIGHT,
                        lw=1.3,
                        zorder=4,
                    )
            for i in range(len(hidden) - 1):
                ax.axvline(i + 0.5, color="0.88", lw=0.8)
            ax.grid(axis="x", visible=False)
            ax.set_xticks(range(len(hidden)), [str(h) for h in hidden])
            if r == 0:
                ax.set_title(f"activation: {act}")
            if c == 0:
                ax.set_ylabel(f"{label}\n{m.name}" + (f" ({m.unit})" if m.unit else ""))
    fig.supxlabel("hidden units (within each: learning rates, smallest left)")
    handles = [_legend_marker(marker="o", color=color[lr], label=_lr_text(lr)) for lr in rates]
    handles += [
        _legend_marker(marker="o", color="0.3", label="dev"),
        _legend_marker(marker="_", color="0.3", markersize=10, mew=1.5, label="train"),
    ]
    if s.filtered:
        handles.append(
            _legend_marker(
                marker="o", mfc="none", mec=HIGHLIGHT, mew=1.3, markersize=8, label="passes filter"
            )
        )
    fig.legend(handles=handles, loc="outside right upper", title="learning rate", frameon=False)
    _title(fig, s, f"Train and dev {m.name} of every configuration")
    return fig


def train_vs_dev(s: Sweep) -> Figure:
    """Dev against train score: the diagonal, the --max-gap band, survivors highlighted."""
    m, rows = s.metric, s.rows
    zoom = s.filtered and bool(rows["survives"].any())
    fig = _figure(12 if zoom else 7.2, 6.2)
    axes = fig.subplots(1, 2 if zoom else 1, squeeze=False)[0]
    colors = _activation_colors(rows)
    lo = min(rows[m.train].min(), rows[m.dev].min())
    hi = max(rows[m.train].max(), rows[m.dev].max())
    pad = 0.04 * (hi - lo or 1)
    full = (lo - pad, hi + pad)
    for ax in axes:
        _train_dev_panel(ax, s, colors, full)
    axes[0].set_title("all configurations")
    if zoom:
        hit = rows[rows["survives"]]
        gap = s.criteria.max_gap or 0
        zlo = min(hit[m.train].min(), hit[m.dev].min()) - max(gap, 0.5 * pad)
        zhi = max(hit[m.train].max(), hit[m.dev].max()) + max(gap, 0.5 * pad)
        for a in (axes[1].set_xlim, axes[1].set_ylim):
            a(zlo, zhi)
        axes[1].set_title("close-up of the configurations that pass")
        axes[0].indicate_inset((zlo, zlo, zhi - zlo, zhi - zlo), edgecolor="0.3")
    handles = [_legend_marker(marker="o", color=c, label=a) for a, c in colors.items()]
    if s.filtered:
        handles.append(_legend_marker(marker="o", color=MUTED, label="fails the filter"))
    handles.append(_legend_marker(linestyle="--", color="0.2", label="train = dev"))
    if s.criteria.max_gap is not None:
        from matplotlib.patches import Patch

        handles.append(
            Patch(color="tab:green", alpha=0.18, label=f"|train − dev| ≤ {s.criteria.max_gap:g}")
        )
    threshold = getattr(s.criteria, m.threshold)
    if threshold is not None:
        handles.append(_legend_marker(linestyle=":", color="0.2", label=f"train ≥ {threshold:g}"))
    fig.legend(handles=handles, loc="outside right upper", frameon=False, title="activation")
    _title(fig, s, f"Dev {m.name} against train {m.name}: points below the diagonal overfit")
    return fig


def _train_dev_panel(ax, s: Sweep, colors: dict, lims: tuple[float, float]) -> None:
    m, rows = s.metric, s.rows
    line = np.array(lims)
    ax.plot(line, line, "--", color="0.2", lw=0.9, zorder=1)
    if s.criteria.max_gap is not None:
        g = s.criteria.max_gap
        ax.fill_between(line, line - g, line + g, color="tab:green", alpha=0.18, lw=0, zorder=0)
    threshold = getattr(s.criteria, m.threshold)
    if threshold is not None:
        ax.axvline(threshold, ls=":", color="0.2", lw=1)
    hit = rows["survives"] if s.filtered else np.ones(len(rows), dtype=bool)
    out = rows[~hit]
    ax.scatter(out[m.train], out[m.dev], s=14, color=MUTED, zorder=2)
    for act, color in colors.items():
        d = rows[hit & (rows["activation"] == act)]
        ax.scatter(d[m.train], d[m.dev], s=26, color=color, edgecolors="0.15", lw=0.5, zorder=3)
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_aspect("equal")
    ax.set_xlabel(s.score_label("train"))
    ax.set_ylabel(s.score_label("dev"))


def time_vs_score(s: Sweep) -> Figure:
    """Dev score against training time (log), with the Pareto front named: the selection view."""
    m, rows = s.metric, s.rows
    pool = s.pool
    seconds = rows["fit_seconds"].clip(lower=1e-6)
    front = pool[analysis.pareto_front(pool["fit_seconds"], pool[m.dev])]
    front = front.sort_values("fit_seconds")
    colors = _activation_colors(rows)

    fig = _figure(11.5, 6.4)
    ax, side = fig.subplots(1, 2, width_ratios=[3.2, 1])
    hit = rows["survives"] if s.filtered else np.ones(len(rows), dtype=bool)
    for act, color in colors.items():
        mask = hit & (rows["activation"] == act)
        ax.scatter(
            seconds[mask],
            rows[m.dev][mask],
            s=24,
            color=color,
            alpha=0.85,
            edgecolors="0.15",
            lw=0.4,
            zorder=3,
            label=act,
        )
    if s.filtered:
        ax.scatter(
            seconds[~hit], rows[m.dev][~hit], s=12, color=MUTED, zorder=2, label="fails the filter"
        )
    fx = front["fit_seconds"].clip(lower=1e-6).to_numpy()
    fy = front[m.dev].to_numpy()
    ax.step(fx, fy, where="post", color=HIGHLIGHT, lw=1.4, zorder=4)
    ax.scatter(
        fx,
        fy,
        s=90,
        facecolors="none",
        edgecolors=HIGHLIGHT,
        lw=1.6,
        zorder=5,
        label="Pareto front",
    )
    named = _spread(len(front), MAX_LABELS)
    for k, i in enumerate(named, start=1):
        ax.annotate(
            str(k),
            (fx[i], fy[i]),
            xytext=(-7, 7) if k % 2 else (6, -12),
            textcoords="offset points",
            fontsize=9,
            fontweight="bold",
            color=HIGHLIGHT,
            zorder=6,
        )
    if s.criteria.max_time is not None:
        ax.axvline(s.criteria.max_time, ls=":", color="0.2", lw=1, label="--max-time")
    ax.set_xscale("log")
    ax.set_xlabel("training time, fit_seconds (log scale)")
    ax.set_ylabel(s.score_label("dev"))
    ax.legend(loc="lower right", title="activation", framealpha=0.9)

    side.axis("off")
    which = ["that passes the filter"] if pool is not rows else []
    lines = [
        "Pareto front (red):",
        "no other configuration",
        *which,
        "is both faster and better",
        "",
    ]
    for k, i in enumerate(named, start=1):
        row = front.iloc[i]
        lines.append(f"{k}  {row['config_id']}")
        lines.append(f"    dev {m.show(row[m.dev])}, {row['fit_seconds']:.3g} s")
    if len(named) < len(front):
        lines.append(f"({len(front) - len(named)} more front\npoints not numbered)")
    side.text(
        0,
        1,
        "\n".join(lines),
        va="top",
        ha="left",
        family="monospace",
        fontsize=9,
        transform=side.transAxes,
    )
    _title(fig, s, f"Dev {m.name} against training time: the fastest good configurations")
    return fig


def _spread(n: int, most: int) -> list[int]:
    """Up to ``most`` indices of 0..n-1, evenly spread and always including both ends."""
    if n <= most:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, most).round().astype(int).tolist()))


def heatmap(s: Sweep) -> Figure:
    """Dev score on a hidden size x learning rate grid: a panel per activation and budget."""
    import matplotlib
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    m, rows = s.metric, s.rows
    facets = _facets(rows)
    acts = _ordered(rows["activation"])
    hidden = sorted(rows["hidden_size"].unique())
    rates = sorted(rows["learning_rate"].unique())
    norm = Normalize(rows[m.dev].min(), rows[m.dev].max())
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")

    fig = _figure(0.55 * len(rates) * len(acts) + 2.6, 0.33 * len(hidden) * len(facets) + 1.9)
    axes = fig.subplots(len(facets), len(acts), squeeze=False)
    image, missing = None, False
    for r, (label, frame) in enumerate(facets):
        for c, act in enumerate(acts):
            ax = axes[r][c]
            sub = frame[frame["activation"] == act].set_index(["hidden_size", "learning_rate"])
            grid = np.full((len(hidden), len(rates)), np.nan)
            passes = np.zeros_like(grid, dtype=bool)
            for i, h in enumerate(hidden):
                for j, lr in enumerate(rates):
                    if (h, lr) in sub.index:
                        grid[i, j] = sub.loc[(h, lr), m.dev]
                        passes[i, j] = sub.loc[(h, lr), "survives"]
            image = ax.imshow(grid, cmap=cmap, norm=norm, origin="lower", aspect="auto")
            missing |= bool(np.isnan(grid).any())
            for (i, j), v in np.ndenumerate(grid):
                if np.isfinite(v):
                    dark = norm(v) < 0.55
                    ax.text(
                        j,
                        i,
                        format(v, m.fmt),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if dark else "black",
                    )
                if s.filtered and passes[i, j]:
                    ax.add_patch(
                        Rectangle(
                            (j - 0.46, i - 0.46),
                            0.92,
                            0.92,
                            fill=False,
                            edgecolor=HIGHLIGHT,
                            lw=1.8,
                        )
                    )
            ax.grid(False)
            ax.set_xticks(range(len(rates)), [_lr_text(lr) for lr in rates], fontsize=8)
            ax.set_yticks(range(len(hidden)), [str(h) for h in hidden], fontsize=8)
            if r == 0:
                ax.set_title(f"activation: {act}")
            if c == 0:
                ax.set_ylabel(f"{label}\nhidden units")
            if r == len(facets) - 1:
                ax.set_xlabel("learning rate")
    fig.colorbar(image, ax=axes, shrink=0.6, label=s.score_label("dev"))
    notes = ["grey: diverged or failed"] if missing else []
    if s.filtered:
        notes.append("red outline: passes the filter")
    note = f" ({'; '.join(notes)})" if notes else ""
    _title(fig, s, f"Dev {m.name} by hidden units and learning rate{note}")
    return fig


def hidden_size(s: Sweep) -> Figure:
    """Best dev (and train) score at each hidden size, per activation and budget."""
    m, rows = s.metric, s.rows
    facets = _facets(rows)
    acts = _ordered(rows["activation"])
    hidden = sorted(rows["hidden_size"].unique())
    pos = {h: i for i, h in enumerate(hidden)}
    colors = _colors("plasma", len(facets), 0.0, 0.8)
    seeds = s.n_seeds > 1

    fig = _figure(3.8 * len(acts) + 2.2, 5.0)
    axes = fig.subplots(1, len(acts), sharey=True, squeeze=False)[0]
    for ax, act in zip(axes, acts):
        for color, (label, frame) in zip(colors, facets):
            sub = frame[frame["activation"] == act]
            best = sub.loc[sub.groupby("hidden_size")[m.dev].idxmax()].sort_values("hidden_size")
            x = best["hidden_size"].map(pos)
            ax.errorbar(
                x,
                best[m.dev],
                yerr=best[m.dev + "_std"] if seeds else None,
                color=color,
                marker="o",
                ms=4,
                capsize=3,
                lw=1.5,
                label=label,
            )
            ax.plot(x, best[m.train], color=color, ls="--", lw=1, alpha=0.7)
        ax.set_xticks(range(len(hidden)), [str(h) for h in hidden])
        ax.set_title(f"activation: {act}")
        ax.set_xlabel("hidden units")
    axes[0].set_ylabel(s.score_label())
    handles, _ = axes[0].get_legend_handles_labels()
    handles += [
        _legend_marker(linestyle="-", color="0.3", label="dev"),
        _legend_marker(linestyle="--", color="0.3", label="train"),
    ]
    if seeds:
        handles.append(
            _legend_marker(
                marker="|", color="0.3", markersize=10, label=f"± std over {s.n_seeds} seeds"
            )
        )
    fig.legend(handles=handles, loc="outside right upper", frameon=False, title="budget")
    _title(fig, s, f"{m.name.capitalize()} against hidden units (best learning rate at each point)")
    return fig


def learning_curves(s: Sweep) -> Figure:
    """Training loss against iterations for the best few configurations."""
    m = s.metric
    best = s.pool.sort_values([m.dev, "fit_seconds"], ascending=[False, True], kind="stable")
    run_axes = [a for a in analysis.SEED_AXES if a != "iterations"]
    chosen, seen = [], set()
    for _, row in best.iterrows():
        run = tuple(row[a] for a in run_axes)
        if run not in seen:  # budgets of one run share a curve; show each run once
            seen.add(run)
            chosen.append(row)
        if len(chosen) == TOP_CURVES:
            break

    fig = _figure(10.5, 5.6)
    ax = fig.subplots()
    colors = _colors("tab10", 10, 0.0, 1.0)
    drawn = 0
    for k, row in enumerate(chosen):
        same = np.logical_and.reduce([s.runs[a] == row[a] for a in analysis.SEED_AXES])
        label = f"{row['config_id']}  (dev {m.show(row[m.dev])})"
        for path in s.runs.loc[same, "params_path"]:
            curve = _loss_curve(s.folder / path)
            if curve is None:
                continue
            it, loss = curve
            ax.plot(it, loss, color=colors[k % 10], lw=1.6, alpha=0.9, label=label)
            label = None  # one legend entry per configuration, however many seeds
            drawn += 1
    if not drawn:
        raise NotDrawn("no loss curves in the parameter files (train.loss_points was 0?)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss")
    which = "that pass the filter" if s.pool is not s.rows else "of the sweep"
    ax.legend(
        title=f"best {len(chosen)} configurations {which} by dev {m.name}",
        loc="upper right",
        framealpha=0.9,
    )
    seeds = f"; one line per seed ({s.n_seeds})" if s.n_seeds > 1 else ""
    _title(fig, s, f"Learning curves of the best configurations{seeds}")
    return fig


def _loss_curve(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(iterations, loss) recorded in a parameters file, finite values only."""
    try:
        curve = store.load_params(path).get("loss_curve")
    except ParamsError:
        return None
    if not curve or not curve.get("iterations"):
        return None
    it, loss = np.asarray(curve["iterations"], float), np.asarray(curve["loss"], float)
    keep = np.isfinite(loss)
    return it[keep], loss[keep]


def training_data(s: Sweep) -> Figure:
    """The sweep's train and dev data, by class, when it has two features."""
    from . import data as data_mod

    spec = None
    for path in s.runs["params_path"].dropna():
        try:
            p = store.load_params(s.folder / path)
        except ParamsError:
            continue
        spec, task = p.get("data"), p.get("task", "auto")
        break
    if not spec:
        raise NotDrawn("no readable parameters file holds the data settings")
    ds = data_mod.load(analysis.data_config(spec), task)
    if ds.X_train.shape[1] != 2:
        raise NotDrawn(f"the data has {ds.X_train.shape[1]} features; drawn only for 2")

    fig = _figure(7.8, 6.4)
    ax = fig.subplots()
    splits = [(ds.X_train, ds.y_train, "o", "train"), (ds.X_dev, ds.y_dev, "^", "dev")]
    if ds.task == "classification":
        palette = _colors("tab10", 10, 0.0, 1.0)
        for X, y, marker, split in splits:
            for k, cls in enumerate(ds.classes):
                pts = X[y == cls]
                filled = split == "train"
                ax.scatter(
                    pts[:, 0],
                    pts[:, 1],
                    s=14 if filled else 22,
                    marker=marker,
                    color=palette[k % 10] if filled else "none",
                    edgecolors=palette[k % 10],
                    lw=0.8,
                    alpha=0.55 if filled else 0.9,
                    label=f"class {cls}, {split} ({len(pts)})",
                )
        ax.legend(loc="best", framealpha=0.9, markerscale=1.6)
    else:
        target = np.asarray(ds.y_train if ds.y_train.ndim == 1 else ds.y_train[:, 0])
        points = ax.scatter(ds.X_train[:, 0], ds.X_train[:, 1], c=target, s=14, cmap="viridis")
        fig.colorbar(points, ax=ax, label="target (training split)")
    scaled = " (standardised)" if ds.scaler is not None else ""
    ax.set_xlabel(f"feature 1{scaled}")
    ax.set_ylabel(f"feature 2{scaled}")
    ax.set_aspect("equal", adjustable="datalim")
    _title(
        fig,
        s,
        f"The data: {spec['dataset']}, {len(ds.X_train)} training and {len(ds.X_dev)} dev samples",
        results=False,
    )
    return fig


def importance(s: Sweep) -> Figure:
    """Share of the dev score's variance explained by each hyperparameter and pair."""
    from .report.figures import importance_figure

    return importance_figure(s)


def parallel(s: Sweep) -> Figure:
    """Parallel coordinates of every configuration, coloured by dev score."""
    from .report.figures import parallel_figure

    return parallel_figure(s)


FIGURES: dict[str, Callable[[Sweep], Figure]] = {
    "overview": overview,
    "train_vs_dev": train_vs_dev,
    "time_vs_dev": time_vs_score,
    "heatmap": heatmap,
    "hidden_size": hidden_size,
    "learning_curves": learning_curves,
    "data": training_data,
    "importance": importance,
    "parallel": parallel,
}


def plot_sweep(
    results_path: Path,
    out_dir: Path | None = None,
    criteria: analysis.Criteria | None = None,
    only: list[str] | None = None,
) -> PlotReport:
    """Draw the figures of a sweep as PNG files in ``out_dir`` (default: ``plots/`` beside it).

    ``criteria`` marks the configurations ``filter`` would keep; ``only`` names a subset of
    :data:`FIGURES`. Figures that do not apply (e.g. the data when it is not 2-D) are skipped
    and reported.
    """
    import matplotlib

    unknown = sorted(set(only or ()) - FIGURES.keys())
    if unknown:
        raise UsageError(
            f"--only: no figure {', '.join(map(repr, unknown))}; choose from {', '.join(FIGURES)}"
        )
    sweep = load_sweep(results_path, criteria or analysis.Criteria())
    out_dir = results_path.parent / PLOTS_DIR if out_dir is None else out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {out_dir}: {exc.strerror}") from None
    report = PlotReport()
    with matplotlib.rc_context(STYLE):
        for name, draw in FIGURES.items():
            if only and name not in only:
                continue
            try:
                fig = draw(sweep)
            except NotDrawn as exc:
                report.skipped.append((name, str(exc)))
                continue
            path = out_dir / f"{name}.png"
            store.atomic_write(path, _png_bytes(fig))
            report.written.append(path)
    return report


# --- decision boundary of one network --------------------------------------------------------


def check_boundary(model: analysis.Model, path: Path) -> None:
    """Raise UsageError unless a decision boundary of ``model`` can be drawn to ``path``."""
    if path.suffix.lower() != ".png":
        raise UsageError(f"--plot writes a PNG image; give a file name ending in .png, not {path}")
    n_in = model.params["W1"].shape[1]
    if n_in != 2:
        raise UsageError(
            f"--plot draws a decision boundary over 2 input features; this network takes {n_in}"
        )
    if model.task != "classification":
        raise UsageError("--plot draws class regions; this network does regression")


def _class_probabilities(model: analysis.Model, X: np.ndarray) -> np.ndarray:
    """Class probabilities (classes, m) of samples-first ``X``; one sigmoid unit gives two."""
    from .network import forward

    Xf = model.prepare(X).astype(model.params["W1"].dtype)
    _, A2 = forward(model.params, Xf, model.activation, model.output)
    return np.vstack([1 - A2, A2]) if A2.shape[0] == 1 else A2


def decision_boundary(
    model: analysis.Model, X: np.ndarray, y: np.ndarray, accuracy: float, path: Path, title: str
) -> Path:
    """Draw ``model``'s predicted class over the plane of ``X`` (m, 2), true classes on top.

    Regions are coloured by predicted class, points by their true class (misclassified
    points crossed); ``accuracy`` (percent) goes in the title. Writes a PNG to ``path``.
    """
    import matplotlib
    from matplotlib.colors import ListedColormap

    from . import data as data_mod

    check_boundary(model, path)
    _, truth = data_mod.encode_targets(y, model.task, model.classes, model.output)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-9
    gx, gy = (np.linspace(lo[k] - pad[k], hi[k] + pad[k], GRID_POINTS) for k in (0, 1))
    xx, yy = np.meshgrid(gx, gy)
    plane = np.column_stack([xx.ravel(), yy.ravel()])
    probs = _class_probabilities(model, plane).reshape(-1, *xx.shape)  # (classes, ny, nx)
    guess = _class_probabilities(model, X).argmax(axis=0)

    n = len(model.classes)
    palette = _colors("tab10", 10, 0.0, 1.0)[:n] if n <= 10 else _colors("turbo", n)
    with matplotlib.rc_context(STYLE):
        fig = _figure(7.6, 6.4)
        ax = fig.subplots()
        ax.contourf(
            xx,
            yy,
            probs.argmax(axis=0),
            levels=np.arange(n + 1) - 0.5,
            cmap=ListedColormap(palette),
            alpha=0.25,
        )
        for k in range(n):  # boundary of class k: its probability equals the best other's
            others = np.delete(probs, k, axis=0).max(axis=0)
            ax.contour(xx, yy, probs[k] - others, levels=[0], colors="0.25", linewidths=0.9)
        for k, cls in enumerate(model.classes):
            pts = X[truth == k]
            ax.scatter(
                pts[:, 0],
                pts[:, 1],
                s=16,
                color=palette[k],
                edgecolors="0.2",
                lw=0.4,
                label=f"class {cls} ({len(pts)})",
            )
        wrong = guess != truth
        ax.scatter(
            X[wrong, 0],
            X[wrong, 1],
            s=36,
            marker="x",
            color="black",
            lw=1.1,
            label=f"misclassified ({int(wrong.sum())})",
        )
        ax.set_xlabel("feature 1")
        ax.set_ylabel("feature 2")
        ax.grid(False)
        ax.legend(loc="best", framealpha=0.9, title="true class (regions: predicted)")
        fig.suptitle(
            f"Decision boundary: accuracy {accuracy:.2f}% on {len(X)} samples\n{title}",
            fontsize=11,
            linespacing=1.5,
        )
        store.atomic_write(path, _png_bytes(fig))
    return path
