"""The few exceptions the command line knows how to print, each with its exit code."""


class SweepNNError(Exception):
    """Base class: a problem the user can fix, reported as one message and an exit code."""

    exit_code = 1


class ConfigError(SweepNNError):
    """The sweep configuration is invalid; the message lists every problem found."""

    exit_code = 2


class UsageError(SweepNNError):
    """A command-line option or argument is invalid."""

    exit_code = 2


class DataError(SweepNNError):
    """A dataset or data file cannot be built or read."""

    exit_code = 2


class ResultsError(SweepNNError):
    """A results file is missing, damaged or not written by sweep-nn."""

    exit_code = 2


class ParamsError(SweepNNError):
    """A parameters file is unreadable, unsafe or inconsistent."""

    exit_code = 2


class LockedError(SweepNNError):
    """Another live run holds the output folder."""

    exit_code = 3


class StorageError(SweepNNError):
    """Results could not be written (permissions, full disk, ...)."""

    exit_code = 4


class MissingExtraError(SweepNNError):
    """An optional dependency needed for the requested feature is not installed."""

    exit_code = 2
