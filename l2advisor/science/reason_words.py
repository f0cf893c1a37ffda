"""The fit's reasons put together for reading: an explanation already given is not given twice.

A reason reads "claim: explanation". Where an earlier reason (or text already shown) carries the
same explanation, only the claim is kept: b's line ends "the crossings line up 21x better on
steps than on tau", and "lam does not clearly set the time to the top: the crossings line up 21x
better on steps than on tau" after it said the same twice.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["first_reasons", "unrepeated"]

LEAST_EXPLANATION = 20  # characters: a shorter one met in other text may be a phrase met by chance


def _claim_if_said(reason: str, said: Sequence[str]) -> str | None:
    """The claim of `reason` when its explanation is already in one of `said`; None otherwise."""
    claim, _, explanation = reason.partition(": ")
    if len(explanation) >= LEAST_EXPLANATION and any(explanation in s for s in said):
        return claim
    return None


def unrepeated(reasons: Sequence[str], said: Sequence[str] = ()) -> list[str]:
    """`reasons` in order, each whose explanation an earlier one or one of `said` already gives
    cut to its claim and "(why above)"."""
    out: list[str] = []
    for r in reasons:
        claim = _claim_if_said(r, (*said, *out))
        out.append(r if claim is None else f"{claim} (why above)")
    return out


def first_reasons(reasons: Sequence[str]) -> str:
    """The fit's first two reasons in one clause; the second cut to its claim when the first
    already gives its explanation."""
    if not reasons:
        return "no reason"
    first, *second = reasons[:2]
    return "; ".join([first, *((_claim_if_said(r, [first]) or r) for r in second)])
