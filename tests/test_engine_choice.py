"""train: {engine}: which engine trains, and what it does to result keys."""

from __future__ import annotations

import copy

import numpy as np
import yaml

from sweep_nn import config
from sweep_nn.sweep import jobs, worker


def _cfg(tiny_config, **train):
    raw = copy.deepcopy(tiny_config)
    raw["train"] = train
    return config.parse(yaml.safe_dump(raw))


def _keys(cfg):
    return [k for job in jobs.expand(cfg, "sigmoid") for k in job.keys]


def test_auto_is_numpy_for_float64_and_compiled_for_float32(tiny_config):
    engine_of = lambda cfg: jobs.expand(cfg, "sigmoid")[0].settings.engine
    assert engine_of(_cfg(tiny_config)) == "numpy"
    assert engine_of(_cfg(tiny_config, dtype="float32")) == "compiled"
    assert engine_of(_cfg(tiny_config, dtype="float32", engine="numpy")) == "numpy"


def test_keys_change_only_where_the_engine_is_not_numpy(tiny_config):
    assert _keys(_cfg(tiny_config)) == _keys(_cfg(tiny_config, engine="numpy"))
    assert _keys(_cfg(tiny_config)) == _keys(_cfg(tiny_config, engine="auto"))
    assert set(_keys(_cfg(tiny_config, engine="compiled"))).isdisjoint(_keys(_cfg(tiny_config)))
    f32_numpy = _keys(_cfg(tiny_config, dtype="float32", engine="numpy"))
    assert set(f32_numpy).isdisjoint(_keys(_cfg(tiny_config, dtype="float32")))


def test_the_compiled_engine_trains_as_the_numpy_engine_does(tiny_config):
    from sweep_nn import data as data_mod

    cfg64 = _cfg(tiny_config, engine="compiled", loss_points=5)
    ref = _cfg(tiny_config, loss_points=5)
    ds = data_mod.to_training(data_mod.load(cfg64.data, cfg64.task), "sigmoid")
    (fast,) = jobs.expand(cfg64, "sigmoid")[:1]
    (exact,) = jobs.expand(ref, "sigmoid")[:1]
    assert fast.settings.engine == "compiled" and exact.settings.engine == "numpy"
    for a, b in zip(worker.train(fast, ds), worker.train(exact, ds)):
        for k in ("W1", "b1", "W2", "b2"):
            np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-9, atol=1e-12)
        assert a.row.train_acc == b.row.train_acc
