"""sweep-nn ls: every sweep under a folder, its rows against its grid, its best, its age."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from sweeps import run_each_task
from typer.testing import CliRunner

from sweep_nn.cli import app
from sweep_nn.errors import LockedError
from sweep_nn.results import store
from sweep_nn.results.listing import list_sweeps
from sweep_nn.results.schema import COLUMNS
from sweep_nn.sweep.folder import LOCK_FILE, locked


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return run_each_task(tmp_path_factory.mktemp("finished"))


@pytest.fixture
def root(tmp_path, finished, monkeypatch):
    """A fresh output/ in the working folder: two finished sweeps, copied, and what a test adds.

    Named as people name it (``output``), so the table has the width it has for them.
    """
    monkeypatch.chdir(tmp_path)
    out = Path("output")
    for folder in finished.values():
        shutil.copytree(folder, out / folder.name)
    return out


def ls(*args):
    return CliRunner().invoke(app, ["ls", *map(str, args)])


def listed(*args) -> dict[str, dict]:
    result = ls(*args, "--json")
    assert result.exit_code == 0, result.output
    return {os.path.basename(entry["folder"]): entry for entry in json.loads(result.stdout)}


def _edit_grid(folder, **axes):
    copy = folder / "config.yaml"
    config = yaml.safe_load(copy.read_text())
    config["grid"].update(axes)
    copy.write_text(yaml.safe_dump(config))


def test_each_sweep_is_listed_with_its_rows_status_and_best(root):
    lines = listed(root)
    assert set(lines) == {"tiny-classification", "tiny-regression"}
    for name, task, metric in (
        ("tiny-classification", "classification", "dev_acc"),
        ("tiny-regression", "regression", "dev_r2"),
    ):
        line = lines[name]
        df = store.read_results(root / name / "results.csv")
        ok = df[df["status"] == "ok"]
        assert line["name"] == name and line["task"] == task and line["metric"] == metric
        assert (line["done"], line["total"]) == (len(df), 2)
        assert sum(line["status"].values()) == len(df)
        assert line["status"]["ok"] == len(ok)
        assert line["best"] == ok[metric].max()
        assert line["best_config_id"] == ok.loc[ok[metric].idxmax(), "config_id"]
        assert line["earlier_rows"] == 0 and line["error"] is None
        datetime.fromisoformat(line["modified"])


def test_a_grid_not_finished_counts_what_is_left_and_what_is_earlier(root):
    folder = root / "tiny-classification"
    _edit_grid(folder, learning_rates=[0.5, 0.1, 0.05])  # 6 configurations, 2 done
    assert (listed(root)["tiny-classification"]["done"], 6) == (2, 6)
    _edit_grid(folder, hidden_sizes=[3], learning_rates=[0.5])  # none of the rows is current
    line = listed(root)["tiny-classification"]
    assert (line["done"], line["total"], line["earlier_rows"]) == (0, 2, 2)
    assert line["best"] is None and line["task"] is None


def test_failed_rows_are_not_done(root):
    path = root / "tiny-classification" / "results.csv"
    rows = store.read_rows(path)
    rows[0] |= {"status": "failed", "error": "boom", "train_acc": None, "dev_acc": None}
    path.write_text(",".join(COLUMNS) + "\n" + "".join(store.format_row(r) for r in rows))
    line = listed(root)["tiny-classification"]
    assert line["status"] == {"ok": 1, "diverged": 0, "failed": 1}
    assert line["done"] == 1


def test_the_newest_comes_first(root):
    now = datetime.now().timestamp()
    for age, name in enumerate(["tiny-regression", "tiny-classification"]):
        os.utime(root / name / "results.csv", (now - age * 3600, now - age * 3600))
    assert [line.folder.name for line in list_sweeps(root)] == [
        "tiny-regression",
        "tiny-classification",
    ]
    os.utime(root / "tiny-classification" / "results.csv", (now + 60, now + 60))
    assert list_sweeps(root)[0].folder.name == "tiny-classification"


@pytest.mark.parametrize(
    ("content", "said"),
    [(b"not,a,results,file\n", "is not a sweep-nn results file"), (b"", "is empty")],
)
def test_a_damaged_sweep_is_listed_with_the_reason_and_hides_no_other(root, content, said):
    (root / "broken").mkdir()
    (root / "broken" / "results.csv").write_bytes(content)
    lines = listed(root)
    assert said in lines["broken"]["error"]
    assert lines["tiny-regression"]["error"] is None
    table = ls(root)
    assert table.exit_code == 0
    (row,) = [row for row in table.stdout.splitlines() if "output/broken" in row]
    assert "unreadable" in row
    assert f"output/broken: results.csv {said}" in table.stderr
    assert "tiny-regression" in table.stdout


def test_a_sweep_with_only_a_header_is_listed_as_none_done(root):
    (root / "started").mkdir()
    (root / "started" / "results.csv").write_text(",".join(COLUMNS) + "\n")
    line = listed(root)["started"]
    assert (line["done"], line["total"], line["best"], line["error"]) == (0, None, None, None)


def test_the_table_shows_the_same_lines(root):
    result = ls(root)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "2 sweeps" in text
    for name, line in listed(root).items():
        assert str(root / name) in text
        assert f"{line['done']}/{line['total']}" in text
    best = listed(root)
    assert f"{best['tiny-classification']['best']:.2f}%" in text
    assert f"R² {best['tiny-regression']['best']:.4f}" in text
    assert "earlier rows" not in text


def test_the_default_is_output_in_the_working_folder(root):
    assert set(listed()) == {"tiny-classification", "tiny-regression"}


def test_a_sweep_folder_itself_lists_that_sweep(root):
    assert set(listed(root / "tiny-regression")) == {"tiny-regression"}


def test_links_are_not_followed(root):
    (root / "loop").symlink_to(root, target_is_directory=True)
    assert len(listed(root)) == 2


def test_nothing_to_list_is_said_and_not_an_error(tmp_path):
    result = ls(tmp_path)
    assert result.exit_code == 0, result.output
    assert "no sweeps under" in result.stderr
    assert json.loads(ls(tmp_path, "--json").stdout) == []


@pytest.mark.parametrize("name", ["missing", "a-file"])
def test_a_folder_that_is_not_one_is_refused(tmp_path, name):
    (tmp_path / "a-file").write_text("x")
    result = ls(tmp_path / name)
    assert result.exit_code == 2, result.output
    assert "is not a folder" in result.stderr


def test_the_name_column_is_shown_when_a_name_differs_from_its_folder(root):
    assert "┃ name" not in ls(root).stdout  # each folder is named after its sweep
    shutil.copytree(root / "tiny-regression", root / "renamed")
    result = ls(root)
    (row,) = [row for row in result.stdout.splitlines() if "output/renamed" in row]
    assert "┃ name" in result.stdout and "tiny-regression" in row


def test_a_time_of_today_is_its_hour_and_an_older_one_its_day(root):
    folder = root / "tiny-regression"
    old, now = datetime(2020, 3, 4, 5, 6).timestamp(), datetime.now().timestamp()
    os.utime(folder / "results.csv", (old, old))
    os.utime(root / "tiny-classification" / "results.csv", (now, now))
    (row,) = [row for row in ls(root).stdout.splitlines() if str(folder) in row]
    assert "2020-03-04" in row
    (row,) = [row for row in ls(root).stdout.splitlines() if "tiny-classification" in row]
    hour = datetime.fromtimestamp((root / "tiny-classification" / "results.csv").stat().st_mtime)
    assert hour.strftime("%H:%M") in row


def test_a_folder_name_that_looks_like_markup_is_shown_as_it_is(root):
    shutil.copytree(root / "tiny-regression", root / "[red]x")
    assert "output/[red]x" in ls(root).stdout


# --- a sweep a run is training into ---------------------------------------------------------

HOLD = """
import sys
from pathlib import Path
from sweep_nn.sweep.folder import locked
with locked(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_folder_a_live_run_holds_is_running_and_a_lock_left_behind_is_not(root):
    held = root / "tiny-classification"
    assert (held / LOCK_FILE).exists()  # every run leaves its lock file behind, unheld
    assert not any(line["running"] for line in listed(root).values())
    args = [sys.executable, "-c", HOLD, str(held)]
    holder = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        lines = listed(root)
        assert lines["tiny-classification"]["running"] is True
        assert lines["tiny-regression"]["running"] is False
        (row,) = [row for row in ls(root).stdout.splitlines() if "tiny-classification" in row]
        assert "running: 2 ok" in row
        with pytest.raises(LockedError), locked(held):  # the looks took nothing from it
            pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert listed(root)["tiny-classification"]["running"] is False  # its holder has exited
    assert "running" not in ls(root).stdout


def test_looking_at_the_lock_creates_no_file(root):
    (root / "tiny-regression" / LOCK_FILE).unlink()
    assert listed(root)["tiny-regression"]["running"] is False
    assert not (root / "tiny-regression" / LOCK_FILE).exists()


def test_a_run_starting_while_ls_looks_at_its_lock_is_not_turned_away(root):
    folder = root / "tiny-regression"
    fd = os.open(folder / LOCK_FILE, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # what ls holds, for an instant
    threading.Timer(0.05, os.close, [fd]).start()
    with locked(folder):
        pass
