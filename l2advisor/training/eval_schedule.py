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
    """Every step in 1..max_steps at which `eval_due` is true (step 0 always evaluates too), in
    order. Built from the bins, not by asking `eval_due` of every step: planning a ladder for a
    long budget prices rungs of 100,000 steps, several times over."""
    if per_decade <= 0:
        every = max(1, eval_every)
        steps = list(range(every, max_steps + 1, every))
    else:
        bins = range(_log_bin(FIRST_LOG_STEP, per_decade), _log_bin(max(max_steps, 1), per_decade) + 1)
        firsts = (_first_step_of_bin(b, per_decade) for b in bins)
        steps = [s for s in firsts if s is not None and s < max_steps]
    if max_steps >= 1 and (not steps or steps[-1] != max_steps):
        steps.append(max_steps)
    return steps


def _first_step_of_bin(log_bin: int, per_decade: int) -> int | None:
    """The first step >= FIRST_LOG_STEP whose `_log_bin` is `log_bin`; None when no step falls in it."""
    step = max(FIRST_LOG_STEP, math.ceil(10 ** (log_bin / per_decade)) - 1)  # at or just below the bin's start
    while step > FIRST_LOG_STEP and _log_bin(step - 1, per_decade) >= log_bin:
        step -= 1
    while _log_bin(step, per_decade) < log_bin:
        step += 1
    return step if _log_bin(step, per_decade) == log_bin else None


def count_evals(max_steps: int, eval_every: int, per_decade: int = 0) -> int:
    """Evaluations of one run, the one at step 0 included (for cost planning)."""
    if per_decade <= 0:
        return 1 + max_steps // max(1, eval_every) + (max_steps % max(1, eval_every) != 0)
    return 1 + len(eval_steps(max_steps, eval_every, per_decade))
