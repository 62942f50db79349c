"""Reading a CSV file: numeric features, a target of numbers or text labels."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataError
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
    path: Path, target: str | None, features: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read features and target from a CSV with a header row: (X (m, n), y (m,), feature names).

    ``target`` names the target column (default: the last one). ``features`` names the
    feature columns to take, in that order (default: every other column, as they stand).
    Features must be numeric; the target may hold numbers or text labels.
    """
    return read_csv_data(path, target, features)[:3]


def read_csv_data(
    path: Path, target: str | None, features: list[str] | None = None, sha256: str | None = None
) -> CsvData:
    """:func:`read_csv`, with the SHA-256 of the bytes read; ``sha256`` given, a file whose
    digest differs is refused before it is parsed (nothing of it is shown)."""
    raw = _read_bytes(path)
    digest = hashlib.sha256(raw).hexdigest()
    if sha256 is not None and digest != sha256:
        raise DataError(
            f"{path} has changed since the network was trained: its sha256 is {digest[:16]}..., "
            f"the parameters file recorded {sha256[:16]}...; restore the file, or evaluate "
            "on another with --data FILE.csv"
        )
    X, y, names = _parse(raw, path, target, features)
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


def _parse(raw: bytes, path: Path, target: str | None, features: list[str] | None):
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds; all mean unreadable
        raise DataError(f"cannot read {path} as CSV: {str(exc).splitlines()[0]}") from None
    if frame.shape[1] < 2:
        raise DataError(f"{path}: need at least one feature column and a target column")
    target = frame.columns[-1] if target is None else target
    if target not in frame.columns:
        raise DataError(
            f"{path}: target column {target!r} not found (columns: {', '.join(map(str, frame.columns))})"
        )
    if features is None:
        chosen = frame.drop(columns=[target])
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
    if len(frame) < 2:
        raise DataError(f"{path}: need at least two rows of data")
    return (
        chosen.to_numpy(dtype=np.float64),
        frame[target].to_numpy(),
        [str(c) for c in chosen.columns],
    )


def feature_names(spec) -> list[str] | None:
    """The feature column names of a ``csv`` dataset (its header); None for other datasets."""
    if spec.dataset != "csv":
        return None
    return read_csv_data(Path(spec.path), spec.target, sha256=spec.sha256).features
