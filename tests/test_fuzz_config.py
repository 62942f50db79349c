"""Property-based fuzzing of the config loader: any text either parses or fails cleanly.

"Cleanly" means a ConfigError (the CLI's exit code 2 and one message), never another
exception and never a traceback.
"""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sweep_nn import config
from sweep_nn.cli import app
from sweep_nn.errors import ConfigError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID = {
    "name": "fuzz",
    "data": {"dataset": "moons", "n_samples": 100, "noise": 0.2},
    "grid": {
        "hidden_sizes": [1, 2],
        "activations": ["tanh"],
        "learning_rates": [0.5],
        "iterations": [10],
    },
    "train": {"init_scale": 0.01},
}
KEYS = sorted(
    {"name", "task", "data", "grid", "train", "dataset", "n_samples", "noise", "random_state",
     "dev_size", "split_random_state", "scale", "path", "target", "hidden_sizes", "activations",
     "learning_rates", "iterations", "batch_sizes", "seeds", "dtype", "init", "init_scale",
     "output", "loss_points", "learning_rate", "factor", "centers"}
)  # fmt: skip
YAML_BITS = [
    "name:", "grid:", "data:", "train:", "hidden_sizes:", "activations:", "iterations:",
    "learning_rates:", " ", "  ", "\n", "\t", "- ", "[", "]", "{", "}", ",", ":", "&a ", "*a",
    "!!python/object:os.system", "!!binary", "!!float", "!!timestamp ", "? ", "|", ">", "'",
    '"', "#", "---", "...", "%YAML 1.1", "~", "null", "tanh", "relu", "1e400", "-1", "0",
    "0x10", ".nan", ".inf", "2001-12-14", "<<: *a", "9" * 5000, "\\u0000", "\x00", "\u2028",
    "é", "\ufeff",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["tanh", "relu", "sigmoid", "moons", "full", "auto", "float32"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=12,
)


def parses_or_refuses(text: str) -> None:
    """The property: config.parse returns a SweepConfig or raises ConfigError."""
    try:
        cfg = config.parse(text, "fuzz.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.yaml"), str(exc)
    else:
        assert isinstance(cfg, config.SweepConfig)


@FUZZ
@given(st.text(max_size=200))
def test_any_text_parses_or_fails_with_a_config_error(text):
    parses_or_refuses(text)


@FUZZ
@given(st.lists(st.sampled_from(YAML_BITS), max_size=30))
def test_yaml_like_fragments_parse_or_fail_with_a_config_error(bits):
    parses_or_refuses("".join(bits))


@FUZZ
@given(st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), values, max_size=6))
def test_random_documents_parse_or_fail_with_a_config_error(doc):
    parses_or_refuses(yaml.safe_dump(doc, allow_unicode=True))


@FUZZ
@given(
    section=st.sampled_from(["data", "grid", "train"]),
    key=st.sampled_from(KEYS),
    value=values,
)
def test_a_valid_config_with_one_value_replaced_parses_or_fails_cleanly(section, key, value):
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in VALID.items()}
    doc[section][key] = value
    parses_or_refuses(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(YAML_BITS), min_size=1, max_size=20))
def test_the_cli_reports_fuzzed_configs_with_exit_2_and_no_traceback(tmp_path_factory, bits):
    text = "".join(bits)
    try:
        config.parse(text)
    except ConfigError:
        pass
    else:
        assume(False)  # a valid config would start a sweep; only broken ones are wanted
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["run", str(path), "--out", str(folder / "out")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stderr.startswith("error: ")
    assert not (folder / "out").exists()  # nothing written


# Inputs the fuzzer once found raising something other than ConfigError, kept as regressions.
FOUND = ["!!float", "!!timestamp ", "a: !!bool x", "a: !!int", "!!map [1]", "{[1]: 2}", "&a [*a]"]


def test_texts_the_fuzzer_found_fail_with_a_config_error():
    for text in FOUND:
        try:
            config.parse(text, "fuzz.yaml")
        except ConfigError as exc:
            assert "fuzz.yaml" in str(exc)
        else:
            raise AssertionError(f"{text!r} parsed")
