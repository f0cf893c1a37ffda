"""make_lr_at: the learning rate of each 0-based step, from the documented formulas."""

from __future__ import annotations

import pytest

from l2advisor.training.lr_schedules import make_lr_at


def test_step_t_gets_the_rate_of_step_t() -> None:
    linear = make_lr_at("linear", 1.0, 4)  # base_lr * (1 - t/T)
    assert [linear(t) for t in range(6)] == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0, 0.0])
    warm = make_lr_at("constant", 0.2, 10, warmup=4)  # (t + 1) / warmup * base_lr, then base_lr
    assert [warm(t) for t in range(6)] == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.2, 0.2])
    cosine = make_lr_at("cosine", 2.0, 4)  # base_lr * (1 + cos(pi * t/T)) / 2
    assert cosine(0) == 2.0 and cosine(2) == pytest.approx(1.0)
