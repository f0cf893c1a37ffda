"""l2advisor: which L2 / weight-decay coefficient to train with, measured on your own model."""

from __future__ import annotations

from typing import Any

from l2advisor._version import __version__

__all__ = ["AutoL2", "ProbeResults", "ProgressEvent", "Recommendation", "__version__", "probe", "recommend",
           "report"]
_API = ("ProbeResults", "ProgressEvent", "Recommendation", "probe", "recommend", "report")


def __getattr__(name: str) -> Any:
    """`from l2advisor import AutoL2`, imported lazily: the pure core (curves, fit, advise)
    imports this package and must not pay for importing torch."""
    if name == "AutoL2":
        from l2advisor.training.autol2 import AutoL2

        return AutoL2
    if name in _API:  # the Python API (l2advisor/api), imported on first use
        import l2advisor.api

        return getattr(l2advisor.api, name)
    raise AttributeError(f"module 'l2advisor' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API, for tab completion (its names are imported lazily, so not yet globals)."""
    return sorted(__all__)
