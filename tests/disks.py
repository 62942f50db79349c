"""A stand-in for a disk that fills up, shared by the storage tests."""

import errno
import os


class FillingDisk:
    """Stands in for ``os`` inside sweep_nn.results.store: the disk has room for ``room`` more
    bytes (written to the files named ``only``, if given: others are written in full)."""

    def __init__(self, room: int, only: str | None = None):
        self.room, self.only = room, only
        self.counted: set[int] = set()  # descriptors of the files whose writes use up room

    def __getattr__(self, name):
        return getattr(os, name)

    def open(self, path, flags, mode=0o777):
        fd = os.open(path, flags, mode)
        if self.only is None or os.path.basename(path) == self.only:
            self.counted.add(fd)
        else:
            self.counted.discard(fd)  # a number used again
        return fd

    def write(self, fd, data):
        if self.only is not None and fd not in self.counted:
            return os.write(fd, data)
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = os.write(fd, data[: self.room])  # a short write, as a nearly full disk gives
        self.room -= n
        return n
