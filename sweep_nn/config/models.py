"""The sweep configuration's models: one validated, frozen :class:`SweepConfig` and its sections.

Nothing else in sweep-nn reads YAML. Every problem in a file is reported at once, each
naming its key and the bad value, as one :class:`~sweep_nn.errors.ConfigError`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from ..data import COMMON_KEYS, DATASETS
from ..nn.plain import ACTIVATIONS, INITS, OUTPUTS
from .describe import _describe

if TYPE_CHECKING:  # the names are the tables' keys, known at run time: to mypy, text
    ActivationName: TypeAlias = str
    DatasetName: TypeAlias = str
    InitName: TypeAlias = str
    OutputName: TypeAlias = str
else:  # Literal types built from the tables, so that pydantic lists the allowed names
    ActivationName = Literal[tuple(ACTIVATIONS)]
    DatasetName = Literal[tuple(DATASETS)]
    InitName = Literal[tuple(INITS)]
    OutputName = Literal[tuple(["auto", *OUTPUTS])]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Seed = Annotated[int, Field(ge=0, lt=2**32)]
# what generated datasets may ask for: more would exhaust memory before the first row
MAX_SAMPLES = 10_000_000
MAX_FEATURES = 100_000
MAX_CELLS = 50_000_000  # n_samples x (n_features + targets): 400 MB of float64
MAX_INFORMATIVE = 1_000  # classification draws an n_informative^2 matrix per cluster
MAX_QUANTILE_FEATURES = 1_000  # gaussian_quantiles factorises an n_features^2 covariance
MAX_LOSS_POINTS = 100_000  # loss-curve samples per run: each parameters file holds its curve
MAX_TEXT = 4096  # characters of a path or a column name
MAX_FOLDS = 100  # data.cv: each fold trains every configuration once more


class _Strict(BaseModel):
    # strict: no silent "3" -> 3; forbid: unknown keys are named; frozen: a config never changes
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class DataConfig(_Strict):
    """Which data to sweep on, and how to split and scale it."""

    dataset: DatasetName = "moons"
    n_samples: int = Field(2000, ge=2, le=MAX_SAMPLES)  # generated datasets only
    noise: float = Field(0.25, ge=0)  # moons, circles, regression
    random_state: Seed = 0  # data generation seed
    dev_size: float = Field(0.2, gt=0, lt=1)  # share held out as the dev set
    split_random_state: Seed = 42  # train/dev split seed (and the folds' shuffle)
    # cross-validation: k folds, each held out in turn as the dev set (dev_size unused)
    cv: int | None = Field(None, ge=2, le=MAX_FOLDS)
    scale: Literal["none", "standard"] = "none"  # standardise with training statistics
    factor: float | None = Field(None, gt=0, lt=1)  # circles: inner / outer radius
    n_features: int | None = Field(None, gt=0, le=MAX_FEATURES)
    n_informative: int | None = Field(None, gt=0)
    n_classes: int | None = Field(None, ge=2)
    n_targets: int | None = Field(None, gt=0)
    centers: int | None = Field(None, ge=2)
    cluster_std: float | None = Field(None, gt=0)
    # csv: the file, relative to the config file (no NUL: no file system takes one)
    path: str | None = Field(None, min_length=1, max_length=MAX_TEXT, pattern=r"^[^\x00]+$")
    target: str | None = Field(None, max_length=MAX_TEXT)  # csv: target column (default: the last)
    # csv: the file's SHA-256 (64 hex digits); a file with another digest is refused. Each
    # parameters file records it, so that eval rereads only the file the network saw
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _keys_fit_dataset(self):
        kind = DATASETS[self.dataset]
        extra = sorted(self.model_fields_set - COMMON_KEYS - kind.keys)
        if extra:
            takes = ", ".join(sorted((kind.keys | COMMON_KEYS) - {"dataset"}))
            raise ValueError(
                f"{', '.join(extra)} not used by dataset {self.dataset!r} (the keys it takes: "
                f"{takes})"
            )
        if self.dataset == "csv" and self.path is None:
            raise ValueError("dataset 'csv' needs path: (the CSV file)")
        if self.cv is not None and "dev_size" in self.model_fields_set:
            raise ValueError(
                f"dev_size does not apply with cv: {self.cv} (each of the {self.cv} folds holds "
                f"out 1/{self.cv} of the data as its dev set); drop one of them"
            )
        problems = self._generator_limits()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _generator_limits(self) -> list[str]:
        """What the dataset's generator would refuse or run out of memory on, in words."""
        if "n_samples" not in DATASETS[self.dataset].keys:
            return []
        problems = []
        n, kind = self.n_samples, self.dataset
        # the defaults the generators in data.py fill in
        n_features = self.n_features or {"classification": 20, "regression": 10}.get(kind, 2)
        n_out = self.n_targets or 1
        if n * (n_features + n_out) > MAX_CELLS:
            problems.append(
                f"n_samples x (n_features + targets) = {n:,} x {n_features + n_out:,} values is "
                f"more than the limit of {MAX_CELLS:,}"
            )
        if kind == "classification":
            n_informative = self.n_informative or min(n_features, 2)
            n_classes = self.n_classes or 2
            if n_informative > n_features:
                problems.append(
                    f"n_informative ({n_informative}) cannot exceed n_features ({n_features})"
                )
            elif n_informative > MAX_INFORMATIVE:
                problems.append(
                    f"n_informative ({n_informative:,}) is more than the limit of "
                    f"{MAX_INFORMATIVE:,} for dataset 'classification'"
                )
            elif n_classes * 2 > 2**n_informative:  # two clusters per class, at hypercube vertices
                need = (n_classes * 2 - 1).bit_length()
                problems.append(
                    f"n_classes {n_classes} needs n_informative >= {need} (classification puts "
                    f"2 clusters per class on the corners of an n_informative-cube: "
                    f"n_classes x 2 <= 2**n_informative; n_informative is {n_informative})"
                )
        if kind == "gaussian_quantiles" and n_features > MAX_QUANTILE_FEATURES:
            problems.append(
                f"n_features ({n_features:,}) is more than the limit of {MAX_QUANTILE_FEATURES:,} "
                "for dataset 'gaussian_quantiles'"
            )
        n_groups = {"classification": self.n_classes or 2, "gaussian_quantiles": self.n_classes or 2,
                    "blobs": self.centers or 3}.get(kind)  # fmt: skip
        if n_groups is not None and n_groups > n:
            what = "centers" if kind == "blobs" else "n_classes"
            problems.append(f"{what} ({n_groups:,}) is more than n_samples ({n:,})")
        return problems

    def resolved(self) -> dict[str, Any]:
        """The settings this dataset uses, defaults filled in: a valid ``data:`` section."""
        used = COMMON_KEYS | DATASETS[self.dataset].keys
        if self.cv is not None:
            used = used - {"dev_size"}  # the folds decide what is held out
        return {
            k: v for k, v in self.model_dump(mode="json").items() if k in used and v is not None
        }


class _Range(_Strict):
    """A distribution for random search: exactly one of its fields, ``[low, high]``."""

    @model_validator(mode="after")
    def _one_range(self):
        given = {k: v for k, v in self.model_dump().items() if v is not None}
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(type(self).model_fields)}")
        ((name, (low, high)),) = given.items()
        if low > high:
            raise ValueError(f"{name}: the low end {low} is above the high end {high}")
        return self


class FloatRange(_Range):
    """A distribution of positive numbers (learning rates, init scales) for random search:
    ``{log_uniform: [1.0e-3, 1.5]}`` or ``{uniform: [0.1, 1.2]}``; draws keep three
    significant digits."""

    log_uniform: list[PositiveFloat] | None = Field(None, min_length=2, max_length=2)
    uniform: list[PositiveFloat] | None = Field(None, min_length=2, max_length=2)


class IntRange(_Range):
    """A distribution of positive integers (both ends included): ``{int_uniform: [1, 64]}``
    or ``{int_log_uniform: [1, 512]}``."""

    int_uniform: list[PositiveInt] | None = Field(None, min_length=2, max_length=2)
    int_log_uniform: list[PositiveInt] | None = Field(None, min_length=2, max_length=2)


def _or_range(values, distribution):
    """An axis given as a list of values, or (a mapping) as a distribution. Errors name the
    one the value looks like (the ``@`` tags are left out of error locations)."""
    return Annotated[
        Annotated[Annotated[values, Field(min_length=1)], Tag("@list")]
        | Annotated[distribution, Tag("@distribution")],
        Discriminator(lambda v: "@distribution" if isinstance(v, (dict, BaseModel)) else "@list"),
    ]


if TYPE_CHECKING:  # to mypy, the union; to pydantic, the union told apart by the value's shape
    HiddenAxis: TypeAlias = list[int] | IntRange
    RateAxis: TypeAlias = list[float] | FloatRange
    BatchAxis: TypeAlias = list[Any] | IntRange
else:
    HiddenAxis = _or_range(list[PositiveInt], IntRange)
    RateAxis = _or_range(list[PositiveFloat], FloatRange)
    BatchAxis = _or_range(list[Any], IntRange)
# axes whose absence means "the train: setting of the same name" (axis -> setting)
SETTING_AXES = {"inits": "init", "init_scales": "init_scale"}


class GridConfig(_Strict):
    """The axes of the sweep; every combination is one configuration (for random search,
    ``hidden_sizes``, ``learning_rates``, ``batch_sizes`` and ``init_scales`` may be
    distributions)."""

    hidden_sizes: HiddenAxis
    activations: list[ActivationName] = Field(min_length=1)
    learning_rates: RateAxis
    iterations: list[PositiveInt] = Field(min_length=1)
    # "full" or a positive int
    batch_sizes: BatchAxis = ["full"]
    seeds: list[Seed] = Field(default=[0], min_length=1)
    # weight initialisations and the scales of init normal; absent: train.init, train.init_scale
    inits: list[InitName] | None = Field(None, min_length=1)
    init_scales: RateAxis | None = None

    @field_validator("batch_sizes")
    @classmethod
    def _batch_sizes(cls, values):
        if not isinstance(values, list):
            return values
        return _check_each(
            values,
            lambda v: v == "full" or (type(v) is int and v > 0),
            "must be 'full' or a positive integer",
        )

    @field_validator("*")
    @classmethod
    def _no_duplicates(cls, values):
        if not isinstance(values, list):
            return values
        seen = set()
        for v in values:
            if v in seen:
                raise ValueError(f"{_describe(v)} is listed twice")
            seen.add(v)
        return values

    def distributions(self) -> list[str]:
        """The axes given as distributions (only random search draws from them)."""
        return [axis for axis, v in self.given_axes() if not isinstance(v, list)]

    def given_axes(self) -> list[tuple[str, Any]]:
        """(name, values) of every axis the sweep has (absent inits and init_scales left out)."""
        return [(a, getattr(self, a)) for a in type(self).model_fields if getattr(self, a) is not None]

    @model_validator(mode="after")
    def _not_too_many(self):
        if self.distributions():
            return self  # random search: n_trials is checked with the search
        n = math.prod(len(values) for _, values in self.given_axes())
        if n > MAX_CONFIGURATIONS:
            raise ValueError(
                f"the grid has {n:,} configurations; the limit is {MAX_CONFIGURATIONS:,} "
                "(split it into several sweeps)"
            )
        return self


MAX_CONFIGURATIONS = 100_000  # combinations of the grid's axes in one sweep
ETAS = (2, 1000)  # halving's eta, least and most: the best 1/eta go on (default 3)


def _check_each(values: list, ok, rule: str) -> list:
    bad = [i for i, v in enumerate(values) if not ok(v)]
    if bad:
        shown = ", ".join(f"{_describe(values[i])} (item {i})" for i in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(f"{rule}; got {shown}{more}")
    return values


class TrainConfig(_Strict):
    """How each configuration is trained (the same for the whole sweep)."""

    dtype: Literal["float64", "float32"] = "float64"
    init: InitName = "normal"  # normal: standard normal x init_scale (the study's)
    init_scale: float = Field(0.01, gt=0)
    output: OutputName = "auto"  # auto: sigmoid (2 classes), softmax (more), linear (regression)
    # training-loss samples kept per run, for learning curves
    loss_points: int = Field(100, ge=0, le=MAX_LOSS_POINTS)
    # train small configurations that differ only in learning rate or seed side by side in
    # one stacked array (same results; the NumPy engine's fit_seconds becomes the stack's
    # time / stack_size); auto: with the compiled engine, whose rows it leaves as they are
    stack: bool | Literal["auto"] = "auto"
    # numpy: the study's arithmetic, bit for bit; compiled: fused Numba kernels (float32's
    # fast path; in float64 close to, not identical with, the study's rounding);
    # auto: numpy for float64, compiled for float32
    engine: Literal["auto", "numpy", "compiled"] = "auto"
    # iterations between checkpoints of a long run (default: a tenth of the largest budget);
    # changes only how much a killed run redoes, never a result
    checkpoint_every: int | None = Field(None, ge=1)

    @field_validator("stack", mode="before")
    @classmethod
    def _stack_is_a_switch(cls, value):
        if value is True or value is False or (isinstance(value, str) and value == "auto"):
            return value
        raise ValueError("must be true, false or auto")  # the value: added where errors are shown


RANK_METRICS = {  # what halving may rank on: column -> (the task it needs or None, higher is better)
    "dev_acc": ("classification", True),
    "train_acc": ("classification", True),
    "dev_r2": ("regression", True),
    "train_r2": ("regression", True),
    "dev_loss": (None, False),
    "train_loss": (None, False),
}


class SearchConfig(_Strict):
    """How the configurations are chosen: every one of the grid, or a random draw of
    ``n_trials``; and whether successive halving decides which go on past each budget."""

    method: Literal["grid", "halving", "random"] = "grid"
    halving: bool = False  # random search: halve its trials too (method halving implies it)
    eta: int | None = Field(None, ge=ETAS[0], le=ETAS[1])  # halving: the best 1/eta go on
    metric: Literal[tuple(RANK_METRICS)] | None = None  # type: ignore[valid-type]
    n_trials: int | None = Field(None, ge=1, le=MAX_CONFIGURATIONS)  # random search
    seed: Seed | None = None  # random search: the draw's seed (default 0)

    @model_validator(mode="after")
    def _settings_fit_method(self):
        random, halving = self.method == "random", self.method == "halving" or self.halving
        if random and self.n_trials is None:
            raise ValueError("method random needs n_trials: how many configurations to draw")
        misplaced = [
            f"{key} applies to {where}"
            for key, where, fits in (
                ("n_trials", "method random", random), ("seed", "method random", random),
                ("halving", "method random (method halving halves the grid)",
                 random or not self.halving),
                ("eta", "halving", halving), ("metric", "halving", halving),
            )
            if not fits and getattr(self, key) not in (None, False)
        ]  # fmt: skip
        if misplaced:
            raise ValueError("; ".join(misplaced))
        return self

    @property
    def halves(self) -> bool:
        return self.method == "halving" or self.halving


class SweepConfig(_Strict):
    """A whole sweep: its name, data, grid, training settings and search."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    task: Literal["auto", "classification", "regression"] = "auto"
    data: DataConfig = DataConfig()
    grid: GridConfig
    train: TrainConfig = TrainConfig()
    search: SearchConfig = SearchConfig()

    @model_validator(mode="after")
    def _distributions_need_random_search(self):
        drawn = self.grid.distributions()
        if drawn and self.search.method != "random":
            raise ValueError(
                f"grid.{drawn[0]} is a distribution: only random search draws from one "
                "(search: {method: random, n_trials: N}); a grid needs a list"
            )
        folds = self.data.cv or 1
        if self.search.method == "random":
            n = self.search.n_trials * len(self.grid.seeds) * folds
            if n > MAX_CONFIGURATIONS:
                raise ValueError(
                    f"{self.search.n_trials:,} trials x {len(self.grid.seeds)} seeds"
                    f"{f' x {folds} folds' if folds > 1 else ''} is {n:,} configurations; "
                    f"the limit is {MAX_CONFIGURATIONS:,}"
                )
        elif folds > 1 and not drawn:
            n = math.prod(len(values) for _, values in self.grid.given_axes()) * folds
            if n > MAX_CONFIGURATIONS:
                raise ValueError(
                    f"the grid's configurations x {folds} folds (data.cv) are {n:,} training runs; "
                    f"the limit is {MAX_CONFIGURATIONS:,} (split it into several sweeps)"
                )
        return self

    @model_validator(mode="after")
    def _init_axes_or_settings(self):
        problems = [
            f"grid.{axis} and train.{setting} are both given: the axis takes the setting's place "
            f"(drop train.{setting}, or list its value in grid.{axis})"
            for axis, setting in SETTING_AXES.items()
            if getattr(self.grid, axis) is not None and setting in self.train.model_fields_set
        ]
        inits = self.grid.inits or [self.train.init]
        if self.grid.init_scales is not None and not any(INITS[i].scaled for i in inits):
            scaled = ", ".join(name for name, rule in INITS.items() if rule.scaled)
            problems.append(
                f"grid.init_scales applies only to init {scaled}, and the sweep's inits are "
                f"{', '.join(inits)} (got init_scales with nothing to scale)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _output_fits_task(self):
        out = self.train.output
        if out != "auto" and self.task != "auto" and OUTPUTS[out].task != self.task:
            raise ValueError(f"train.output {out!r} does not fit task {self.task!r}")
        return self

    def resolved(self) -> dict[str, Any]:
        """The configuration as plain data, defaults filled in (for the copy kept with results).

        It is itself a valid sweep file: loading it gives back this configuration. A
        ``train:`` setting that a grid axis replaces (``init`` by ``grid.inits``) is left out.
        """
        out = self.model_dump(mode="json") | {"data": self.data.resolved()}
        for axis, setting in SETTING_AXES.items():
            if out["grid"][axis] is None:
                del out["grid"][axis]
            else:
                del out["train"][setting]
        return out
