"""sweep-nn: hyperparameter sweeps for a small two-layer NumPy network."""

__version__ = "0.1.0"
