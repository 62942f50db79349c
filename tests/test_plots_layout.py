"""Every figure's geometry on several kinds of grid: no text over another, all inside, sane shape."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
import yaml

from sweep_nn.config import parse
from sweep_nn.plots import figures
from sweep_nn.plots.sweep import NotDrawn
from sweep_nn.results.query import Criteria
from sweep_nn.sweep.run import run_sweep

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
TINY_DATA = {"n_samples": 200}  # every grid below trains on a small sample, for speed


def _tiny(name: str, **grid_changes) -> str:
    """A config file of the repository with a small data set and short budgets."""
    cfg = yaml.safe_load((CONFIGS / name).read_text())
    cfg["data"].update(TINY_DATA)
    cfg["grid"]["iterations"] = [10, 30, 60][: len(cfg["grid"]["iterations"])]
    cfg["grid"].update(grid_changes)
    return yaml.safe_dump(cfg)


GRIDS = {  # name -> (config text, criteria drawn with it)
    "quick": (_tiny("quick.yaml"), Criteria(min_acc=80, max_gap=2)),
    "minibatch_seeds": (_tiny("minibatch_seeds.yaml", seeds=[0, 1]), Criteria(max_gap=2)),
    "regression": (_tiny("regression.yaml"), Criteria(min_r2=0.0)),
    "single": (
        _tiny(
            "quick.yaml",
            hidden_sizes=[3],
            activations=["tanh"],
            learning_rates=[0.6],
            iterations=[20],
        ),
        Criteria(),
    ),  # fmt: skip
    "nothing_passes": (_tiny("quick.yaml"), Criteria(min_acc=100.5)),
    # a new hidden size and learning rate at nearly every trial: far too many to lay out
    "random_search": (_tiny("random_search.yaml"), Criteria(min_acc=80)),
    # the inits and scales of grid.inits / grid.init_scales: a panel for each
    "inits": (
        _tiny("quick.yaml", hidden_sizes=[3, 5], activations=["tanh"], learning_rates=[0.6],
              iterations=[10, 30], inits=["normal", "xavier", "he"], init_scales=[0.1, 1.0]),
        Criteria(min_acc=80),
    ),  # fmt: skip
    # a full grid of 11 x 12 = 132 cells: too many slots side by side, a heatmap still
    "big_grid": (
        _tiny("quick.yaml", hidden_sizes=list(range(1, 12)), activations=["tanh"],
              learning_rates=[2.0, 1.5, 1.2, 1.0, 0.8, 0.6, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001],
              iterations=[10]),
        Criteria(min_acc=75),
    ),  # fmt: skip
}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict:
    out = {}
    for name, (text, criteria) in GRIDS.items():
        folder = tmp_path_factory.mktemp(name)
        if name == "nothing_passes":
            folder = out["quick"][0].folder
        else:
            run_sweep(parse(text), folder, n_jobs=1)
        out[name] = (figures.load_sweep(folder / "results.csv", criteria), criteria)
    return out


def _drawn_texts(canvas) -> list:
    """The non-empty texts a draw of ``canvas`` really puts on the image (ticks in view only)."""
    from matplotlib.text import Text

    drawn = []
    original = Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return original(self, renderer)

    with mock.patch.object(Text, "draw", record):
        canvas.draw()  # constrained layout runs here too
    return list(dict.fromkeys(drawn))


def check_geometry(fig) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    texts = _drawn_texts(canvas)
    renderer = canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    assert 1 / 3 <= width / height <= 3, f"aspect {width:.0f} x {height:.0f}"
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    for t, b in boxes:
        assert b.x0 >= -1 and b.y0 >= -1 and b.x1 <= width + 1 and b.y1 <= height + 1, (
            f"{t.get_text()!r} outside the figure: {b}"
        )
    for i, (t, b) in enumerate(boxes):
        for u, c in boxes[i + 1 :]:
            overlap = min(b.x1, c.x1) - max(b.x0, c.x0), min(b.y1, c.y1) - max(b.y0, c.y0)
            assert min(overlap) <= 1, f"{t.get_text()!r} overlaps {u.get_text()!r}"


@pytest.mark.parametrize("grid", sorted(GRIDS))
@pytest.mark.parametrize("name", sorted(figures.FIGURES))
def test_figure_texts_stay_apart_inside_a_sane_shape(sweeps, grid, name):
    sweep, _ = sweeps[grid]
    try:
        fig = figures.draw(name, sweep)
    except NotDrawn:
        pytest.skip(f"{name} does not apply to {grid}")
    check_geometry(fig)


def test_too_many_values_for_a_grid_of_cells_is_said_not_drawn(sweeps):
    sweep, _ = sweeps["random_search"]
    with pytest.raises(NotDrawn, match=r"\d+ hidden sizes x \d+ learning rates are too many"):
        figures.draw("heatmap", sweep)
    figures.draw("heatmap", sweeps["quick"][0])  # a grid's few values: drawn
    figures.draw("heatmap", sweeps["big_grid"][0])  # 132 cells, every one filled: drawn


@pytest.mark.parametrize(("grid", "scale"), [("random_search", "log"), ("quick", "linear")])
def test_hidden_sizes_too_many_to_lay_out_fall_where_they_are_on_a_log_axis(sweeps, grid, scale):
    for name in ("overview", "hidden_size"):
        fig = figures.draw(name, sweeps[grid][0])
        assert {ax.get_xscale() for ax in fig.axes if ax.get_xlabel() or ax.has_data()} >= {scale}
        assert fig.get_figwidth() < 30  # the overview of a random search was 314 inches wide


def test_plot_removes_the_png_of_a_figure_it_no_longer_draws(sweeps, tmp_path):
    sweep, _ = sweeps["random_search"]
    stale = tmp_path / "heatmap.png"
    stale.write_bytes(b"an earlier plot's heatmap")
    report = figures.plot_sweep(sweep.folder / "results.csv", tmp_path, only=["heatmap"])
    assert [name for name, _ in report.skipped] == ["heatmap"]
    assert not stale.exists()
    stale.mkdir()  # a folder by that name: left, and the plot still goes on
    report = figures.plot_sweep(sweep.folder / "results.csv", tmp_path, only=["heatmap"])
    assert [name for name, _ in report.skipped] == ["heatmap"] and stale.is_dir()


def test_each_init_and_scale_gets_its_own_panel(sweeps):
    """Else a cell of the heatmap held four runs, the last one drawn over the others."""
    sweep, _ = sweeps["inits"]
    fig = figures.draw("heatmap", sweep)
    titles = sorted(ax.get_title().split("\n")[0] for ax in fig.axes if ax.get_title())
    assert titles == sorted(["tanh, he", "tanh, normal, scale 0.1", "tanh, normal, scale 1",
                             "tanh, xavier"] * 2)  # fmt: skip
