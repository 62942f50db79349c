"""Hostile and unusual sweep files: alias bombs, merge keys, huge scalars, number spellings."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweep_nn import config
from sweep_nn.cli import app
from sweep_nn.errors import ConfigError

GRID = "{hidden_sizes: [1], activations: [tanh], learning_rates: [0.5], iterations: [10]}"


def alias_bomb(levels: int = 9, width: int = 10, key: str = "name") -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + f"\n{key}: *a{levels - 1}\ngrid: {GRID}\n"


def outcome(text: str, source: str = "f.yaml"):
    """(seconds, the config or the ConfigError) for ``text``; any other exception propagates."""
    started = time.perf_counter()
    try:
        result = config.parse(text, source)
    except ConfigError as exc:
        result = exc
    return time.perf_counter() - started, result


def test_an_alias_bomb_is_refused_quickly_naming_the_anchor():
    text = alias_bomb()
    assert len(text) < 700
    seconds, result = outcome(text)
    assert isinstance(result, ConfigError)
    assert seconds < 1.0
    assert "anchor &a4" in str(result) and "100,000" in str(result)


@pytest.mark.parametrize("key", ["name", "task", "grid", "data", "train"])
def test_a_wide_alias_list_under_the_node_limit_is_described_briefly(key):
    # 10^4 leaves: allowed by the node limit, and described without repr() of the whole value
    seconds, result = outcome(alias_bomb(levels=4, key=key).replace(f"grid: {GRID}\n", "")
                              + (f"grid: {GRID}\n" if key != "grid" else ""))  # fmt: skip
    assert isinstance(result, ConfigError)
    assert seconds < 1.0
    assert max(len(line) for line in str(result).splitlines()) < 400


def test_a_wide_alias_list_of_batch_sizes_is_described_briefly():
    text = alias_bomb(levels=4, key="b").replace("lol", "[1]")
    text = text.replace("b: *a3", "").replace(GRID, GRID[:-1] + ", batch_sizes: *a3}")
    seconds, result = outcome(text)
    assert isinstance(result, ConfigError) and seconds < 1.0
    assert "and 9995 more" in str(result) or "more" in str(result)
    assert len(str(result)) < 1000


def test_an_anchor_holding_itself_is_refused_by_name():
    _, result = outcome("grid: &g [*g]")
    assert isinstance(result, ConfigError) and "anchor &g" in str(result)


def test_merge_keys_are_supported():
    cfg = config.parse("name: m\ngrid:\n  <<: " + GRID + "\n  iterations: [20]\n", "m.yaml")
    assert cfg.grid.iterations == [20] and cfg.grid.hidden_sizes == [1]


def test_merge_keys_through_an_alias_are_supported():
    text = "name: m\ngrid: &g " + GRID + "\ntrain: {dtype: float32}\ndata: {dataset: moons}\n"
    cfg = config.parse(text.replace("train: {dtype: float32}", "train: {<<: {dtype: float32}}"))
    assert cfg.train.dtype == "float32"
    nested = "name: m\ngrid:\n  <<: {<<: " + GRID + ", seeds: [1, 2]}\n"
    assert config.parse(nested, "m.yaml").grid.seeds == [1, 2]


def test_a_key_given_twice_beside_a_merge_is_still_refused():
    _, result = outcome("name: m\ngrid: {<<: " + GRID + ", seeds: [1], seeds: [2]}\n")
    assert isinstance(result, ConfigError) and "given twice" in str(result)


def test_a_huge_string_is_refused_quickly():
    seconds, result = outcome("name: " + "a" * 10_000_000 + "\n")
    assert isinstance(result, ConfigError) and "too long" in str(result)
    assert seconds < 2.0


def test_a_million_digit_integer_is_refused_quickly():
    seconds, result = outcome("grid: {seeds: [" + "7" * 1_000_000 + "]}\n")
    assert isinstance(result, ConfigError) and seconds < 2.0
    seconds, result = outcome("grid: {seeds: [" + "7" * 200_000 + "]}\n")
    assert isinstance(result, ConfigError) and seconds < 2.0


def test_the_cli_refuses_an_alias_bomb_with_exit_2(tmp_path):
    from typer.testing import CliRunner

    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "alias" in result.stderr
    assert not (tmp_path / "out").exists()


# --- fuzzing anchors, aliases, merge keys and big scalars -----------------------------------

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIECES = [
    "&a ", "&b ", "*a", "*b", "<<: ", "<<: *a", "<<: [*a, *b]", "[", "]", "{", "}", ", ", ": ",
    "\n", "  ", "- ", "name: ", "grid: ", "hidden_sizes: ", "batch_sizes: ", "seeds: ",
    "learning_rates: ", "x", "1", "1e-3", ".5", "tanh", "!!merge ", "? ",
]  # fmt: skip


def clean(text: str) -> None:
    seconds, result = outcome(text)
    assert seconds < 2.0
    assert isinstance(result, (ConfigError, config.SweepConfig))
    if isinstance(result, ConfigError):
        assert len(str(result)) < 5000


@FUZZ
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_fuzzed_anchors_aliases_and_merge_keys_fail_cleanly(pieces):
    clean("".join(pieces))


@FUZZ
@given(
    levels=st.integers(1, 12),
    width=st.integers(1, 12),
    key=st.sampled_from(["name", "task", "grid", "data", "train", "x"]),
    merge=st.booleans(),
)
def test_fuzzed_alias_trees_fail_cleanly(levels, width, key, merge):
    text = alias_bomb(levels, width, key)
    if merge:
        text = (
            text.replace("[", "{k0: ")
            .replace("]", "}")
            .replace("lol, ", "")
            .replace(", *a", ", <<: *a")
        )
    clean(text)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.sampled_from([10**5, 10**6, 10**7]),
    char=st.sampled_from(["a", "7", "1.5", " ", "[", "'"]),
    where=st.sampled_from(["name: {}", "grid: {{seeds: [{}]}}", "{}", "'{}'"]),
)
def test_huge_scalars_fail_cleanly(size, char, where):
    clean(where.format(char * (size // len(char))))
