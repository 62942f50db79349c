"""One grid, the whole `sweep-nn run` command, this checkout against an earlier commit.

The two alternate, run after run, so that a machine whose speed drifts slows both alike;
the ratio reported is the median of the paired ratios. The earlier commit is checked out
in a temporary git worktree and run from it (``PYTHONPATH``), with this checkout's Python
environment. A first, untimed run of each fills its kernel cache.

    .venv/bin/python benchmarks/versus_commit.py 71e9cc7 many-small --config-for-then numpy64

With ``--pool``, each checkout trains on a worker pool of its own (``sweep-nn workers
start``, run from that checkout, in a pool folder of its own), started before the timed
runs; a run that did not train on its pool stops the benchmark.
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

from sweep_nn.sweep import pool

ROOT = Path(__file__).resolve().parent.parent


ON_POOL = "training on the worker pool"


def _env(checkout: Path, pool_folder: Path | None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return env if pool_folder is None else env | {pool.FOLDER_ENV: str(pool_folder)}


def timed_run(checkout: Path, config: Path, out: Path, pool_folder: Path | None = None) -> float:
    """Seconds of one ``sweep-nn run`` of ``config`` from ``checkout``, into a new ``out``
    (on the pool of ``pool_folder``, if given)."""
    argv = [sys.executable, "-m", "sweep_nn", "run", str(config), "--out", str(out), "-q"]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=checkout, env=_env(checkout, pool_folder), check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    seconds = time.perf_counter() - started
    if pool_folder is not None and ON_POOL not in done.stderr:
        sys.exit(f"{checkout}: the run did not train on its pool:\n{done.stderr}")
    return seconds


def workers(checkout: Path, pool_folder: Path, verb: str) -> None:
    """``sweep-nn workers start`` or ``stop``, from ``checkout``, for ``pool_folder``."""
    subprocess.run([sys.executable, "-m", "sweep_nn", "workers", verb], cwd=checkout,
                   env=_env(checkout, pool_folder), check=verb == "start",
                   capture_output=True)  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit", help="the earlier commit")
    parser.add_argument("grid", choices=["proxy", "full", "many-small"])
    parser.add_argument("--sweep", default="compiled32", help="this checkout's settings")
    parser.add_argument("--config-for-then", default="numpy64",
                        help="the commit's settings (numpy64 needs no engine key)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pool", action="store_true", help="each on a worker pool of its own")
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
            pools = {who: tmp / f"pool-{who}" if args.pool else None for who in checkouts}
            for who, folder in pools.items():
                if folder is not None:
                    workers(checkouts[who], folder, "start")
            on_pool = ", each on a worker pool of its own" if args.pool else ""
            print(f"# {args.grid} grid, sweep-nn run -j -1{on_pool}: this checkout "
                  f"({args.sweep}) against {args.commit} ({args.config_for_then})")  # fmt: skip
            print(f"command: {bench.command_line()}")
            print(f"machine: {bench.machine()}; load average {bench.load_average()}")
            for who in checkouts:  # fills each checkout's kernel cache
                timed_run(checkouts[who], configs[who], tmp / f"warm-{who}", pools[who])
            times: dict[str, list[float]] = {"now": [], "then": []}
            for i in range(args.repeats):
                for who in ("then", "now"):
                    seconds = timed_run(
                        checkouts[who], configs[who], tmp / f"{who}-{i}", pools[who]
                    )
                    times[who].append(seconds)
                    print(f"repeat {i + 1}: {who} {seconds:.2f} s", flush=True)
            ratios = [t / n for t, n in zip(times["then"], times["now"])]
            print(f"median: then {statistics.median(times['then']):.2f} s, "
                  f"now {statistics.median(times['now']):.2f} s; "
                  f"then / now: {statistics.median(ratios):.2f}x (median of paired ratios)")  # fmt: skip
        finally:
            for who, folder in pools.items():
                if folder is not None:
                    workers(checkouts[who], folder, "stop")
            subprocess.run(["git", "worktree", "remove", "--force", str(then)], cwd=ROOT,
                           check=False)  # fmt: skip


if __name__ == "__main__":
    main()
