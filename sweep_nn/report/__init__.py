"""The sweep's report: one self-contained HTML page, and the importance of each axis."""

from .importance import Importance, importance

__all__ = ["Importance", "build_report", "importance"]


def build_report(*args, **kwargs):
    """See :func:`sweep_nn.report.page.build_report` (imported on first use)."""
    from .page import build_report as build

    return build(*args, **kwargs)
