"""Values described for messages, from a bounded number of their items (never a whole repr)."""

from __future__ import annotations

from typing import Any


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
        open_, close = {list: ("[", "]"), tuple: ("(", ")")}.get(type(value), ("{", "}"))
        return open_ + ", ".join(parts) + close
    text = repr(value)
    return text


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
