"""The sweep configuration: YAML in, one validated, frozen :class:`SweepConfig` out.

Nothing else in sweep-nn reads a sweep file. Every problem in a file is reported at once,
each naming its key and the bad value, as one :class:`~sweep_nn.errors.ConfigError`.
:mod:`.models` holds the sections, :mod:`.reading` the bounded YAML loader,
:mod:`.loading` the file-to-config steps.
"""

from .loading import load, name_from_file, parse, with_halving, with_search
from .models import (
    MAX_CONFIGURATIONS,
    MAX_SAMPLES,
    DataConfig,
    GridConfig,
    SweepConfig,
    TrainConfig,
)
from .reading import MAX_CONFIG_BYTES, load_yaml

__all__ = [
    "MAX_CONFIGURATIONS",
    "MAX_CONFIG_BYTES",
    "MAX_SAMPLES",
    "DataConfig",
    "GridConfig",
    "SweepConfig",
    "TrainConfig",
    "load",
    "load_yaml",
    "name_from_file",
    "parse",
    "with_halving",
    "with_search",
]
