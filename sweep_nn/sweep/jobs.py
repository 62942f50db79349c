"""Expand a configuration into jobs: one training run per combination of the grid's axes
(and, under ``data.cv``, per fold).

Configurations that differ only in ``iterations`` share one job: it trains once to the
largest budget and snapshots every smaller one on the way. Every job refers to one
shared :class:`TrainSettings` record.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # workers import this module: keep pydantic out of them
    from ..config import SweepConfig


# The fixed cost of one training step, per engine, in example x hidden-unit units: what a
# step costs beyond its examples x (hidden units + 1). NumPy's is some 25 calls' overhead;
# a compiled step makes no calls from Python, and its fixed part is about half as large (a line
# through the CPU time per iteration of the reference grid's 7 hidden sizes, full batch,
# 1,600 examples: 1,500-4,000 units; see the README's "Progress").
STEP_OVERHEAD = {"numpy": 5000, "compiled": 2500}
# Stacking (train: {stack: true}) pays where a step's fixed cost of NumPy calls outweighs its
# per-element work: up to this many hidden units x examples per model. Larger layers train
# alone, as they are no faster stacked. Stacks are capped so that work still spreads out.
# (The compiled engine's stacks save the work around each run, not per step: see resolve_stack.)
STACK_MAX_ELEMENTS = 8000
STACK_MAX_MODELS = 8
EXECUTION_ONLY = ("stack", "checkpoint_every")  # train settings: how, not what, is computed
# train settings that a grid axis may replace: each job's key holds its own value of them
PER_JOB = ("init", "init_scale")


@dataclass(frozen=True)
class TrainSettings:
    """How every job of a sweep trains: the same record, shared by all of them."""

    budgets: tuple[int, ...]  # ascending iteration counts to snapshot
    dtype: str
    output: str  # a key of nn.plain.OUTPUTS (resolved, never "auto")
    loss_points: int
    stack: bool = False  # jobs may train in a stack with jobs that differ only in rate, seed, init
    engine: str = "numpy"  # "numpy" or "compiled" (resolved, never "auto")
    checkpoint_every: int | None = None  # iterations between checkpoints (None: top // 10)


@dataclass(frozen=True)
class Job:
    """One training run (its grid axes), and the result rows (one per budget) it produces."""

    hidden_size: int
    activation: str
    learning_rate: float
    batch_size: int | None  # None: full batch
    seed: int
    settings: TrainSettings
    config_ids: tuple[str, ...]  # one per budget
    keys: tuple[str, ...]  # one per budget: identity of configuration + data + settings
    init: str = "normal"  # a key of nn.plain.INITS
    init_scale: float | None = 0.01  # None for an init that does not use it
    fold: int | None = None  # the fold it trains on (data.cv); None: the one train/dev split

    @property
    def budgets(self) -> tuple[int, ...]:
        return self.settings.budgets

    def cost(self, n_train: int) -> float:
        """Estimated training cost, for longest-first order: budget x steps x cost of a step.

        A step costs about one unit per example and hidden unit (and output unit), plus
        its engine's fixed overhead (:data:`STEP_OVERHEAD`), so mini-batches cost more per
        iteration.
        """
        batch = n_train if self.batch_size is None else min(self.batch_size, n_train)
        steps = -(-n_train // batch)
        overhead = STEP_OVERHEAD[self.settings.engine] * steps
        return self.budgets[-1] * (n_train * (self.hidden_size + 1) + overhead)


def config_id(hidden_size, activation, learning_rate, iterations, batch_size=None, seed=0,
              init=None, init_scale=None, fold=None) -> str:  # fmt: skip
    """A readable, stable id: ``h3-tanh-lr0.6-it10000``, plus ``-bs64`` / ``-he`` /
    ``-scale0.1`` / ``-s1`` / ``-f0`` when set (an init or scale other than the sweep's
    default; a fold of data.cv)."""
    cid = f"h{hidden_size}-{activation}-lr{float(learning_rate)!r}-it{iterations}"
    if batch_size is not None:
        cid += f"-bs{batch_size}"
    if init is not None:
        cid += f"-{init}"
    if init_scale is not None:
        cid += f"-scale{float(init_scale)!r}"
    if seed != 0:
        cid += f"-s{seed}"
    if fold is not None:
        cid += f"-f{fold}"
    return cid


def resolve_engine(engine: str, dtype: str) -> str:
    """``auto``: the NumPy engine for float64 (the study's arithmetic), compiled for float32."""
    if engine == "auto":
        return "numpy" if dtype == "float64" else "compiled"
    return engine


def resolve_stack(stack: bool | str, engine: str) -> bool:
    """``auto``: stack with the compiled engine, which trains a stack's models one after
    the other and times each alone, so that stacking saves only work around training;
    not with the NumPy engine, where a stacked row's time is a share of its stack's."""
    return engine == "compiled" if stack == "auto" else bool(stack)


def fingerprint(resolved: dict[str, Any]) -> dict:
    """What, besides the grid axes, decides a result: data, task and training settings.

    ``resolved`` is a configuration as :meth:`SweepConfig.resolved` writes it (the copy in
    an output folder's ``config.yaml`` is one), so a folder's sweep and a new one compare.
    The settings of :data:`PER_JOB` are left out: each job's key holds its own.
    """
    train = {k: v for k, v in resolved["train"].items() if k not in EXECUTION_ONLY + PER_JOB}
    # the engine decides results only where it is not the NumPy engine, so that results
    # recorded before the setting existed keep their keys
    engine = resolve_engine(train.pop("engine", "auto"), train["dtype"])
    if engine != "numpy":
        train["engine"] = engine
    return {"task": resolved["task"], "data": resolved["data"], "train": train}


def _key(fp: dict, per_job: dict, **axes) -> str:
    """The key of one row: the settings (with this job's ``per_job`` ones) and its axes."""
    settings = fp | {"train": fp["train"] | per_job}
    blob = json.dumps({"settings": settings, **axes}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def expand(cfg: SweepConfig, output: str) -> list[Job]:
    """All jobs of the grid in a fixed order (hidden size, activation, rate, batch, init,
    init scale, seed, fold).

    ``output`` is the resolved output layer (a key of ``nn.plain.OUTPUTS``).
    """
    from ..config.search import points  # pydantic: the parent's, never a worker's import

    g, t = cfg.grid, cfg.train
    engine = resolve_engine(t.engine, t.dtype)
    settings = TrainSettings(
        tuple(sorted(g.iterations)), t.dtype, output, t.loss_points,
        resolve_stack(t.stack, engine), engine, t.checkpoint_every,
    )  # fmt: skip
    fp = fingerprint(cfg.resolved())
    folds = [None] if cfg.data.cv is None else list(range(cfg.data.cv))
    jobs = []
    for (h, act, lr, bs, init, scale), seed, fold in itertools.product(points(cfg), g.seeds, folds):
        batch = None if bs == "full" else bs
        axes = {
            "hidden_size": h,
            "activation": act,
            "learning_rate": lr,
            "batch_size": batch,
            "seed": seed,
        } | ({} if fold is None else {"fold": fold})
        # an unused scale keys as the setting did before the axis existed: keys stay put
        per_job = {"init": init, "init_scale": t.init_scale if scale is None else scale}
        shown = {  # in the id, what differs from the sweep's default
            "init": None if init == t.init else init,
            "init_scale": None if scale in (None, t.init_scale) else scale,
            "fold": fold,
        }
        jobs.append(
            Job(
                h, act, lr, batch, seed, settings=settings,
                config_ids=tuple(config_id(h, act, lr, it, batch, seed, **shown)
                                 for it in settings.budgets),
                keys=tuple(_key(fp, per_job, iterations=it, **axes) for it in settings.budgets),
                init=init, init_scale=scale, fold=fold,
            )
        )  # fmt: skip
    return jobs


def stacks(jobs: list[Job], n_train: int) -> list[list[Job]]:
    """Split ``jobs`` into training runs: stacks of jobs trained together, or single jobs.

    Jobs stack when their settings allow it, train full-batch on a small layer (hidden
    units x examples <= :data:`STACK_MAX_ELEMENTS`) on the same fold, and agree on
    everything but learning rate, seed and initialisation. A group larger than
    :data:`STACK_MAX_MODELS` is cut into near-equal stacks. Runs come in the order of their
    first job; order within a stack is kept.
    """
    groups: dict[object, list[Job]] = {}
    for i, job in enumerate(jobs):
        small = job.hidden_size * n_train <= STACK_MAX_ELEMENTS
        if job.settings.stack and job.batch_size is None and small:
            shape: object = (job.hidden_size, job.activation, job.fold, job.settings)
        else:
            shape = i  # alone
        groups.setdefault(shape, []).append(job)
    runs = []
    for group in groups.values():
        n = -(-len(group) // STACK_MAX_MODELS)  # fewest stacks, as equal as can be
        size, extra = divmod(len(group), n)
        start = 0
        for j in range(n):
            end = start + size + (j < extra)
            runs.append(group[start:end])
            start = end
    return runs
