"""What could be wrong with an advice, in the fit's own words: the caveats the panel and
`--json` show under the answer (pure; no number is computed here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from l2advisor.science.equal_steps import unrepeated

if TYPE_CHECKING:
    from l2advisor.science.advise import Advice
    from l2advisor.science.fit_types import Fit

SHOWN_ABOVE = ("b = ", "plateau: ", "c = ", "c >= ", "c <= ", "clock lr*lam confirmed")  # fit reasons the answer already gives


def caveats(fit: Fit, advice: Advice, limit: int = 4) -> list[str]:
    """What could be wrong with the advice: the fit's reasons that neither restate a number the
    answer shows (b, c, the plateau), repeat one of the advice's own reasons, nor only inform
    (alpha); a verdict near its threshold first, then those about the probes themselves (some had
    not clearly peaked), then in the fit's order; at most `limit`."""
    found = [r for r in fit.reasons if not r.startswith(SHOWN_ABOVE) and "informative only" not in r
             and not any(r in said for said in advice.reasons)]
    return unrepeated(sorted(found, key=_caveat_rank)[:limit], said=advice.reasons)


def _caveat_rank(reason: str) -> int:
    """A verdict that one more seed could flip first (it was cut by the limit, said only in
    report.md), then probes that had not clearly peaked and probe lrs that do not confirm lr*lam
    as the clock (cut too), then the fit's order."""
    if "that decides whether the probes sit above the plateau" in reason:  # fit.py's needs_seed reason
        return 0
    return 1 if "had not clearly peaked" in reason or reason.startswith("the clock is not lr*lam") else 2
