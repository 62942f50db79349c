"""Bounded reads of regular files: never a device, a FIFO or a folder, never unbounded.

``/dev/zero`` would be read until memory runs out, and opening a FIFO blocks until a
writer appears; both are refused before a byte is read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class ReadRefused(OSError):
    """The path is not a regular file, or is larger than the limit; ``str()`` says which."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def read_regular_file(path: str | Path, limit_bytes: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit_bytes`` of them.

    Raises FileNotFoundError / IsADirectoryError / PermissionError (as ``open`` does),
    and :class:`ReadRefused` for anything else that is not a regular file or is larger
    than ``limit_bytes``. ``what`` names the file in messages ("config file", ...).
    """
    path = Path(path)
    info = os.stat(path)  # follows symlinks, as open does
    _check(path, info, limit_bytes, what)
    # O_NONBLOCK: if the path became a FIFO since the stat, opening it still returns at once
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        _check(path, os.fstat(fd), limit_bytes, what)  # the file actually opened
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit_bytes:  # it grew while being read
                raise ReadRefused(errno.EFBIG, _too_large(path, size, limit_bytes, what))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _check(path: Path, info: os.stat_result, limit_bytes: int, what: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, f"{path} is a folder, not a {what}", str(path))
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a FIFO" if stat.S_ISFIFO(info.st_mode)
            else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket" if stat.S_ISSOCK(info.st_mode)
            else "not a regular file"
        )  # fmt: skip
        raise ReadRefused(errno.EINVAL, f"{path} is {kind}, not a {what}")
    if info.st_size > limit_bytes:
        raise ReadRefused(errno.EFBIG, _too_large(path, info.st_size, limit_bytes, what))


def _too_large(path: Path, size: int, limit_bytes: int, what: str) -> str:
    return f"{path} is too large for a {what} ({size:,} bytes; the limit is {limit_bytes:,})"
