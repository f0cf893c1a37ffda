"""unusable_message's hint for probes that diverged: a smaller lr alone only when the smallest lam
diverged too; when it ended without diverging (unusable for another reason), smaller lams still count."""

from __future__ import annotations

import numpy as np

from l2advisor.runs.rundir import unusable_message
from l2advisor.science.curves import Curve


def _curve(lam: float, status: str, loss_end: float = 0.5) -> Curve:
    steps = np.array([0.0, 10.0, 20.0, 30.0])
    return Curve(lam=lam, lr=0.1, seed=0, steps=steps, tau=0.1 * lam * steps,
                 val_metric=np.array([0.25, 0.25, 0.25, 0.25]), train_acc=np.full(4, np.nan),
                 train_loss=np.array([np.nan, 1.0, 0.8, loss_end]), status=status)


REASONS = ("none usable", "no probe rose")


def test_the_smallest_lam_ended_without_diverging_smaller_lams_are_still_a_hint() -> None:
    curves = [_curve(0.01, "finished"), _curve(0.02, "diverged", np.inf), _curve(0.04, "diverged", np.inf)]
    message = unusable_message(REASONS, curves, "runs/x")
    assert message.endswith("probe smaller lams or a smaller lr.") and "lam is not the cause" not in message


def test_the_smallest_lam_diverged_too_a_smaller_lr_alone() -> None:
    curves = [_curve(0.01, "finished", np.inf), _curve(0.02, "diverged", np.inf)]  # inf: diverged, whatever its status
    message = unusable_message(REASONS, curves, "runs/x")
    assert "use a smaller lr (even the smallest lam probed, 0.01, diverged" in message
    assert "smaller lams" not in message
