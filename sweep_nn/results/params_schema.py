"""The schema of a parameters file, checked once the allowlisted unpickling has run.

The allowlist (:mod:`.params`) makes loading safe: nothing comes out but containers,
scalars and NumPy arrays. This makes what comes out usable: every key known, each value of
its type, shape and range, the arrays consistent with one network, the loss curve and the
text bounded, the data and training settings within the limits of a sweep file, every
number finite. The first problem found raises :class:`ParamsError` naming its key and
what the key holds, before anything is built from the file.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ..errors import ParamsError
from ..nn.plain import ACTIVATIONS, INITS, OUTPUTS
from .schema import AXES

PARAMS_FORMAT = "sweep-nn/params"
PARAMS_VERSION = 1
WEIGHTS = ("W1", "b1", "W2", "b2")
DESCRIPTION = ("config", "train", "data", "task", "classes", "scaler")  # required
OPTIONAL = ("loss_curve", "n_features", "features", "resume")
KEYS = frozenset(("format", "version", *WEIGHTS, *DESCRIPTION, *OPTIONAL))
MAX_SECTION_KEYS = 100  # no settings section has nearly as many
MAX_LABEL_CHARS = 1000
MAX_COUNT = 2**63  # iterations and batch sizes: what a 64-bit counter holds


class Net(NamedTuple):
    """The network the four arrays describe."""

    hidden: int
    n_in: int
    n_out: int
    dtype: np.dtype


def check_params(obj: Any, source: str) -> None:
    """Raise ParamsError naming the key at fault unless ``obj`` holds a usable network.

    A dict with ``format`` is a sweep-nn parameters file and is checked whole; one without
    is the study's weights-only dict (``W1, b1, W2, b2``).
    """
    if not isinstance(obj, dict):
        raise ParamsError(f"{source}: expected a dict of weights, found {type(obj).__name__}")
    if "format" in obj and not (isinstance(obj["format"], str) and obj["format"] == PARAMS_FORMAT):
        raise _bad(source, "format", repr(PARAMS_FORMAT), obj["format"])
    net = _check_weights(obj, source)
    if "format" in obj:
        _check_description(obj, source, net)
        return
    described = [k for k in (*DESCRIPTION, "version", "loss_curve") if k in obj]
    if described:
        raise ParamsError(
            f"{source}: format is missing, but the file holds {', '.join(described)} of a "
            f"sweep-nn parameters file (which says format: {PARAMS_FORMAT!r})"
        )


def _check_weights(obj: dict, source: str) -> Net:
    missing = [k for k in WEIGHTS if k not in obj]
    if missing:
        raise ParamsError(f"{source}: missing {', '.join(missing)}")
    for k in WEIGHTS:
        v = obj[k]
        if not isinstance(v, np.ndarray) or v.ndim != 2 or v.dtype.kind != "f":
            raise _bad(source, k, "a 2-D float array", v)
        if v.dtype.itemsize not in (4, 8):
            raise ParamsError(f"{source}: {k} must be float32 or float64, found {v.dtype}")
        if not np.isfinite(v).all():
            raise ParamsError(f"{source}: {k} holds non-finite values (inf or nan)")
    W1, W2 = obj["W1"], obj["W2"]
    h, n_in = W1.shape
    n_out = W2.shape[0]
    want = {"b1": ("W1", (h, 1)), "W2": ("W1", (n_out, h)), "b2": ("W2", (n_out, 1))}
    for k, (by, shape) in want.items():
        if obj[k].shape != shape:
            raise ParamsError(
                f"{source}: {k} has shape {obj[k].shape}, but {by} {obj[by].shape} needs {shape}"
            )
    if h == 0 or n_in == 0 or n_out == 0:
        raise ParamsError(f"{source}: empty weight matrices")
    for k in WEIGHTS[1:]:
        if obj[k].dtype.itemsize != W1.dtype.itemsize:
            raise ParamsError(
                f"{source}: {k} is {obj[k].dtype} but W1 is {W1.dtype}; a network has one dtype"
            )
    return Net(h, n_in, n_out, W1.dtype)


def _check_description(obj: dict, source: str, net: Net) -> None:
    """A sweep-nn file must also say how its network was trained and on what data."""
    version = obj.get("version")
    if not (is_int(version) and version == PARAMS_VERSION):
        raise ParamsError(
            f"{source}: parameters format version {_brief(version)} is not supported "
            f"(this sweep-nn reads version {PARAMS_VERSION})"
        )
    unknown = [k for k in obj if k not in KEYS]
    if unknown:
        raise ParamsError(
            f"{source}: unknown key {_keys_text(unknown)} (a parameters file holds "
            f"{', '.join(sorted(KEYS))})"
        )
    missing = [k for k in DESCRIPTION if k not in obj]
    if missing:
        raise ParamsError(
            f"{source}: incomplete sweep-nn parameters file, missing {', '.join(missing)}"
        )
    task = obj["task"]
    if not (isinstance(task, str) and task in ("classification", "regression")):
        raise _bad(source, "task", "classification or regression", task)
    config = _section(obj, "config", source)
    _check_config(config, source, net)
    output = _check_train(_section(obj, "train", source), source, net, task)
    data = _section(obj, "data", source)
    _check_data(data, source)
    _check_fold(config.get("fold"), data.get("cv"), source)
    _check_classes(obj["classes"], source, net, task, output)
    _check_scaler(obj["scaler"], source, net)
    _check_features(obj, source, net)
    if "loss_curve" in obj:
        top = config.get("iterations", MAX_COUNT - 1)
        _check_curve(obj["loss_curve"], source, int(top))
    if "resume" in obj:
        _check_resume(obj["resume"], source)


RESUME_RULES = {  # the state a run continues from: key -> (rule, test)
    "step": ("a whole number >= 0", lambda v: is_int(v) and 0 <= v < MAX_COUNT),
    "top": ("a whole number >= 1", lambda v: is_int(v) and 1 <= v < MAX_COUNT),
    "diverged_at": ("None or a whole number", lambda v: v is None or (is_int(v) and v >= 0)),
    "fit_seconds": ("a finite number >= 0", lambda v: is_real(v) and finite(v) and v >= 0),
    "rng": ("a dict", lambda v: isinstance(v, dict)),
}
RNG_RULES = {  # numpy's RandomState.get_state(), as a dict
    "name": ("'MT19937'", lambda v: v == "MT19937"),
    "keys": ("624 uint32 numbers", lambda v: isinstance(v, np.ndarray) and v.shape == (624,)
             and v.dtype == np.uint32),
    "pos": ("a whole number in 0..624", lambda v: is_int(v) and 0 <= v <= 624),
    "has_gauss": ("0 or 1", lambda v: is_int(v) and v in (0, 1)),
    "cached_gaussian": ("a finite number", lambda v: is_real(v) and finite(v)),
}  # fmt: skip


def _check_resume(resume: Any, source: str) -> None:
    """The training state saved with a budget's weights, from which a run continues."""
    for where, value, rules in (("resume", resume, RESUME_RULES),
                                ("resume.rng", getattr(resume, "get", lambda k: None)("rng"),
                                 RNG_RULES)):  # fmt: skip
        if not isinstance(value, dict):
            raise _bad(source, where, "a dict", value)
        unknown = [k for k in value if k not in rules]
        if unknown:
            raise ParamsError(f"{source}: {where}: unknown key {_keys_text(unknown)}")
        for key, (rule, ok) in rules.items():
            if key not in value:
                raise ParamsError(f"{source}: {where}.{key} is missing")
            if not ok(value[key]):
                raise _bad(source, f"{where}.{key}", rule, value[key])


def _section(obj: dict, key: str, source: str) -> dict:
    """``obj[key]``, which must be a dict of a few keys, all of them text."""
    value = obj[key]
    if not isinstance(value, dict):
        raise _bad(source, key, "a dict", value)
    if len(value) > MAX_SECTION_KEYS:
        raise ParamsError(f"{source}: {key} holds {len(value):,} keys; a section has a few")
    odd = [k for k in value if not isinstance(k, str)]
    if odd:
        raise ParamsError(f"{source}: {key} has a key that is not text: {_what(odd[0])}")
    return value


def _check_config(config: dict, source: str, net: Net) -> None:
    unknown = [k for k in config if k not in AXES]
    if unknown:
        raise ParamsError(
            f"{source}: config: unknown key {_keys_text(unknown)} (allowed: {', '.join(AXES)})"
        )
    activation = config.get("activation")
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ParamsError(
            f"{source}: config.activation {_brief(activation)} is not one of "
            f"{', '.join(ACTIVATIONS)}"
        )
    rules = {
        "hidden_size": (lambda v: is_int(v) and v == net.hidden, f"{net.hidden} (W1's rows)"),
        "learning_rate": (lambda v: is_real(v) and finite(v) and v > 0, "a positive number"),
        "iterations": (lambda v: is_int(v) and 0 < v < MAX_COUNT, "a positive integer"),
        "batch_size": (
            lambda v: (isinstance(v, str) and v == "full") or (is_int(v) and 0 < v < MAX_COUNT),
            "'full' or a positive integer",
        ),
        "seed": (lambda v: is_int(v) and 0 <= v < 2**32, "an integer from 0 to 4294967295"),
        "init": (lambda v: isinstance(v, str) and v in INITS, f"one of {', '.join(INITS)}"),
        "init_scale": (lambda v: v is None or (is_real(v) and finite(v) and v > 0),
                       "None or a positive number"),
    }  # fmt: skip
    for key, (ok, rule) in rules.items():
        if key in config and not ok(config[key]):
            raise _bad(source, f"config.{key}", rule, config[key])
    init = config.get("init")
    if init is not None and INITS[init].scaled and config.get("init_scale", 0.01) is None:
        raise ParamsError(f"{source}: config.init_scale must be a positive number for init {init!r}")


def _check_fold(fold: Any, cv: Any, source: str) -> None:
    """A network of a cross-validated sweep names its fold, and only such a network does."""
    if cv is None:
        if fold is not None:
            raise _bad(source, "config.fold", "None without data.cv", fold)
    elif not (is_int(fold) and 0 <= fold < cv):
        raise _bad(source, "config.fold", f"a fold of data.cv: {cv}, from 0 to {cv - 1}", fold)


def _check_train(train: dict, source: str, net: Net, task: str) -> str:
    """Check ``train`` against the sweep file's limits; return its (resolved) output."""
    from ..config import TrainConfig

    output = train.get("output")
    if not isinstance(output, str) or output not in OUTPUTS:
        raise ParamsError(
            f"{source}: train.output {_brief(output)} is not one of {', '.join(OUTPUTS)}"
        )
    if OUTPUTS[output].task != task:
        raise ParamsError(f"{source}: train.output {output!r} does not fit task {task!r}")
    units = {"sigmoid": net.n_out == 1, "softmax": net.n_out >= 2}.get(output, True)
    if not units:
        raise ParamsError(
            f"{source}: W2 has {net.n_out} output row(s), which train.output {output!r} cannot "
            "have (sigmoid: 1, softmax: 2 or more)"
        )
    _validate(TrainConfig, {k: v for k, v in train.items() if k != "output"}, "train", source)
    dtype = train.get("dtype")
    if dtype is not None and np.dtype(dtype).itemsize != net.dtype.itemsize:
        raise ParamsError(
            f"{source}: train.dtype {dtype!r} does not match the weights ({net.dtype})"
        )
    return output


def _check_data(data: dict, source: str) -> None:
    """The data settings, within a sweep file's limits (samples, features, classes, ...)."""
    from ..config import DataConfig

    if "dataset" not in data:  # the settings name it: a default would be a guess
        raise ParamsError(f"{source}: data.dataset is missing")
    _validate(DataConfig, data, "data", source)


def _validate(model, values: dict, section: str, source: str) -> None:
    from pydantic import ValidationError

    try:
        model.model_validate(values, strict=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = section + "".join(
            f"[{p}]" if isinstance(p, int) else f".{str(p)[:40]}" for p in err["loc"]
        )
        if err["type"] == "extra_forbidden":
            raise ParamsError(f"{source}: {loc}: unknown key") from None
        msg = err["msg"].removeprefix("Value error, ")
        found = "" if isinstance(err.get("input"), dict) else f", found {_what(err.get('input'))}"
        raise ParamsError(f"{source}: {loc}: {msg}{found}") from None


def _check_classes(classes: Any, source: str, net: Net, task: str, output: str) -> None:
    if task == "regression":
        if classes is not None:
            raise _bad(source, "classes", "None for a regression network", classes)
        return
    if not isinstance(classes, list):
        raise _bad(source, "classes", "a list of class labels", classes)
    want = 2 if output == "sigmoid" else net.n_out
    if len(classes) != want:
        raise ParamsError(
            f"{source}: classes holds {len(classes):,} labels, but the {output} output "
            f"(W2 {net.n_out} row(s)) tells {want} classes apart"
        )
    for i, label in enumerate(classes):
        if not _is_label(label):
            raise _bad(source, f"classes[{i}]", "a number or a text label", label)
    if len(set(classes)) != len(classes):
        raise ParamsError(f"{source}: classes lists a label twice: {_what(classes)}")


def _check_scaler(scaler: Any, source: str, net: Net) -> None:
    if scaler is None:
        return
    if not isinstance(scaler, dict):
        raise _bad(source, "scaler", "a dict or None", scaler)
    unknown = [k for k in scaler if k not in ("mean", "scale")]
    if unknown:
        raise ParamsError(f"{source}: scaler: unknown key {_keys_text(unknown)}")
    for k in ("mean", "scale"):
        v = scaler.get(k)
        if not isinstance(v, np.ndarray) or v.shape != (net.n_in,) or v.dtype.kind != "f":
            raise ParamsError(f"{source}: scaler.{k} must be {net.n_in} numbers, found {_what(v)}")
        if not np.isfinite(v).all():
            raise ParamsError(f"{source}: scaler.{k} holds non-finite values (inf or nan)")
    if not (scaler["scale"] > 0).all():
        raise ParamsError(f"{source}: scaler.scale must be positive (it divides the inputs)")


def _check_features(obj: dict, source: str, net: Net) -> None:
    from ..config.models import MAX_TEXT

    n = obj.get("n_features", net.n_in)
    if not (is_int(n) and n == net.n_in):
        raise _bad(source, "n_features", f"{net.n_in} (W1's columns)", n)
    names = obj.get("features")
    if names is None:
        return
    if not isinstance(names, list) or len(names) != net.n_in:
        raise _bad(source, "features", f"None or a list of {net.n_in} column names", names)
    for i, name in enumerate(names):
        if not isinstance(name, str) or len(name) > MAX_TEXT:
            raise _bad(source, f"features[{i}]", "a column name", name)
    if len(set(names)) != len(names):
        raise ParamsError(f"{source}: features names a column twice")


def _check_curve(curve: Any, source: str, top: int) -> None:
    """The loss curve: two lists of equal, bounded length; rising iterations, finite losses."""
    from ..config.models import MAX_LOSS_POINTS

    limit = 2 * MAX_LOSS_POINTS + 2  # the samples, and every budget between them at most
    if not isinstance(curve, dict):
        raise _bad(source, "loss_curve", "a dict of iterations and loss", curve)
    unknown = [k for k in curve if k not in ("iterations", "loss")]
    missing = [k for k in ("iterations", "loss") if k not in curve]
    if unknown or missing:
        if unknown:
            raise ParamsError(f"{source}: loss_curve: unknown key {_keys_text(unknown)}")
        raise ParamsError(f"{source}: loss_curve.{missing[0]} is missing")
    for key in ("iterations", "loss"):
        seq = curve[key]
        if not isinstance(seq, (list, tuple)):
            raise _bad(source, f"loss_curve.{key}", "a list", seq)
        if len(seq) > min(limit, top + 1):
            raise ParamsError(
                f"{source}: loss_curve.{key} holds {len(seq):,} points; at most "
                f"{min(limit, top + 1):,} fit config.iterations {top:,}"
            )
    iterations, losses = curve["iterations"], curve["loss"]
    if len(iterations) != len(losses):
        raise ParamsError(
            f"{source}: loss_curve.iterations holds {len(iterations):,} points but "
            f"loss_curve.loss {len(losses):,}"
        )
    previous = -1
    for i, it in enumerate(iterations):
        if not (is_int(it) and previous < it <= top):
            rule = f"an iteration after {previous} and at most {top} (config.iterations)"
            raise _bad(source, f"loss_curve.iterations[{i}]", rule, it)
        previous = int(it)
    for i, value in enumerate(losses):
        if not (is_real(value) and finite(value) and value >= 0):
            raise _bad(source, f"loss_curve.loss[{i}]", "a finite number >= 0", value)


# --- values, and how messages show them --------------------------------------------------


def is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def is_real(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def finite(v: Any) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer too large for a float
        return False


def _is_label(v: Any) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return True
    if is_int(v):
        return -(2**63) <= v < 2**63
    if isinstance(v, (float, np.floating)):
        return finite(v)
    return isinstance(v, str) and len(v) <= MAX_LABEL_CHARS


def _bad(source: str, key: str, rule: str, value: Any) -> ParamsError:
    return ParamsError(f"{source}: {key} must be {rule}, found {_what(value)}")


def _what(v: Any) -> str:
    """What ``v`` is, in a few words, whatever its size (never a whole repr)."""
    if isinstance(v, np.ndarray):
        return f"array of shape {v.shape} and dtype {v.dtype}"
    if v is None or isinstance(v, (bool, np.bool_)):
        return repr(bool(v)) if v is not None else "None"
    if is_int(v):
        v = int(v)
        return f"int {v}" if v.bit_length() <= 64 else f"an int of {v.bit_length():,} bits"
    if isinstance(v, (float, np.floating)):
        return f"float {float(v)!r}"
    if isinstance(v, str):
        return f"str {str(v)[:40]!r}" + ("..." if len(v) > 40 else "")
    if isinstance(v, (list, tuple, dict, set, frozenset, bytes, bytearray)):
        return f"{type(v).__name__} of {len(v):,} items"
    return type(v).__name__


def _brief(v: Any) -> str:
    """A short value as its repr (``'swish'``, ``None``, ``99``); anything else described."""
    if isinstance(v, str) and len(v) <= 40:
        return repr(str(v))
    if v is None or (is_int(v) and abs(v) < 2**64):
        return repr(v if v is None else int(v))
    return _what(v)


def _keys_text(keys: list) -> str:
    shown = ", ".join(repr(str(k)[:40]) if isinstance(k, str) else _what(k) for k in keys[:3])
    return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
