"""Evaluation: rebuild a network from its parameters file and score it on new data.

Fresh samples from the training generator where it can draw them, the sweep's dev split
otherwise, or a CSV file the user gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import data as data_mod
from ..errors import DataError, ParamsError, UsageError
from ..nn import plain
from . import params as params_mod
from .params_schema import finite, is_int, is_real  # what a number is, as files are checked
from .schema import METRICS

STUDY_DATA = {"dataset": "moons", "n_samples": 2000, "noise": 0.25, "random_state": 0}
FRESH_SAMPLES = 500  # drawn by default where the dataset can draw fresh ones


@dataclass
class Model:
    """A network rebuilt from a parameters file, with what it needs to read new data."""

    params: plain.Params
    activation: str
    output: str
    task: str
    classes: list | None
    scaler: dict | None
    data: dict  # the training data spec
    source: str  # "sweep-nn" or "study"
    features: list[str] | None = None  # CSV feature column names, in training order
    fold: int | None = None  # the fold of data.cv it was trained on (None: no cross-validation)

    def trained_on(self) -> str | None:
        """``cross-validation fold 2 of 5`` for a network of a cross-validated sweep, else None."""
        if self.fold is None:
            return None
        return f"cross-validation fold {self.fold} of {self.data.get('cv')}"

    @property
    def n_outputs(self) -> int:
        """Output units: one per regression target (one, or one per class, for a classifier)."""
        return int(self.params["W2"].shape[0])

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Scale ``X`` (m, n) as in training and lay it out features-first."""
        n_in = self.params["W1"].shape[1]
        if X.shape[1] != n_in:
            raise DataError(f"the network takes {n_in} input features; the data has {X.shape[1]}")
        return np.ascontiguousarray(data_mod.apply_scaler(self.scaler, X).T)


def load_model(path: Path, activation: str | None = None) -> Model:
    """Rebuild a network from sweep-nn's parameters file or the study's plain dict."""
    p = params_mod.load_params(path)
    weights = {k: np.asarray(p[k]) for k in ("W1", "b1", "W2", "b2")}
    if p.get("format") == params_mod.PARAMS_FORMAT:
        saved = p["config"]["activation"]
        if activation is not None and activation != saved:
            raise UsageError(f"--activation {activation}: {path} was trained with {saved}")
        try:
            return Model(
                weights,
                saved,
                p["train"]["output"],
                p["task"],
                p["classes"],
                p["scaler"],
                p["data"],
                "sweep-nn",
                p.get("features"),
                p["config"].get("fold"),
            )
        except (KeyError, TypeError) as exc:
            raise ParamsError(
                f"{path}: incomplete sweep-nn parameters file (missing {exc})"
            ) from None
    if activation is None:
        raise UsageError(
            f"{path} has weights only (no configuration); say how it was trained with "
            f"--activation ({', '.join(plain.ACTIVATIONS)})"
        )
    if weights["W2"].shape[0] != 1:
        raise ParamsError(f"{path}: a weights-only file must have one output unit (sigmoid)")
    return Model(
        weights, activation, "sigmoid", "classification", [0, 1], None, STUDY_DATA, "study"
    )


def evaluate(model: Model, X: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy (or R2 / RMSE) and loss of ``model`` on samples-first ``X`` (m, n), ``y``.

    One sample has an accuracy, an RMSE and a loss but no R² (None).
    """
    Xf = model.prepare(X)
    Y, labels = data_mod.encode_targets(y, model.task, model.classes, model.output)
    if Y.shape[0] != model.n_outputs:
        raise DataError(f"the network has {model.n_outputs} outputs; the data has {Y.shape[0]}")
    with np.errstate(all="ignore"):
        m = plain.score(
            model.params,
            Xf.astype(model.params["W1"].dtype),
            Y,
            labels,
            model.activation,
            model.output,
        )
    metric = METRICS[model.task]
    out: dict[str, float | None] = {metric.public: m[metric.key]}
    out |= {"rmse": m["rmse"]} if "rmse" in m else {}
    if model.task == "regression" and len(X) < 2:
        out["r2"] = None  # R² compares errors with the spread of the targets: one has none
    return {**out, "loss": m["loss"], "n_samples": len(X)}


def data_config(spec: dict, **overrides):
    """The DataConfig of a parameters file's data spec (keys its dataset does not use dropped)."""
    from ..config import DataConfig

    kind = data_mod.DATASETS.get(str(spec.get("dataset")))
    if kind is None:
        name = str(spec.get("dataset"))[:40]
        raise ParamsError(f"data.dataset: the parameters file names an unknown dataset {name!r}")
    if spec.get("dataset") == "csv" and not spec.get("sha256"):
        # without the digest, any file the path names would be read (and its header shown)
        raise ParamsError(
            "data.sha256 is missing: the parameters file does not record the digest of its "
            "training CSV, so the CSV is not reread (it could be any file, or changed since "
            "training); evaluate on a file with --data FILE.csv"
        )
    allowed = kind.keys | data_mod.COMMON_KEYS
    clean = {k: v for k, v in spec.items() if v is not None and k in allowed} | overrides
    try:
        return DataConfig.model_validate(clean, strict=False)
    except ValueError as exc:
        raise ParamsError(f"the parameters file's data settings are invalid: {exc}") from None


def fresh_data(model: Model, n_samples: int, seed: int | None, noise: float | None):
    """New samples of the problem the model was trained on (another seed by default).

    Returns (X, y, seed used). Raises UsageError for a dataset that cannot draw them.
    """
    name = str(model.data.get("dataset"))
    kind = data_mod.DATASETS.get(name)
    if kind is None or kind.fresh is None:
        raise UsageError(
            f"dataset {name!r} cannot draw fresh samples; evaluate on a file with --data FILE.csv"
        )
    if noise is not None and "noise" not in kind.keys:
        raise UsageError(f"--noise does not apply to dataset {name!r}")
    cfg = data_config(model.data)
    if seed is None:  # training's + 1; after the largest seed, 0 (what NumPy draws with)
        seed = (cfg.random_state + 1) % 2**32
    X, y = data_mod.draw_fresh(cfg, n_samples, seed, noise)
    return X, y, seed


def eval_inputs(
    model: Model,
    data: Path | None = None,
    n_samples: int | None = None,
    seed: int | None = None,
    noise: float | None = None,
):
    """The samples ``eval`` scores: (X, y, a description of them).

    A CSV file when ``data`` is given (feature columns matched by name when the model was
    trained on a CSV, by position otherwise); else :func:`eval_data`. ``n_samples``,
    ``seed`` and ``noise`` say how to draw fresh samples, so they are refused where none
    are drawn: with a file, or for data that cannot draw them.
    """
    check_eval_options(n_samples, seed, noise)
    # NumPy scalars as Python numbers: np.uint32(4294967295) + 1 would overflow, not wrap
    n_samples = None if n_samples is None else int(n_samples)
    seed = None if seed is None else int(seed)
    noise = None if noise is None else float(noise)
    if data is None:
        X, y, source = eval_data(model, n_samples, seed, noise)
    else:
        refuse_drawing_options(n_samples, seed, noise, "--data gives the samples")
        target = model.data.get("target") if model.data.get("dataset") == "csv" else None
        k = model.n_outputs if model.task == "regression" else 1  # a column per target
        X, y, _ = data_mod.read_csv(Path(data), target, model.features, min_rows=1, n_targets=k)
        n_in = model.params["W1"].shape[1]
        if model.features is None and X.shape[1] != n_in:  # columns taken in training order
            targets = "a target" if k == 1 else f"{k} targets"
            raise DataError(
                f"{data}: the network takes {n_in} input features, then {targets}: "
                f"{n_in + k} columns in training order; the file has {X.shape[1] + k}"
            )
        source = str(data)
    fold = model.trained_on()
    return X, y, source if fold is None else f"{source}; trained on {fold}"


def check_eval_options(n_samples: Any, seed: Any, noise: Any) -> None:
    """Raise UsageError naming the option unless each is of its type and within its range
    (None: not given)."""
    from ..config import MAX_SAMPLES

    if n_samples is not None and not is_int(n_samples):
        raise UsageError(f"--n-samples / n_samples must be a whole number; got {_short(n_samples)}")
    if n_samples is not None and n_samples < 1:
        raise UsageError(f"--n-samples / n_samples must be >= 1; got {_short(n_samples)}")
    if n_samples is not None and n_samples > MAX_SAMPLES:
        raise UsageError(
            f"--n-samples / n_samples must be at most {MAX_SAMPLES:,}; got {_short(n_samples)}"
        )
    if seed is not None and (not is_int(seed) or not 0 <= seed < 2**32):
        raise UsageError(
            "--seed / seed must be a whole number from 0 to 2**32 - 1 (4294967295); "
            f"got {_short(seed)}"
        )
    if noise is not None and not (is_real(noise) and finite(noise) and noise >= 0):
        raise UsageError(f"--noise / noise must be a finite number >= 0; got {_short(noise)}")


def _short(v: Any) -> str:
    if isinstance(v, int) and v.bit_length() > 128:
        return f"an integer of {v.bit_length():,} bits"
    text = repr(v) if isinstance(v, (int, float, str, type(None))) else type(v).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def refuse_drawing_options(n_samples: Any, seed: Any, noise: Any, why: str) -> None:
    for option, value in (("--n-samples", n_samples), ("--seed", seed), ("--noise", noise)):
        if value is not None:
            raise UsageError(f"{option} does not apply: {why}")


def eval_data(model: Model, n_samples: int | None, seed: int | None, noise: float | None):
    """What ``eval`` measures on when given no file: (X, y, a description of the samples).

    Fresh samples when the dataset can draw them (moons, circles, gaussian_quantiles,
    blobs, regression); otherwise (real datasets, csv, classification) the dev split the
    sweep held out, rebuilt from the data settings in the parameters file, so the result
    repeats the dev score in results.csv.
    """
    name = str(model.data.get("dataset"))
    kind = data_mod.DATASETS.get(name)
    if kind is not None and kind.fresh is not None:
        X, y, used = fresh_data(model, n_samples or FRESH_SAMPLES, seed, noise)
        after = ""
        if seed is None:  # the default; after 4294967295 comes 0
            after = f", the one after training's {data_config(model.data).random_state}"
        return X, y, f"{name}, {len(X)} fresh samples, seed {used}{after}"
    refuse_drawing_options(
        n_samples, seed, noise,
        f"dataset {name!r} cannot draw fresh samples, so eval uses the sweep's dev split "
        "(or give --data FILE.csv)",
    )  # fmt: skip
    X, y = data_mod.dev_split(data_config(model.data), model.task, model.fold)
    split = "the dev split" if model.fold is None else f"the dev split of fold {model.fold}"
    return X, y, f"{name}: {split} held out by the sweep, rebuilt from its data settings"
