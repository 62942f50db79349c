"""Reading YAML safely and boundedly: unique keys, merge keys, numbers as people write them,
alias expansion and nesting bounded before anything is built."""

from __future__ import annotations

import decimal
import re
from typing import Any

import yaml

from ..errors import ConfigError
from .describe import _clip, _describe

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
# a whole number written with an exponent and no point (1e5, 5E+2) is that whole number, so
# that iterations: [1e3, 1e5] works; past 10^18 it stays a float, as any float does
WHOLE_EXPONENT = "tag:sweep-nn,2026:whole-exponent"
MAX_WHOLE_EXPONENT = 18


def _construct_whole_exponent(loader, node) -> int | float:
    text = loader.construct_scalar(node).replace("_", "")
    if int(re.split("[eE]", text)[1]) > MAX_WHOLE_EXPONENT:
        return float(text)
    return int(decimal.Decimal(text))


_UniqueKeyLoader.add_constructor(WHOLE_EXPONENT, _construct_whole_exponent)
_UniqueKeyLoader.add_implicit_resolver(
    WHOLE_EXPONENT, re.compile(r"^[-+]?[0-9][0-9_]*[eE]\+?[0-9]+$"), list("-+0123456789")
)
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
