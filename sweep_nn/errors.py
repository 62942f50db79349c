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


class ChangedFileError(DataError):
    """A CSV file whose SHA-256 is not the one recorded for it (``data.sha256``): said as
    ``eval`` meets it, the digest recorded by a trained network's parameters file."""

    def __init__(self, path, digest: str, recorded: str) -> None:
        self.path, self.digest, self.recorded = path, digest, recorded
        super().__init__(
            f"{path} has changed since the network was trained: its sha256 is {digest[:16]}..., "
            f"the parameters file recorded {recorded[:16]}...; restore the file, or evaluate "
            "on another with --data FILE.csv"
        )


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
