"""The figures' look and the drawing helpers they share (matplotlib imported lazily).

Every figure is drawn on its headless Agg canvas (no display, no pyplot state).
"""

from __future__ import annotations

import io
import math
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

    from .sweep import Sweep

DPI = 150
STYLE: dict[RcKeyType, Any] = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "0.92",
    "savefig.facecolor": "white",
}
HIGHLIGHT = "#d62728"  # survivors of the filter, the Pareto front
MUTED = "0.78"  # configurations the filter leaves out
CELL_FORMAT = {"acc": ".1f", "r2": ".3f"}  # a score as a heatmap cell shows it
CHAR_WIDTH = 0.6  # a character's width over its font size, roughly


def figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def wrap(text: str, width_in: float, fontsize: float = 11) -> str:
    """``text`` wrapped, line by line, to fit ``width_in`` inches at ``fontsize`` points."""
    chars = max(20, int(width_in * 72 / (fontsize * 0.55)))  # 0.55: an average character
    return "\n".join(textwrap.fill(line, chars) if line else line for line in text.split("\n"))


def title(fig: Figure, s: Sweep, text: str, results: bool = True) -> None:
    """The figure's title and, below it, what the sweep is and what the filter kept."""
    below = s.subtitle() if results else f"sweep {s.name!r}"
    width = fig.get_figwidth() - 0.3
    fig.suptitle(wrap(f"{text}\n{below}", width), linespacing=1.4)


def legend(fig: Figure, handles: list, title: str | None = None) -> None:
    """A figure legend below the panels, in as many columns as the width holds."""
    if not handles:
        return
    longest = max(len(h.get_label()) for h in handles)
    per_entry = (longest * 9 * CHAR_WIDTH + 40) / 72  # inches: text, marker, padding
    ncols = max(1, min(len(handles), int((fig.get_figwidth() - 0.4) / per_entry)))
    ncols = math.ceil(len(handles) / math.ceil(len(handles) / ncols))  # rows evenly filled
    fig.legend(handles=handles, loc="outside lower center", ncols=ncols, title=title, frameon=False)


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def colors(cmap: str, n: int, lo: float = 0.0, hi: float = 0.85) -> list:
    import matplotlib

    if n == 1:
        return [matplotlib.colormaps[cmap]((lo + hi) / 2)]
    return [matplotlib.colormaps[cmap](x) for x in np.linspace(lo, hi, n)]


def activation_colors(acts: list[str]) -> dict:
    import matplotlib

    palette = matplotlib.colormaps["tab10"]
    return {act: palette(i % 10) for i, act in enumerate(acts)}


def marker(**kw):
    """A legend entry: a marker or a line with no data."""
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle=kw.pop("linestyle", "none"), **kw)


def lr_text(lr: float) -> str:
    return f"{lr:g}"


def metric_axis(s: Sweep) -> str:
    m = s.metric
    return m.name + (f" ({m.unit})" if m.unit else "")
