"""How a ``sweep-nn`` process ends: with the command's status and all its output, without
tearing its modules down (a tenth of a second or more, on every command)."""

from __future__ import annotations

import pstats
import subprocess
import sys
import textwrap
from pathlib import Path

import sweep_nn

ROOT = Path(sweep_nn.__file__).resolve().parent.parent


def _python(args: list[str], tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python ARGS`` in ``tmp_path``, importing this checkout's sweep_nn."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def _code(code: str) -> list[str]:
    return ["-c", textwrap.dedent(code)]


def _entry_point(argv: list[str], before: str = "") -> str:
    """Python code that runs the console script's entry point on ``argv`` after ``before``."""
    return (
        "import sys\nimport sweep_nn.cli as cli\n"
        + textwrap.dedent(before)
        + f"\nsys.argv = ['sweep-nn', *{argv!r}]\ncli.main()\n"
    )


def test_a_finished_command_ends_without_tearing_down_its_modules(tmp_path):
    # an object a module holds is finalised when Python unloads its modules, and not otherwise
    before = """
        import os
        class Witness:
            def __del__(self):
                os.write(2, b"modules torn down\\n")
        cli.witness = Witness()
    """
    done = _python(_code(_entry_point(["--help"], before)), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "modules torn down" not in done.stderr
    assert "Usage" in done.stdout and "run" in done.stdout


def test_under_a_profiler_python_ends_the_process_and_the_profile_is_written(tmp_path):
    done = _python(["-m", "cProfile", "-o", "run.prof", "-m", "sweep_nn", "--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert pstats.Stats(str(tmp_path / "run.prof")).total_calls > 0


def test_what_python_does_at_exit_is_still_done(tmp_path):
    before = """
        import atexit, threading, time
        from pathlib import Path
        atexit.register(lambda: Path("atexit-ran").write_text("yes"))
        def late():
            time.sleep(0.5)
            Path("thread-finished").write_text("yes")
        threading.Thread(target=late).start()  # not a daemon: Python waits for it
        print("printed before the command", end="")  # left in the buffer: no newline
    """
    done = _python(_code(_entry_point(["ls", "no-such-folder"], before)), tmp_path)
    assert done.returncode not in (0, 1), done.stderr  # the command's own error status
    assert "no-such-folder" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout.startswith("printed before the command")
    assert (tmp_path / "atexit-ran").read_text() == "yes"
    assert (tmp_path / "thread-finished").read_text() == "yes"


def test_a_thread_told_to_end_before_threads_are_joined_does_not_hold_the_exit(tmp_path):
    # as joblib's worker pool does: its manager thread ends once Python's hook, run before
    # the threads are joined, wakes it; joined first, it waited for ever
    before = """
        import threading
        told = threading.Event()
        threading._register_atexit(told.set)
        threading.Thread(target=told.wait).start()
    """
    done = _python(_code(_entry_point(["--version"], before)), tmp_path, timeout=30)
    assert done.returncode == 0, done.stderr


def test_the_status_is_the_one_python_would_give(tmp_path):
    code = """
        import os, sys
        from sweep_nn.cli.startup import end_process
        if sys.argv[1] == "closed stdout":
            sys.stdout = open(os.devnull, "w")
            sys.stdout.close()
            end_process(0)
        end_process({"none": None, "int": 3, "text": "a message"}[sys.argv[1]])
    """
    statuses = {}
    for case in ("none", "int", "text", "closed stdout"):
        done = _python([*_code(code), case], tmp_path)
        statuses[case] = (done.returncode, done.stderr.strip())
    assert statuses == {
        "none": (0, ""),
        "int": (3, ""),
        "text": (1, "a message"),
        "closed stdout": (120, ""),
    }


def test_ctrl_c_as_ctrl_c_goes_back_to_exiting_at_once_still_says_its_line(monkeypatch):
    """A KeyboardInterrupt from the switch at a command's end leaves the command's own
    handling; Typer alone would end with exit 130 and nothing said."""
    from typer.testing import CliRunner

    from sweep_nn.cli import app, base

    def interrupted_while_switching() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(base, "command_over", interrupted_while_switching)
    result = CliRunner().invoke(app, ["workers", "status"])
    assert result.exit_code == 130
    assert result.stderr == "interrupted\n"  # into the capture, as sys.stderr is replaced
