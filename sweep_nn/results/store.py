"""The results CSV on disk: durable appends, atomic writes, reads that name any damage.

The sweep's parent process is the only writer. A row is appended in one ``write`` call,
then flushed and fsynced; every other file is written under a temporary name, fsynced and
renamed into place (:func:`atomic_write`). Reading tolerates a torn last line (an
interrupted append) and refuses damage anywhere else, naming the line.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import io
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ResultsError, StorageError, UsageError
from ..safe_read import ReadRefused, read_regular_file
from .schema import (
    COLUMNS,
    EARLIER_HEADERS,
    FLOAT_COLUMNS,
    INT_COLUMNS,
    RESULTS_FILE,
    STATUSES,
    Row,
)

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


def create_folder(folder: Path, label: str | None = None) -> None:
    """Create ``folder`` and its parents, or say why not (naming it ``label``, default its
    path): a file where a folder must go is bad input (:class:`UsageError`, exit 2),
    anything else a :class:`StorageError`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        named = label or str(folder)
        in_the_way = (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir())
        blocker = next(in_the_way, None)
        if blocker is not None:
            raise UsageError(f"cannot create {named}: {blocker} is a file, not a folder") from None
        raise StorageError(f"cannot create {named}: {exc.strerror or exc}") from None


TEMP_MARK = ".tmp-"  # atomic_write's temporary names: .<name>.tmp-<pid>


def atomic_write(path: Path, data: bytes, sync: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never a mix.

    ``sync=False`` leaves making it durable to the caller, who may then make several files
    durable at once with :func:`make_durable` (a group commit); until then a crash may
    leave the name with nothing behind it, so nothing may point to it yet.
    """
    # in system calls, without pathlib's or io's layers: a sweep of small runs writes
    # thousands of parameters files, and those layers cost as much as the calls
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}{TEMP_MARK}{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            _write_all(fd, data)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:  # also Ctrl-C: leave no temporary file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, IsADirectoryError) or (isinstance(exc, OSError) and path.is_dir()):
            raise UsageError(f"cannot write {path}: it is a folder; give a file name") from None
        if isinstance(exc, OSError):
            raise _storage_error(exc, path) from None
        raise
    if sync:
        _fsync_dir(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    """``data`` to ``fd``, however many writes it takes (a write may take only a part)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written == 0:  # no room, and no error said so
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


GROUP_SYNC_FROM = 3  # files: from this many, one syncfs (Linux) rather than an fsync each
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _syncfs(folder: Path) -> bool:
    """Flush the whole filesystem holding ``folder`` (Linux's syncfs); False if there is none."""
    syncfs = getattr(_LIBC, "syncfs", None)
    if syncfs is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    finally:
        os.close(fd)
    return True


def make_durable(paths: list[Path]) -> None:
    """Make files written with ``atomic_write(sync=False)`` durable, with their names.

    From :data:`GROUP_SYNC_FROM` files on, one ``syncfs`` of their filesystem where the
    system has it (Linux): it costs about one fsync however many files there are (it also
    flushes whatever else was written there). Otherwise an fsync of each file, then of
    each folder.
    """
    if not paths:
        return
    try:
        if len(paths) >= GROUP_SYNC_FROM and _syncfs(paths[0].parent):
            return
        for path in paths:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        for folder in {path.parent for path in paths}:
            _fsync_dir(folder)
    except OSError as exc:
        raise _storage_error(exc, paths[0].parent) from None


def remove_temporaries(folder: Path) -> None:
    """Delete what :func:`atomic_write` left in ``folder`` when its process was killed.

    Only call this while holding the folder's lock: then no live writer owns them.
    """
    for tmp in folder.glob(f".*{TEMP_MARK}*"):
        tmp.unlink(missing_ok=True)


def format_row(row: Row | dict) -> str:
    """One CSV line (with its newline) holding ``row``'s values in :data:`COLUMNS` order."""
    return format_rows([row])


def format_rows(rows: Sequence[Row | dict]) -> str:
    """The CSV lines of ``rows``, each as :func:`format_row` writes it, written at once."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(
        [_cell(values.get(c)) for c in COLUMNS]
        for values in (row.values() if isinstance(row, Row) else row for row in rows)
    )
    return buf.getvalue()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    if type(v) is int:  # digits only: nothing to clean (most cells of a row)
        return str(v)
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
    """Appends rows to a results CSV durably: one write, flush and fsync per call."""

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

    def append(self, row: Row) -> None:
        self.append_many([row])

    def append_many(self, rows: list[Row]) -> None:
        """Append ``rows`` with one write and one fsync: all of them, or (disk full) none."""
        if not rows:
            return
        try:
            self._write(format_rows(rows))
        except OSError as exc:
            raise _storage_error(exc, self.path) from None

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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
    earlier = EARLIER_HEADERS.get(tuple(header))
    columns = COLUMNS if earlier is None else header
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
            row = (earlier or {}) | {c: _parse(v, c) for c, v in zip(columns, fields)}
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
    if repair and earlier is not None:  # rows appended next will have every column
        blob = ",".join(COLUMNS) + "\n" + format_rows(rows)
        atomic_write(path, blob.encode())
    return rows


def latest_rows(rows: list[dict]) -> list[dict]:
    """One row per configuration key: the last one written (a rerun supersedes a failure)."""
    by_key: dict[str, dict] = {}
    for row in rows:
        by_key.pop(row["key"], None)
        by_key[row["key"]] = row
    return list(by_key.values())


def read_results(path: Path):
    """The results as a pandas DataFrame, one row per configuration (latest wins)."""
    return results_frame(read_rows(path))


def results_frame(rows: list[dict]):
    """Rows as read by :func:`read_rows`, as a DataFrame: one per configuration (latest wins)."""
    import pandas as pd

    return pd.DataFrame(latest_rows(rows), columns=COLUMNS)


def find_latest_results(root: Path) -> Path:
    """The most recently written ``results.csv`` below ``root``."""
    found = sorted(root.glob(f"**/{RESULTS_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ResultsError(
            f"no {RESULTS_FILE} found under {root}/; run a sweep first or name the file"
        )
    return found[-1]


