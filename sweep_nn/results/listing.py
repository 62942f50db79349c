"""The sweeps under a folder, each summed up in a line: what ``sweep-nn ls`` lists.

A sweep is a folder holding ``results.csv``. Its line counts the rows of its current grid
(see :func:`.query.current_rows`) against the size of that grid, by status, and names the
best by dev score, and says whether a run is training into it. A folder whose results
cannot be read is listed with the reason, so one damaged sweep does not hide the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import ResultsError, SweepNNError
from . import query, store
from .schema import CONFIG_COPY, METRICS, PARAMS_DIR, RESULTS_FILE, STATUSES

SKIPPED_DIRS = {PARAMS_DIR, "plots"}  # what a sweep folder holds besides results: no sweeps


@dataclass
class SweepLine:
    """One sweep folder, summed up."""

    folder: Path
    name: str  # the config copy's name, else the folder's
    modified: float  # when results.csv last changed (seconds since the epoch)
    total: int | None = None  # configurations in the current grid (None: no config copy)
    counts: dict[str, int] = field(default_factory=dict)  # status -> rows of the current grid
    earlier: int = 0  # rows of earlier grids, kept but not counted
    task: str | None = None
    best: float | None = None  # the best configuration's dev score (mean over seeds, folds)
    best_id: str | None = None
    error: str | None = None  # why the results could not be read
    running: bool = False  # a live run holds the folder's lock

    @property
    def done(self) -> int:
        """Rows that a rerun would not train again (ok or diverged)."""
        return self.counts.get("ok", 0) + self.counts.get("diverged", 0)

    def as_dict(self) -> dict:
        """JSON-ready: plain values, the metric named, times in ISO 8601 with their offset."""
        metric = METRICS[self.task].dev if self.task else None
        when = datetime.fromtimestamp(self.modified).astimezone()
        return {
            "folder": str(self.folder),
            "name": self.name,
            "task": self.task,
            "done": self.done,
            "total": self.total,
            "status": {s: self.counts.get(s, 0) for s in STATUSES},
            "earlier_rows": self.earlier,
            "metric": metric,
            "best": self.best,
            "best_config_id": self.best_id,
            "modified": when.isoformat(timespec="seconds"),
            "error": self.error,
            "running": self.running,
        }


def sweep_folders(root: Path) -> list[Path]:
    """Folders at or below ``root`` that hold a results file, not following links."""
    if not root.is_dir():
        raise ResultsError(f"{root} is not a folder; run a sweep first or name the folder")
    found = []
    for here, dirs, files in os.walk(root):
        if RESULTS_FILE in files:
            found.append(Path(here))
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
    return found


def summarise(folder: Path) -> SweepLine:
    """The line of one sweep folder (its error set when its results cannot be read)."""
    from .. import config

    path = folder / RESULTS_FILE
    try:
        name = config.load(folder / CONFIG_COPY).name
    except SweepNNError:  # no usable copy: the folder's name stands in
        name = folder.resolve().name
    try:
        line = SweepLine(folder, name, path.stat().st_mtime)
    except OSError as exc:  # removed since it was found, say
        return SweepLine(folder, name, 0.0, error=f"cannot read {path}: {exc.strerror}")
    from ..config.search import planned_rows

    cfg = query.current_config(folder)
    try:
        line.total = None if cfg is None else planned_rows(cfg)
    except SweepNNError:  # a random search whose space cannot give its trials
        line.total = None
    try:
        df = store.read_results(path)
    except ResultsError as exc:
        line.error = str(exc)
        return line
    rows, line.earlier = query.current_rows(df, folder)
    line.counts = {s: int((rows["status"] == s).sum()) for s in STATUSES}
    line.task = query.task_of(rows)
    ok = rows[rows["status"] == "ok"]
    if line.task and not ok.empty:
        dev = METRICS[line.task].dev
        best = query.best_configuration(ok[ok[dev].notna()], line.task)  # as run names it
        if best is not None:
            line.best, line.best_id = float(best[dev]), str(best["config_id"])
    return line


def list_sweeps(root: Path, in_use: Callable[[Path], bool] | None = None) -> list[SweepLine]:
    """Every sweep at or below ``root``, the most recently changed first.

    ``in_use(folder)`` tells whether a run holds a folder (the output folder's lock, which
    this room does not know: see :func:`sweep_nn.sweep.folder.in_use`).
    """
    lines = [summarise(folder) for folder in sweep_folders(root)]
    for line in lines:
        line.running = bool(in_use and in_use(line.folder))
    return sorted(lines, key=lambda line: (-line.modified, str(line.folder)))
