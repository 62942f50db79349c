"""The results file and parameter files on disk: durable appends, atomic writes, careful reads."""

from __future__ import annotations

import csv
import io
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from disks import FillingDisk

from sweep_nn.errors import ResultsError, StorageError
from sweep_nn.results import params as params_mod
from sweep_nn.results import store
from sweep_nn.results.schema import COLUMNS, EARLIER_HEADERS, RESULTS_FILE


def row(i: int, status: str = "ok", **extra) -> dict:
    return {
        "config_id": f"h{i}-tanh-lr0.5-it10", "key": f"key{i}", "hidden_size": i,
        "activation": "tanh", "learning_rate": 0.5, "iterations": 10, "batch_size": "full",
        "seed": 0, "train_acc": 90.0, "dev_acc": 88.5, "gap": 1.5, "fit_seconds": 0.25,
        "status": status, "dtype": "float64", **extra,
    }  # fmt: skip


def write_rows(path, n: int) -> None:
    with store.ResultsWriter(path) as writer:
        for i in range(1, n + 1):
            writer.append(row(i))


class CountingOs:
    """Stands in for ``os`` inside sweep_nn.results.store: counts write and fsync calls."""

    def __init__(self):
        self.writes = 0
        self.fsyncs = 0

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd, data):
        self.writes += 1
        return os.write(fd, data)

    def fsync(self, fd):
        self.fsyncs += 1
        return os.fsync(fd)


# --- writing ---------------------------------------------------------------------------------


def test_each_row_is_one_write_followed_by_fsync(tmp_path, monkeypatch):
    path = tmp_path / "results.csv"
    store.ResultsWriter(path).close()  # the header
    fake = CountingOs()
    monkeypatch.setattr(store, "os", fake)
    with store.ResultsWriter(path) as writer:
        for i in range(3):
            writer.append(row(i + 1))
            assert (fake.writes, fake.fsyncs) == (i + 1, i + 1)
    monkeypatch.undo()
    assert [r["config_id"] for r in store.read_rows(path)] == [
        row(i)["config_id"] for i in (1, 2, 3)
    ]


def test_a_short_write_on_a_full_disk_leaves_only_whole_rows(tmp_path, monkeypatch):
    path = tmp_path / "results.csv"
    write_rows(path, 2)
    before = path.read_bytes()
    monkeypatch.setattr(store, "os", FillingDisk(room=20))  # less than a row
    with store.ResultsWriter(path) as writer, pytest.raises(StorageError) as caught:
        writer.append(row(3))
    monkeypatch.undo()
    assert "No space left on device" in str(caught.value)
    assert path.read_bytes() == before


def test_reopening_appends_without_a_second_header(tmp_path):
    path = tmp_path / "results.csv"
    write_rows(path, 1)
    with store.ResultsWriter(path) as writer:
        writer.append(row(2))
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and lines[0] == ",".join(COLUMNS)


def test_atomic_write_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "p.pkl"
    store.atomic_write(path, b"old")
    store.atomic_write(path, b"new contents")
    assert path.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["p.pkl"]


def test_atomic_write_interrupted_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "p.pkl"
    store.atomic_write(path, b"old")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(store.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.atomic_write(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["p.pkl"]


def test_atomic_write_finishes_a_write_the_system_took_in_parts(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(store.os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    store.atomic_write(tmp_path / "p.pkl", b"0123456789")
    assert (tmp_path / "p.pkl").read_bytes() == b"0123456789"


def test_atomic_write_that_writes_nothing_is_a_storage_error_and_leaves_no_file(
    tmp_path, monkeypatch
):
    calls = []

    def writes_nothing(fd, data):
        calls.append(fd)
        assert len(calls) < 100, "a write of nothing was tried again and again"
        return 0

    monkeypatch.setattr(store.os, "write", writes_nothing)
    with pytest.raises(StorageError, match="No space left"):
        store.atomic_write(tmp_path / "p.pkl", b"x")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_into_a_missing_folder_is_a_storage_error(tmp_path):
    with pytest.raises(StorageError, match="cannot write .*p.pkl"):
        store.atomic_write(tmp_path / "no-such-folder" / "p.pkl", b"x")


def test_temporaries_of_a_killed_writer_are_removed(tmp_path):
    (tmp_path / ".h1.pkl.tmp-12345").write_bytes(b"half")
    (tmp_path / "h1.pkl").write_bytes(b"whole")
    store.remove_temporaries(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["h1.pkl"]


def test_parameters_round_trip_through_the_safe_loader(tmp_path):
    weights = {
        "W1": np.arange(6.0).reshape(3, 2), "b1": np.zeros((3, 1)),
        "W2": np.ones((1, 3)), "b2": np.zeros((1, 1)),
    }  # fmt: skip
    path = tmp_path / "p.pkl"
    meta = {
        "config": {"activation": "tanh"}, "train": {"output": "sigmoid"}, "data": {"dataset": "moons"},
        "task": "classification", "classes": [0, 1], "scaler": None,
    }  # fmt: skip
    store.atomic_write(path, params_mod.params_bytes(weights, **meta))
    loaded = params_mod.load_params(path)
    assert loaded["format"] == params_mod.PARAMS_FORMAT and loaded["config"] == {"activation": "tanh"}
    for k, v in weights.items():
        np.testing.assert_array_equal(loaded[k], v)


# --- reading ---------------------------------------------------------------------------------


def test_a_torn_last_line_is_dropped_and_cut_off_only_on_repair(tmp_path):
    path = tmp_path / "results.csv"
    write_rows(path, 3)
    whole = path.read_bytes()
    torn = whole + store.format_row(row(4)).encode()[:25]
    path.write_bytes(torn)
    assert len(store.read_rows(path)) == 3
    assert path.read_bytes() == torn  # reading alone changes nothing
    assert len(store.read_rows(path, repair=True)) == 3
    assert path.read_bytes() == whole


def test_damage_before_the_last_line_is_refused_with_its_line_number(tmp_path):
    path = tmp_path / "results.csv"
    write_rows(path, 4)
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2][:30] + "\n"  # line 3 of the file
    path.write_text("".join(lines))
    with pytest.raises(ResultsError, match=r"line 3: damaged row"):
        store.read_rows(path, repair=True)
    assert path.read_text() == "".join(lines)  # never "repaired" away


def test_a_row_with_a_bad_value_is_refused_with_its_line_number(tmp_path):
    path = tmp_path / "results.csv"
    write_rows(path, 3)
    text = path.read_text().replace("90.0", "ninety", 1)
    path.write_text(text)
    with pytest.raises(ResultsError, match="line 2: damaged row"):
        store.read_rows(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"a,b,c\n1,2,3\n", "not a sweep-nn results file"),
        (bytes(range(256)) * 4, "not a sweep-nn results file|is not text"),
    ],
    ids=["empty", "other-csv", "binary"],
)
def test_a_file_that_is_not_ours_is_refused(tmp_path, content, message):
    path = tmp_path / "results.csv"
    path.write_bytes(content)
    with pytest.raises(ResultsError, match=message):
        store.read_rows(path)


def test_the_latest_row_of_a_configuration_wins(tmp_path):
    rows = [row(1, "failed", error="boom"), row(2), row(1)]
    latest = store.latest_rows(rows)
    assert [(r["key"], r["status"]) for r in latest] == [("key2", "ok"), ("key1", "ok")]


def test_results_written_then_read_keep_their_types(tmp_path):
    path = tmp_path / "results.csv"
    with store.ResultsWriter(path) as writer:
        writer.append(row(1, "diverged", diverged_at=100))
    (back,) = store.read_rows(path)
    assert back["diverged_at"] == 100 and back["hidden_size"] == 1
    assert back["learning_rate"] == 0.5 and back["train_acc"] is not None
    assert pickle.loads(pickle.dumps(back)) == back


@pytest.mark.parametrize("missing", list(EARLIER_HEADERS.values()), ids=lambda m: "-".join(m))
def test_results_from_before_added_columns_are_read_and_resumed(
    tmp_path, write_config, runner, missing
):
    from sweep_nn.cli import app

    cfg, out = write_config(), tmp_path / "out"
    assert runner.invoke(app, ["run", str(cfg), "--out", str(out), "-j", "1", "-q"]).exit_code == 0
    results = out / RESULTS_FILE
    current = store.read_rows(results)
    # the same results as an earlier version wrote them: without the columns added since
    table = list(csv.reader(io.StringIO(results.read_text())))
    keep = [i for i, name in enumerate(table[0]) if name not in missing]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([[r[i] for i in keep] for r in table])
    earlier = buf.getvalue()
    results.write_text(earlier)

    as_then = [row | missing for row in current]  # what an earlier file can say
    assert store.read_rows(results) == as_then
    assert results.read_text() == earlier  # reading does not change the file

    done = runner.invoke(app, ["run", str(cfg), "--out", str(out), "-j", "1"])
    assert done.exit_code == 0, done.output
    assert f"({len(current)} already recorded" in done.stderr
    assert results.read_text().splitlines()[0] == ",".join(COLUMNS)  # brought up to date
    assert store.read_rows(results) == as_then


def test_rows_that_finish_together_share_one_write_and_fsync(tmp_path, monkeypatch):
    import yaml

    from sweep_nn.config import parse
    from sweep_nn.sweep.run import run_sweep

    cfg = parse(yaml.safe_dump({
        "name": "group", "data": {"dataset": "moons", "n_samples": 100},
        "grid": {"hidden_sizes": [1, 2, 3, 4], "activations": ["tanh", "relu"],
                 "learning_rates": [0.6, 0.1], "iterations": [5, 20], "seeds": list(range(25))},
        "train": {"loss_points": 2},
    }))  # fmt: skip
    writes, reported = [], []
    real = store.ResultsWriter._write

    def counting(self, text):
        writes.append(text.count("\n"))
        real(self, text)

    monkeypatch.setattr(store.ResultsWriter, "_write", counting)
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # what is counted is calls, not the disk
    out = tmp_path / "out"

    def on_row(row):  # reported only once its group is written
        assert (out / row.params_path).is_file() and sum(writes) > len(reported)
        reported.append(row)

    run_sweep(cfg, out, n_jobs=1, on_row=on_row)
    assert sum(writes) == len(reported) == 800
    assert len(writes) < 800 / 4  # small runs travel in groups, and their rows commit together


def test_a_group_of_files_is_made_durable_with_one_syncfs(tmp_path, monkeypatch):
    synced, fsynced = [], []
    monkeypatch.setattr(store, "_syncfs", lambda folder: synced.append(folder) or True)
    monkeypatch.setattr(os, "fsync", lambda fd: fsynced.append(fd))
    paths = [tmp_path / f"{i}.pkl" for i in range(5)]
    for path in paths:
        store.atomic_write(path, b"x", sync=False)
    assert fsynced == []  # nothing durable yet: make_durable does it for all at once
    store.make_durable(paths)
    assert synced == [tmp_path] and fsynced == []
    store.make_durable(paths[:2])  # too few to be worth flushing a whole filesystem
    assert synced == [tmp_path] and len(fsynced) == 3  # two files and their folder


def test_without_syncfs_each_file_and_its_folder_is_fsynced(tmp_path, monkeypatch):
    fsynced = []
    monkeypatch.setattr(store, "_syncfs", lambda folder: False)
    monkeypatch.setattr(os, "fsync", lambda fd: fsynced.append(fd))
    paths = [tmp_path / f"{i}.pkl" for i in range(4)]
    for path in paths:
        store.atomic_write(path, b"x", sync=False)
    store.make_durable(paths)
    assert len(fsynced) == 5


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_syncfs_is_called_for_real(tmp_path):
    assert store._syncfs(tmp_path) is True


def test_rows_are_written_only_after_their_parameters_files_are_durable(tmp_path, monkeypatch):
    import yaml

    from sweep_nn.config import parse
    from sweep_nn.sweep.run import run_sweep

    cfg = parse(yaml.safe_dump({
        "name": "order", "data": {"dataset": "moons", "n_samples": 100},
        "grid": {"hidden_sizes": [1, 2], "activations": ["tanh"], "learning_rates": [0.6],
                 "iterations": [5, 20], "seeds": [0, 1, 2]},
    }))  # fmt: skip
    durable: set[str] = set()
    real_durable, real_write = store.make_durable, store.ResultsWriter.append_many

    def noting(paths):
        real_durable(paths)
        durable.update(p.name for p in paths)

    def checking(self, rows):
        assert all(Path(r.params_path).name in durable for r in rows if r.params_path)
        real_write(self, rows)

    monkeypatch.setattr(store, "make_durable", noting)
    monkeypatch.setattr(store.ResultsWriter, "append_many", checking)
    run_sweep(cfg, tmp_path / "out", n_jobs=1)
    assert len(durable) == 12
