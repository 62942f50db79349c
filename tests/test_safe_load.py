"""Loading parameter files never runs code from them, and refuses broken files by name.

The hostile pickles are assembled opcode by opcode for every protocol (0-5), so each one
names exactly the global it means to call. Each test that they are refused is paired with
a check, in a separate Python process, that plain ``pickle.load`` of the same bytes does
run the payload: the refusal is of a live threat.
"""

from __future__ import annotations

import pickle
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sweep_nn.cli import app
from sweep_nn.errors import ParamsError
from sweep_nn.results import params as store

PROTOCOLS = range(6)


# --- assembling pickles by hand --------------------------------------------------------------


def _text(proto: int, s: str) -> bytes:
    data = s.encode("utf-8")
    if proto == 0:
        return b"V" + s.encode("raw_unicode_escape") + b"\n"
    if proto >= 4 and len(data) < 256:
        return b"\x8c" + bytes([len(data)]) + data  # SHORT_BINUNICODE
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _global(proto: int, module: str, name: str) -> bytes:
    if proto >= 4:
        return _text(proto, module) + _text(proto, name) + b"\x93"  # STACK_GLOBAL
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"  # GLOBAL


def _call(proto: int, func: bytes, *args: bytes) -> bytes:
    return func + b"(" + b"".join(args) + b"tR"  # MARK args TUPLE REDUCE


def _in_weights_dict(proto: int, value: bytes) -> bytes:
    """``{"W1": [{"nested": value}]}``: the payload hides inside a dict, a list, a dict."""
    head = b"\x80" + bytes([proto]) if proto >= 2 else b""
    empty_dict = b"(d" if proto == 0 else b"}"
    empty_list = b"(l" if proto == 0 else b"]"
    inner = empty_dict + _text(proto, "nested") + value + b"s"
    return head + empty_dict + _text(proto, "W1") + empty_list + inner + b"as."


def hostile_payloads(proto: int, marker: str) -> dict[str, bytes]:
    """Pickles that would create the file ``marker`` when loaded with plain pickle."""
    shell = f"touch {marker}"
    g = lambda module, name: _global(proto, module, name)
    t = lambda s: _text(proto, s)
    list_of = lambda *items: b"(" + b"".join(items) + b"l"  # MARK ... LIST
    os_module = _call(proto, g("importlib", "import_module"), t("os"))
    bodies = {
        "os.system": _call(proto, g("os", "system"), t(shell)),
        "builtins.eval": _call(proto, g("builtins", "eval"), t(f"__import__('os').system({shell!r})")),
        "subprocess.check_output": _call(proto, g("subprocess", "check_output"), list_of(t("touch"), t(marker))),
        "subprocess.Popen": _call(proto, g("subprocess", "Popen"), list_of(t("touch"), t(marker))),
        "importlib.import_module": _call(proto, _call(proto, g("builtins", "getattr"), os_module, t("system")), t(shell)),
        "builtins.getattr": _call(
            proto,
            _call(proto, g("builtins", "getattr"), _call(proto, g("builtins", "__import__"), t("os")), t("system")),
            t(shell),
        ),
    }  # fmt: skip
    return {name: _in_weights_dict(proto, body) for name, body in bodies.items()}


HOSTILE = [(name, proto) for proto in PROTOCOLS for name in hostile_payloads(0, "m")]


@pytest.fixture
def hostile_files(tmp_path):
    """Every hostile pickle written to a file, each with its own marker path."""
    files = {}
    for name, proto in HOSTILE:
        marker = tmp_path / f"ran-{name}-{proto}"
        path = tmp_path / f"{name}-{proto}.pkl"
        path.write_bytes(hostile_payloads(proto, str(marker))[name])
        files[name, proto] = (path, marker)
    return files


# --- hostile files ---------------------------------------------------------------------------


def test_hostile_pickles_are_refused_without_running_and_do_run_under_plain_pickle(hostile_files):
    for (name, proto), (path, marker) in hostile_files.items():
        with pytest.raises(ParamsError, match="refused: the file asks to load") as caught:
            store.load_params(path)
        first_global = "builtins.getattr" if name == "importlib.import_module" else name
        assert first_global in str(caught.value), (name, proto)
        assert not marker.exists(), f"{name} (protocol {proto}) ran"

    # the same bytes under plain pickle.load do run: in a separate process
    script = textwrap.dedent(
        """
        import pickle, sys, time
        for path in sys.argv[1:]:
            with open(path, "rb") as fh:
                obj = pickle.load(fh)
            popen = obj["W1"][0]["nested"]
            if hasattr(popen, "wait"):
                popen.wait()
        """
    )
    paths = [str(path) for path, _ in hostile_files.values()]
    subprocess.run([sys.executable, "-c", script, *paths], check=True, timeout=120)
    ran = {key for key, (_, marker) in hostile_files.items() if marker.exists()}
    assert ran == set(hostile_files)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_pickled_object_whose_reduce_runs_a_command_is_refused(tmp_path, proto):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps({"W1": Payload()}, protocol=proto))
    with pytest.raises(ParamsError, match="refused"):
        store.load_params(path)
    assert not marker.exists()


def test_eval_refuses_a_hostile_file_with_one_line_and_exit_2(runner, hostile_files):
    path, marker = hostile_files["os.system", 5]
    result = runner.invoke(app, ["eval", str(path), "--activation", "tanh"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "refused" in result.stderr
    assert "Traceback" not in result.output
    assert not marker.exists()


# --- broken files ----------------------------------------------------------------------------


def good_params() -> dict:
    rng = np.random.RandomState(0)
    return {
        "W1": rng.randn(3, 2),
        "b1": np.zeros((3, 1)),
        "W2": rng.randn(1, 3),
        "b2": np.zeros((1, 1)),
    }


def broken_files() -> dict[str, bytes]:
    whole = pickle.dumps(good_params(), protocol=4)
    rng = np.random.RandomState(1)
    files = {"empty": b""}
    for cut in (1, 10, len(whole) // 2, len(whole) - 1):
        files[f"truncated-at-{cut}"] = whole[:cut]
    for seed in range(5):
        files[f"random-{seed}"] = np.random.RandomState(seed).bytes(int(rng.randint(1, 400)))
    files["text"] = b"W1,b1,W2,b2\n1,2,3,4\n"
    return files


@pytest.mark.parametrize(
    ("name", "content"), list(broken_files().items()), ids=list(broken_files())
)
def test_broken_files_give_one_line_and_exit_2(runner, tmp_path, name, content):
    path = tmp_path / "p.pkl"
    path.write_bytes(content)
    with pytest.raises(ParamsError):
        store.load_params(path)
    result = runner.invoke(app, ["eval", str(path), "--activation", "tanh"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output


def _without(key):
    p = good_params()
    del p[key]
    return p


def _with(**changes):
    return {**good_params(), **changes}


def _assert_refused(tmp_path, runner, obj, message, *eval_options):
    """Loading ``obj`` pickled raises ParamsError matching ``message``; eval exits 2 cleanly."""
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(ParamsError, match=message):
        store.load_params(path)
    result = runner.invoke(app, ["eval", str(path), *eval_options])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([1, 2, 3], "expected a dict of weights, found list"),
        (_without("W2"), "missing W2"),
        ({"b2": np.zeros((1, 1))}, "missing W1, b1, W2"),
        (_with(W1=np.zeros(3)), r"W1 must be a 2-D float array, found array of shape \(3,\)"),
        (_with(b1=[[0.0]] * 3), "b1 must be a 2-D float array, found list"),
        (_with(W1=np.zeros((3, 2), dtype=int)), "W1 must be a 2-D float array"),
        (_with(W2=np.ones((1, 4))), r"W2 has shape \(1, 4\), but W1 \(3, 2\) needs \(1, 3\)"),
        (_with(b1=np.zeros((2, 1))), r"b1 has shape \(2, 1\), but W1 \(3, 2\) needs \(3, 1\)"),
        (_with(W1=np.full((3, 2), np.nan)), "W1 holds non-finite values"),
        (_with(b2=np.array([[np.inf]])), "b2 holds non-finite values"),
    ],
    ids=[
        "not-a-dict",
        "missing-key",
        "missing-keys",
        "1-d",
        "list",
        "int-array",
        "W2-shape",
        "b1-shape",
        "nan",
        "inf",
    ],
)
def test_well_formed_files_with_unusable_weights_say_what_is_wrong(tmp_path, runner, obj, message):
    _assert_refused(tmp_path, runner, obj, message, "--activation", "tanh")


def described(**changes) -> dict:
    """A sweep-nn parameters file's contents, with ``changes`` applied (None deletes)."""
    meta = {
        "config": {"activation": "tanh"}, "train": {"output": "sigmoid"},
        "data": {"dataset": "moons", "n_samples": 100}, "task": "classification",
        "classes": [0, 1], "scaler": None,
    }  # fmt: skip
    obj = store.params_payload(good_params(), **meta)
    for k, v in changes.items():
        if v is None:
            del obj[k]
        else:
            obj[k] = v
    return obj


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (described(config=None), "incomplete sweep-nn parameters file, missing config"),
        (described(config="tanh"), "config must be a dict, found str"),
        (described(config={"activation": "swish"}), "config.activation 'swish' is not one of"),
        (described(config={"activation": ["tanh"]}), "config.activation"),
        (described(train={}), "train.output None is not one of"),
        (described(version=99), "version 99 is not supported"),
        (described(task="clustering"), "task must be classification or regression"),
        (
            described(scaler={"mean": np.zeros(5), "scale": np.ones(2)}),
            "scaler.mean must be 2 numbers",
        ),
        (
            described(scaler={"mean": np.zeros(2), "scale": np.array([1.0, np.nan])}),
            "scaler.scale holds non-finite",
        ),
    ],
    ids=[
        "no-config",
        "config-str",
        "activation",
        "activation-list",
        "output",
        "version",
        "task",
        "scaler-shape",
        "scaler-nan",
    ],
)
def test_sweep_files_missing_their_description_say_what_is_wrong(tmp_path, runner, obj, message):
    _assert_refused(tmp_path, runner, obj, message)


# --- what must still load ----------------------------------------------------------------------


ARRAYS = {
    "float64": np.arange(6.0).reshape(2, 3),
    "float32": np.ones((3, 1), dtype=np.float32),
    "fortran-order": np.asfortranarray(np.arange(6.0).reshape(3, 2)),
    "big-endian": np.arange(3, dtype=">f8"),
    "int64": np.arange(4),
    "bool": np.array([True, False]),
    "empty": np.zeros((0, 2)),
}
SCALARS = {"np.float64": np.float64(0.25), "np.int64": np.int64(3), "np.float32": np.float32(2.5)}


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_numpy_arrays_scalars_and_dtypes_load_with_every_protocol(proto):
    obj = {**ARRAYS, **SCALARS, "dtype": np.dtype("float32"), "plain": [1, 2.5, "x", None, (1,)]}
    data = pickle.dumps(obj, protocol=proto)
    back, plain = store.safe_unpickle(data), pickle.loads(data)
    for k, v in ARRAYS.items():
        assert back[k].dtype == plain[k].dtype, k  # as NumPy itself restores it
        np.testing.assert_array_equal(back[k], v)
    for k, v in SCALARS.items():
        assert type(back[k]) is type(v) and back[k] == v, k
    assert back["dtype"] == np.dtype("float32") and back["plain"] == [1, 2.5, "x", None, (1,)]


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_sweep_parameters_file_loads_with_every_protocol(tmp_path, proto):
    obj = described(
        scaler={"mean": np.zeros(2), "scale": np.ones(2)}, classes=[np.int64(0), np.int64(1)]
    )
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=proto))
    loaded = store.load_params(path)
    np.testing.assert_array_equal(loaded["W1"], obj["W1"])
    assert loaded["classes"] == [0, 1] and loaded["config"] == {"activation": "tanh"}


def test_a_numpy_1_file_naming_numpy_core_loads(data_dir):
    study = sorted(data_dir.glob("*.pkl")) or pytest.skip("no study pickle in tests/data")
    raw = study[0].read_bytes()
    assert b"numpy.core.multiarray" in raw  # written by NumPy 1.x
    p = store.load_params(study[0])
    assert p["W1"].shape == (3, 2)


@pytest.mark.parametrize("proto", [0, 2])
def test_the_bytes_helpers_of_old_protocols_accept_only_their_own_use(tmp_path, proto):
    huge = _call(proto, _global(proto, "__builtin__", "bytes"), b"L" + b"9" * 12 + b"L\n")
    other_codec = _call(
        proto, _global(proto, "_codecs", "encode"), _text(proto, "x"), _text(proto, "zlib")
    )
    for body, message in ((huge, "bytes\\(\\) with arguments"), (other_codec, "_codecs.encode")):
        path = tmp_path / "p.pkl"
        path.write_bytes(_in_weights_dict(proto, body))
        with pytest.raises(ParamsError, match=message):
            store.load_params(path)
