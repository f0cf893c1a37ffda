"""When a run evaluates: every `eval_every` steps, or evenly in log steps.

Evaluation dominates short probes on small models (a pass over 1,000 validation images costs
about ten training steps), and the science reads curves on a log clock (t* and the collapse on
log tau), so a probe evaluates `per_decade` times per decade of steps rather than every fixed
interval: dense while the metric rises fast, sparse on the slow top. Stateless, so a stacked
trainer can ask per replica and step. Log-spaced schedules skip steps 1..9 (step 0 is always
evaluated): ten evaluations of the first few steps cost as much as a whole decade's and show
only the fast start, never the top the science reads.
"""

from __future__ import annotations

import math

FIRST_LOG_STEP = 10  # the first evaluation after step 0 on a log schedule


def _log_bin(step: int, per_decade: int) -> int:
    return math.floor(per_decade * math.log10(step) + 1e-9)  # 1e-9: exact powers of ten land in their own bin


def eval_due(step: int, eval_every: int, max_steps: int, per_decade: int = 0) -> bool:
    """True when `step` (1-based, after that many optimizer steps) should evaluate.

    per_decade = 0: every `eval_every` steps. per_decade > 0: the first step of each of
    `per_decade` equal bins per decade of log10(step), from FIRST_LOG_STEP on (`eval_every` is
    then unused). The last step always evaluates, so every curve ends at its horizon.
    """
    if step >= max_steps:
        return True
    if per_decade <= 0:
        return step % eval_every == 0
    return step >= FIRST_LOG_STEP and _log_bin(step, per_decade) > _log_bin(step - 1, per_decade)


def eval_steps(max_steps: int, eval_every: int, per_decade: int = 0) -> list[int]:
    """Every step in 1..max_steps at which `eval_due` is true (step 0 always evaluates too)."""
    return [s for s in range(1, max_steps + 1) if eval_due(s, eval_every, max_steps, per_decade)]


def count_evals(max_steps: int, eval_every: int, per_decade: int = 0) -> int:
    """Evaluations of one run, the one at step 0 included (for cost planning)."""
    if per_decade <= 0:
        return 1 + max_steps // max(1, eval_every) + (max_steps % max(1, eval_every) != 0)
    return 1 + len(eval_steps(max_steps, eval_every, per_decade))
