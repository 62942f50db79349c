"""The decision boundary of one network over 2-D inputs (``sweep-nn eval --plot``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import data as data_mod
from ..errors import UsageError
from ..nn import plain
from ..results import store
from ..results.evaluate import Model
from .prepare import boundary_grid
from .style import STYLE, colors, figure, png_bytes

GRID_POINTS = 300  # decision-boundary resolution along each axis


def check_boundary(model: Model, path: Path) -> None:
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


def _class_probabilities(model: Model, X: np.ndarray) -> np.ndarray:
    """Class probabilities (classes, m) of samples-first ``X``; one sigmoid unit gives two."""
    Xf = model.prepare(X).astype(model.params["W1"].dtype)
    A2 = plain.forward(model.params, Xf, model.activation, model.output).A2
    return np.vstack([1 - A2, A2]) if A2.shape[0] == 1 else A2


def decision_boundary(
    model: Model, X: np.ndarray, y: np.ndarray, accuracy: float, path: Path, title: str
) -> Path:
    """Draw ``model``'s predicted class over the plane of ``X`` (m, 2), true classes on top.

    Regions are coloured by predicted class, points by their true class (misclassified
    points crossed); ``accuracy`` (percent) goes in the title. Writes a PNG to ``path``.
    """
    import matplotlib
    from matplotlib.colors import ListedColormap

    check_boundary(model, path)
    _, truth = data_mod.encode_targets(y, model.task, model.classes, model.output)
    xx, yy, plane = boundary_grid(X, GRID_POINTS)
    probs = _class_probabilities(model, plane).reshape(-1, *xx.shape)  # (classes, ny, nx)
    guess = _class_probabilities(model, X).argmax(axis=0)

    classes = data_mod.class_labels(model.classes)
    n = len(classes)
    palette = colors("tab10", 10, 0.0, 1.0)[:n] if n <= 10 else colors("turbo", n)
    with matplotlib.rc_context(STYLE):
        fig = figure(7.6, 6.4)
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
        for k, cls in enumerate(classes):
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
        store.atomic_write(path, png_bytes(fig))
    return path
