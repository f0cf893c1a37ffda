"""Probes sized to the user's budget: their total cost, evaluation included, a fraction of
one budget run, and rungs reaching as far toward the advised lam as that allows.

Costs are in step-equivalents: a training step is 1, one evaluation pass over the validation
set about n_val / (2 * batch_size) (forward only, larger batches; measured about 7 steps for
1,000 images at batch 64 on the default CNN). A budget run of T steps evaluates 100 times,
as `l2advisor train` does. Every rung gets the same window in tau (no early stop), so t* and
the collapse are never read through windows of different lengths in tau.

The cap shrinks with the budget, fraction(T) = min(0.45, 0.225 * sqrt(32000 / T)): 0.45 of a
run up to 8,000 steps, 0.225 at 32,000, 0.11 at 128,000; probes grow as sqrt(T), not as T.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from l2advisor.errors import InputError
from l2advisor.training.eval_schedule import count_evals

if TYPE_CHECKING:
    from l2advisor.probing.plan import (  # plan.py imports numpy: not behind --help
        ProbeRun,
        ProbeSettings,
    )
    from l2advisor.runs.store import Results

UNITS = ("steps", "epochs")  # what a budget is counted in (--unit, unit=)
DEFAULT_HORIZON = 8.0  # tau units (lr*lam*steps) of every probe for plain SGD; times (1 - momentum)
BUDGET_RUN_EVALS = 100  # evaluations of one budget run (l2advisor train's default)
EVALS_PER_DECADE = 10  # probes evaluate evenly in log steps
TOP_SHRINK = 0.01  # default top of the ladder: lr*lam/(1-momentum)
# The top rung never moves above TOP_SHRINK to save cost: at larger lams the top of the curve
# falls inside the fast, lr-driven rise, where lam no longer sets the time (b -> 0), and the
# probes could not see the tau clock (benchmarks/null_control.py: a positive control probed 2x
# higher was called a null 10 times in 10).
MIN_RUNGS, MAX_RUNGS = 3, 8
# When 3 rungs at the full horizon cost more than the cap, every rung gets half the window: the
# top on the tau clock sits near tau = 1..3 for SGD (the paper's c), inside 4; a c read at the
# window's edge is reported as a lower bound. Seeds are never dropped to fit: with one seed the
# noise of the peaks comes from the curves' own scatter, which on a real batch-norm CNN at 6,400
# steps hid the over-regularized top rung and turned "cannot tell" into "does not hold"
# (runs measured with 8688c62); a shorter window or a higher top rung loses the simulated
# positive control.
SHORT_HORIZON = 0.5
FACTOR = 2.0  # between rungs


def steps_per_epoch(train_size: int, batch_size: int) -> int:
    """Optimizer steps in one pass, as `l2advisor.training.batches` draws them: floor(N / batch)
    equal batches (a partial last batch is dropped), or one batch when N < batch."""
    return max(1, train_size // batch_size)


def budget_in_steps(budget: float, unit: str, train_size: int, batch_size: int) -> int:
    """A checked budget (steps, or epochs of `steps_per_epoch`) in optimizer steps; one sentence,
    in the command line's words (the API rewords them), for one of less than a step."""
    if unit == "steps":
        return int(budget)
    per_epoch = steps_per_epoch(train_size, batch_size)
    steps = round(budget * per_epoch)
    if steps < 1:
        raise InputError(f"--budget {budget:g} epochs is less than one step ({per_epoch} steps per epoch).")
    return steps


def budget_words(budget: float, unit: str, steps: int) -> str:
    """The budget as the user gave it, with its steps: "4600 steps", or "100 epochs (4600 steps)"."""
    return f"{steps} steps" if unit == "steps" else f"{budget:.12g} epochs ({steps} steps)"


def probe_fraction(budget_steps: int) -> float:
    """Largest share of one budget run the probes may cost."""
    return min(0.45, 0.225 * math.sqrt(32000.0 / budget_steps))


def eval_cost_steps(n_val: int, batch_size: int) -> float:
    """One evaluation pass in training-step equivalents."""
    return n_val / (2.0 * batch_size)


@dataclass(frozen=True)
class BudgetPlan:
    """The ladder chosen for a budget. Units: steps; shrinks are lr*lam/(1-momentum)."""

    budget_steps: int
    fraction: float  # of one budget run (step-equivalents, evaluation included)
    cap: float  # step-equivalents the probes may cost
    cost: float  # step-equivalents they are planned to cost
    budget_run_cost: float  # step-equivalents of one budget run
    lams: tuple[float, ...]  # descending
    rung_steps: tuple[int, ...]  # steps of each rung, same order
    seeds: int
    horizon: float  # tau window of every rung (tau = lr*lam*steps)
    over_cap: bool  # 3 rungs from TOP_SHRINK cost more than the cap
    halved: bool = False  # the window is SHORT_HORIZON of the one asked for
    halve_to_fit: bool = True  # the default window may be halved to fit; a --horizon given is run as given
    momentum: float = 0.0  # the probes' SGD momentum (the default window is DEFAULT_HORIZON * (1 - momentum))


    @property
    def cost_fraction(self) -> float:
        return self.cost / self.budget_run_cost

    @property
    def asked_horizon(self) -> float:
        """The window the plan was asked for (tau), before any halving."""
        return self.horizon / SHORT_HORIZON if self.halved else self.horizon

    @property
    def default_horizon(self) -> float:
        """The window asked for without --horizon (tau)."""
        return DEFAULT_HORIZON * (1.0 - self.momentum)

    def window_words(self) -> str:
        """Which window the rungs run: the one given (--horizon), or the default one, halved to fit."""
        if not self.halve_to_fit:
            return f"tau = {self.horizon:g} (--horizon {self.horizon:g})"
        if not self.halved:
            return f"tau = {self.horizon:g}"
        asked = self.asked_horizon
        if not math.isclose(asked, self.default_horizon, rel_tol=1e-9):  # a header from before a given one ran as given
            return f"tau = {self.horizon:g}, half of --horizon {asked:g}"
        return (f"tau = {self.horizon:g}, half of the default window of {asked:g} (--horizon {asked:g} runs the "
                f"whole window, at a higher cost)")


def budget_run_cost(budget_steps: int, eval_cost: float) -> float:
    """One budget run in step-equivalents: its steps and its evaluations, every budget//100 steps as
    `l2advisor train` makes them (100 to 101 of them; a run under 200 steps evaluates at each step)."""
    return budget_steps + (count_evals(budget_steps, max(1, budget_steps // BUDGET_RUN_EVALS)) - 1) * eval_cost


def _ladder_cost(top_steps: float, rungs: int, seeds: int, eval_cost: float) -> float:
    steps = [math.ceil(top_steps * FACTOR**i) for i in range(rungs)]
    return seeds * sum(s + count_evals(s, 1, EVALS_PER_DECADE) * eval_cost for s in steps)


def plan_for_budget(budget_steps: int, lr: float, momentum: float, horizon: float, seeds: int,
                    n_val: int, batch_size: int, halve_to_fit: bool = True) -> BudgetPlan:
    """The ladder for `budget_steps`: top rung at lr*lam = TOP_SHRINK*(1-momentum) and as many
    rungs below it as the cap allows (3 to 8), every rung `horizon` long in tau, or, with
    `halve_to_fit` (the default window; a window the user gave is run as given), half that when
    3 full rungs do not fit; when even 3 short rungs do not fit, the plan costs more than the cap
    and says so (`over_cap`): a dearer probe beats one that cannot see."""
    if budget_steps < 1:
        raise InputError(f"--budget must be at least 1 step, got {budget_steps}.")
    e = eval_cost_steps(n_val, batch_size)
    run_cost = budget_run_cost(budget_steps, e)
    cap = probe_fraction(budget_steps) * run_cost
    asked = horizon
    for horizon in (asked, asked * SHORT_HORIZON) if halve_to_fit else (asked,):  # the full window if 3 rungs fit, else half
        top_steps = horizon / (TOP_SHRINK * (1 - momentum))  # steps for the top rung to reach the horizon
        if _ladder_cost(top_steps, MIN_RUNGS, seeds, e) <= cap:
            break
    rungs = MIN_RUNGS
    while rungs < MAX_RUNGS and _ladder_cost(top_steps, rungs + 1, seeds, e) <= cap:
        rungs += 1
    top_clock = horizon / top_steps  # lr*lam of the top rung
    lams = tuple(float(f"{top_clock / lr / FACTOR**i:.4g}") for i in range(rungs))
    from l2advisor.probing.plan import probe_steps  # plan.py imports numpy: not behind --help

    steps = tuple(probe_steps(lam, lr, horizon) for lam in lams)
    cost = seeds * sum(s + count_evals(s, 1, EVALS_PER_DECADE) * e for s in steps)
    return BudgetPlan(budget_steps=int(budget_steps), fraction=probe_fraction(budget_steps), cap=cap,
                      cost=cost, budget_run_cost=run_cost, lams=lams, rung_steps=steps, seeds=seeds,
                      horizon=horizon, over_cap=cost > cap, halved=horizon < asked, halve_to_fit=halve_to_fit,
                      momentum=momentum)


def budget_for_cost(cost: float, eval_cost: float) -> int:
    """The smallest budget (steps) whose cap, fraction(T) * (T + 100 evaluations), covers `cost`
    step-equivalents: what a probe that was not sized for a budget suits."""
    lo, hi = 1, 10**9
    while lo < hi:
        mid = (lo + hi) // 2
        if probe_fraction(mid) * budget_run_cost(mid, eval_cost) >= cost:
            hi = mid
        else:
            lo = mid + 1
    return lo


OVER_RUNS = 3.0  # a plan dearer than this many budget runs: training a few lams directly is cheaper


def sizing_note(plan: BudgetPlan | None, runs: Sequence[ProbeRun], settings: ProbeSettings, n_val: int,
                batch_size: int, budget_text: str | None = None) -> tuple[str, bool]:
    """What budget the probes were sized for (or suit), in one line (the CLI prints it on stderr,
    the API keeps it among the notices when it warns), and whether it warns: the plan costs more
    than the budget's cap, or an automatic ladder more than its --probe-budget. `budget_text`:
    the budget in the user's words (e.g. "100 epochs (4600 steps)"), else its steps."""
    if plan is not None:
        line = (f"Sized for a budget of {budget_text or f'{plan.budget_steps} steps'}: the probes cost about "
                f"{plan.cost_fraction:.2f} of one budget run in steps, evaluation included (cap "
                f"{plan.fraction:.2f}; stacked, usually less in wall time).")
        if plan.over_cap:
            top_clock = plan.lams[0] * settings.lrs[0]  # below TOP_SHRINK by (1 - momentum)
            top = f"lr*lam = {top_clock:.3g}" + ("" if math.isclose(top_clock, TOP_SHRINK, rel_tol=1e-3) else
                                                f" (lr*lam/(1-momentum) = {TOP_SHRINK:g})")
            floor = plan.default_horizon * SHORT_HORIZON  # the narrowest window the planner makes by itself
            if not plan.halve_to_fit and plan.horizon > floor * (1 + 1e-9):  # a wider --horizon than the floor
                line += (f" More than the cap: 3 rungs from {top} through {plan.window_words()}; without "
                         "--horizon the window is narrower and the plan cheaper.")
            elif not plan.halve_to_fit and plan.horizon < floor * (1 - 1e-9):  # narrower: cheaper than the floor, still over
                line += (f" More than the cap even through {plan.window_words()}, narrower than the tau = {floor:g} "
                         "the planner goes down to by itself (a narrower window may end before the probes' tops).")
            else:
                line += (f" More than the cap: no cheaper plan shows lam's clock (3 rungs from {top} through "
                         f"{plan.window_words()}; larger lams show the learning rate's).")
            line += " They serve longer budgets too: `recommend --budget N` reuses them for any N."
            if plan.cost_fraction > OVER_RUNS:
                line += (f" At {plan.cost_fraction:.1f} budget runs, probing costs more than "
                         f"trying {OVER_RUNS:g} lams directly with `l2advisor train`: at this budget, that is "
                         f"the cheaper way.")
        elif plan.halved:
            line += f" Every rung runs through {plan.window_words()}, to fit."
        return line, plan.over_cap
    e = eval_cost_steps(n_val, batch_size)
    cost = sum(r.max_steps + count_evals(r.max_steps, r.eval_every, r.eval_per_decade) * e for r in runs)
    line = (f"Not sized for a budget: up to {cost:,.0f} step-equivalents (early stops cut it), within the cap "
            f"of a budget of {budget_for_cost(cost, e):,} steps or more (a cost, not which budgets they advise "
            "for: `recommend --budget N` takes any N); `--budget STEPS` sizes them.")
    steps = sum(r.max_steps for r in runs)
    over = not settings.lambdas and steps > settings.probe_budget  # design_ladder keeps 3 rungs whatever it costs
    if over:
        line += (f" More than --probe-budget {settings.probe_budget:,}: up to {steps:,} steps, because a fit "
                 f"needs at least 3 lams.")
    return line, over


def same_plan_for(header: dict, steps: int) -> bool:
    """Whether `probe --budget steps` would plan exactly the probes a results `header` records (the
    same lams through the same window): then probes sized for another budget are also sized for this
    one, and `recommend` need not say they were not. False where the header cannot tell (a hand-made
    ladder, or one recorded before the planner's inputs were kept in its SIZED_FOR_KEY)."""
    plan = _plan_from_header(header, steps)
    probe = (header.get("settings") or {}).get("probe") or {}
    return plan is not None and list(plan.lams) == list(probe.get("lambdas") or []) and \
        plan.horizon == probe.get("horizon")


def halved_window_note(header: dict) -> str | None:
    """Where the probes a `header` records ran a window halved to fit their budget's cap: which, and
    what runs the whole one (said when no probe reached its top within it); None otherwise."""
    probe = (header.get("settings") or {}).get("probe") or {}
    plan = _plan_from_header(header, probe.get("budget_steps"))
    if plan is None or not plan.halved or plan.horizon != probe.get("horizon"):
        return None
    return (f"These probes ran every rung to {plan.window_words()[:-1]}; with another --out, or --force, since "
            "other rungs are other probes).")


def _plan_from_header(header: dict, steps: object) -> BudgetPlan | None:
    """The plan `probe --budget steps` makes from the planner's inputs a results header records;
    None where it cannot tell (no budget, a hand-made ladder, an older header)."""
    from l2advisor.runs.rundir import SIZED_FOR_KEY  # numpy behind it: not at --help

    settings = header.get("settings") or {}
    probe = settings.get("probe") or {}
    inputs = header.get(SIZED_FOR_KEY) or {}
    if steps is None or probe.get("budget_steps") is None or "val_size" not in inputs or "horizon_asked" not in inputs:
        return None
    try:  # a header from before a given --horizon was run as given records no "halve_to_fit": it was halved too
        return plan_for_budget(int(steps), float(settings["lr"]), float(settings.get("momentum") or 0.0),
                               float(inputs["horizon_asked"]), len(probe.get("seeds") or ()), int(inputs["val_size"]),
                               int(settings["batch_size"]), bool(inputs.get("halve_to_fit", True)))
    except (KeyError, TypeError, ValueError, InputError):
        return None


def far_budget_warning(results: Results, steps: int, measured: bool) -> str | None:
    """`runs.rundir.sized_for_warning` for advice at `steps`, unless that budget's plan is these
    very probes (`same_plan_for`): what `recommend` and `l2advisor.recommend` both say."""
    from l2advisor.runs.rundir import sized_for_warning

    return None if same_plan_for(results.header, steps) else sized_for_warning(results, steps, measured=measured)
