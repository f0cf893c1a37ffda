"""l2advisor: which L2 / weight-decay coefficient to train with, measured on your own model."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["AutoL2", "__version__"]


def __getattr__(name: str) -> Any:
    """`from l2advisor import AutoL2`, imported lazily: the pure core (curves, fit, advise)
    imports this package and must not pay for importing torch."""
    if name == "AutoL2":
        from l2advisor.schedule import AutoL2

        return AutoL2
    raise AttributeError(f"module 'l2advisor' has no attribute {name!r}")
