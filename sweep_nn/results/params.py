"""Parameter files: one self-describing pickle per trained budget, loaded without running code.

A pickle can name any function to call while loading. :func:`load_params` therefore
unpickles through an allowlist of NumPy array and dtype constructors; any other global is
refused before anything runs.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from ..errors import ParamsError
from ..safe_read import read_regular_file
from .params_schema import PARAMS_FORMAT, PARAMS_VERSION, check_params
from .schema import COLUMNS, PARAMS_DIR

__all__ = [
    "MAX_PARAMS_BYTES", "PARAMS_FORMAT", "PARAMS_VERSION", "check_params", "load_params",
    "params_bytes", "params_payload", "safe_unpickle",
]  # fmt: skip

MAX_PARAMS_BYTES = 256 * 2**20  # 256 MiB: far beyond any network's weights


def params_payload(weights: dict, **meta) -> dict:
    """The self-describing parameters dict: weights, and everything ``eval`` needs."""
    return {"format": PARAMS_FORMAT, "version": PARAMS_VERSION, **weights, **meta}


def params_bytes(weights: dict, **meta) -> bytes:
    """A parameters file's contents: :func:`params_payload` pickled (plain containers and
    NumPy arrays only). A sweep's workers make them, next to the arrays they pickle; its
    parent writes them (:func:`.store.atomic_write`)."""
    return pickle.dumps(params_payload(weights, **meta), protocol=pickle.HIGHEST_PROTOCOL)


# --- loading parameters safely -------------------------------------------------------------


def _latin1(text: Any, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocols 0-2 use it to spell bytes, and no other way."""
    if not isinstance(text, str) or encoding != "latin1":
        raise ParamsError("refused: the file calls _codecs.encode in a way bytes never need")
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    """``bytes()`` as protocols 0-2 spell empty bytes (``bytes(n)`` would allocate n bytes)."""
    if args:
        raise ParamsError("refused: the file calls bytes() with arguments")
    return b""


_ALLOWED_GLOBALS = {
    # NumPy arrays and dtypes as NumPy 1.x (numpy.core) and 2.x (numpy._core) pickle them
    ("numpy.core.multiarray", "_reconstruct"): None,
    ("numpy._core.multiarray", "_reconstruct"): None,
    ("numpy.core.multiarray", "scalar"): None,
    ("numpy._core.multiarray", "scalar"): None,
    ("numpy.core.numeric", "_frombuffer"): None,
    ("numpy._core.numeric", "_frombuffer"): None,
    ("numpy", "ndarray"): None,
    ("numpy", "dtype"): None,
    # how protocols 0-2 spell bytes: through stand-ins that accept only that use
    ("_codecs", "encode"): _latin1,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
}  # (module, name) -> None to load the real global, or the stand-in to use instead


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise ParamsError(
                f"refused: the file asks to load {module}.{name}, which a parameters file never "
                "needs (it could run code)"
            )
        return _ALLOWED_GLOBALS[module, name] or super().find_class(module, name)

    def persistent_load(self, pid):
        raise ParamsError("refused: the file uses persistent references")


def safe_unpickle(data: bytes, source: str = "file") -> Any:
    """Unpickle ``data`` allowing only plain containers, scalars and NumPy arrays."""
    if not data:
        raise ParamsError(f"{source} is empty")
    try:
        return _SafeUnpickler(io.BytesIO(data)).load()
    except ParamsError as exc:
        raise ParamsError(f"{source}: {exc}") from None
    except Exception:  # noqa: BLE001 - truncated or random bytes raise many kinds
        # what the unpickler said ("invalid literal for int()") is about its own parsing
        raise ParamsError(
            f"{source} is not a readable parameters file: it is damaged, cut short, or not a "
            "pickle at all"
        ) from None


def load_params(path: Path) -> dict:
    """Safely load and check a parameters file (sweep-nn's or the study's plain dict).

    Returns a dict with at least float arrays ``W1, b1, W2, b2`` of consistent shapes; a
    sweep-nn file is checked whole against its schema (:mod:`.params_schema`).
    """
    try:
        data = read_regular_file(path, MAX_PARAMS_BYTES, "parameters file")
    except FileNotFoundError:
        raise ParamsError(f"parameters file not found: {path}") from None
    except IsADirectoryError:
        raise ParamsError(f"{path} is a folder, not a parameters file") from None
    except OSError as exc:
        raise ParamsError(f"cannot read {path}: {exc.strerror}") from None
    try:
        obj = safe_unpickle(data, str(path))
    except ParamsError:
        what = _what_else(data, path)
        if what is None:
            raise
        raise ParamsError(what) from None
    check_params(obj, str(path))
    return obj


def _what_else(data: bytes, path: Path) -> str | None:
    """What a file that does not unpickle is instead, when it is a text file people mix up.

    Asked only after unpickling failed, so no parameters file is ever misnamed.
    """
    try:
        first = data[:4096].decode("utf-8").split("\n", 1)[0].strip()
    except UnicodeDecodeError:
        return None
    if first.split(",")[:3] == COLUMNS[:3]:
        params = path.parent / PARAMS_DIR
        example = next(iter(sorted(params.glob("*.pkl"))), params / "<config_id>.pkl")
        return (
            f"{path} is a sweep's results file, not a parameters file: give one of the networks "
            f"in {params}/ (named by config_id, as filter lists them), e.g. {example}; "
            "to score a network on the rows of a CSV, give that CSV with --data"
        )
    if path.suffix.lower() in (".yaml", ".yml", ".json", ".txt", ".md"):  # commas or not
        return (
            f"{path} is a text file, not a parameters file: give a network's .pkl file from a "
            f"sweep's {PARAMS_DIR}/ folder"
        )
    if path.suffix.lower() == ".csv" or "," in first:
        return (
            f"{path} is a CSV file, not a parameters file: give a network's .pkl file from a "
            f"sweep's {PARAMS_DIR}/ folder, and this CSV with --data to score it on these rows"
        )
    return None
