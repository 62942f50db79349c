"""The sweep configuration: YAML in, one validated, frozen :class:`SweepConfig` out.

Nothing else in sweep-nn reads YAML. Every problem in a file is reported at once, each
naming its key and the bad value, as one :class:`~sweep_nn.errors.ConfigError`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .data import COMMON_KEYS, DATASETS
from .errors import ConfigError
from .network import ACTIVATIONS, INITS, OUTPUTS
from .safe_read import ReadRefused, read_regular_file

ActivationName = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]
DatasetName = Literal[tuple(DATASETS)]  # type: ignore[valid-type]
InitName = Literal[tuple(INITS)]  # type: ignore[valid-type]
OutputName = Literal[("auto", *OUTPUTS)]  # type: ignore[valid-type]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Seed = Annotated[int, Field(ge=0, lt=2**32)]
# what generated datasets may ask for: more would exhaust memory before the first row
MAX_SAMPLES = 10_000_000
MAX_FEATURES = 100_000
MAX_CELLS = 50_000_000  # n_samples x (n_features + targets): 400 MB of float64
MAX_INFORMATIVE = 1_000  # classification draws an n_informative^2 matrix per cluster
MAX_QUANTILE_FEATURES = 1_000  # gaussian_quantiles factorises an n_features^2 covariance


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
    split_random_state: Seed = 42  # train/dev split seed
    scale: Literal["none", "standard"] = "none"  # standardise with training statistics
    factor: float | None = Field(None, gt=0, lt=1)  # circles: inner / outer radius
    n_features: int | None = Field(None, gt=0, le=MAX_FEATURES)
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
                raise ValueError(f"{_describe(v)} is listed twice")
            seen.add(v)
        return values


    @model_validator(mode="after")
    def _not_too_many(self):
        n = math.prod(len(getattr(self, axis)) for axis in type(self).model_fields)
        if n > MAX_CONFIGURATIONS:
            raise ValueError(
                f"the grid has {n:,} configurations; the limit is {MAX_CONFIGURATIONS:,} "
                "(split it into several sweeps)"
            )
        return self


MAX_CONFIGURATIONS = 100_000  # combinations of the grid's axes in one sweep


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
    loss_points: int = Field(100, ge=0)  # training-loss samples kept per run, for learning curves
    # train small configurations that differ only in learning rate or seed side by side in
    # one stacked array (same results; fit_seconds becomes the stack's time / stack_size)
    stack: bool = False


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


MAX_CONFIG_BYTES = 128 * 1024  # a sweep file is a few hundred bytes; this bounds parse time
MAX_YAML_NODES = 100_000  # values in the document once every alias is expanded
MAX_FLOW_DEPTH = 100  # [ and { nesting; PyYAML's scanner is quadratic in it


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last),
    and a document whose aliases expand to more than :data:`MAX_YAML_NODES` values."""

    def fetch_flow_sequence_start(self):
        self._check_flow_depth()
        super().fetch_flow_sequence_start()

    def fetch_flow_mapping_start(self):
        self._check_flow_depth()
        super().fetch_flow_mapping_start()

    def _check_flow_depth(self):
        if self.flow_level >= MAX_FLOW_DEPTH:
            mark = self.get_mark()
            raise ConfigError(
                f"line {mark.line + 1}, column {mark.column + 1}: [ and {{ nested more than "
                f"{MAX_FLOW_DEPTH} deep"
            )

    def compose_document(self):
        self.get_event()  # DocumentStartEvent
        node = self.compose_node(None, None)
        self.get_event()  # DocumentEndEvent
        anchors = {id(n): name for name, n in self.anchors.items()}
        self.anchors = {}
        _check_expansion(node, anchors)
        return node


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_expansion(root, anchors: dict[int, str], limit: int = MAX_YAML_NODES) -> None:
    """Refuse a node graph that aliases make larger than ``limit`` values, or that holds itself.

    Walks each distinct node once (the graph is never expanded), so the work is bounded
    by the size of the text, not by the size of what its aliases describe.
    """
    size: dict[int, int] = {}
    state: dict[int, int] = {}  # 1: being walked, 2: done
    stack = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            size[key] = 1 + sum(size[id(c)] for c in _children(node))
            state[key] = 2
            if size[key] > limit:
                raise ConfigError(
                    f"line {node.start_mark.line + 1}: {_anchor_name(node, anchors)} expands "
                    f"through aliases to {_at_least(size[key], limit)} values; the limit is "
                    f"{limit:,} (an alias bomb?)"
                )
            continue
        if state.get(key) == 2:
            continue
        if state.get(key) == 1:
            raise ConfigError(
                f"line {node.start_mark.line + 1}: {_anchor_name(node, anchors)} "
                "contains an alias to itself"
            )
        state[key] = 1
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node))


def _anchor_name(node, anchors: dict[int, str]) -> str:
    name = anchors.get(id(node))
    return f"anchor &{name}" if name is not None else "this value"


def _at_least(n: int, limit: int) -> str:
    return f"{n:,}" if n < 100 * limit else f"more than {100 * limit:,}"


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` merges another mapping's keys
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:  # a list or mapping as a key: construct_mapping reports it, with its line
            continue
        if key in seen:
            raise ConfigError(
                f"line {key_node.start_mark.line + 1}: key {_describe(key)} given twice "
                f"(first on line {seen[key] + 1})"
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1's float needs a dot and a signed exponent, so 1e-3, 1E3 and 5e+2 would be text;
# read them as numbers, as YAML 1.2 and Python do (checked after YAML 1.1's own rules)
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?)$"
    ),
    list("-+0123456789."),
)


def load_yaml(text: str, source: str = "<config>") -> Any:
    """Parse YAML text safely and boundedly: the plain data, or ConfigError naming the problem."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{source}: {len(text):,} characters is too long for a sweep file "
            f"(the limit is {MAX_CONFIG_BYTES:,})"
        )
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}:{where}: malformed YAML: {_clip(problem)}") from None
    except (ValueError, TypeError, LookupError, AttributeError, RecursionError) as exc:
        # PyYAML's constructors fail this way on some explicitly tagged values (`!!float`, `!!bool x`)
        raise ConfigError(
            f"{source}: malformed YAML: a value cannot be read ({_clip(str(exc))})"
        ) from None


def parse(
    text: str, source: str = "<config>", default_name: str | None = "sweep"
) -> SweepConfig:
    """Validate YAML text into a :class:`SweepConfig`, or raise ConfigError listing every problem."""
    raw = load_yaml(text, source)
    if raw is None:
        raise ConfigError(f"{source}: the file is empty; it needs at least a grid: section")
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys, got {_describe(raw)}"
        )
    if "name" not in raw:
        if default_name is None:
            raise ConfigError(
                f"{source}: the file name {Path(source).name!r} cannot be a sweep name "
                "(it needs a letter or digit); set name: in the file"
            )
        raw["name"] = default_name
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
        text = read_regular_file(path, MAX_CONFIG_BYTES, "config file").decode("utf-8")
    except ReadRefused as exc:
        raise ConfigError(str(exc)) from None
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    cfg = parse(text, str(path), default_name=name_from_file(path))
    if cfg.data.path is not None and not Path(cfg.data.path).is_absolute():
        data = cfg.data.model_copy(update={"path": str((path.parent / cfg.data.path).resolve())})
        cfg = cfg.model_copy(update={"data": data})
    return cfg


def name_from_file(path: Path) -> str | None:
    """The sweep name a file without ``name:`` gets: its stem made valid, or None if nothing is left.

    Characters a name cannot hold become "-", leading ones that cannot start it are dropped,
    and it is cut to 100 characters.
    """
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem)
    stem = re.sub(r"^[^A-Za-z0-9]+", "", stem)[:100]
    return stem or None


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


def _describe(value: Any, limit: int = 60) -> str:
    """A short repr of ``value``, built from at most a few hundred of its items and characters.

    ``repr`` of the whole value first could take minutes and all memory (aliases can make a
    small file describe a list of a billion items).
    """
    text = _short_repr(value, limit + 1, depth=4)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_repr(value: Any, budget: int, depth: int) -> str:
    if isinstance(value, str):
        return repr(value[:budget]) if len(value) > budget else repr(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 4 * budget:  # str() of a huge int is quadratic, and capped
            return f"<an integer of about {int(value.bit_length() * 0.30103):,} digits>"
        return repr(value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        if depth == 0:
            return "[...]" if isinstance(value, list) else "{...}"
        items = value.items() if isinstance(value, dict) else value
        parts, used = [], 0
        for item in items:
            if used > budget:
                parts.append("...")
                break
            if isinstance(value, dict):
                k, v = item
                part = f"{_short_repr(k, budget, depth - 1)}: {_short_repr(v, budget, depth - 1)}"
            else:
                part = _short_repr(item, budget, depth - 1)
            parts.append(part)
            used += len(part) + 2
        open_, close = {list: "[]", tuple: "()", dict: "{}"}.get(type(value), "{}")
        return open_ + ", ".join(parts) + close
    text = repr(value)
    return text


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
