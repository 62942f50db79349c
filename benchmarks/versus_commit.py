"""One grid, the whole `sweep-nn run` command, this checkout against an earlier commit.

The two alternate, run after run, so that a machine whose speed drifts slows both alike;
the ratio reported is the median of the paired ratios. The earlier commit is checked out
in a temporary git worktree and run from it (``PYTHONPATH``), with this checkout's Python
environment. A first, untimed run of each fills its kernel cache.

    .venv/bin/python benchmarks/versus_commit.py 71e9cc7 many-small --config-for-then numpy64
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench
import yaml

ROOT = Path(__file__).resolve().parent.parent


def timed_run(checkout: Path, config: Path, out: Path) -> float:
    """Seconds of one ``sweep-nn run`` of ``config`` from ``checkout``, into a new ``out``."""
    argv = [sys.executable, "-m", "sweep_nn", "run", str(config), "--out", str(out), "-q"]
    started = time.perf_counter()
    subprocess.run(argv, cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)},
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit", help="the earlier commit")
    parser.add_argument("grid", choices=["proxy", "full", "many-small"])
    parser.add_argument("--sweep", default="compiled32", help="this checkout's settings")
    parser.add_argument("--config-for-then", default="numpy64",
                        help="the commit's settings (numpy64 needs no engine key)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    grid = bench.grid_of(args.grid)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        then = tmp / "then"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(then), args.commit],
                       cwd=ROOT, check=True)  # fmt: skip
        try:
            configs = {}
            for who, key in (("now", args.sweep), ("then", args.config_for_then)):
                doc = bench.sweep_config(
                    grid, f"{args.grid}-{who}", *bench.sweep_settings(key)[1:3]
                )
                if key == "numpy64":
                    doc["train"] = {k: v for k, v in doc["train"].items() if k != "engine"}
                configs[who] = tmp / f"{who}.yaml"
                configs[who].write_text(yaml.safe_dump(doc))
            checkouts = {"now": ROOT, "then": then}
            print(f"# {args.grid} grid, sweep-nn run -j -1: this checkout ({args.sweep}) "
                  f"against {args.commit} ({args.config_for_then})")  # fmt: skip
            print(f"command: {bench.command_line()}")
            print(f"machine: {bench.machine()}; load average {bench.load_average()}")
            for who in checkouts:  # fills each checkout's kernel cache
                timed_run(checkouts[who], configs[who], tmp / f"warm-{who}")
            times: dict[str, list[float]] = {"now": [], "then": []}
            for i in range(args.repeats):
                for who in ("then", "now"):
                    seconds = timed_run(checkouts[who], configs[who], tmp / f"{who}-{i}")
                    times[who].append(seconds)
                    print(f"repeat {i + 1}: {who} {seconds:.2f} s", flush=True)
            ratios = [t / n for t, n in zip(times["then"], times["now"])]
            print(f"median: then {statistics.median(times['then']):.2f} s, "
                  f"now {statistics.median(times['now']):.2f} s; "
                  f"then / now: {statistics.median(ratios):.2f}x (median of paired ratios)")  # fmt: skip
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(then)], cwd=ROOT,
                           check=False)  # fmt: skip


if __name__ == "__main__":
    main()
