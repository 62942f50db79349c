"""Property-based fuzzing of parameters files: a mangled payload evaluates or is refused cleanly.

Each example takes the payload a real sweep wrote and changes one key: a new value of any
type the loader lets through (containers, scalars, NumPy scalars and arrays, shared
references), a deleted key or an unknown one. "Cleanly" means: the library raises a
SweepNNError of one line naming the key; ``eval`` prints that line on stderr and exits 2;
no other exception, never a traceback.
"""

from __future__ import annotations

import copy
import pickle
import string

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

import sweep_nn
from sweep_nn.cli import app
from sweep_nn.errors import ParamsError, SweepNNError
from sweep_nn.results import params as params_mod

FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
WORDS = ["tanh", "relu", "sigmoid", "softmax", "linear", "moons", "csv", "classification",
         "regression", "full", "float32", "float64", "standard", "none", "sweep-nn/params"]  # fmt: skip
SHAPES = [(), (0,), (2,), (3,), (1, 1), (3, 1), (3, 2), (1, 3), (2, 3), (2, 2), (0, 2)]
DTYPES = [np.float64, np.float32, np.float16, np.int64, np.bool_, np.complex128]

numpy_scalars = st.one_of(
    st.floats(width=64).map(np.float64),
    st.floats(width=32).map(np.float32),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.text(max_size=8).map(np.str_),
)
arrays = st.one_of(
    *(
        hnp.arrays(dtype, st.sampled_from(SHAPES), elements=None if dtype != np.float64 else
                   st.floats(allow_nan=True, allow_infinity=True, width=64))
        for dtype in DTYPES
    ),
    st.sampled_from(SHAPES).map(lambda shape: np.full(shape, None, dtype=object)),
)  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=2**1000, max_value=2**1100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.sampled_from(WORDS),
    numpy_scalars,
    arrays,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.sampled_from(WORDS), st.text(max_size=8)), inner, max_size=4),
        st.tuples(inner, st.integers(0, 10**4)).map(lambda t: [t[0]] * t[1]),  # shared references
    ),
    max_leaves=10,
)
names = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict:
    """A payload a real sweep wrote: moons, standardised (so it has a scaler), a loss curve."""
    folder = tmp_path_factory.mktemp("fuzz")
    cfg = {
        "name": "fuzz",
        "data": {"dataset": "moons", "n_samples": 200, "scale": "standard"},
        "grid": {"hidden_sizes": [3], "activations": ["tanh"], "learning_rates": [0.5],
                 "iterations": [20]},
    }  # fmt: skip
    (folder / "f.yaml").write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(folder / "f.yaml"), "--out", str(folder / "o")])
    assert result.exit_code == 0, result.output
    return params_mod.load_params(next((folder / "o" / "params").glob("*.pkl")))


def places(payload: dict) -> list[str]:
    """Every key of the payload, and every key of its dict sections, as dotted paths."""
    found = []
    for key, value in payload.items():
        found.append(key)
        if isinstance(value, dict):
            found += [f"{key}.{inner}" for inner in value]
    return sorted(found)


@st.composite
def mangled(draw, payload: dict):
    """(the mangled payload, the key any refusal must name, a pickle protocol)."""
    obj = copy.deepcopy(payload)
    how = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if how == "add":
        sections = [None] + [k for k, v in obj.items() if isinstance(v, dict)]
        section = draw(st.sampled_from(sections))
        target = obj if section is None else obj[section]
        key = draw(names.filter(lambda k: k not in target))
        target[key] = draw(values)
        named = key
    else:
        where = draw(st.sampled_from(places(payload)))
        *parent, key = where.split(".")
        target = obj[parent[0]] if parent else obj
        if how == "delete":
            del target[key]
        else:
            target[key] = draw(values)
        named = where
    return obj, named, draw(st.integers(0, pickle.HIGHEST_PROTOCOL))


@FUZZ
@given(data=st.data())
def test_a_mangled_payload_evaluates_or_is_refused_naming_its_key(tmp_path, written, data):
    obj, named, protocol = data.draw(mangled(written))
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    try:
        result = sweep_nn.evaluate(path, n_samples=30)
    except SweepNNError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 1000, message
        if isinstance(exc, ParamsError):
            assert named in message, (named, message)
        refused = True
    else:
        assert set(result) >= {"loss", "n_samples"}
        refused = False
    done = CliRunner().invoke(app, ["eval", str(path), "--n-samples", "30"])
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    assert done.exit_code == (2 if refused else 0), done.output
    if refused:
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.output


@FUZZ
@given(data=st.data())
def test_any_loss_curve_loads_or_is_refused_in_bounded_time(tmp_path, written, data):
    # what plot and report read: a refused curve is skipped, never a traceback
    from sweep_nn.plots.sweep import loss_curve

    obj = copy.deepcopy(written)
    obj["loss_curve"] = {
        "iterations": data.draw(st.one_of(values, st.lists(st.integers(-5, 40), max_size=30))),
        "loss": data.draw(st.one_of(values, st.lists(st.floats(), max_size=30))),
    }
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(obj))
    curve = loss_curve(path)
    if curve is not None:
        iterations, losses = curve
        assert iterations.ndim == losses.ndim == 1 and len(iterations) == len(losses)
        assert np.isfinite(losses).all() and (np.diff(iterations) > 0).all()


@pytest.mark.parametrize("stack", [np.zeros((3, 1)), "AUTO", 1, None])
def test_a_parameters_file_with_a_bad_stack_setting_is_refused_in_one_line(
    tmp_path, written, stack
):
    obj = copy.deepcopy(written)
    obj["train"]["stack"] = stack
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(ParamsError) as caught:
        sweep_nn.evaluate(path, n_samples=30)
    message = str(caught.value)
    assert "train.stack: must be true, false or auto, found " in message
    assert "\n" not in message
