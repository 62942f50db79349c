"""The compiled engine against the exact NumPy engine: gradients, trajectories, divergence,
the float32 approximations and the on-disk kernel cache."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from problems import examples

from sweep_nn import data as data_mod
from sweep_nn.nn import compiled, engine, kernel_math, kernels, plain
from sweep_nn.sweep import jobs as grid
from sweep_nn.sweep import worker as train

ACTIVATIONS = ["tanh", "sigmoid", "relu"]
OUTPUTS = ["sigmoid", "softmax", "linear"]
DTYPES = [np.float64, np.float32]
GRAD_RTOL = {np.float64: 1e-12, np.float32: 1e-4}
ROOT = Path(__file__).resolve().parent.parent


def problem(output, dtype, n_hidden=5, seed=0, scale=0.5):
    rng = np.random.RandomState(seed)
    X, Y = examples(output, rng)
    p = plain.init_params(X.shape[0], n_hidden, Y.shape[0], rng, init_scale=scale, dtype=dtype)
    return p, X.astype(dtype), Y.astype(dtype)


def relative_error(a: dict, b: dict) -> float:
    """Largest difference over all parameters, relative to each parameter's largest entry
    (absolute for a parameter that is all zeros)."""
    return max(
        float(np.abs(a[k] - b[k]).max() / (np.abs(b[k]).max() or 1.0)) for k in plain.PARAM_NAMES
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_the_numpy_engine(activation, output, dtype):
    p, X, Y = problem(output, dtype)
    expected = plain.gradients(p, X, Y, activation, output)
    got = compiled.gradients(p, X, Y, activation, output)
    assert all(got[k].shape == expected[k].shape for k in expected)
    assert all(got[k].dtype == dtype for k in expected)
    assert relative_error(got, expected) < GRAD_RTOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("n_in", [1, 2, 3, 5])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])  # one output row, and three
def test_gradients_match_for_any_number_of_inputs_over_several_chunks(n_in, output, dtype):
    """The fused pass treats the last two inputs and the last output apart from the rest:
    each count of inputs takes a different path, and 1100 examples span three chunks."""
    from sweep_nn.nn.kernels import CHUNK

    rng = np.random.RandomState(n_in)
    X, Y = examples(output, rng, m=2 * CHUNK + 76, n_in=n_in)
    p = plain.init_params(n_in, 4, Y.shape[0], rng, init_scale=0.5, dtype=dtype)
    X, Y = X.astype(dtype), Y.astype(dtype)
    expected = plain.gradients(p, X, Y, "tanh", output)
    assert relative_error(compiled.gradients(p, X, Y, "tanh", output), expected) < GRAD_RTOL[dtype]


def test_one_step_applies_the_gradients():
    p, X, Y = problem("softmax", np.float64)
    g = compiled.gradients(p, X, Y, "tanh", "softmax")
    q = {k: v.copy() for k, v in p.items()}
    compiled.train(q, X, Y, 0.3, 1, "tanh", "softmax")
    expected = {k: p[k] - 0.3 * g[k] for k in plain.PARAM_NAMES}
    assert relative_error(q, expected) < 1e-14
    assert relative_error(q, p) > 1e-3  # it moved


def numpy_engine(p, X, Y, lr, n, activation, output):
    ws = engine.Workspace(X.shape[0], p["W1"].shape[0], Y.shape[0], X.shape[1],
                           activation, output, p["W1"].dtype.type)  # fmt: skip
    ws.trainer(p, X, Y, lr)(n)


TRAJECTORY_RTOL = {np.float64: 1e-10, np.float32: 2e-4}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize(
    "activation, output", [("tanh", "sigmoid"), ("sigmoid", "softmax"), ("relu", "linear")]
)
def test_full_batch_trajectory_matches_the_numpy_engine(activation, output, dtype):
    p, X, Y = problem(output, dtype)
    q = {k: v.copy() for k, v in p.items()}
    numpy_engine(p, X, Y, 0.05, 200, activation, output)
    compiled.train(q, X, Y, 0.05, 200, activation, output)
    start = problem(output, dtype)[0]
    assert relative_error(p, start) > 1e-2  # 200 steps really moved the weights
    assert relative_error(q, p) < TRAJECTORY_RTOL[dtype]


def minibatch_job(activation, output, dtype, batch_size):
    settings = grid.TrainSettings(
        budgets=(200,), dtype=np.dtype(dtype).name, output=output, loss_points=0, engine="numpy",
    )  # fmt: skip
    return grid.Job(
        hidden_size=5, activation=activation, learning_rate=0.05, batch_size=batch_size,
        seed=3, settings=settings, config_ids=("c",), keys=("k",), init_scale=0.5,
    )  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("activation, output", [("tanh", "sigmoid"), ("relu", "softmax")])
def test_minibatch_trajectory_matches_the_numpy_engine(activation, output, dtype):
    """Batches of 16 over m = 37 (the last one has 5 examples), in train.py's order."""
    X, Y = examples(output, np.random.RandomState(1))
    data = data_mod.TrainingData(X, Y, X, Y, None, None, "classification")
    job = minibatch_job(activation, output, dtype, 16)

    def start():
        rng = np.random.RandomState(job.seed)
        return plain.init_params(3, 5, Y.shape[0], rng, "normal", 0.5, dtype), rng

    p, rng_p = start()
    train._make_advance([job], data, [p], rng_p, dtype)([200], 0)
    q, rng_q = start()
    compiled.train(q, X, Y, 0.05, 200, activation, output, batch_size=16, rng=rng_q)
    assert relative_error(p, start()[0]) > 1e-2
    assert relative_error(q, p) < TRAJECTORY_RTOL[dtype]
    assert rng_q.randint(1 << 30) == rng_p.randint(1 << 30)  # the same draws were taken

    # another batch order ends elsewhere: the comparison above can tell orders apart
    r, _ = start()
    compiled.train(r, X, Y, 0.05, 200, activation, output, 16, np.random.RandomState(99))
    assert relative_error(r, p) > 100 * TRAJECTORY_RTOL[dtype]


def test_minibatch_permutations_are_drawn_in_chunks_as_one_sequence(monkeypatch):
    X, Y = examples("sigmoid", np.random.RandomState(2))
    p, _ = plain.init_params(3, 4, 1, np.random.RandomState(0), dtype=np.float64), None
    q = {k: v.copy() for k, v in p.items()}
    compiled.train(p, X, Y, 0.1, 25, "tanh", "sigmoid", 8, np.random.RandomState(5))
    monkeypatch.setattr(compiled, "ORDERS_CHUNK", 4)
    compiled.train(q, X, Y, 0.1, 25, "tanh", "sigmoid", 8, np.random.RandomState(5))
    assert all(np.array_equal(p[k], q[k]) for k in p)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_divergence_leaves_non_finite_weights_without_raising(dtype):
    p, X, Y = problem("linear", dtype)
    Y = Y * 1e3
    with np.errstate(all="raise"):
        compiled.train(p, X, Y, 1e6, 200, "relu", "linear")
    weights = np.concatenate([v.ravel() for v in p.values()])
    assert not np.isfinite(weights).all() or np.abs(weights).max() > 1e30


LOSS_RTOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("batch_size", [None, 16])
def test_loss_samples_computed_in_the_kernel_match_the_plain_loss(output, dtype, batch_size):
    p, X, Y = problem(output, dtype)
    q = {k: v.copy() for k, v in p.items()}
    losses, taken = compiled.train_sampled(p, X, Y, 0.1, [0, 3, 5, 2], 3, "tanh", output,
                                           batch_size, np.random.RandomState(0))  # fmt: skip
    assert taken == 4 and len(losses) == 3
    rng = np.random.RandomState(0)
    for n, value in zip([0, 3, 5], losses):  # the same steps, with the loss taken in Python
        compiled.train(q, X, Y, 0.1, n, "tanh", output, batch_size, rng)
        assert value == pytest.approx(plain.loss(q, X, Y, "tanh", output), rel=LOSS_RTOL[dtype])
    compiled.train(q, X, Y, 0.1, 2, "tanh", output, batch_size, rng)
    assert all(np.array_equal(p[k], q[k]) for k in p)  # sampling does not change the steps


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_sampled_training_stops_at_the_first_sample_that_diverged(dtype):
    p, X, Y = problem("linear", dtype)
    with np.errstate(all="raise"):
        losses, taken = compiled.train_sampled(p, X, Y * 1e3, 1e6, [1] * 400, 400, "relu",
                                               "linear")  # fmt: skip
    assert taken == len(losses) < 400
    weights = np.concatenate([v.ravel() for v in p.values()])
    assert not (np.isfinite(losses[-1]) and np.isfinite(weights).all())
    assert np.isfinite(losses[:-1]).all()


def test_bad_names_and_arrays_are_refused():
    p, X, Y = problem("sigmoid", np.float64)
    with pytest.raises(KeyError):
        compiled.train(p, X, Y, 0.1, 1, "softplus", "sigmoid")
    with pytest.raises(ValueError):
        compiled.train({**p, "W1": np.asfortranarray(p["W1"])}, X, Y, 0.1, 1, "tanh", "sigmoid")
    with pytest.raises(ValueError):
        compiled.train(p, X, Y, 0.1, 1, "tanh", "sigmoid", batch_size=8)  # no rng


# --- float32 approximations --------------------------------------------------------------

GRID = np.linspace(-20, 20, 2_000_001).astype(np.float32)
SMALL = np.geomspace(1e-8, 1.0, 100_001).astype(np.float32)


def test_tanh32_error_is_bounded():
    exact = np.tanh(GRID.astype(np.float64))
    assert np.abs(kernel_math.squash(GRID, False) - exact).max() < 3e-7
    small = np.concatenate([-SMALL, SMALL])
    exact_small = np.tanh(small.astype(np.float64))
    assert (np.abs(kernel_math.squash(small, False) - exact_small) / np.abs(exact_small)).max() < 1e-6
    assert kernel_math.squash(np.array([np.inf, -np.inf], np.float32), False).tolist() == [1.0, -1.0]


def test_sigmoid32_error_is_bounded():
    exact = 1.0 / (1.0 + np.exp(-GRID.astype(np.float64)))
    assert np.abs(kernel_math.squash(GRID, True) - exact).max() < 2e-7



GRID64 = np.linspace(-30, 30, 600_001)
SMALL64 = np.concatenate([-np.geomspace(1e-300, 1, 20_001), np.geomspace(1e-300, 1, 20_001)])


def test_tanh64_is_within_a_few_ulps():
    exact = np.tanh(GRID64.astype(np.longdouble))
    ulp = np.spacing(np.abs(exact).astype(np.float64).clip(1e-300))  # of the exact value
    ulps = np.abs(kernel_math.squash(GRID64, False) - exact) / ulp
    assert float(ulps.max()) < 4
    exact_small = np.tanh(SMALL64.astype(np.longdouble))
    relative = np.abs(kernel_math.squash(SMALL64, False) - exact_small) / np.abs(exact_small)
    assert float(relative.max()) < 6e-16
    specials = kernel_math.squash(np.array([np.inf, -np.inf, 40.0, -40.0, 0.0]), False)
    assert specials.tolist() == [1.0, -1.0, 1.0, -1.0, 0.0]
    assert np.isnan(kernel_math.squash(np.array([np.nan]), False)).all()  # divergence shows


def test_sigmoid64_error_is_bounded():
    exact = 1 / (1 + np.exp(-GRID64.astype(np.longdouble)))
    assert float(np.abs(kernel_math.squash(GRID64, True) - exact).max()) < 3e-16
    assert np.isnan(kernel_math.squash(np.array([np.nan]), True)).all()

# --- the on-disk cache -----------------------------------------------------------------------

CACHE_PROBE = textwrap.dedent(
    """
    import hashlib, json, time
    import numpy as np
    t0 = time.perf_counter()
    from sweep_nn.nn import compiled, kernels, plain
    X = np.random.RandomState(0).normal(size=(2, 1600))
    Y = (X[:1] * X[1:] > 0).astype(float)
    p = plain.init_params(2, 50, 1, np.random.RandomState(0))
    compiled.train(p, X, Y, 0.6, 50, "relu", "sigmoid")
    stats = kernels.kernels_for("relu", "sigmoid").full_batch.stats
    print(json.dumps({"seconds": time.perf_counter() - t0,
                      "hits": sum(stats.cache_hits.values()),
                      "misses": sum(stats.cache_misses.values()),
                      "path": stats.cache_path,
                      "weights": hashlib.sha256(b"".join(v.tobytes() for v in p.values())).hexdigest()}))
    """
)


def probe(cache_dir: Path) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    done = subprocess.run([sys.executable, "-c", CACHE_PROBE], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_first_process_compiles_into_the_cache_and_every_process_runs_what_it_holds(tmp_path):
    # compiled in the process that trains, a kernel gave other bits than the same kernel
    # loaded from the cache (50 steps here: the weights differed); now the first process
    # has another compile it into the cache, then loads it from there, as the second does
    first = probe(tmp_path)
    assert Path(first["path"]).is_relative_to(tmp_path)
    assert list(tmp_path.rglob("*full_batch*.nbi"))
    assert list(tmp_path.rglob("*full_batch*.nbc"))
    second = probe(tmp_path)
    assert first["misses"] == second["misses"] == 0  # neither compiled it itself
    assert first["hits"] == second["hits"] == 1
    assert second["seconds"] < first["seconds"] / 2  # the first waited for the compiling
    assert first["weights"] == second["weights"]


def test_numba_is_imported_only_where_the_kernels_are_defined():
    """Numba's cache checks only the file that defines a cached kernel: a compiled function
    the kernels took from another file could change without the cache noticing."""
    package = ROOT / "sweep_nn"
    users = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            if any(name == "numba" or name.startswith("numba.") for name in names):
                users.add(path.relative_to(package).as_posix())
    # numba_start compiles nothing: it changes how Numba sets itself up
    assert users == {"nn/kernels.py", "nn/kernel_math.py", "nn/numba_start.py"}


OWN_PROCESS_PROBE = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np
    from sweep_nn.nn import numba_start
    if sys.argv[1] == "own":
        numba_start.in_own_process()
    from sweep_nn.nn import compiled, plain
    X = np.random.RandomState(1).normal(size=(2, 300))
    p = plain.init_params(2, 4, 1, np.random.RandomState(1))
    compiled.train(p, X, (X[:1] > 0).astype(float), 0.5, 20, "tanh", "sigmoid")
    print(json.dumps({"scipy.linalg": "scipy.linalg" in sys.modules,
                      "weights": hashlib.sha256(b"".join(v.tobytes() for v in p.values())).hexdigest()}))
    """
)


def test_a_process_of_sweep_nns_own_loads_its_kernels_without_importing_scipy_linalg():
    runs = {}
    for kind in ("own", "other"):
        done = subprocess.run([sys.executable, "-c", OWN_PROCESS_PROBE, kind], cwd=ROOT,
                              capture_output=True, text=True, check=True)  # fmt: skip
        runs[kind] = json.loads(done.stdout.strip().splitlines()[-1])
    assert runs["own"]["scipy.linalg"] is False
    assert runs["other"]["scipy.linalg"] is True  # elsewhere Numba checks for BLAS, as ever
    assert runs["own"]["weights"] == runs["other"]["weights"]


def test_the_workers_of_a_sweep_are_processes_of_sweep_nns_own():
    from joblib import Parallel, delayed

    from sweep_nn.nn import numba_start
    from sweep_nn.sweep import dispatch

    try:
        with dispatch._parallel_backend("local", None, 2, None):
            marks = Parallel()(delayed(lambda: numba_start._own_process)() for _ in range(2))
    finally:
        dispatch.stop_idle_workers()
    assert marks == [True, True]
    assert numba_start._own_process is False  # the sweep's own process is anyone's


def test_a_change_to_any_kernel_source_is_a_new_cache_entry():
    """Numba checks only the file defining a cached function, but keys a closure's entries
    by the values it closes over: every entry point closes over the digest of all the
    files the kernels are compiled from, so editing either file compiles anew."""

    package = ROOT / "sweep_nn"
    assert {p.relative_to(package).as_posix() for p in kernels._SOURCES} == {
        "nn/kernels.py", "nn/kernel_math.py"}  # fmt: skip
    for entry in kernels.kernels_for("tanh", "softmax"):
        cells = [c.cell_contents for c in entry.py_func.__closure__]
        assert kernels.SOURCE_DIGEST in cells
        assert entry._cache.__class__.__name__ == "FunctionCache"  # cache=True
    for name in ("_full_batch", "_mini_batch", "_gradients", "_chunk"):
        assert getattr(kernels, name)._cache.__class__.__name__ == "NullCache"  # never stale


def test_warm_up_compiles_what_training_calls_once_per_process(monkeypatch):
    """A mini-batch run also calls the full-batch kernel, for its loss samples: both are
    compiled before training is timed; a second warm-up of the same kernels costs nothing."""
    p, X, Y = problem("softmax", np.float32)
    entries = kernels.cached_kernels("relu", "softmax", "float32")
    compiled.warm_up(p, X, Y, "relu", "softmax", mini_batch=True)
    assert entries.mini_batch.dispatcher.signatures and entries.full_batch.dispatcher.signatures
    calls = []
    monkeypatch.setattr(compiled, "_kernels", lambda *a: calls.append(a) or entries)
    compiled.warm_up(p, X, Y, "relu", "softmax", mini_batch=True)
    assert calls == []


def test_read_only_inputs_train_through_the_same_compiled_signature():
    # a read-only array is another type to Numba: without the copy, a second signature,
    # compiled in this process rather than loaded from the cache
    p, X, Y = problem("sigmoid", np.float64)
    q = {k: v.copy() for k, v in p.items()}
    compiled.train(p, X, Y, 0.5, 20, "tanh", "sigmoid")
    X.flags.writeable = Y.flags.writeable = False
    compiled.train(q, X, Y, 0.5, 20, "tanh", "sigmoid")
    assert relative_error(p, q) == 0.0
    float64 = [s for s in kernels.kernels_for("tanh", "sigmoid").full_batch.signatures
               if "float64" in str(s[0])]  # fmt: skip
    assert len(float64) == 1 and all(t.mutable for t in float64[0][:6])
