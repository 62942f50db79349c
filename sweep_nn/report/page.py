"""``report.html``: one self-contained page about a finished sweep.

Everything the page shows travels inside the file: the CSS and JavaScript inline, the
figures as base64 PNG data URIs, the data as one JSON blob in a
``<script type="application/json">`` tag (with ``<``, ``>``, ``&``, U+2028 and U+2029
escaped, so no string from the results can end the tag). A Content-Security-Policy
forbids the page any network request, so it opens offline and the same anywhere.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import math
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

# --- what the report uses from the rest of sweep-nn: repoint these when modules move --------
from ..analysis import Criteria, filter_results
from ..errors import ParamsError, ResultsError, StorageError
from ..plots import FIGURES, METRICS, STYLE, NotDrawn, load_sweep
from ..store import RESULTS_FILE, atomic_write, load_params, read_results
from ..sweep import BASELINE_FILE, CONFIG_COPY
from .importance import importance

# ---------------------------------------------------------------------------------------------

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

# which table column and bound each filter criterion sets; "filter" keeps only ok rows
CRITERIA_RANGES = {
    "min_acc": ("train_acc", "min"),
    "min_dev_acc": ("dev_acc", "min"),
    "min_r2": ("train_r2", "min"),
    "min_dev_r2": ("dev_r2", "min"),
    "max_gap": ("abs_gap", "max"),
    "max_time": ("fit_seconds", "max"),
}
CRITERIA_TEXT = {
    "min_acc": "train accuracy ≥ {}",
    "min_dev_acc": "dev accuracy ≥ {}",
    "min_r2": "train R² ≥ {}",
    "min_dev_r2": "dev R² ≥ {}",
    "max_gap": "|train − dev| ≤ {}",
    "max_time": "fit_seconds ≤ {}",
}
PARALLEL_AXES = ["hidden_size", "activation", "learning_rate", "iterations", "batch_size",
                 "seed", "dtype"]  # fmt: skip


def build_report(
    results_dir: Path,
    criteria: Criteria | None = None,
    out: Path | None = None,
    figures: bool = True,
) -> Path:
    """Write the sweep's self-contained HTML report and return its path.

    ``results_dir`` is the sweep's folder or its ``results.csv``; ``out`` the page to
    write (default ``report.html`` beside the results). ``criteria`` are those of
    ``sweep-nn filter``: the page's table opens filtered to exactly the rows it keeps.
    ``figures=False`` leaves out the figures of ``sweep-nn plot`` (the slow part).
    """
    results_dir = Path(results_dir)
    results_path = results_dir / RESULTS_FILE if results_dir.is_dir() else results_dir
    criteria = criteria or Criteria()
    folder = results_path.parent
    out = folder / REPORT_FILE if out is None else Path(out)
    if out.is_dir():
        out = out / REPORT_FILE
    data = collect(results_path, criteria, out, figures)
    page = render(data)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {out.parent}: {exc.strerror}") from None
    atomic_write(out, page.encode("utf-8"))
    return out


# --- gathering ------------------------------------------------------------------------------


def collect(results_path: Path, criteria: Criteria, out: Path, figures: bool = True) -> dict:
    """Everything the page shows, as plain JSON-ready data (figures as data URIs)."""
    df = read_results(results_path)
    folder = results_path.parent
    ok = df[df["status"] == "ok"]
    task = "classification" if ok["train_acc"].notna().any() or ok.empty else "regression"
    if ok.empty and df["train_r2"].notna().any():
        task = "regression"
    metric = METRICS[task]
    config = _read_yaml(folder / CONFIG_COPY)
    baseline = _read_json(folder / BASELINE_FILE)

    table = df.copy()
    table["abs_gap"] = table["gap"].abs()
    link_base = out.resolve().parent
    hrefs = []
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

    kept = filter_results(df, criteria, sort=metric.dev, descending=True)
    ranges = {}
    for name, (column, bound) in CRITERIA_RANGES.items():
        value = getattr(criteria, name)
        if value is not None:
            ranges.setdefault(column, {})[bound] = value
    filtered = any(v is not None for v in dataclasses.astuple(criteria))

    best = None
    if not ok.empty and ok[metric.dev].notna().any():
        ranked = ok.sort_values([metric.dev, "fit_seconds"], ascending=[False, True], kind="stable")
        best = {k: _plain(v) for k, v in ranked.iloc[0].items()}

    imp, imp_error = None, None
    try:
        imp = importance(ok, score=metric.dev)
    except ValueError as exc:
        imp_error = str(exc)

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
        "best": best,
        "criteria": {k: v for k, v in dataclasses.asdict(criteria).items() if v is not None},
        "filtered": filtered,
        "kept": [str(c) for c in kept["config_id"]],
        "initial": {"ranges": ranges, "status": "ok" if filtered else ""},
        "columns": columns,
        "rows": rows,
        "curves": _curves(folder, ok),
        "parallel": _parallel_axes(ok, metric),
        "importance": _importance_view(imp, imp_error),
        "figures": (
            _figures(results_path, criteria)
            if figures
            else {"drawn": [], "skipped": [["all", "left out (--no-figures)"]]}
        ),
    }


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
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
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
    axes = []
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


def _importance_view(imp, error: str | None) -> dict:
    if imp is None:
        return {"error": error}
    view = imp.to_dict()
    view["ranked"] = [[name, share] for name, share in imp.ranked()]
    return view


def _figures(results_path: Path, criteria: Criteria) -> dict:
    """The figures of ``sweep-nn plot`` as PNG data URIs; those not drawn, with the reason."""
    import matplotlib

    drawn, skipped = [], []
    try:
        sweep = load_sweep(results_path, criteria)
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
            drawn.append({"name": name, "title": (draw.__doc__ or name).strip().splitlines()[0],
                          "src": uri})  # fmt: skip
    return {"drawn": drawn, "skipped": skipped}


# --- rendering ------------------------------------------------------------------------------


def script_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` tag: no string can close the tag.

    ``<``, ``>`` and ``&`` are written as \\u escapes (so ``</script>`` and ``<!--`` cannot
    appear), and so are U+2028 / U+2029; ``JSON.parse`` gives back the same strings.
    """
    text = json.dumps(
        value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default
    )
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(ch, esc)
    return text


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return _plain(v.item())
    raise TypeError(f"cannot put a {type(v).__name__} in the report's data")


def _asset(name: str) -> str:
    text = resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise AssertionError(f"asset {name} would close its own tag")
    return text


CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)


def render(data: dict) -> str:
    """The page's HTML for the data of :func:`collect`."""
    e = html.escape
    figures = data["figures"]
    blob = {k: v for k, v in data.items() if k != "figures"}
    fig_html = "".join(
        f'<figure id="fig-{e(f["name"])}"><img src="{f["src"]}" alt="{e(f["title"])}">'
        f"<figcaption><b>{e(f['name'])}</b>: {e(f['title'])}</figcaption></figure>"
        for f in figures["drawn"]
    )
    if figures["skipped"]:
        fig_html += "<p class='note'>Not drawn: " + "; ".join(
            f"{e(n)} ({e(why)})" for n, why in figures["skipped"]
        ) + "</p>"  # fmt: skip
    return TEMPLATE.format(
        title=e(f"sweep-nn report: {data['name']}"),
        csp=CSP,
        css=_asset("report.css"),
        js=_asset("report.js"),
        data=script_json(blob),
        summary=_summary_html(data),
        figures=fig_html or "<p class='note'>No figures.</p>",
        name=e(str(data["name"])),
        source=e(data["results_path"]),
    )


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return str(v)


def _dl(items: dict | None) -> str:
    if not items:
        return "<p class='note'>not recorded</p>"
    e = html.escape
    return (
        "<dl>"
        + "".join(f"<dt>{e(str(k))}</dt><dd>{e(_fmt(v))}</dd>" for k, v in items.items())
        + "</dl>"
    )


def _summary_html(data: dict) -> str:
    e = html.escape
    m = data["metric"]
    unit = m["unit"]
    config = data["config"] or {}
    training = {"task": config.get("task"), **(config.get("train") or {})} if config else None
    cards = [
        ("Data", _dl(config.get("data"))),
        ("Grid", _dl(config.get("grid"))),
        ("Training", _dl(training)),
    ]
    counts = data["status_counts"]
    status = "".join(
        f"<span class='pill {s}'>{n} {s}</span>" for s, n in counts.items() if n or s == "ok"
    )
    cards.append(("Status", f"<p>{data['n_rows']} rows</p><p>{status}</p>"))
    b = data["baseline"]
    if b:
        if "dev_acc" in b:
            text = f"train {b['train_acc']:.2f}%, dev {b['dev_acc']:.2f}%"
        else:
            nan = float("nan")
            text = f"train R² {b.get('train_r2', nan):.3f}, dev R² {b.get('dev_r2', nan):.3f}"
        cards.append(("Baseline", f"<p>{e(str(b.get('model', '')))}</p><p>{e(text)}</p>"))
    else:
        cards.append(("Baseline", "<p class='note'>no baseline.json</p>"))
    best = data["best"]
    if best:
        dev, train = best.get(m["dev"]), best.get(m["train"])
        spec = ".2f" if unit else ".4f"
        body = (
            f"<p class='mono' id='best-id'>{e(str(best['config_id']))}</p>"
            f"<p>dev {format(dev, spec)}{unit}, train {format(train, spec)}{unit}, "
            f"{best['fit_seconds']:.3f} s</p>"
        )
        cards.append((f"Best by dev {m['name']}", body))
    crit = data["criteria"]
    if crit:
        conds = ", ".join(CRITERIA_TEXT[k].format(f"{v:g}") for k, v in crit.items())
        kept = data["kept"]
        more = f", … ({len(kept) - 8} more)" if len(kept) > 8 else ""
        shown = ", ".join(e(c) for c in kept[:8]) + more
        flags = " ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in crit.items())
        body = (
            f"<p><code>sweep-nn filter {e(flags)}</code> ({e(conds)}, status ok) keeps "
            f"<b id='kept-count'>{len(kept)}</b> of {data['n_rows']} rows</p>"
            f"<p class='mono small'>{shown or 'none'}</p>"
            "<p class='note'>The table below opens with these conditions set.</p>"
        )
        cards.append(("Filter", body))
    else:
        body = (
            "<p class='note'>no criteria given (e.g. "
            "<code>sweep-nn report --min-acc 95 --max-gap 1</code>)</p>"
        )
        cards.append(("Filter", body))
    wide = {"Filter"}
    return "".join(
        f"<div class='card{' wide' if t in wide else ''}'><h3>{e(t)}</h3>{body}</div>"
        for t, body in cards
    )


TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<header>
<h1>sweep-nn report: <span id="sweep-name">{name}</span></h1>
<p class="note">{source}</p>
<nav><a href="#summary">Summary</a><a href="#results">Results</a><a href="#curves">Learning curves</a>
<a href="#parallel">Parallel coordinates</a><a href="#importance">Importance</a><a href="#figures">Figures</a></nav>
</header>
<main>
<section id="summary"><h2>Summary</h2><div class="cards">{summary}</div></section>
<section id="results">
<h2>Results</h2>
<div class="controls">
<input id="text-filter" type="search" placeholder="text filter (any column)" aria-label="text filter">
<label>status <select id="status-filter"><option value="">all</option><option value="ok">ok</option>
<option value="diverged">diverged</option><option value="failed">failed</option></select></label>
<details id="column-picker"><summary>columns</summary><div id="column-toggles"></div></details>
<button id="reset-filters" type="button">reset filters</button>
<span id="row-count" class="note"></span>
</div>
<p class="note">Click a header to sort; min / max under a numeric column keep rows in that range
(rows with no value there are left out). Click a row to draw its learning curve.</p>
<div class="table-wrap"><table id="results-table"><thead></thead><tbody></tbody></table></div>
</section>
<section id="curves">
<h2>Learning curves</h2>
<p class="note">Training loss recorded in the parameters files of the rows picked in the table
(click a row; click again to remove it).</p>
<div id="curve-chart"></div><ul id="curve-legend"></ul>
</section>
<section id="parallel">
<h2>Parallel coordinates</h2>
<p class="note">One line per ok row, coloured by dev score. Drag along an axis to select a
range (the table follows); click an axis to clear its selection.
<button id="clear-brushes" type="button">clear selections</button></p>
<div id="parallel-chart"></div>
</section>
<section id="importance">
<h2>Hyperparameter importance</h2>
<div id="importance-view"></div>
</section>
<section id="figures"><h2>Figures</h2><div class="figures">{figures}</div></section>
</main>
<script id="report-data" type="application/json">{data}</script>
<script>
{js}
</script>
</body>
</html>
"""
