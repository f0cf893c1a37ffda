"""`probe --plan`'s stacked estimate: what the planned probes cost when they train as stacked replicas.

The probes train in stacks (`probing.probe.stacks_of`: same lr, up to --batch-replicas at a time,
every seed in one stack when the data are tensors); a stack of K replicas takes steps until its
longest probe ends, K falling as the shorter ones do. One short stacked run of the largest stack
prices a stacked step at its K: its replicas run S + 1 steps and evaluate at steps 0, S and S + 1,
so from the first evaluation to the second is S steps and a pass of the stack, and from the second
to the third one step and a pass: S - 1 steps are their difference, and the pass is the third span
less a step (`step_and_pass`, which prices one model's step the same way). A stack of k replicas is priced between one model's step (k = 1) and that step
(k = K), in proportion; each replica's evaluation at a K-th of the stack's pass (the replicas of a
stack evaluate together, at the same steps of the log schedule).
"""

from __future__ import annotations

import dataclasses
from typing import Any

STACK_SECONDS = 0.5  # the timed stack runs about this long, so its steps outweigh the clock's noise
MOST_STACK_STEPS = 2_000


@dataclasses.dataclass(frozen=True)
class StackedPrice:
    """A stacked step and a stacked validation pass at the largest stack's `k` (seconds), its form,
    and the probes' seconds stacked."""

    k: int
    step_seconds: float
    evaluation_seconds: float
    form: str
    probes_seconds: float


def stacked_price(task: Any, base: Any, runs: list[Any], replicas: int, step_s: float,
                  evaluations: int) -> StackedPrice | str:
    """The planned probes' price as stacks, or why they would not stack (then they run one by one);
    `step_s`: one model's plain step (seconds); `evaluations`: the probes' (probe_plan.plan_rows)."""
    from l2advisor.probing.probe import stacks_of
    from l2advisor.training.batched import CannotBatch, StackDearer

    groups = stacks_of(task, runs, replicas)
    largest = max(groups, key=len)
    if len(largest) < 2:
        return ("one probe per stack (--no-batched, or --batch-replicas 1)" if len(runs) > 1 or replicas < 2
                else "one probe left to train: nothing to stack it with")
    try:
        step_k, eval_k, form = _timed_stack(task, base, largest, step_s)
    except StackDearer as why:  # timed as the probes time it, before any step: they would train one by one
        return str(why)
    except CannotBatch as why:
        return f"the model cannot be stacked ({why})"
    k = len(largest)
    seconds = sum(_group_seconds(group, step_s, step_k, k) for group in groups)
    return StackedPrice(k, step_k, eval_k, form, seconds + evaluations * eval_k / k)


def _group_seconds(group: list[Any], step_1: float, step_k: float, k: int) -> float:
    """Seconds of one stack's steps: while j replicas are left, a step costs step_1 at j = 1 to step_k at j = k."""
    lengths = sorted(run.max_steps for run in group)
    seconds, done = 0.0, 0
    for i, length in enumerate(lengths):
        left = len(lengths) - i
        seconds += (length - done) * (step_1 + (step_k - step_1) * (left - 1) / max(k - 1, 1))
        done = length
    return seconds


def _timed_stack(task: Any, base: Any, group: list[Any], step_s: float) -> tuple[float, float, str]:
    """(seconds per stacked step of `group`'s replicas, per validation pass of them all, the stack's
    form), from one short stacked run."""
    from l2advisor.errors import RunFailed
    from l2advisor.training.batched import Replica, train_batched

    guess = max(step_s * len(group) / 2, 1e-6)  # a stacked step: about half the replicas' plain steps
    steps = min(MOST_STACK_STEPS, max(10, round(STACK_SECONDS / guess)))
    forms: list[str] = []
    replicas = [Replica(run.lam, steps + 1, steps, seed=run.seed) for run in group]
    results = train_batched(task, dataclasses.replace(base, seed=group[0].seed), replicas,
                            on_stack=lambda stacked: forms.append(stacked.kind), speed_check=True)
    if results[0].status != "finished":
        raise RunFailed(f"The model's timed stack ended {results[0].status} at step {results[0].steps}"
                        + (f": {results[0].message}" if results[0].message else "."))
    return (*step_and_pass(results[0].records, steps), forms[0])


def step_and_pass(records: list[dict[str, Any]], steps: int) -> tuple[float, float]:
    """(seconds per step, per validation pass) of a run of `steps` + 1 steps evaluated at 0, `steps`
    and `steps` + 1: from the first record to the second is `steps` steps and a pass, from the second
    to the third one step and a pass (each record's seconds are taken after its evaluation)."""
    if len(records) != 3:
        raise ValueError(f"a timed run is evaluated 3 times, this one {len(records)} times")
    many = records[1]["seconds"] - records[0]["seconds"]
    one = records[2]["seconds"] - records[1]["seconds"]
    step = max(many - one, 0.0) / (steps - 1)
    return step, max(one - step, 0.0)
