"""Small random problems shared by the engine tests: inputs and targets for each output."""

from __future__ import annotations

import numpy as np


def examples(output: str, rng: np.random.RandomState, m: int = 37, n_in: int = 3):
    """Inputs X (n_in, m) and targets Y for ``output``: one 0/1 row (sigmoid), one-hot
    rows over 3 classes (softmax) or 2 real-valued targets (linear)."""
    X = rng.randn(n_in, m)
    if output == "sigmoid":
        Y = (rng.rand(1, m) > 0.5).astype(float)
    elif output == "softmax":
        Y = np.eye(3)[:, rng.randint(0, 3, m)]
    else:
        Y = rng.randn(2, m)
    return X, Y
