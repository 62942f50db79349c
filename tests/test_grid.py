"""Expanding a sweep into jobs: order, readable ids, shared budgets, stable keys."""

from __future__ import annotations

import copy

import yaml

from sweep_nn.config import SweepConfig, parse
from sweep_nn.sweep import jobs as grid

BASE = {
    "name": "g",
    "grid": {
        "hidden_sizes": [3, 1],
        "activations": ["tanh", "relu"],
        "learning_rates": [0.6, 0.1],
        "iterations": [1000, 100, 10000],
    },
}


def config(**changes) -> SweepConfig:
    """BASE with top-level sections replaced or updated: config(data={"noise": 0.3})."""
    raw = copy.deepcopy(BASE)
    for section, value in changes.items():
        if isinstance(value, dict) and isinstance(raw.get(section), dict):
            raw[section].update(value)
        else:
            raw[section] = value
    return parse(yaml.safe_dump(raw))


def all_keys(cfg: SweepConfig) -> dict[str, str]:
    return {
        cid: key
        for job in grid.expand(cfg, "sigmoid")
        for cid, key in zip(job.config_ids, job.keys)
    }


def test_config_id_is_readable():
    assert grid.config_id(3, "tanh", 0.6, 10000) == "h3-tanh-lr0.6-it10000"
    assert grid.config_id(50, "relu", 0.001, 100) == "h50-relu-lr0.001-it100"
    assert (
        grid.config_id(1, "sigmoid", 1.2, 100, batch_size=64, seed=2)
        == "h1-sigmoid-lr1.2-it100-bs64-s2"
    )


def test_jobs_follow_hidden_size_then_activation_then_rate_in_file_order():
    jobs = grid.expand(config(), "sigmoid")
    order = [(j.hidden_size, j.activation, j.learning_rate) for j in jobs]
    assert order == [
        (3, "tanh", 0.6),
        (3, "tanh", 0.1),
        (3, "relu", 0.6),
        (3, "relu", 0.1),
        (1, "tanh", 0.6),
        (1, "tanh", 0.1),
        (1, "relu", 0.6),
        (1, "relu", 0.1),
    ]


def test_iteration_budgets_share_one_job_in_ascending_order():
    jobs = grid.expand(config(), "sigmoid")
    assert len(jobs) == 2 * 2 * 2  # not x3 budgets
    for job in jobs:
        assert job.budgets == (100, 1000, 10000)
        assert len(job.config_ids) == len(job.keys) == 3
    first = jobs[0]
    assert first.config_ids == (
        "h3-tanh-lr0.6-it100",
        "h3-tanh-lr0.6-it1000",
        "h3-tanh-lr0.6-it10000",
    )


def test_every_row_has_a_distinct_id_and_key():
    jobs = grid.expand(config(), "sigmoid")
    ids = [cid for j in jobs for cid in j.config_ids]
    keys = [k for j in jobs for k in j.keys]
    assert len(ids) == len(set(ids)) == 2 * 2 * 2 * 3
    assert len(set(keys)) == len(keys)


def test_jobs_carry_the_training_settings():
    jobs = grid.expand(config(train={"init_scale": 0.05, "dtype": "float32"}), "sigmoid")
    job = jobs[0]
    assert all(j.settings is job.settings for j in jobs)  # one shared record
    s = job.settings
    assert (job.init, job.init_scale, s.dtype, s.output, job.seed) == (
        "normal",
        0.05,
        "float32",
        "sigmoid",
        0,
    )
    assert job.batch_size is None


def test_keys_are_the_same_for_the_same_settings():
    assert all_keys(config()) == all_keys(config())


def test_keys_ignore_budgets_and_grid_values_added_later():
    # resuming a grid that grew must still recognise the rows already recorded
    before = all_keys(config())
    grown = all_keys(
        config(
            grid={
                "hidden_sizes": [3, 1, 5],
                "activations": ["tanh", "relu", "sigmoid"],
                "learning_rates": [0.6, 0.1],
                "iterations": [100, 1000, 10000, 100000],
            }
        )
    )
    assert {cid: grown[cid] for cid in before} == before


def test_keys_change_when_data_settings_change():
    base = all_keys(config())
    for change in [
        {"noise": 0.3},
        {"n_samples": 1000},
        {"random_state": 1},
        {"dev_size": 0.25},
        {"split_random_state": 0},
    ]:
        changed = all_keys(config(data=change))
        assert changed.keys() == base.keys()
        assert not set(changed.values()) & set(base.values()), change


def test_keys_change_when_training_settings_change():
    base = all_keys(config())
    changed = all_keys(config(train={"init_scale": 0.1}))
    assert not set(changed.values()) & set(base.values())


def test_keys_do_not_change_when_defaults_are_written_out():
    explicit = config(
        data={
            "dataset": "moons",
            "n_samples": 2000,
            "noise": 0.25,
            "random_state": 0,
            "dev_size": 0.2,
            "split_random_state": 42,
        },
        train={"init_scale": 0.01},
    )
    assert all_keys(explicit) == all_keys(config())


def test_the_fingerprint_of_a_folders_config_copy_is_the_sweeps():
    # resume compares the copy written to config.yaml with the new sweep by one function
    cfg = config(train={"stack": True})
    copy_on_disk = yaml.safe_load(yaml.safe_dump(cfg.resolved()))
    assert grid.fingerprint(copy_on_disk) == grid.fingerprint(cfg.resolved())
    unstacked = config()
    assert grid.fingerprint(unstacked.resolved()) == grid.fingerprint(cfg.resolved())
    assert grid.fingerprint(config(data={"noise": 0.3}).resolved()) != grid.fingerprint(
        cfg.resolved()
    )
