"""The sweep's report: one self-contained HTML page (:mod:`.page`, with its assets)."""

__all__ = ["build_report"]


def build_report(*args, **kwargs):
    """See :func:`sweep_nn.report.page.build_report` (imported on first use)."""
    from .page import build_report as build

    return build(*args, **kwargs)
