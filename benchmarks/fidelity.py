"""How closely the compiled engine and float32 reproduce the NumPy engine's float64 results.

Runs the whole ``sweep-nn run`` command on one grid with the NumPy engine in float64 (the
study's arithmetic, the reference), then with the compiled engine in float32 and float64
and the NumPy engine in float32, and compares every row with the reference's row of the
same configuration (``config_id``): the median, mean and largest |difference| of dev and
train accuracy, in points, the share of rows whose dev and train accuracies are both
identical, and rows whose status differs (one diverged, the other did not).

The default grid is the reference study's to 10,000 iterations (315 rows), the same as

    sed 's/iterations: \\[100, 1000, 10000, 100000\\]/iterations: [100, 1000, 10000]/' \\
        configs/reference_study.yaml

gives; ``--config`` takes any other sweep file. With ``--cold``, each compiled sweep also
runs with an empty kernel cache, and its rows are compared with those of the run that
loaded the same kernels from the cache (kernels compiled in the process and kernels loaded
from the cache should compute the same numbers).

    .venv/bin/python benchmarks/fidelity.py
    .venv/bin/python benchmarks/fidelity.py --sweeps compiled32,compiled64 --cold
    .venv/bin/python benchmarks/fidelity.py --config my_grid.yaml --sweeps compiled32
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402 - after the path it is found on

TO_10K = ("iterations: [100, 1000, 10000, 100000]", "iterations: [100, 1000, 10000]")
REFERENCE = "numpy64"
COMPARED = ["compiled32", "compiled64", "numpy32"]


def reference_to_10k() -> dict:
    """The reference study's sweep file with its 100,000-iteration budget left out."""
    text = bench.REFERENCE_CONFIG.read_text()
    old, new = TO_10K
    if old not in text:
        raise SystemExit(f"{bench.REFERENCE_CONFIG} no longer holds {old!r}; pass --config")
    return yaml.safe_load(text.replace(old, new))


def by_config(rows: list[dict]) -> dict[str, dict]:
    return {r["config_id"]: r for r in rows}


def _stats(values: list[float]) -> str:
    if not values:
        return "| | | |"
    return f"{statistics.median(values):.2f} | {statistics.fmean(values):.3f} | {max(values):.2f}"


def compare(reference: dict[str, dict], other: dict[str, dict]) -> dict:
    """Differences of ``other``'s rows from ``reference``'s, configuration by configuration."""
    both_ok = [c for c in reference if c in other and
               reference[c]["status"] == other[c]["status"] == "ok"]  # fmt: skip
    status_differs = sorted(c for c in reference if c in other
                            and reference[c]["status"] != other[c]["status"])  # fmt: skip
    dev, train, identical, worst = [], [], 0, []
    for c in both_ok:
        r, o = reference[c], other[c]
        d_dev = abs(float(r["dev_acc"]) - float(o["dev_acc"]))
        d_train = abs(float(r["train_acc"]) - float(o["train_acc"]))
        dev.append(d_dev)
        train.append(d_train)
        identical += d_dev == 0 and d_train == 0
        worst.append((max(d_dev, d_train), c, d_dev, d_train))
    worst.sort(reverse=True)
    return {"rows": len(both_ok), "dev": dev, "train": train, "identical": identical,
            "status_differs": status_differs, "worst": worst,
            "missing": sorted(set(reference) ^ set(other))}  # fmt: skip


def cache_table(results: dict, cold: list[str]) -> None:
    """Rows of each compiled sweep whose kernels were compiled in the run (an empty cache)
    against those of the run that loaded them from the cache: are they the same numbers?"""
    print("\n## Empty against filled kernel cache: the same sweep, kernels compiled in the "
          "run or loaded from the cache\n")  # fmt: skip
    print("| sweep-nn run | rows | train_loss identical | dev and train accuracy identical "
          "| largest |diff| of accuracy |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: |")
    for key in cold:
        warm, fresh = results[key.removesuffix(bench.COLD)], results[key]
        ok = [c for c in warm if c in fresh and warm[c]["status"] == fresh[c]["status"] == "ok"]
        same_loss = sum(warm[c]["train_loss"] == fresh[c]["train_loss"] for c in ok)
        c = compare(warm, fresh)
        print(f"| {bench.SWEEPS[key.removesuffix(bench.COLD)][0]} | {len(ok)} | {same_loss} | "
              f"{c['identical']} | {max(c['dev'] + c['train'], default=0):.2f} |")  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="a sweep file (default: the reference "
                        "study to 10,000 iterations)")  # fmt: skip
    parser.add_argument(
        "--sweeps", default=",".join(COMPARED), help=f"compared with {REFERENCE}, from "
        f"{', '.join(k for k in bench.SWEEPS if k != REFERENCE)}",
    )  # fmt: skip
    parser.add_argument("--worst", type=int, default=10, help="rows listed with the largest |diff|")
    parser.add_argument(
        "--cold", action="store_true", help="also run each compiled sweep with an empty kernel "
        "cache, and compare its rows with the run that loaded its kernels",
    )  # fmt: skip
    args = parser.parse_args(argv)
    sweeps = [k.strip() for k in args.sweeps.split(",") if k.strip()]
    bad = [k for k in sweeps if k not in bench.SWEEPS or k == REFERENCE]
    if bad:
        parser.error(f"cannot compare {', '.join(bad)}")

    doc = yaml.safe_load(args.config.read_text()) if args.config else reference_to_10k()
    grid = bench.Grid(doc.get("name", "fidelity"), doc["grid"], doc.get("data", {}))
    n_rows = len(bench.configurations(grid.axes)) * len(grid.axes["iterations"])
    print(f"# Fidelity against sweep-nn's NumPy engine in float64: {grid.name}, {n_rows} rows")
    print(f"command: {bench.command_line()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; machine: {bench.machine()}")
    print(f"grid: {grid.axes}")
    print(f"load average at the start: {bench.load_average()}", flush=True)

    results = {}
    with tempfile.TemporaryDirectory(prefix="sweep-nn-fidelity-") as tmp_name:
        tmp = Path(tmp_name)
        env = bench.kernel_cache_env(tmp / "kernel-cache")
        bench.fill_kernel_cache(grid, sweeps, tmp, env)
        cold = [k + bench.COLD for k in sweeps if args.cold and bench.SWEEPS[k][2] == "compiled"]
        for key in [REFERENCE, *sweeps, *cold]:
            label, dtype, engine_name, stack = bench.sweep_settings(key)
            sweep = {**doc, "train": {**doc.get("train", {}), "dtype": dtype,
                                      "engine": engine_name}}  # fmt: skip
            run_env = bench.kernel_cache_env(tmp / f"empty-{key}") if key in cold else env
            res = bench.run_sweep_nn(sweep, tmp / key, run_env)
            results[key] = by_config(res["rows"])
            counts: dict[str, int] = {}
            for row in res["rows"]:
                counts[row["status"]] = counts.get(row["status"], 0) + 1
            print(f"{label}: {len(res['rows'])} rows {counts}, {res['seconds']:.0f} s", flush=True)

    reference = results[REFERENCE]
    compared = {key: compare(reference, results[key]) for key in sweeps}
    print(f"\n## Accuracy against {bench.SWEEPS[REFERENCE][0]} (points; rows ok in both)\n")
    print("| sweep-nn run | rows | dev: median | mean | max | train: median | mean | max "
          "| rows identical (dev and train) | status differs |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key, c in compared.items():
        share = c["identical"] / c["rows"] if c["rows"] else math.nan
        print(f"| {bench.SWEEPS[key][0]} | {c['rows']} | {_stats(c['dev'])} | "
              f"{_stats(c['train'])} | {c['identical']} ({share:.1%}) | "
              f"{len(c['status_differs'])} |")  # fmt: skip

    if cold:
        cache_table(results, cold)

    budgets = sorted(grid.axes["iterations"])
    print("\n## By iteration budget: rows identical / rows, largest |diff| (dev, train)\n")
    print("| sweep-nn run | " + " | ".join(f"{b} iterations" for b in budgets) + " |")
    print("| --- |" + " ---: |" * len(budgets))
    for key in sweeps:
        cells = []
        for b in budgets:
            sub = {c: r for c, r in reference.items() if int(r["iterations"]) == b}
            c = compare(sub, {k: results[key][k] for k in sub if k in results[key]})
            top = (max(c["dev"], default=0), max(c["train"], default=0))
            cells.append(f"{c['identical']}/{c['rows']}, {top[0]:.2f} / {top[1]:.2f}")
        print(f"| {bench.SWEEPS[key][0]} | " + " | ".join(cells) + " |")

    for key, c in compared.items():
        print(f"\n## {bench.SWEEPS[key][0]}: the rows that differ most (up to {args.worst})\n")
        lines = []
        for worst, cid, _d_dev, _d_train in c["worst"][: args.worst]:
            if worst == 0:
                break
            r, o = reference[cid], results[key][cid]
            lines.append(f"| {cid} | {float(r['dev_acc']):.2f} -> {float(o['dev_acc']):.2f} | "
                         f"{float(r['train_acc']):.2f} -> {float(o['train_acc']):.2f} |")  # fmt: skip
        for cid in c["status_differs"]:
            lines.append(f"| {cid} | status {reference[cid]['status']} -> "
                         f"{results[key][cid]['status']} | |")  # fmt: skip
        if lines:
            print("| config_id | dev acc (reference -> this) | train acc (reference -> this) |")
            print("| --- | --- | --- |")
            print("\n".join(lines))
        else:
            print("none: every row compared is identical")
        if c["missing"]:
            print(f"\nrows in one run only: {', '.join(c['missing'][:10])}")
    print(f"\nload average at the end: {bench.load_average()}")


if __name__ == "__main__":
    main()
