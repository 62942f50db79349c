"""Reading a CSV file: numeric features, a target of numbers or text labels."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import ChangedFileError, DataError
from ..safe_read import ReadRefused, read_regular_file

# --- reading a CSV -------------------------------------------------------------------------

MAX_CSV_BYTES = 512 * 2**20  # 512 MiB


class CsvData(NamedTuple):
    """A CSV file as read: features (m, n), target (m,), feature names, and the file's digest."""

    X: np.ndarray
    y: np.ndarray
    features: list[str]
    sha256: str  # of the bytes the arrays were parsed from


def read_csv(
    path: Path,
    target: str | None,
    features: list[str] | None = None,
    min_rows: int = 2,
    n_targets: int = 1,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read features and target from a CSV with a header row: (X (m, n), y (m,), feature names).

    ``target`` names the target column (default: the last one; the last ``n_targets``
    columns, y (m, n_targets), for a network of several regression targets). ``features``
    names the feature columns to take, in that order (default: every other column, as they
    stand). Features must be numeric; the target may hold numbers or text labels. Training
    needs two rows (``min_rows``, 2); scoring a network needs one.
    """
    X, y, names, _ = read_csv_data(path, target, features, min_rows=min_rows, n_targets=n_targets)
    return X, y, names


def read_csv_data(
    path: Path,
    target: str | None,
    features: list[str] | None = None,
    sha256: str | None = None,
    min_rows: int = 2,
    n_targets: int = 1,
) -> CsvData:
    """:func:`read_csv`, with the SHA-256 of the bytes read; ``sha256`` given, a file whose
    digest differs is refused before it is parsed (nothing of it is shown)."""
    raw = _read_bytes(path)
    digest = hashlib.sha256(raw).hexdigest()
    if sha256 is not None and digest != sha256:
        raise ChangedFileError(path, digest, sha256)
    X, y, names = _parse(_frame(raw, path), path, target, features, min_rows, n_targets)
    return CsvData(X, y, names, digest)


def _read_bytes(path: Path) -> bytes:
    try:
        return read_regular_file(path, MAX_CSV_BYTES, "CSV data file")
    except ReadRefused as exc:
        raise DataError(str(exc)) from None
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:  # a path holding a NUL character
        raise DataError(f"cannot read {str(path)[:200]!r}: not a valid path") from None


# what pandas' parser says of its own workings, said in the file's terms
PARSER_SAYS: list[tuple[re.Pattern[str], Callable[..., str]]] = [
    (re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)"),
     lambda expected, line, saw: f"line {line} has {saw} fields, the lines before it {expected}"),
    (re.compile(r"EOF inside string starting at row (\d+)"),
     lambda row: f"a quote opened near line {int(row) + 1} is never closed"),
]  # fmt: skip


def _why(exc: Exception) -> str:
    """Why pandas could not read a CSV: the first line of what it said, in the file's terms
    where :data:`PARSER_SAYS` has them."""
    said = (str(exc).splitlines() or [type(exc).__name__])[0]
    for pattern, saying in PARSER_SAYS:
        found = pattern.search(said)
        if found:
            return saying(*found.groups())
    return said


def _frame(raw: bytes, path: Path, header: int | None = 0):
    """The CSV's bytes as a DataFrame; DataError when it has no rows."""
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(raw), header=header)
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds; all mean unreadable
        raise DataError(f"cannot read {path} as CSV: {_why(exc)}") from None
    if frame.empty:
        raise DataError(f"{path}: no rows of data, only a header")
    return frame


def _read_frame(path: Path, header: int | None = 0):
    """The CSV at ``path`` as a DataFrame (a bounded read); DataError when it has no rows."""
    return _frame(_read_bytes(path), path, header)


def _parse(
    frame, path: Path, target: str | None, features: list[str] | None, min_rows: int,
    n_targets: int = 1,
):  # fmt: skip
    import pandas as pd

    if frame.shape[1] < 1 + n_targets:
        targets_text = "a target column" if n_targets == 1 else f"{n_targets} target columns"
        raise DataError(f"{path}: need at least one feature column and {targets_text}")
    targets = list(frame.columns[-n_targets:]) if target is None else [target]
    if targets[0] not in frame.columns:
        raise DataError(
            f"{path}: target column {target!r} not found (columns: {', '.join(map(str, frame.columns))})"
        )
    if features is None:
        chosen = frame.drop(columns=targets)
    else:
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise DataError(
                f"{path}: missing feature column(s) {', '.join(missing)} the network was trained on"
            )
        chosen = frame[features]
    bad = [str(c) for c in chosen.columns if not pd.api.types.is_numeric_dtype(chosen[c])]
    if bad:
        raise DataError(f"{path}: feature columns must be numeric; not numeric: {', '.join(bad)}")
    if frame.isna().any().any():
        rows = frame.index[frame.isna().any(axis=1)][:5] + 2  # +1 header, +1 one-based
        raise DataError(f"{path}: missing values on line(s) {', '.join(map(str, rows))}")
    if len(frame) < min_rows:
        raise DataError(f"{path}: need at least {min_rows} rows of data; it has {len(frame)}")
    y = frame[targets].to_numpy()
    return (
        chosen.to_numpy(dtype=np.float64),
        y[:, 0] if len(targets) == 1 else y,
        [str(c) for c in chosen.columns],
    )


def feature_names(spec) -> list[str] | None:
    """The feature column names of a ``csv`` dataset (its header); None for other datasets."""
    if spec.dataset != "csv":
        return None
    return read_csv_data(Path(spec.path), spec.target, sha256=spec.sha256).features


# --- reading the inputs of a trained network -------------------------------------------------


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _lines(mask) -> str:
    """The CSV line numbers (the header is line 1) of the first rows where ``mask`` holds."""
    rows = [int(i) + 2 for i in mask[mask].index[:5]]
    return ", ".join(map(str, rows)) + (", ..." if int(mask.sum()) > 5 else "")


def read_features(path: Path, features: list[str] | None, n_inputs: int):
    """The rows of a CSV a trained network is to be applied to: (the frame as read, X (m, n)).

    ``features`` names the columns the network was trained on (a CSV dataset), taken by
    name, in that order; other columns are kept in the frame but not used. Without names
    (a generated dataset) every column is a feature, in training order, and a first line of
    numbers is data, not a header. Raises DataError naming the column and lines of a
    value that is not a finite number, and saying which columns are missing or too many.
    """
    import pandas as pd

    frame = _read_frame(path)
    if features is None:
        if all(_is_number(c) for c in frame.columns):  # no header: the first line is data
            frame = _read_frame(path, header=None)
            frame.columns = [f"x{i + 1}" for i in range(frame.shape[1])]
        if frame.shape[1] != n_inputs:
            n, names = frame.shape[1], ", ".join(map(str, frame.columns))
            raise DataError(
                f"{path}: the network takes {n_inputs} input features; the file has {n} "
                f"column{'s' if n != 1 else ''} ({names}): give only the features, in training order"
            )
        features = list(frame.columns)
    else:
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise DataError(
                f"{path}: missing feature column(s) {', '.join(map(str, missing))} the network "
                f"was trained on (the file has: {', '.join(map(str, frame.columns))})"
            )
    values = frame[features].apply(pd.to_numeric, errors="coerce")
    for column in features:
        given, number = frame[column], values[column]
        if given.isna().any():
            raise DataError(f"{path}: column {column!r} is empty on line(s) {_lines(given.isna())}")
        bad = number.isna() | ~np.isfinite(number.fillna(0).to_numpy(dtype=float))
        if bad.any():
            first = given[bad].iloc[0]
            raise DataError(
                f"{path}: column {column!r} must hold finite numbers, not {str(first)!r} "
                f"(line(s) {_lines(bad)})"
            )
    return frame, values.to_numpy(dtype=np.float64)
