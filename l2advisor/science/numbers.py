"""How a number reads in the reasons, the panel, report.md and the figures: one rule for all."""

from __future__ import annotations

import math

__all__ = ["noise_cleared", "shown"]


def shown(value: float, fmt: str) -> str:
    """`value` formatted, a negative zero without its sign: -0.001 at .2f reads "0.00", not
    "-0.00" (the panel said b=0.00 while the reasons below it said b = -0.00)."""
    text = format(value, fmt)
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def noise_cleared(value: float) -> float:
    """`value` to 12 significant digits: float noise off an answer that is a round number, so it
    reads the same wherever it is shown. lam = c/(lr*T) computed as (4/12800)/0.1 is
    0.0031249999999999997, which `.3g` shows as 0.00312 while the JSON's 0.003125 read back
    shows as 0.00313 (a user saw both); cleared, it is 0.003125 everywhere. A change of at
    most 5e-13 relative: no advice moves."""
    return float(f"{value:.12g}") if math.isfinite(value) else value
