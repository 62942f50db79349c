"""What the report shows, gathered from a sweep's folder as plain JSON-ready data."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

# --- what the report uses from the rest of sweep-nn: repoint these when modules move --------
from ..config import MAX_CONFIG_BYTES, load_yaml
from ..errors import ConfigError, ParamsError, ResultsError
from ..plots.figures import FIGURES
from ..plots.style import STYLE
from ..plots.sweep import NotDrawn, load_sweep
from ..results.importance import importance
from ..results.params import load_params
from ..results.query import (
    CRITERIA,
    Criteria,
    averaged_over,
    best_configuration,
    filter_results,
    run_id,
    select,
)
from ..results.schema import BASELINE_FILE, CONFIG_COPY, METRICS
from ..safe_read import read_regular_file

REPORT_FILE = "report.html"
INTERACTIVE = {"importance", "parallel"}  # figures the page draws itself, interactively
FIGURE_DPI = 100  # lower than the PNGs of plot (150): keeps the page small
LOSS_DIGITS = 5  # significant digits of the embedded loss curves

# table columns: (key, label, kind, format); kind "num" gets min / max filters
TABLE_COLUMNS = [
    ("config_id", "config_id", "text", "text"),
    ("hidden_size", "hidden", "num", "int"),
    ("activation", "activation", "text", "text"),
    ("learning_rate", "lr", "num", "raw"),
    ("iterations", "iterations", "num", "int"),
    ("batch_size", "batch", "text", "text"),
    ("seed", "seed", "num", "int"),
    ("init", "init", "text", "text"),
    ("init_scale", "init_scale", "num", "raw"),
    ("fold", "fold", "num", "int"),
    ("train_acc", "train_acc", "num", "f2"),
    ("dev_acc", "dev_acc", "num", "f2"),
    ("train_r2", "train_r2", "num", "f4"),
    ("dev_r2", "dev_r2", "num", "f4"),
    ("gap", "gap", "num", "f3"),
    ("abs_gap", "|gap|", "num", "f3"),
    ("train_loss", "train_loss", "num", "f4"),
    ("dev_loss", "dev_loss", "num", "f4"),
    ("train_rmse", "train_rmse", "num", "g4"),
    ("dev_rmse", "dev_rmse", "num", "g4"),
    ("fit_seconds", "fit_seconds", "num", "f3"),
    ("status", "status", "text", "text"),
    ("diverged_at", "diverged_at", "num", "int"),
    ("error", "error", "text", "text"),
    ("dtype", "dtype", "text", "text"),
    ("stack_size", "stack", "num", "int"),
    ("key", "key", "text", "text"),
    ("params_path", "params", "text", "link"),
]
HIDDEN_BY_DEFAULT = {"key", "dtype", "stack_size"}

PARALLEL_AXES = ["hidden_size", "activation", "learning_rate", "iterations", "batch_size",
                 "init", "init_scale", "seed", "dtype"]  # fmt: skip


# --- gathering ------------------------------------------------------------------------------


def collect(
    results_path: Path, criteria: Criteria, out: Path, figures: bool = True, all_rows: bool = False
) -> dict:
    """Everything the page shows, as plain JSON-ready data (figures as data URIs).

    The rows of the folder's current grid, as ``filter`` shows them (every row with
    ``all_rows``); ``hidden_rows`` counts those left out.
    """
    df, hidden, _ = select(results_path, criteria, all_rows)
    folder = results_path.parent
    ok = df[df["status"] == "ok"]
    task = "classification" if ok["train_acc"].notna().any() or ok.empty else "regression"
    if ok.empty and df["train_r2"].notna().any():
        task = "regression"
    metric = METRICS[task]
    config = _read_yaml(folder / CONFIG_COPY)
    baseline = _read_json(folder / BASELINE_FILE)

    columns, rows = _table(df, folder, out)

    kept = filter_results(df, criteria, sort=metric.dev, descending=True)
    ranges: dict[str, dict[str, float]] = {}  # table column -> {"min" or "max": the bound}
    for name, value in criteria.bounds().items():
        rule = CRITERIA[name]
        column = f"abs_{rule.column}" if rule.absolute else rule.column  # the table's |gap|
        ranges.setdefault(column, {})[rule.bound] = value
    filtered = any(v is not None for v in dataclasses.astuple(criteria))

    best = _best(ok, task)


    return {
        "name": (config or {}).get("name") or folder.resolve().name,
        "results_path": str(results_path),
        "task": task,
        "metric": {
            "name": metric.name,
            "train": metric.train,
            "dev": metric.dev,
            "unit": metric.unit,
            "floor": metric.floor,
        },
        "config": config,
        "baseline": baseline,
        "status_counts": {s: int((df["status"] == s).sum()) for s in ("ok", "diverged", "failed")},
        "n_rows": len(df),
        "hidden_rows": hidden,
        "best": best,
        "criteria": {k: v for k, v in dataclasses.asdict(criteria).items() if v is not None},
        "filtered": filtered,
        "kept": [str(c) for c in kept["config_id"]],
        "initial": {"ranges": ranges, "status": "ok" if filtered else ""},
        "columns": columns,
        "rows": rows,
        "curves": _curves(folder, ok),
        "parallel": _parallel_axes(ok, metric),
        "importance": _importance_of(ok, metric),
        "figures": (
            _figures(results_path, criteria, all_rows)
            if figures
            else {"drawn": [], "skipped": [["all", "left out (--no-figures)"]]}
        ),
    }


def _best(ok, task: str) -> dict | None:
    """The configuration ``run`` names best (the mean over its seeds and folds), with what
    its means are over and the id of one of its rows, whose curve the page draws first."""
    if ok.empty or ok[METRICS[task].dev].isna().all():
        return None
    top = best_configuration(ok, task)
    if top is None:
        return None
    best = {k: _plain(v) for k, v in top.items()}
    best["averaged"] = averaged_over(int(top.get("n_seeds", 1)), top.get("n_folds"))
    members = ok[[run_id(str(c)) == top["config_id"] for c in ok["config_id"]]]
    best["curve_id"] = str(members["config_id"].iloc[0]) if len(members) else None
    return best


def _table(df, folder: Path, out: Path) -> tuple[list[dict], list[dict]]:
    """The table's columns (shown or hidden) and its rows, each linking to its params file."""
    import pandas as pd

    table = df.copy()
    table["abs_gap"] = pd.to_numeric(table["gap"], errors="coerce").abs()  # None: no ok row
    link_base = out.resolve().parent
    hrefs: list[str | None] = []
    for p in table["params_path"]:
        if isinstance(p, str) and p:
            hrefs.append(Path(os.path.relpath((folder / p).resolve(), link_base)).as_posix())
        else:
            hrefs.append(None)
    table["href"] = hrefs
    used = [c for c in TABLE_COLUMNS if c[0] in table.columns]
    columns = [
        {"key": k, "label": label, "kind": kind, "fmt": fmt,
         "hidden": k in HIDDEN_BY_DEFAULT or table[k].isna().all()}
        for k, label, kind, fmt in used
    ]  # fmt: skip
    keys = [c["key"] for c in columns] + ["href"]
    rows = [
        {k: _plain(v) for k, v in zip(keys, rec)} for rec in table[keys].itertuples(index=False)
    ]
    return columns, rows


def _plain(v: Any) -> Any:
    """A JSON-ready scalar: NumPy numbers as Python ones, NaN and None as None."""
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (int, str)):
        return v
    return str(v)


def _read_yaml(path: Path) -> dict | None:
    try:  # bounded, as every YAML read is
        text = read_regular_file(path, MAX_CONFIG_BYTES, "config copy").decode("utf-8")
        value = load_yaml(text, str(path))
    except (OSError, ConfigError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _curves(folder: Path, ok) -> dict:
    """config_id -> [iterations, loss] from each ok row's parameters file, when it has one."""
    out = {}
    for cid, path in zip(ok["config_id"], ok["params_path"]):
        if not isinstance(path, str) or not path:
            continue
        try:
            curve = load_params(folder / path).get("loss_curve")
        except (ParamsError, OSError):
            continue
        if not isinstance(curve, dict) or not curve.get("iterations"):
            continue
        its = [int(i) for i in curve["iterations"]]
        loss = [_plain(float(f"{float(x):.{LOSS_DIGITS}g}")) for x in curve["loss"]]
        out[str(cid)] = [its, loss]
    return out


def _parallel_axes(ok, metric) -> list[dict]:
    """The axes of the parallel coordinates: varying hyperparameters, then the scores."""
    axes: list[dict[str, Any]] = []
    for key in PARALLEL_AXES:
        values = ok[key].dropna()
        distinct = list(dict.fromkeys(values.tolist()))
        if len(distinct) < 2:
            continue
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in distinct)
        ordered = sorted(distinct) if numeric else _grid_order(distinct)
        axes.append({"key": key, "kind": "ord", "values": [_plain(v) for v in ordered]})
    for key in (metric.train, metric.dev, "abs_gap", "fit_seconds"):
        col = ok["gap"].abs() if key == "abs_gap" else ok[key]
        col = col.dropna()
        if col.empty:
            continue
        lo, hi = float(col.min()), float(col.max())
        if key in (metric.train, metric.dev):
            lo = max(lo, metric.floor)
        axes.append({"key": key, "kind": "lin", "min": lo, "max": hi})
    return axes


def _grid_order(values: list) -> list:
    # numbers first in order, then text ("full" batch after the sizes)
    return sorted(
        values, key=lambda v: (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))
    )


def _importance_of(ok, metric) -> dict:
    try:
        return _importance_view(importance(ok, score=metric.dev, floor=metric.floor), None)
    except ValueError as exc:
        return _importance_view(None, str(exc))


def _importance_view(imp, error: str | None) -> dict:
    if imp is None:
        return {"error": error}
    view = imp.to_dict()
    view["ranked"] = [[name, share] for name, share in imp.ranked()]
    return view


def _figures(results_path: Path, criteria: Criteria, all_rows: bool) -> dict:
    """The figures of ``sweep-nn plot`` as PNG data URIs; those not drawn, with the reason."""
    import matplotlib

    drawn, skipped = [], []
    try:
        sweep = load_sweep(results_path, criteria, all_rows)
    except ResultsError as exc:
        return {"drawn": [], "skipped": [["all", str(exc)]]}
    with matplotlib.rc_context(STYLE):
        for name, draw in FIGURES.items():
            if name in INTERACTIVE:
                continue
            try:
                fig = draw(sweep)
            except NotDrawn as exc:
                skipped.append([name, str(exc)])
                continue
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=FIGURE_DPI)
            uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
            caption = " ".join((draw.__doc__ or name).strip().split("\n\n")[0].split())
            drawn.append({"name": name, "title": caption, "src": uri})
    return {"drawn": drawn, "skipped": skipped}
