"""How right is the time left? Run a grid, note the estimate as the work goes, compare.

    .venv/bin/python benchmarks/progress_accuracy.py configs/reference_study.yaml --dtype float32

Every progress update is recorded (wall time, share of the work done, time left
estimated); when the sweep ends, the time that was actually left at each update is known.
The table gives, at the first update past 10%, 25%, 50% and 75% of the work, the
prediction against the truth. Runs into a fresh temporary folder.

``--trace FILE`` also keeps what the meter was told, and when (pickled); ``--replay FILE``
runs nothing and feeds a kept trace to the current meter on a clock that replays its
times: a change to the model is judged on the same sweep, without the machine's noise.
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import time
from pathlib import Path

from sweep_nn.config import load
from sweep_nn.sweep import run as run_mod
from sweep_nn.sweep.progress import Progress, WorkMeter

Seen = list[tuple[float, float, float | None]]  # (wall seconds, share of work, time left)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path, nargs="?")
    ap.add_argument("--dtype", choices=["float64", "float32"], default=None)
    ap.add_argument("-j", "--n-jobs", type=int, default=-1)
    ap.add_argument("--trace", type=Path, help="keep what the meter was told, here")
    ap.add_argument("--replay", type=Path, help="replay a kept trace instead of running")
    args = ap.parse_args()
    if args.replay:
        header, events = pickle.loads(args.replay.read_bytes())
        seen = replay(events)
        print(f"{header} (replayed by the current model)")
        print(f"{len(seen)} updates\n")
        print(table(seen))
        return
    if args.config is None:
        ap.error("a config file (or --replay) is needed")
    cfg = load(args.config)
    if args.dtype:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"dtype": args.dtype})})
    seen: Seen = []
    events: list[tuple[float, str, bytes]] = []
    start = time.perf_counter()

    def on_progress(p: Progress) -> None:
        seen.append((time.perf_counter() - start, p.fraction, p.seconds_left))

    if args.trace:
        run_mod.WorkMeter = _traced(events, start)  # type: ignore[misc]
    with tempfile.TemporaryDirectory() as tmp:
        summary = run_mod.run_sweep(cfg, Path(tmp) / "out", n_jobs=args.n_jobs,
                                    on_progress=on_progress)  # fmt: skip
    header = (f"# {args.config} dtype={cfg.train.dtype} engine={cfg.train.engine} "
              f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(header)
    print(f"rows: {summary.total}, wall {summary.wall_seconds:.0f} s, {len(seen)} updates")
    print()
    print(table(seen))
    if args.trace:
        args.trace.write_bytes(pickle.dumps((header, events)))


def _traced(events: list[tuple[float, str, bytes]], start: float) -> type[WorkMeter]:
    """A meter that notes each call it gets (pickled at once: the states move on)."""

    class Traced(WorkMeter):
        def __init__(self, *args, **kwargs) -> None:
            events.append((time.perf_counter() - start, "init", pickle.dumps((args, kwargs))))
            super().__init__(*args, **kwargs)

        def add(self, *args) -> None:
            events.append((time.perf_counter() - start, "add", pickle.dumps(args)))
            super().add(*args)

        def count(self, *args) -> None:  # traced as "record", as earlier traces name it
            events.append((time.perf_counter() - start, "record", pickle.dumps(args)))
            super().count(*args)

    return Traced


def replay(events: list[tuple[float, str, bytes]]) -> Seen:
    """The updates the current meter gives when told ``events`` at their times."""
    clock = [0.0]
    meter: WorkMeter | None = None
    seen: Seen = []
    for t, call, blob in events:
        clock[0] = t
        args = pickle.loads(blob)
        if call == "init":
            meter = WorkMeter(*args[0], **args[1], clock=lambda: clock[0])
            continue
        assert meter is not None, "a trace starts with the meter's creation"
        if call == "add":
            meter.add(*args)
            p = meter.now()
        else:
            meter.count(*args)
            p = meter.now()
        seen.append((t, p.fraction, p.seconds_left))
    return seen


def table(seen: Seen) -> str:
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
