"""``report.html``: one self-contained page about a finished sweep.

Everything the page shows travels inside the file: the CSS and JavaScript inline, the
figures as base64 PNG data URIs, the data as one JSON blob in a
``<script type="application/json">`` tag (with ``<``, ``>``, ``&``, U+2028 and U+2029
escaped, so no string from the results can end the tag). A Content-Security-Policy
forbids the page any network request, so it opens offline and the same anywhere.
"""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

# --- what the report uses from the rest of sweep-nn: repoint these when modules move --------
from ..config.search import DEFAULT_ETA
from ..nn.plain import INITS
from ..results.query import CRITERIA, Criteria, seconds_text
from ..results.schema import RESULTS_FILE
from ..results.store import atomic_write, create_folder
from .collect import REPORT_FILE, _plain, collect


def build_report(
    results_dir: Path,
    criteria: Criteria | None = None,
    out: Path | None = None,
    figures: bool = True,
    all_rows: bool = False,
) -> Path:
    """Write the sweep's self-contained HTML report and return its path.

    ``results_dir`` is the sweep's folder or its ``results.csv``; ``out`` the page to
    write (default ``report.html`` beside the results). ``criteria`` are those of
    ``sweep-nn filter``: the page's table opens filtered to exactly the rows it keeps.
    ``figures=False`` leaves out the figures of ``sweep-nn plot`` (the slow part). The
    page shows the rows of the folder's current grid, as ``filter`` does (every row with
    ``all_rows``), and says how many it leaves out.
    """
    results_dir = Path(results_dir)
    results_path = results_dir / RESULTS_FILE if results_dir.is_dir() else results_dir
    criteria = criteria or Criteria()
    folder = results_path.parent
    out = folder / REPORT_FILE if out is None else Path(out)
    if out.is_dir():
        out = out / REPORT_FILE
    data = collect(results_path, criteria, out, figures, all_rows)
    page = render(data)
    create_folder(out.parent)
    atomic_write(out, page.encode("utf-8"))
    return out


# --- rendering ------------------------------------------------------------------------------


def script_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` tag: no string can close the tag.

    ``<``, ``>`` and ``&`` are written as \\u escapes (so ``</script>`` and ``<!--`` cannot
    appear), and so are U+2028 / U+2029; ``JSON.parse`` gives back the same strings.
    """
    text = json.dumps(
        _finite(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"),
        default=_json_default,
    )  # fmt: skip
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(ch, esc)
    return text


def _finite(value: Any) -> Any:
    """``value`` with each float that is not finite as None: JSON has no inf or NaN, and a
    run whose scores overflow (an R² of -3e289 squared, say) can make them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return _finite(_plain(v.item()))
    raise TypeError(f"cannot put a {type(v).__name__} in the report's data")


def _asset(name: str) -> str:
    text = (resources.files(__package__) / "assets" / name).read_text(encoding="utf-8")
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


# a random search's distribution ({name: [low, high]} in the config), as the page words it
DISTRIBUTION_TEXT = {
    "uniform": "uniform from {} to {}",
    "log_uniform": "log-uniform from {} to {}",
    "int_uniform": "whole numbers, uniform from {} to {}",
    "int_log_uniform": "whole numbers, log-uniform from {} to {}",
}


def _fmt(v: Any) -> str:
    """A config value as a person reads it: yes / no, lists joined, distributions in words."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        given = {k: x for k, x in v.items() if x is not None}
        if len(given) == 1:
            name, value = next(iter(given.items()))
            if name in DISTRIBUTION_TEXT and isinstance(value, list) and len(value) == 2:
                return DISTRIBUTION_TEXT[name].format(*map(_fmt, value))
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in given.items())
    return str(v)


def _dl(items: dict | None) -> str:
    """The settings of a card, those left unset (None) out."""
    items = {k: v for k, v in (items or {}).items() if v is not None}
    if not items:
        return "<p class='note'>not recorded</p>"
    e = html.escape
    return (
        "<dl>"
        + "".join(f"<dt>{e(str(k))}</dt><dd>{e(_fmt(v))}</dd>" for k, v in items.items())
        + "</dl>"
    )


def _status_html(data: dict) -> str:
    """The Status card: rows, a pill per status, and the rows of earlier grids left out."""
    counts = data["status_counts"]
    status = "".join(
        f"<span class='pill {s}'>{n} {s}</span>" for s, n in counts.items() if n or s == "ok"
    )
    hidden = data.get("hidden_rows")
    earlier = (
        f"<p class='note' id='hidden-rows'>{hidden} row{'s' if hidden != 1 else ''} of earlier "
        "grids in this folder not shown (<code>--all-rows</code> shows them)</p>"
        if hidden
        else ""
    )
    return f"<p>{data['n_rows']} rows</p><p>{status}</p>{earlier}"


def _training(config: dict) -> dict | None:
    """The Training card's settings: the task, and ``train:`` without a scale beside an
    init that uses none (xavier, he)."""
    if not config:
        return None
    training = {"task": config.get("task"), **(config.get("train") or {})}
    if not getattr(INITS.get(str(training.get("init"))), "scaled", True):
        training.pop("init_scale", None)
    return training


def _search(search: dict) -> dict:
    """The Search card's settings: halving only where it is not the method itself, and
    the eta halving keeps when none was given."""
    shown = dict(search)
    if shown.get("method") == "halving":
        shown.pop("halving", None)
    if (shown.get("method") == "halving" or shown.get("halving")) and shown.get("eta") is None:
        shown["eta"] = f"{DEFAULT_ETA} (the default)"
    return shown


def _summary_html(data: dict) -> str:
    e = html.escape
    m = data["metric"]
    unit = m["unit"]
    config = data["config"] or {}
    cards = [
        ("Data", _dl(config.get("data"))),
        ("Grid", _dl(config.get("grid"))),
        ("Training", _dl(_training(config))),
    ]
    search = config.get("search")
    if isinstance(search, dict) and (search.get("method") != "grid" or search.get("halving")):
        cards.append(("Search", _dl(_search(search))))
    cards.append(("Status", _status_html(data)))
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
        over = f"<p class='note'>mean of {e(best['averaged'])}</p>" if best.get("averaged") else ""
        body = (
            f"<p class='mono' id='best-id'>{e(str(best['config_id']))}</p>{over}"
            f"<p>dev {format(dev, spec)}{unit}, train {format(train, spec)}{unit}, "
            f"{seconds_text(best['fit_seconds'])} s to train</p>"
        )
        cards.append((f"Best by dev {m['name']}", body))
    crit = data["criteria"]
    if crit:
        conds = ", ".join(CRITERIA[k].words.format(f"{v:g}") for k, v in crit.items())
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
