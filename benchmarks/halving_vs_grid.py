"""Successive halving against the full grid: the compute each uses, and the best each finds.

    .venv/bin/python benchmarks/halving_vs_grid.py configs/reference_study.yaml --dtype float32

The full grid's run also measures the progress estimate: the time left predicted at 10%,
25%, 50% and 75% of the work against the time that was actually left (as
``progress_accuracy.py`` does).

Runs the grid, then the same grid with ``search: {method: halving, eta: ETA}``, into
fresh folders side by side, and prints for each: iterations trained (summed over
training runs, each to the largest budget it reached), training seconds (summed
``fit_seconds`` of each run's last row), wall seconds of the whole sweep, rows, and the
best configuration by mean dev score. Rows of the halving search are also checked
against the full grid's (every metric equal).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sweep_nn.config import load, with_search
from sweep_nn.results import store
from sweep_nn.results.query import best_configuration
from sweep_nn.sweep.run import run_sweep

METRICS = ("train_acc", "dev_acc", "train_r2", "dev_r2", "train_loss", "dev_loss", "status")


def _measure(cfg, out: Path, n_jobs: int) -> dict:
    seen: list[tuple[float, float, float | None]] = []
    t0 = time.perf_counter()

    def on_progress(p) -> None:
        seen.append((time.perf_counter() - t0, p.fraction, p.seconds_left))

    summary = run_sweep(cfg, out, n_jobs=n_jobs, on_progress=on_progress)
    wall = time.perf_counter() - t0
    df = store.read_results(out / "results.csv")
    runs = df.groupby(["hidden_size", "activation", "learning_rate", "batch_size", "seed"])
    last = df.loc[runs["iterations"].idxmax()]
    return {
        "rows": len(df),
        "iterations": int(last["iterations"].sum()),
        "train_seconds": float(last["fit_seconds"].sum()),
        "wall": wall,
        "best": best_configuration(df, summary.task),
        "df": df,
        "progress": seen,
    }


def print_progress(seen: list[tuple[float, float, float | None]]) -> None:
    """The time left predicted at a share of the work against the time actually left."""
    from progress_accuracy import table

    print("Progress estimate of the full grid's run:")
    print()
    print(table(seen))
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--dtype", choices=["float64", "float32"], default=None)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("-j", "--n-jobs", type=int, default=-1)
    args = ap.parse_args()
    cfg = load(args.config)
    if args.dtype:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"dtype": args.dtype})})
    halving = with_search(cfg, method="halving", eta=args.eta)
    with tempfile.TemporaryDirectory() as tmp:
        full = _measure(cfg, Path(tmp) / "grid", args.n_jobs)
        halved = _measure(halving, Path(tmp) / "halving", args.n_jobs)
    merged = halved["df"].merge(full["df"], on="key", suffixes=("", "_grid"))
    same = all((merged[c].fillna(-1) == merged[f"{c}_grid"].fillna(-1)).all()
               for c in METRICS if c in merged)  # fmt: skip
    print(f"# {args.config} dtype={cfg.train.dtype} eta={args.eta} "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"halving rows identical to the grid's: {same} ({len(merged)} of {halved['rows']})")
    print()
    print("| search | rows | iterations trained | training s | wall s | best (mean dev) | dev acc |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for name, m in (("full grid", full), (f"halving, eta {args.eta}", halved)):
        best = m["best"]
        print(f"| {name} | {m['rows']} | {m['iterations']:,} | {m['train_seconds']:.1f} | "
              f"{m['wall']:.1f} | {best['config_id']} | {best['dev_acc']:.2f} |")  # fmt: skip
    print()
    print_progress(full["progress"])
    ratio = full["iterations"] / halved["iterations"]
    print(f"compute: halving trains {100 / ratio:.1f}% of the grid's iterations "
          f"({ratio:.1f}x fewer), {100 * halved['train_seconds'] / full['train_seconds']:.1f}% "
          "of its training seconds")


if __name__ == "__main__":
    main()
