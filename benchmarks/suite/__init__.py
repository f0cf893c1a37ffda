"""The ground-truth suite: small model files on which the advice is measured.

`TASKS` maps a task name to its `SuiteTask`: the model file, the two budgets (steps), the lam grid
of the ground truth and what we expect of it. The ground truth itself is in
`benchmarks/ground_truth/<task>.jsonl` (written by `benchmarks/ground_truth.py`, read with
`benchmarks.suite.truth.load_truth`).

Grids: lam = x / lr for plain SGD and AdamW, and x * (1 - momentum) / lr for SGD with momentum,
with x = lr_eff * lam, the fraction each step shrinks the weights, on one shared ladder
(`SHRINK_GRID`): 3 decades, about 2x apart where the best is expected (tau = x * steps of about
0.3 .. 3 at the short budget, the default probe's c). The negative control has its own ladder,
capped at lr*lam = 0.01 (the lr change its construction allows, see its file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["QUICK_TASKS", "SHRINK_GRID", "SuiteTask", "TASKS"]

HERE = Path(__file__).resolve().parent
BUDGETS = (6400, 25600)  # 8x and 32x the default ladder's top rung (800 steps)
EVAL_EVERY = 160  # steps between evaluations: 160 per long run, 40 within the short budget
SHRINK_GRID = (1e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2e-4, 4e-4, 1e-3)  # lr_eff * lam, plus lam = 0
NULL_SHRINK_GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
SCHEDULED = ("constant", "cosine", "linear")  # on the 3 cheapest tasks where lam matters at constant lr


@dataclass(frozen=True)
class SuiteTask:
    """One task of the suite. `budgets` (short, long) in steps; `lams` ascending, with 0.0."""

    name: str
    path: Path
    budgets: tuple[int, int]
    lams: tuple[float, ...]
    lam_matters_expected: bool | None  # what we expect; the ground truth decides
    note: str
    schedules: tuple[str, ...] = ("constant",)
    eval_every: int = EVAL_EVERY


def lam_grid(lr: float, momentum: float = 0.0, shrink: tuple[float, ...] = SHRINK_GRID) -> tuple[float, ...]:
    """(0.0, lams...) with lr / (1 - momentum) * lam = each shrink, to 3 significant digits."""
    lr_eff = lr / (1.0 - momentum)
    return (0.0, *(float(f"{x / lr_eff:.3g}") for x in shrink))


def _task(name: str, lr: float, expected: bool | None, note: str, momentum: float = 0.0,
          shrink: tuple[float, ...] = SHRINK_GRID, schedules: tuple[str, ...] = ("constant",)) -> SuiteTask:
    return SuiteTask(name, HERE / f"{name}.py", BUDGETS, lam_grid(lr, momentum, shrink), expected, note, schedules)


TASKS: dict[str, SuiteTask] = {t.name: t for t in (
    _task("cnn_bn_digits", 0.1, True, "CNN with batch norm, 8x8 digits, SGD"),
    _task("cnn_plain_mnist14", 0.05, True, "CNN without normalization, MNIST 14x14, SGD"),
    _task("mlp_bn_mnist14", 0.1, True, "MLP with batch norm, MNIST 14x14, SGD", schedules=SCHEDULED),
    _task("mlp_tiny_data", 0.1, None, "plain MLP on 300 images: early overfitting, relations expected to fail",
          shrink=SHRINK_GRID + (2e-3, 4e-3), schedules=SCHEDULED),  # its best was the old top (1e-3): extended
    _task("mlp_momentum_digits", 0.01, None, "plain MLP, 8x8 digits, SGD momentum 0.9", momentum=0.9,
          schedules=SCHEDULED),
    _task("mixer_adamw_digits", 3e-3, None, "one-block MLP-mixer with LayerNorm, 8x8 digits, AdamW"),
    _task("null_weightnorm", 0.1, False, "negative control: lam only changes the lr by <= 1% (by construction)",
          shrink=NULL_SHRINK_GRID),
)}

QUICK_TASKS: tuple[str, ...] = ("mlp_momentum_digits", "null_weightnorm")
