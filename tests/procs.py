"""Processes as /proc shows them (Linux; psutil is not needed): alive, by session, by parent."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after "(comm)": state, ppid, pgrp, session, ..."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    fields = stat(pid)
    return fields is not None and fields[0] != "Z"  # a zombie has exited


def session_processes(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        fields = stat(int(entry.name)) if entry.name.isdigit() else None
        if fields and fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found


def session_left_after(sid: int, timeout: float) -> list[int]:
    """Wait up to ``timeout`` s for session ``sid`` to end; the processes still running then,
    each killed (SIGKILL), so that a failing test leaves nothing behind."""
    deadline = time.monotonic() + timeout
    while (left := session_processes(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # it ended meanwhile
            pass
    return left


def workers_of(pid: int) -> list[int]:
    """The live loky worker processes that ``pid`` started."""
    found = []
    for child in (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat(child)
        if fields and int(fields[1]) == pid and b"popen_loky_posix" in cmdline:
            found.append(child)
    return found
