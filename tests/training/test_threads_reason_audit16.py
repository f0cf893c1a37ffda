"""The thread rule's reason names the step's size by its FLOPs: a large step given one core (one
core, or the cores divided among probe --jobs workers) was called "a small step" beside its
7 MFLOP, above the 3 MFLOP the same line gives as the threshold."""

from __future__ import annotations

from l2advisor.training.threads import MULTI_THREAD_FLOPS, choose_threads


def test_a_large_step_on_one_core_is_still_called_large() -> None:
    one = choose_threads(2 * MULTI_THREAD_FLOPS, 1, environ={})
    assert one.threads == 1 and "a large step" in one.reason, one.reason
    many = choose_threads(2 * MULTI_THREAD_FLOPS, 4, environ={})
    assert many.threads == 4 and "a large step" in many.reason, many.reason
    small = choose_threads(MULTI_THREAD_FLOPS / 2, 4, environ={})  # the control
    assert small.threads == 1 and "a small step" in small.reason, small.reason
