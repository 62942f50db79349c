"""Results on disk: the results CSV and the parameter files.

The sweep's parent process is the only writer. A row is appended in one ``write`` call,
then flushed and fsynced; a parameter file is written under a temporary name, fsynced and
renamed into place before the row that points at it. Reading tolerates a torn last line
(an interrupted append) and refuses damage anywhere else, naming the line.

Parameter files are pickles, and a pickle can name any function to call while loading.
:func:`load_params` therefore unpickles through an allowlist of NumPy array and dtype
constructors; any other global is refused before anything runs.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParamsError, ResultsError, StorageError
from .safe_read import ReadRefused, read_regular_file

RESULTS_FILE = "results.csv"
PARAMS_DIR = "params"
PARAMS_FORMAT = "sweep-nn/params"
PARAMS_VERSION = 1

COLUMNS = [
    "config_id", "hidden_size", "activation", "learning_rate", "iterations", "batch_size", "seed",
    "train_acc", "dev_acc", "gap", "train_loss", "dev_loss",
    "train_r2", "dev_r2", "train_rmse", "dev_rmse",
    "fit_seconds", "status", "diverged_at", "error", "dtype", "key", "params_path", "stack_size",
]  # fmt: skip
# results files written before stack_size existed: still read, and brought up to date
# (stack_size 1) when a run resumes them
EARLIER_COLUMNS = COLUMNS[:-1]
INT_COLUMNS = {"hidden_size", "iterations", "seed", "diverged_at", "stack_size"}
FLOAT_COLUMNS = {
    "learning_rate", "train_acc", "dev_acc", "gap", "train_loss", "dev_loss",
    "train_r2", "dev_r2", "train_rmse", "dev_rmse", "fit_seconds",
}  # fmt: skip
STATUSES = ("ok", "diverged", "failed")
MAX_RESULTS_BYTES = 2**30  # 1 GiB: millions of rows; anything larger is not a results file


# --- writing -----------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _storage_error(exc: OSError, what: Path) -> StorageError:
    reason = exc.strerror or str(exc)
    return StorageError(f"cannot write {what}: {reason}")


TEMP_MARK = ".tmp-"  # atomic_write's temporary names: .<name>.tmp-<pid>


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never a mix."""
    tmp = path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:  # also Ctrl-C: leave no temporary file behind
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _storage_error(exc, path) from None
        raise
    _fsync_dir(path.parent)


def remove_temporaries(folder: Path) -> None:
    """Delete what :func:`atomic_write` left in ``folder`` when its process was killed.

    Only call this while holding the folder's lock: then no live writer owns them.
    """
    for tmp in folder.glob(f".*{TEMP_MARK}*"):
        tmp.unlink(missing_ok=True)


def format_row(row: dict) -> str:
    """One CSV line (with its newline) holding ``row``'s values in :data:`COLUMNS` order."""
    buf = io.StringIO()
    values = [_cell(row.get(c)) for c in COLUMNS]
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return sanitise(str(v))


# Every character str.splitlines() breaks a line at (\n \r \v \f \x1c-\x1e \x85 \u2028
# \u2029) is a control character or one of the two separators; lone surrogates cannot be
# written as UTF-8. The writer puts none of them in a cell; the reader splits lines at "\n" only.
_UNWRITABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def sanitise(text: str) -> str:
    """``text`` as a results cell holds it: control characters and line separators as spaces."""
    return _UNWRITABLE.sub(" ", text)


def _create_with_header(path: Path) -> None:
    """Put a results file holding just the header at ``path``, all at once or not at all.

    Written under a temporary name and renamed into place: a disk that fills up during the
    header leaves no results file (and no empty one, which a rerun could not tell from a
    foreign file), so the rerun simply starts it again.
    """
    tmp = path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")
    data = (",".join(COLUMNS) + "\n").encode()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if os.write(fd, data) != len(data):  # a short write: the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class ResultsWriter:
    """Appends rows to a results CSV durably: one write, flush and fsync per row."""

    def __init__(self, path: Path):
        self.path = path
        try:
            if not path.exists() or path.stat().st_size == 0:
                _create_with_header(path)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise _storage_error(exc, path) from None

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            if os.write(self._fd, data) != len(data):  # a short write: the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(self._fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, end)  # never leave part of a row behind
            raise

    def append(self, row: dict) -> None:
        try:
            self._write(format_row(row))
        except OSError as exc:
            raise _storage_error(exc, self.path) from None

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def params_payload(weights: dict, **meta) -> dict:
    """The self-describing parameters dict: weights, and everything ``eval`` needs."""
    return {"format": PARAMS_FORMAT, "version": PARAMS_VERSION, **weights, **meta}


def write_params(path: Path, payload: dict) -> None:
    """Pickle ``payload`` (plain containers and NumPy arrays only) atomically to ``path``."""
    atomic_write(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


# --- reading results ---------------------------------------------------------------------


def _parse(value: str, column: str):
    if value == "":
        return None
    if column in INT_COLUMNS:
        return int(value)
    if column in FLOAT_COLUMNS:
        return float(value)
    if column == "batch_size":
        return value if value == "full" else int(value)
    return value


def read_rows(path: Path, repair: bool = False) -> list[dict]:
    """Rows of a results CSV, parsed. A torn last line is dropped (and cut off if ``repair``).

    Raises ResultsError for a missing file, a file that is not a sweep-nn results file,
    or damage before the last line (naming the line). An empty file is not a results file,
    except with ``repair`` (a run resuming its own output folder): there it holds no rows.
    """
    try:
        raw = read_regular_file(path, MAX_RESULTS_BYTES, "results file")
    except ReadRefused as exc:
        raise ResultsError(str(exc)) from None
    except FileNotFoundError:
        raise ResultsError(f"results file not found: {path}") from None
    except IsADirectoryError:
        raise ResultsError(f"{path} is a folder; give the results CSV inside it") from None
    except OSError as exc:
        raise ResultsError(f"cannot read {path}: {exc.strerror}") from None
    if not raw:
        if repair:  # a run resuming its own folder: what a run stopped before its header left
            return []
        raise ResultsError(f"{path} is empty: not a sweep-nn results file")
    complete = raw[: raw.rfind(b"\n") + 1]
    torn = len(complete) != len(raw)
    try:
        text = complete.decode("utf-8")
    except UnicodeDecodeError:
        raise ResultsError(f"{path} is not text: not a sweep-nn results file") from None
    # "\n" only, as the writer ends rows (splitlines() would also split at \x1c, \u2028, ...)
    lines = [line.removesuffix("\r") for line in text.split("\n")[:-1]]
    header = lines[0].split(",") if lines else []
    columns = EARLIER_COLUMNS if header == EARLIER_COLUMNS else COLUMNS
    if header[: len(columns)] != columns:
        head = (lines[0] if lines else raw[:60].decode("utf-8", "replace"))[:80]
        raise ResultsError(
            f"{path} is not a sweep-nn results file (its first line is {head!r}; "
            f"expected a header starting with {','.join(COLUMNS[:3])},...)"
        )
    rows = []
    for number, fields in enumerate(csv.reader(lines[1:]), start=2):
        if len(fields) != len(columns):
            raise ResultsError(
                f"{path}, line {number}: damaged row ({len(fields)} fields, expected {len(columns)})"
            )
        try:
            row = {"stack_size": 1} | {c: _parse(v, c) for c, v in zip(columns, fields)}
        except ValueError as exc:
            raise ResultsError(f"{path}, line {number}: damaged row ({exc})") from None
        if row["status"] not in STATUSES or not row["config_id"] or not row["key"]:
            raise ResultsError(f"{path}, line {number}: damaged row (status {row['status']!r})")
        rows.append(row)
    if torn and repair:
        try:
            with open(path, "r+b") as fh:
                fh.truncate(len(complete))
                os.fsync(fh.fileno())
        except OSError as exc:
            raise _storage_error(exc, path) from None
    if repair and columns is EARLIER_COLUMNS:  # rows appended next will have every column
        blob = ",".join(COLUMNS) + "\n" + "".join(format_row(row) for row in rows)
        atomic_write(path, blob.encode())
    return rows


def latest_rows(rows: list[dict]) -> list[dict]:
    """One row per configuration key: the last one written (a rerun supersedes a failure)."""
    by_key = {}
    for row in rows:
        by_key.pop(row["key"], None)
        by_key[row["key"]] = row
    return list(by_key.values())


def read_results(path: Path):
    """The results as a pandas DataFrame, one row per configuration (latest wins)."""
    import pandas as pd

    return pd.DataFrame(latest_rows(read_rows(path)), columns=COLUMNS)


def find_latest_results(root: Path) -> Path:
    """The most recently written ``results.csv`` below ``root``."""
    found = sorted(root.glob(f"**/{RESULTS_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ResultsError(
            f"no {RESULTS_FILE} found under {root}/; run a sweep first or name the file"
        )
    return found[-1]


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
    except Exception as exc:  # noqa: BLE001 - truncated or random bytes raise many kinds
        reason = " ".join(str(exc).split())[:200]  # one line, whatever the error said
        raise ParamsError(
            f"{source} is not a readable parameters file ({type(exc).__name__}: {reason})"
        ) from None


def load_params(path: Path) -> dict:
    """Safely load and check a parameters file (sweep-nn's or the study's plain dict).

    Returns a dict with at least float arrays ``W1, b1, W2, b2`` of consistent shapes.
    """
    try:
        data = read_regular_file(path, 256 * 2**20, "parameters file")  # 256 MiB
    except FileNotFoundError:
        raise ParamsError(f"parameters file not found: {path}") from None
    except IsADirectoryError:
        raise ParamsError(f"{path} is a folder, not a parameters file") from None
    except OSError as exc:
        raise ParamsError(f"cannot read {path}: {exc.strerror}") from None
    obj = safe_unpickle(data, str(path))
    check_params(obj, str(path))
    return obj


def check_params(obj: Any, source: str) -> None:
    """Raise ParamsError saying what is wrong unless ``obj`` holds a usable network."""
    if not isinstance(obj, dict):
        raise ParamsError(f"{source}: expected a dict of weights, found {type(obj).__name__}")
    missing = [k for k in ("W1", "b1", "W2", "b2") if k not in obj]
    if missing:
        raise ParamsError(f"{source}: missing {', '.join(missing)}")
    for k in ("W1", "b1", "W2", "b2"):
        v = obj[k]
        if not isinstance(v, np.ndarray) or v.ndim != 2 or v.dtype.kind != "f":
            raise ParamsError(f"{source}: {k} must be a 2-D float array, found {_shape_of(v)}")
        if not np.isfinite(v).all():
            raise ParamsError(f"{source}: {k} holds non-finite values (inf or nan)")
    h, n_in = obj["W1"].shape
    n_out = obj["W2"].shape[0]
    want = {"b1": (h, 1), "W2": (n_out, h), "b2": (n_out, 1)}
    for k, shape in want.items():
        if obj[k].shape != shape:
            raise ParamsError(
                f"{source}: {k} has shape {obj[k].shape}, but W1 {obj['W1'].shape} needs {shape}"
            )
    if h == 0 or n_in == 0 or n_out == 0:
        raise ParamsError(f"{source}: empty weight matrices")
    if obj.get("format") == PARAMS_FORMAT:
        _check_description(obj, source, n_in)


def _check_description(obj: dict, source: str, n_in: int) -> None:
    """A sweep-nn file must also say how its network was trained and on what data."""
    from .network import ACTIVATIONS, OUTPUTS

    if obj.get("version") != PARAMS_VERSION:
        raise ParamsError(
            f"{source}: parameters format version {obj.get('version')!r} is not supported "
            f"(this sweep-nn reads version {PARAMS_VERSION})"
        )
    missing = [k for k in ("config", "train", "data", "task", "classes", "scaler") if k not in obj]
    if missing:
        raise ParamsError(
            f"{source}: incomplete sweep-nn parameters file, missing {', '.join(missing)}"
        )
    rules = [
        ("config", isinstance(obj["config"], dict), "a dict"),
        ("train", isinstance(obj["train"], dict), "a dict"),
        ("data", isinstance(obj["data"], dict), "a dict"),
        ("task", obj["task"] in ("classification", "regression"), "classification or regression"),
        ("classes", obj["classes"] is None or isinstance(obj["classes"], list), "a list or None"),
        ("scaler", obj["scaler"] is None or isinstance(obj["scaler"], dict), "a dict or None"),
    ]
    for key, ok, rule in rules:
        if not ok:
            raise ParamsError(f"{source}: {key} must be {rule}, found {_shape_of(obj[key])}")
    activation, output = obj["config"].get("activation"), obj["train"].get("output")
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ParamsError(
            f"{source}: config.activation {activation!r} is not one of {', '.join(ACTIVATIONS)}"
        )
    if not isinstance(output, str) or output not in OUTPUTS:
        raise ParamsError(f"{source}: train.output {output!r} is not one of {', '.join(OUTPUTS)}")
    if obj["scaler"] is not None:
        for k in ("mean", "scale"):
            v = obj["scaler"].get(k)
            if not isinstance(v, np.ndarray) or v.shape != (n_in,) or v.dtype.kind != "f":
                raise ParamsError(
                    f"{source}: scaler.{k} must be {n_in} numbers, found {_shape_of(v)}"
                )
            if not np.isfinite(v).all():
                raise ParamsError(f"{source}: scaler.{k} holds non-finite values (inf or nan)")


def _shape_of(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"array of shape {v.shape} and dtype {v.dtype}"
    return type(v).__name__
