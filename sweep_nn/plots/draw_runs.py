"""Drawing what one run or the data looks like: learning curves, the training data."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import data as data_mod
from ..errors import DataError, ParamsError
from ..results.evaluate import data_config
from . import prepare
from .style import colors, figure, title
from .sweep import NotDrawn, data_spec, loss_curve

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .sweep import Sweep


def learning_curves(s: Sweep) -> Figure:
    """Training loss against iterations of the best few runs, their budgets marked."""
    m = s.metric
    runs = prepare.curve_runs(s)
    fig = figure(10.5, 6.0)
    ax = fig.subplots()
    palette = colors("tab10", 10, 0.0, 1.0)
    drawn = []
    for k, run in enumerate(runs):
        color = palette[k % 10]
        label: str | None = _run_label(s, run)
        for path in run.paths:
            curve = loss_curve(s.folder / path)
            if curve is None or not len(curve[0]):
                continue
            it, loss = curve
            ax.plot(it, loss, color=color, lw=1.6, alpha=0.9, label=label)
            label = None  # one legend entry per run, however many seeds
            drawn.append(loss)
            marks = prepare.nearest(it, run.budgets["iterations"])
            ax.plot(it[marks], loss[marks], "o", color=color, ms=5)
            best = prepare.nearest(it, [run.best["iterations"]])
            ax.plot(it[best], loss[best], "*", color=color, ms=12, mec="0.2", mew=0.5)
    if not drawn:
        raise NotDrawn("no loss curves in the parameter files (train.loss_points was 0?)")
    if prepare.log_loss_axis(drawn):
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        ax.set_yscale("log")  # plain numbers; minor ticks labelled when under a decade
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        values = np.concatenate(drawn)
        decades = np.log10(values.max() / values.min())
        if decades < 1:  # 0.15 and 0.25 too, so that a curve ending at 0.13 can be read
            ax.yaxis.set_minor_locator(LogLocator(subs=(1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9)))
        elif decades <= 3:  # 0.2 and 0.5 between the powers of ten, not one label in all
            ax.yaxis.set_minor_locator(LogLocator(subs=(2, 5)))
        ax.yaxis.set_minor_formatter(plain if decades <= 3 else NullFormatter())
        ax.set_ylabel("training loss (log scale)")
    else:
        ax.set_ylabel("training loss")
    ax.set_xlabel("iteration")
    verb = "passes" if len(runs) == 1 else "pass"
    which = f"that {verb} the filter" if s.pool is not s.rows else "of the sweep"
    count = "the training run" if len(runs) == 1 else f"best {len(runs)} training runs"
    ax.legend(title=f"{count} {which}, by best dev {m.name}\n(dots: budgets, star: the best)",
              loc="upper right", framealpha=0.9)  # fmt: skip
    seeds = f"; one line per run ({s.averaged})" if s.averaged else ""
    title(fig, s, f"Learning curves of the best training runs{seeds}")
    return fig


def _run_label(s: Sweep, run: prepare.Run) -> str:
    m, best = s.metric, run.best
    others = run.budgets[run.budgets["iterations"] != best["iterations"]]
    text = f"{best['config_id']}  dev {m.show(best[m.dev])}"
    if len(others):
        text += (
            " ("
            + ", ".join(
                f"{int(r['iterations'])} it: {m.show(r[m.dev])}" for _, r in others.iterrows()
            )
            + ")"
        )
    return text


def training_data(s: Sweep) -> Figure:
    """The sweep's train and dev data, by class, when it has two features (under data.cv,
    those of its first fold)."""
    spec, task = data_spec(s)
    fold = None if spec.get("cv") is None else 0
    try:  # a CSV changed since training, or one the parameters file has no digest of
        ds = data_mod.load(data_config(spec), task, fold)
    except (DataError, ParamsError) as exc:
        raise NotDrawn(str(exc)) from None
    if ds.X_train.shape[1] != 2:
        raise NotDrawn(f"the data has {ds.X_train.shape[1]} features; drawn only for 2")
    fig = figure(7.8, 6.6)
    ax = fig.subplots()
    splits = [(ds.X_train, ds.y_train, "o", "train"), (ds.X_dev, ds.y_dev, "^", "dev")]
    if ds.task == "classification":
        palette = colors("tab10", 10, 0.0, 1.0)
        for X, y, shape, split in splits:
            filled = split == "train"
            for k, cls in enumerate(data_mod.class_labels(ds.classes)):
                pts = X[y == cls]
                ax.scatter(pts[:, 0], pts[:, 1], s=14 if filled else 22, marker=shape,
                           color=palette[k % 10] if filled else "none",
                           edgecolors=palette[k % 10], lw=0.8, alpha=0.55 if filled else 0.9,
                           label=f"class {cls}, {split} ({len(pts)})")  # fmt: skip
        ax.legend(loc="best", framealpha=0.9, markerscale=1.6)
    else:
        target = np.asarray(ds.y_train if ds.y_train.ndim == 1 else ds.y_train[:, 0])
        points = ax.scatter(ds.X_train[:, 0], ds.X_train[:, 1], c=target, s=14, cmap="viridis")
        fig.colorbar(points, ax=ax, label="target (training split)")
    scaled = " (standardised)" if ds.scaler is not None else ""
    ax.set_xlabel(f"feature 1{scaled}")
    ax.set_ylabel(f"feature 2{scaled}")
    ax.set_aspect("equal", adjustable="datalim")
    what = f"{spec['dataset']}, {len(ds.X_train)} training and {len(ds.X_dev)} dev samples"
    if fold is not None:
        what += f" (fold {fold} of {spec['cv']})"
    title(fig, s, f"The data: {what}", results=False)
    return fig
