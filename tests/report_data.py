"""A synthetic results folder for the report's tests: a full grid, no training needed.

dev_acc depends on hidden_size and learning_rate only (activation changes nothing), the
gaps are both signs so ``--max-gap`` means |gap|, and a diverged and a failed row sit
outside the ok grid. ``hostile`` puts strings that try to end the page's script tag into
a config id and an error message.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from sweep_nn.results import store
from sweep_nn.results.schema import RESULTS_FILE

HOSTILE_ID = "h4-</script><script>window.__pwned=1</script><!--"
HOSTILE_ERROR = 'ValueError: </SCRIPT><img src=x onerror="window.__pwned=2"> & done'
HIDDEN = [1, 2, 4]
ACTS = ["tanh", "relu"]
RATES = [0.1, 1.0]
GAPS = [-0.5, 0.8, -2.0, 1.5, 0.3, -1.2, 1.2, 3.0, -0.9]


def write_results(folder: Path, hostile: bool = False) -> Path:
    """Write results.csv (and baseline.json) into ``folder``; return the CSV's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RESULTS_FILE
    rows = []
    grid = itertools.product(HIDDEN, ACTS, RATES)
    for k, (h, act, lr) in enumerate(grid):
        dev = 94.0 + 2 * {1: 0, 2: 1, 4: 2}[h] + (2.0 if lr == 1.0 else 0.0)
        gap = GAPS[k % len(GAPS)]
        cid = f"h{h}-{act}-lr{lr:g}-it100"
        if hostile and k == 9:
            cid = HOSTILE_ID
        rows.append(
            _row(
                cid,
                h,
                act,
                lr,
                train_acc=dev + gap,
                dev_acc=dev,
                gap=gap,
                fit_seconds=0.01 * h / lr + 0.001 * k,
            )
        )
    rows.append(_row("h1-tanh-lr5-it100", 1, "tanh", 5.0, status="diverged", diverged_at=7))
    error = HOSTILE_ERROR if hostile else "ValueError: boom"
    rows.append(_row("h2-relu-lr5-it100", 2, "relu", 5.0, status="failed", error=error))
    with store.ResultsWriter(path) as writer:
        for row in rows[::-1]:  # not in any sorted order
            writer.append(row)
    baseline = {"model": "logistic regression", "train_acc": 85.5, "dev_acc": 87.5}
    (folder / "baseline.json").write_text(json.dumps(baseline))
    return path


def _row(cid, h, act, lr, status="ok", **metrics) -> dict:
    row = {
        "config_id": cid, "hidden_size": h, "activation": act, "learning_rate": lr,
        "iterations": 100, "batch_size": "full", "seed": 0, "status": status,
        "dtype": "float64", "key": f"k-{cid}", "stack_size": 1,
        "train_loss": 0.3, "dev_loss": 0.31,
    }  # fmt: skip
    row.update(metrics)
    if status == "ok":
        row["params_path"] = f"params/{cid}.pkl"
    return row
