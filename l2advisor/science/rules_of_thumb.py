"""Zero-cost rules of thumb the advice is shown beside, for contrast (pure).

`weight_decay` values as torch takes them; the budget `T` in optimizer steps.
"""

from __future__ import annotations

DEFAULT_WD = 5e-4  # the common default, shown for contrast and used when nothing was measured
MAX_RULE_SHRINK = 0.5  # a rule of thumb giving lr*lam at or above this is not shown


def rules_of_thumb(lr: float, budget_steps: int) -> dict[str, float]:
    """Zero-cost rules a user might otherwise apply, named by what they assume."""
    x = lr * budget_steps
    rules = {
        "1/(lr*lam) = 10% of the run: lam = 10/(lr*T)": 10.0 / x,
        "lr*lam*T = 1 (one decay time per run): lam = 1/(lr*T)": 1.0 / x,
        "common default weight_decay = 5e-4": DEFAULT_WD,
    }
    # a run of a few steps would give lr*lam >= 0.5: half the weights gone every step, no rule anyone applies
    return {rule: lam for rule, lam in rules.items() if lr * lam < MAX_RULE_SHRINK}
