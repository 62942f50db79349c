"""A stand-in for a disk that fills up, shared by the storage tests."""

import errno
import os


class FillingDisk:
    """Stands in for ``os`` inside sweep_nn.results.store: the disk has room for ``room`` more bytes."""

    def __init__(self, room: int):
        self.room = room

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd, data):
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = os.write(fd, data[: self.room])  # a short write, as a nearly full disk gives
        self.room -= n
        return n
