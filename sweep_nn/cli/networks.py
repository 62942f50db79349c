"""The commands about one trained network: ``eval`` scores it, ``predict`` applies it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from . import show
from .base import NUMBER, WHOLE_NUMBER, app, err, make_parent, reported_errors

MAX_EVAL_SAMPLES = 10_000_000  # as many as a generated dataset may hold (config.MAX_SAMPLES)


def _check_finite(**options) -> None:
    for name, value in options.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"--{name.replace('_', '-')} must be a finite number; got {value}")


def _check_nonnegative(**options) -> None:
    _check_finite(**options)
    for name, value in options.items():
        if value is not None and (math.isnan(value) or value < 0):
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0; got {value}")


def _activation(name: str | None) -> str | None:
    """``--activation`` as the tables spell it (any case), refused unless it is one of them."""
    from ..nn.plain import ACTIVATIONS

    name = None if name is None else name.lower()
    if name is not None and name not in ACTIVATIONS:
        raise UsageError(f"--activation must be one of {', '.join(ACTIVATIONS)}; got {name!r}")
    return name


Activation = Annotated[str | None, typer.Option(help="Hidden activation, for weights-only files.")]


# --- eval ------------------------------------------------------------------------------------


@app.command("eval")
def eval_cmd(
    params_file: Annotated[
        Path,
        typer.Argument(help="A parameters file (.pkl).", show_default=False, metavar="PARAMS_FILE"),
    ],
    data: Annotated[
        Path | None, typer.Option("--data", help="Evaluate on this CSV (same columns as training).")
    ] = None,
    n_samples: Annotated[
        int | None,
        typer.Option(
            help="Fresh samples to draw from the training generator \\[default: 500].",
            parser=WHOLE_NUMBER,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed for fresh samples \\[default: training's + 1].", parser=WHOLE_NUMBER
        ),
    ] = None,
    noise: Annotated[
        float | None,
        typer.Option(help="Noise for fresh samples \\[default: training's].", parser=NUMBER),
    ] = None,
    activation: Activation = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE.png",
            help="Also draw the decision boundary over the evaluation data (2-D inputs).",
        ),
    ] = None,
) -> None:
    """Rebuild the network in PARAMS_FILE and report accuracy and loss on new data.

    Without --data: fresh samples from the training generator, or, for datasets that
    cannot draw them (iris, wine, breast_cancer, digits, csv, classification), the dev
    split the sweep held out, rebuilt from the data settings in the file.

    Reads sweep-nn's parameter files and the reference study's plain weight dicts (give
    --activation for those). Files are loaded without running any code they contain. A
    network of a cross-validated sweep (data: {cv: k}) says which fold it was trained on,
    and its dev split is that fold's.

    Example: sweep-nn eval output/reference-study/params/h3-tanh-lr0.6-it10000.pkl --seed 0
    """
    from ..results import evaluate as evaluate_mod

    with reported_errors():
        activation = _activation(activation)
        _check_nonnegative(noise=noise, seed=seed)
        if seed is not None and seed >= 2**32:
            raise UsageError(f"--seed must be between 0 and 2**32 - 1 (4294967295); got {seed}")
        if n_samples is not None and n_samples > MAX_EVAL_SAMPLES:
            raise UsageError(f"--n-samples must be at most {MAX_EVAL_SAMPLES:,}; got {n_samples}")
        model = evaluate_mod.load_model(params_file, activation)
        if plot is not None:
            from ..plots import boundary

            boundary.check_boundary(model, plot)
            make_parent(plot)
        X, y, source = evaluate_mod.eval_inputs(model, data, n_samples, seed, noise)
        result = evaluate_mod.evaluate(model, X, y)
        if plot is not None:
            boundary.decision_boundary(
                model, X, y, result["accuracy"], plot, f"{params_file.name}, {source}"
            )
            err(f"decision boundary: {plot}")
        if as_json:
            fold = {} if model.fold is None else {"fold": model.fold}  # which one of data.cv's
            typer.echo(json.dumps(result | fold))
            return
        metric = _eval_metric(result)
        typer.echo(
            f"{params_file}: {metric}, loss {result['loss']:.4f} on {show.plural(result['n_samples'], 'sample')} ({source})"
        )


def _eval_metric(result: dict) -> str:
    if "accuracy" in result:
        return f"accuracy {result['accuracy']:.2f}%"
    r2 = "R2 undefined (one sample)" if result["r2"] is None else f"R2 {result['r2']:.4f}"
    return f"{r2}, RMSE {result['rmse']:.4g}"


# --- predict ---------------------------------------------------------------------------------


@app.command()
def predict(
    params_file: Annotated[
        Path,
        typer.Argument(help="A parameters file (.pkl).", show_default=False, metavar="PARAMS_FILE"),
    ],
    input_csv: Annotated[
        Path,
        typer.Argument(
            help="Rows to predict: the feature columns of the training data.", show_default=False,
            metavar="INPUT_CSV",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="OUT.csv", help="Write here \\[default: stdout]."),
    ] = None,
    activation: Activation = None,
) -> None:
    """Predict a class label (or target values) for each row of INPUT_CSV with a saved network.

    The output is INPUT_CSV's columns followed by `prediction` (`prediction_1`, ... for
    several regression targets). Columns are matched by name when the network was trained
    on a CSV (other columns pass through), by position otherwise.

    Example: sweep-nn predict output/csv-example/params/h8-tanh-lr0.5-it2000.pkl configs/data/fruit_new.csv
    """
    from ..results import evaluate as evaluate_mod
    from ..results import predict as predict_mod
    from ..results.store import atomic_write

    with reported_errors():
        model = evaluate_mod.load_model(params_file, _activation(activation))
        table = predict_mod.predict_csv(model, input_csv)
        text = table.to_csv(index=False)
        if out is None:
            typer.echo(text, nl=False)
            return
        make_parent(out)
        atomic_write(out, text.encode("utf-8"))
        err(f"{show.plural(len(table), 'prediction')}: {out}")
