"""Importance of each hyperparameter: the exact decomposition of a full grid, and the estimate."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from sweep_nn.results.importance import decompose, importance

HIDDEN = [1, 3, 5, 10]
ACTS = ["tanh", "relu", "sigmoid"]
RATES = [0.01, 0.1, 1.0]


def grid(score, seeds=(0,)) -> pd.DataFrame:
    rows = []
    for h, a, lr, s in itertools.product(HIDDEN, ACTS, RATES, seeds):
        rows.append({"hidden_size": h, "activation": a, "learning_rate": lr, "iterations": 100,
                     "batch_size": "full", "seed": s, "dtype": "float64",
                     "dev_acc": score(h, a, lr, s)})  # fmt: skip
    return pd.DataFrame(rows)


def total(imp) -> float:
    return sum(imp.main.values()) + sum(imp.pairs.values()) + imp.higher_order


def test_shares_sum_to_one_on_a_full_grid():
    rng = np.random.default_rng(0)
    noise = {k: rng.normal() for k in itertools.product(HIDDEN, ACTS, RATES)}
    imp = importance(grid(lambda h, a, lr, s: noise[(h, a, lr)] * 10 + h))
    assert imp.exact and "exact" in imp.method
    assert imp.axes == ["hidden_size", "activation", "learning_rate"]  # constant axes left out
    assert total(imp) == pytest.approx(1.0, abs=1e-12)
    assert imp.higher_order > 0.05  # random cells: three-way interaction is real
    assert set(imp.pairs) == {("hidden_size", "activation"), ("hidden_size", "learning_rate"),
                              ("activation", "learning_rate")}  # fmt: skip


def test_higher_order_equals_the_variance_left_by_mains_and_pairs():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(3, 4, 2))
    main, pairs, tot = decompose(y)
    mu = y.mean()
    fit = np.full_like(y, mu)
    f = [y.mean(axis=tuple(a for a in range(3) if a != i)) - mu for i in range(3)]
    fit += f[0][:, None, None] + f[1][None, :, None] + f[2][None, None, :]
    for i, j in pairs:
        k = ({0, 1, 2} - {i, j}).pop()
        m = y.mean(axis=k)
        fij = m - mu - f[i][:, None] - f[j][None, :]
        fit += np.expand_dims(fij, k)
    rest = ((y - fit) ** 2).mean()
    assert rest == pytest.approx(tot - main.sum() - sum(pairs.values()), abs=1e-12)
    assert rest > 0


def test_an_axis_that_changes_nothing_gets_zero():
    imp = importance(grid(lambda h, a, lr, s: np.log10(lr) * 5 + h + (a == "relu") * lr * 3))
    assert imp.main["hidden_size"] > 0.1
    # activation matters only through its interaction with the rate; seed does not vary
    # at all; hidden size enters additively: no pair involving it
    assert imp.pairs[("hidden_size", "activation")] == pytest.approx(0, abs=1e-12)
    assert imp.pairs[("hidden_size", "learning_rate")] == pytest.approx(0, abs=1e-12)
    flat = importance(grid(lambda h, a, lr, s: h * 2.0 + lr))
    assert flat.main["activation"] == pytest.approx(0, abs=1e-12)
    assert total(flat) == pytest.approx(1.0)


def test_an_additive_score_has_no_interactions():
    imp = importance(grid(lambda h, a, lr, s: h + ACTS.index(a) * 4 + np.log(lr)))
    for share in imp.pairs.values():
        assert share == pytest.approx(0, abs=1e-12)
    assert imp.higher_order == pytest.approx(0, abs=1e-12)
    assert sum(imp.main.values()) == pytest.approx(1.0)


def test_known_shares_of_a_hand_computed_two_by_two():
    # cells 0, 0, 0, 4: mean 1; main effects -1/+1 on each axis (variance 1 each);
    # interaction +1/-1/-1/+1 (variance 1); total variance (1+1+1+9)/4 = 3
    df = pd.DataFrame({"hidden_size": [1, 1, 2, 2], "activation": ["a", "b", "a", "b"],
                       "dev_acc": [0.0, 0.0, 0.0, 4.0]})  # fmt: skip
    imp = importance(df)
    assert imp.total_variance == pytest.approx(3.0)
    assert imp.main == pytest.approx({"hidden_size": 1 / 3, "activation": 1 / 3})
    assert imp.pairs[("hidden_size", "activation")] == pytest.approx(1 / 3)
    assert imp.higher_order == pytest.approx(0, abs=1e-12)
    # additive 2 x 2: 0 1 / 2 3 -> variances 1 (rows) and 0.25 (columns) of 1.25
    add = importance(df.assign(dev_acc=[0.0, 1.0, 2.0, 3.0]))
    assert add.main == pytest.approx({"hidden_size": 0.8, "activation": 0.2})


def test_seeds_are_averaged_or_kept_as_an_axis():
    df = grid(lambda h, a, lr, s: h + s * 10.0, seeds=(0, 1))
    averaged = importance(df)
    assert "seed" not in averaged.axes and averaged.exact
    assert averaged.main["hidden_size"] == pytest.approx(1.0)
    kept = importance(df, average_seeds=False)
    assert kept.main["seed"] > 0.5
    assert total(kept) == pytest.approx(1.0)


def test_an_incomplete_grid_is_an_estimate_labelled_as_one():
    full = grid(lambda h, a, lr, s: h * 3.0 + np.log10(lr) * 10)
    truth = importance(full)
    df = full.iloc[3:]
    imp = importance(df)
    assert not imp.exact
    assert imp.method.startswith("estimate") and "random forest" in imp.method
    assert imp.n_observed == len(df) and imp.n_cells == 36
    assert total(imp) == pytest.approx(1.0)
    assert imp.main["activation"] < 0.02  # changes nothing: estimated near zero
    for axis in ("hidden_size", "learning_rate"):
        assert imp.main[axis] == pytest.approx(truth.main[axis], abs=0.1)


def test_a_constant_score_gives_zero_shares_and_says_so():
    imp = importance(grid(lambda h, a, lr, s: 50.0))
    assert all(v == 0 for v in imp.main.values()) and imp.higher_order == 0
    assert any("same in every cell" in n for n in imp.notes)


def test_rows_without_a_score_are_left_out():
    df = grid(lambda h, a, lr, s: h * 1.0)
    df.loc[0, "dev_acc"] = np.nan
    imp = importance(df)
    assert imp.n_observed == 35 and not imp.exact


def test_a_score_below_the_floor_counts_at_the_floor():
    """One run whose R² overflowed to -3e289 would hold all the variance (and overflow it);
    at the metric's floor it is one bad run among the others."""
    def score(h, a, lr, s):
        return -3e289 if (h, a, lr) == (10, "relu", 1.0) else 0.5 + 0.04 * h

    df = grid(score).rename(columns={"dev_acc": "dev_r2"})
    with np.errstate(over="raise", invalid="raise"):
        imp = importance(df, score="dev_r2", floor=-1.0)
    assert total(imp) == pytest.approx(1.0, abs=1e-9)
    assert all(np.isfinite(v) for v in [*imp.main.values(), *imp.pairs.values()])
    assert imp.main["hidden_size"] > 0.01  # the 0.04 per unit still shows


def test_inits_and_their_scales_are_one_axis_and_a_full_grid_stays_exact():
    """normal x 2 scales, xavier and he (no scale) are 4 inits, all present: as two axes
    they would be 3 x 3 cells of which 5 cannot exist, and an estimate over the holes."""
    variants = [("normal", 0.01), ("normal", 1.0), ("xavier", None), ("he", None)]
    rows = [{"hidden_size": h, "activation": "tanh", "learning_rate": 0.1, "iterations": 100,
             "batch_size": "full", "seed": 0, "dtype": "float64", "init": init,
             "init_scale": scale, "dev_acc": 80.0 + h + (5.0 if init == "he" else 0.0)}
            for h in (1, 3) for init, scale in variants]  # fmt: skip
    imp = importance(pd.DataFrame(rows))
    assert imp.exact and imp.axes == ["hidden_size", "init"]
    assert set(imp.levels["init"]) == {"normal 0.01", "normal 1.0", "xavier", "he"}
    assert any("one axis" in note for note in imp.notes)
    assert total(imp) == pytest.approx(1.0, abs=1e-12) and imp.main["init"] > 0.3
