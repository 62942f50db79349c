"""A sweep file in, one validated SweepConfig out, every problem named at once."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ..errors import ConfigError, UsageError
from ..safe_read import ReadRefused, read_regular_file
from .describe import _describe
from .models import (
    ETAS,
    DataConfig,
    FloatRange,
    GridConfig,
    IntRange,
    SearchConfig,
    SweepConfig,
    TrainConfig,
)
from .reading import MAX_CONFIG_BYTES, load_yaml


def parse(text: str, source: str = "<config>", default_name: str | None = "sweep") -> SweepConfig:
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


def with_search(cfg: SweepConfig, **changes) -> SweepConfig:
    """``cfg`` with its ``search:`` section changed (from the command line), validated as a
    file's would be; ``changes`` with value None are left as they are."""
    search = cfg.search.model_dump() | {k: v for k, v in changes.items() if v is not None}
    try:
        return cfg.model_copy(update={"search": SearchConfig.model_validate(search)})
    except ValidationError as exc:
        problems = [_format_error(e | {"loc": ("search", *e["loc"])}) for e in exc.errors()]
        raise ConfigError("; ".join(problems)) from None


def with_halving(cfg: SweepConfig, halving: bool, eta: int | None) -> SweepConfig:
    """``cfg`` as ``run --halving [--eta N]`` asks: halving on its grid or random draw."""
    if eta is not None and not (halving or cfg.search.halves):
        raise UsageError("--eta goes with --halving (or search: {method: halving})")
    if eta is not None and not ETAS[0] <= eta <= ETAS[1]:
        raise UsageError(f"--eta must be a whole number from {ETAS[0]} to {ETAS[1]}; got {eta}")
    if cfg.search.method == "random":
        return with_search(cfg, eta=eta, halving=True)
    return with_search(cfg, eta=eta, method="halving")


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
    for part in _untagged(parts):
        if isinstance(part, int):
            loc += f"[{part}]"
        else:
            loc += f".{part}" if loc else str(part)
    return loc or "(top level)"


# what a text of a pattern must be, by its key: said in words, not as the pattern
PATTERN_RULES = {
    "name": "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or "
    "digit (it names the output folder)",
    "path": "must be a file path, without NUL characters",
    "sha256": "must be 64 lowercase hexadecimal digits (the file's SHA-256)",
}
SECTION_RULE = "must be a section: keys indented below it, each 'key: value'"
DISTRIBUTIONS = ("log_uniform", "uniform", "int_uniform")  # each [low, high]


def _plain_message(err: ErrorDetails) -> str | None:
    """pydantic's message for these errors, in the config's terms (None: pydantic's own)."""
    key = next((p for p in reversed(_untagged(err["loc"])) if isinstance(p, str)), "")
    if err["type"] == "string_pattern_mismatch" and key in PATTERN_RULES:
        return PATTERN_RULES[key]
    if err["type"] in ("model_type", "dict_type"):
        return SECTION_RULE
    if err["type"] in ("too_short", "too_long") and key in DISTRIBUTIONS:
        return "must be two numbers: [low, high]"
    if err["type"] == "too_short" and err.get("ctx", {}).get("actual_length") == 0:
        return "must not be empty"
    return None


def _format_error(err: ErrorDetails) -> str:
    if err["type"] == "invalid_key":  # a number or other non-text key: its loc is the key itself
        return f"{_format_loc(err['loc'][:-1])}: key {_describe(err.get('input'))} is not a name"
    loc = _format_loc(err["loc"])
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown key{_suggest(err['loc'])}"
    if err["type"] == "missing":
        return f"{loc}: required key is missing"
    msg = _plain_message(err) or err["msg"].removeprefix("Value error, ")
    if not err["loc"]:  # the sweep's own rule, whose message names the keys it concerns
        return msg
    if "got " in msg or isinstance(err.get("input"), dict):
        return f"{loc}: {msg}"
    return f"{loc}: {msg} (got {_describe(err.get('input'))})"


def _untagged(parts: tuple) -> tuple:
    """A location without the tags of a list-or-distribution axis (``@list``)."""
    return tuple(p for p in parts if not (isinstance(p, str) and p.startswith("@")))


def _suggest(loc: tuple) -> str:
    sections: dict[str, type[BaseModel]] = {
        "data": DataConfig, "grid": GridConfig, "train": TrainConfig, "search": SearchConfig,
    }  # fmt: skip
    model = sections.get(loc[0], SweepConfig)
    if len(loc) == 1:
        home = next((name for name, m in sections.items() if loc[0] in m.model_fields), None)
        if home is not None:  # a section's key at the top level
            return f" at the top level (a key of {home}: indent it under '{home}:')"
        model = SweepConfig
    elif "@distribution" in loc:
        model = FloatRange if {"learning_rates", "init_scales"} & set(loc) else IntRange
    import difflib

    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return (
        f" (did you mean {close[0]!r}?)"
        if close
        else f" (allowed: {', '.join(model.model_fields)})"
    )
