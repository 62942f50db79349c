"""The sweep configuration: YAML in, one validated, frozen :class:`SweepConfig` out.

Nothing else in sweep-nn reads YAML. Every problem in a file is reported at once, each
naming its key and the bad value, as one :class:`~sweep_nn.errors.ConfigError`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .data import COMMON_KEYS, DATASETS
from .errors import ConfigError
from .nn.plain import ACTIVATIONS, INITS, OUTPUTS

ActivationName = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]
DatasetName = Literal[tuple(DATASETS)]  # type: ignore[valid-type]
InitName = Literal[tuple(INITS)]  # type: ignore[valid-type]
OutputName = Literal[("auto", *OUTPUTS)]  # type: ignore[valid-type]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Seed = Annotated[int, Field(ge=0, lt=2**32)]


class _Strict(BaseModel):
    # strict: no silent "3" -> 3; forbid: unknown keys are named; frozen: a config never changes
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class DataConfig(_Strict):
    """Which data to sweep on, and how to split and scale it."""

    dataset: DatasetName = "moons"
    n_samples: int = Field(2000, ge=2)  # generated datasets only
    noise: float = Field(0.25, ge=0)  # moons, circles, regression
    random_state: int = 0  # data generation seed
    dev_size: float = Field(0.2, gt=0, lt=1)  # share held out as the dev set
    split_random_state: int = 42  # train/dev split seed
    scale: Literal["none", "standard"] = "none"  # standardise with training statistics
    factor: float | None = Field(None, gt=0, lt=1)  # circles: inner / outer radius
    n_features: int | None = Field(None, gt=0)
    n_informative: int | None = Field(None, gt=0)
    n_classes: int | None = Field(None, ge=2)
    n_targets: int | None = Field(None, gt=0)
    centers: int | None = Field(None, ge=2)
    cluster_std: float | None = Field(None, gt=0)
    path: str | None = None  # csv: the file, relative to the config file
    target: str | None = None  # csv: target column (default: the last)

    @model_validator(mode="after")
    def _keys_fit_dataset(self):
        kind = DATASETS[self.dataset]
        extra = sorted(self.model_fields_set - COMMON_KEYS - kind.keys)
        if extra:
            allowed = ", ".join(sorted(kind.keys)) or "none"
            raise ValueError(
                f"{', '.join(extra)} not used by dataset {self.dataset!r} (its own keys: {allowed})"
            )
        if self.dataset == "csv" and self.path is None:
            raise ValueError("dataset 'csv' needs path: (the CSV file)")
        return self

    def resolved(self) -> dict[str, Any]:
        """The settings this dataset uses, defaults filled in: a valid ``data:`` section."""
        used = COMMON_KEYS | DATASETS[self.dataset].keys
        return {
            k: v for k, v in self.model_dump(mode="json").items() if k in used and v is not None
        }


class GridConfig(_Strict):
    """The axes of the sweep; every combination is one configuration."""

    hidden_sizes: list[PositiveInt] = Field(min_length=1)
    activations: list[ActivationName] = Field(min_length=1)
    learning_rates: list[PositiveFloat] = Field(min_length=1)
    iterations: list[PositiveInt] = Field(min_length=1)
    batch_sizes: list[Any] = Field(default=["full"], min_length=1)  # "full" or a positive int
    seeds: list[Seed] = Field(default=[0], min_length=1)

    @field_validator("batch_sizes")
    @classmethod
    def _batch_sizes(cls, values):
        return _check_each(
            values,
            lambda v: v == "full" or (type(v) is int and v > 0),
            "must be 'full' or a positive integer",
        )

    @field_validator("*")
    @classmethod
    def _no_duplicates(cls, values):
        seen = set()
        for v in values:
            if v in seen:
                raise ValueError(f"{v!r} is listed twice")
            seen.add(v)
        return values


def _check_each(values: list, ok, rule: str) -> list:
    bad = [f"{v!r} (item {i})" for i, v in enumerate(values) if not ok(v)]
    if bad:
        raise ValueError(f"{rule}; got {', '.join(bad)}")
    return values


class TrainConfig(_Strict):
    """How each configuration is trained (the same for the whole sweep)."""

    dtype: Literal["float64", "float32"] = "float64"
    init: InitName = "normal"  # normal: standard normal x init_scale (the study's)
    init_scale: float = Field(0.01, gt=0)
    output: OutputName = "auto"  # auto: sigmoid (2 classes), softmax (more), linear (regression)
    loss_points: int = Field(100, ge=0)  # training-loss samples kept per run, for learning curves
    # train small configurations that differ only in learning rate or seed side by side in
    # one stacked array (same results; fit_seconds becomes the stack's time / stack_size)
    stack: bool = False
    # iterations between checkpoints of a long run (default: a tenth of the largest budget);
    # changes only how much a killed run redoes, never a result
    checkpoint_every: int | None = Field(None, ge=1)


class SweepConfig(_Strict):
    """A whole sweep: its name, data, grid and training settings."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    task: Literal["auto", "classification", "regression"] = "auto"
    data: DataConfig = DataConfig()
    grid: GridConfig
    train: TrainConfig = TrainConfig()

    @model_validator(mode="after")
    def _output_fits_task(self):
        out = self.train.output
        if out != "auto" and self.task != "auto" and OUTPUTS[out].task != self.task:
            raise ValueError(f"train.output {out!r} does not fit task {self.task!r}")
        return self

    def resolved(self) -> dict[str, Any]:
        """The configuration as plain data, defaults filled in (for the copy kept with results).

        It is itself a valid sweep file: loading it gives back this configuration.
        """
        return self.model_dump(mode="json") | {"data": self.data.resolved()}


# --- loading -------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:  # a list or mapping as a key: construct_mapping reports it, with its line
            continue
        if key in seen:
            raise ConfigError(
                f"line {key_node.start_mark.line + 1}: key {key!r} given twice "
                f"(first on line {seen[key] + 1})"
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse(text: str, source: str = "<config>", default_name: str = "sweep") -> SweepConfig:
    """Validate YAML text into a :class:`SweepConfig`, or raise ConfigError listing every problem."""
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}:{where}: malformed YAML: {problem}") from None
    except (ValueError, TypeError, LookupError, AttributeError, RecursionError) as exc:
        # PyYAML's constructors fail this way on some explicitly tagged values (`!!float`, `!!bool x`)
        raise ConfigError(f"{source}: malformed YAML: a value cannot be read ({exc})") from None
    if raw is None:
        raise ConfigError(f"{source}: the file is empty; it needs at least a grid: section")
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys, got {_describe(raw)}"
        )
    raw.setdefault("name", default_name)
    try:
        return SweepConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [_format_error(err) for err in exc.errors()]
        raise ConfigError(
            f"{source}: {len(lines)} problem{'s' if len(lines) > 1 else ''}:\n  "
            + "\n  ".join(lines)
        ) from None


def load(path: str | Path) -> SweepConfig:
    """Read and validate a YAML sweep file. A relative ``data.path`` is resolved against it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem) or "sweep"
    cfg = parse(text, str(path), default_name=stem)
    if cfg.data.path is not None and not Path(cfg.data.path).is_absolute():
        data = cfg.data.model_copy(update={"path": str((path.parent / cfg.data.path).resolve())})
        cfg = cfg.model_copy(update={"data": data})
    return cfg


def _format_loc(parts: tuple) -> str:
    loc = ""
    for part in parts:
        if isinstance(part, int):
            loc += f"[{part}]"
        else:
            loc += f".{part}" if loc else str(part)
    return loc or "(top level)"


def _format_error(err: dict) -> str:
    if err["type"] == "invalid_key":  # a number or other non-text key: its loc is the key itself
        return f"{_format_loc(err['loc'][:-1])}: key {_describe(err.get('input'))} is not a name"
    loc = _format_loc(err["loc"])
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown key{_suggest(err['loc'])}"
    if err["type"] == "missing":
        return f"{loc}: required key is missing"
    msg = err["msg"].removeprefix("Value error, ")
    if "got " in msg or isinstance(err.get("input"), dict):
        return f"{loc}: {msg}"
    return f"{loc}: {msg} (got {_describe(err.get('input'))})"


def _suggest(loc: tuple) -> str:
    model = {"data": DataConfig, "grid": GridConfig, "train": TrainConfig}.get(loc[0], SweepConfig)
    if len(loc) == 1:
        model = SweepConfig
    import difflib

    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return (
        f" (did you mean {close[0]!r}?)"
        if close
        else f" (allowed: {', '.join(model.model_fields)})"
    )


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
