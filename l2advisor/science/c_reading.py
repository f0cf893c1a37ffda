"""How c reads: a bound when the pooled curve's best sits at the probe window's edge ("c >= 4"),
else its value and bootstrap interval. One wording for the fit's reasons, the panel, report.md
and the figures."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from l2advisor.science.fit import Fit


def c_shown(c: float, interval: tuple[float, float], bound: str, *, why: bool = True,
            with_interval: bool = True) -> str:
    """c as a reader should take it: a bound where the pooled curve's best sits at its end or its
    first point ("c >= 4", `why` adds which; the pooled curve can end before the longest probe's
    window, where too few probes overlap), else its value with (`with_interval`) its bootstrap interval."""
    if bound:
        edge = "the pooled curve still rises at its end" if bound == "lower" else "the pooled curve is best at its first point"
        return f"c {'>=' if bound == 'lower' else '<='} {c:.3g}" + (f" ({bound} bound: {edge})" * why)
    value, lo, hi = (f"{v:.3g}" if math.isfinite(v) else "-" for v in (c, *interval))
    return f"c = {value}" + (f" [{lo}, {hi}]" if with_interval else "")


def c_text(fit: Fit, **kwargs: bool) -> str:
    """`c_shown` for a fitted `Fit` (the panel, report.md, the figures)."""
    return c_shown(fit.c, fit.c_interval, fit.c_bound, **kwargs)
