"""How a number reads in the reasons, the panel, report.md and the figures: one rule for all."""

from __future__ import annotations

__all__ = ["shown"]


def shown(value: float, fmt: str) -> str:
    """`value` formatted, a negative zero without its sign: -0.001 at .2f reads "0.00", not
    "-0.00" (the panel said b=0.00 while the reasons below it said b = -0.00)."""
    text = format(value, fmt)
    return text[1:] if text.startswith("-") and float(text) == 0 else text
