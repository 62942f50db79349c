"""How right is the time left? Run a grid, note the estimate as the work goes, compare.

    .venv/bin/python benchmarks/progress_accuracy.py configs/reference_study.yaml --dtype float32

Every progress update is recorded (wall time, share of the work done, time left
estimated); when the sweep ends, the time that was actually left at each update is known.
The table gives, at the first update past 10%, 25% and 50% of the work, the prediction
against the truth. Runs into a fresh temporary folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sweep_nn.config import load
from sweep_nn.sweep.run import run_sweep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--dtype", choices=["float64", "float32"], default=None)
    ap.add_argument("-j", "--n-jobs", type=int, default=-1)
    args = ap.parse_args()
    cfg = load(args.config)
    if args.dtype:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"dtype": args.dtype})})
    seen: list[tuple[float, float, float | None]] = []
    start = time.perf_counter()

    def on_progress(p) -> None:
        seen.append((time.perf_counter() - start, p.fraction, p.seconds_left))

    with tempfile.TemporaryDirectory() as tmp:
        summary = run_sweep(cfg, Path(tmp) / "out", n_jobs=args.n_jobs, on_progress=on_progress)
    print(f"# {args.config} dtype={cfg.train.dtype} engine={cfg.train.engine} "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"rows: {summary.total}, wall {summary.wall_seconds:.0f} s, {len(seen)} updates")
    print()
    print(table(seen))


def table(seen: list[tuple[float, float, float | None]]) -> str:
    """A Markdown table: at the first update past each share of the work, the time left
    predicted and the time that was actually left (to the last update)."""
    end = max(t for t, _, _ in seen)
    lines = [
        "| work done | at (s) | time left predicted (s) | actually left (s) | error |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for mark in (0.10, 0.25, 0.50, 0.75):
        t, fraction, predicted = next(x for x in seen if x[1] >= mark)
        actual = end - t
        error = "" if predicted is None else f"{100 * (predicted - actual) / actual:+.0f}%"
        shown = "unknown" if predicted is None else f"{predicted:.0f}"
        lines.append(f"| {100 * fraction:.0f}% | {t:.0f} | {shown} | {actual:.0f} | {error} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
