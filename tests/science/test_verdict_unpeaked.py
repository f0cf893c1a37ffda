"""The verdict when no probe clearly reached its top: "cannot tell" only when lam clearly sets the
time to the common levels (b's whole 95% interval above 0.25, and steps not lining the crossings up
clearly better than tau); otherwise "does not hold". And the clock exponent c is read on."""

from __future__ import annotations

import pytest

from l2advisor.science.clock import clock_exponent
from l2advisor.science.fit import CANNOT, FAILS, decide_verdict

NAN = float("nan")


def _f(b: float, ci: tuple[float, float], steps_over_tau: float = 5.0) -> dict:
    return dict(b=b, b_interval=ci, steps_over_tau=steps_over_tau, alpha=NAN, c0=NAN, train_acc=1.0,
                clock_is_lr_lam=None, beta_lr=NAN, beta_lam=NAN, plateau_threshold=0.005,
                n_peaked_clocks=0, above_plateau=False)


@pytest.mark.parametrize(("f", "expected"), [
    (_f(1.0, (0.8, 1.2)), CANNOT),  # lam sets the time; the windows were too short
    (_f(0.5, (0.1, 0.9)), FAILS),  # b above 0.25, its interval not
    (_f(0.5, (NAN, NAN)), CANNOT),  # no interval (one seed per lam): b itself decides
    (_f(0.2, (NAN, NAN)), FAILS),
    (_f(1.0, (0.8, 1.2), steps_over_tau=0.3), FAILS),  # steps line the crossings up clearly better
    (_f(1.0, (0.8, 1.2), steps_over_tau=0.6), CANNOT),
])
def test_unpeaked_probes_cannot_tell_only_when_lam_clearly_sets_the_time(f: dict, expected: str) -> None:
    verdict, why = decide_verdict(f, 5, no_effect=False, edge="")
    assert verdict == expected, why
    assert any("no probe clearly reached its top" in r for r in why)


@pytest.mark.parametrize(("b", "ci", "ratio", "used"), [
    (1.15, (1.12, 1.18), 5.0, 1.15),  # 0.15 from 1, interval without 1: fitted b
    (0.85, (0.8, 0.9), 5.0, 0.85),
    (1.08, (1.05, 1.11), 5.0, 1.0),  # within 0.1 of 1: the tau clock
    (0.6, (0.5, 0.7), 0.8, 1.0),  # steps line the crossings up better than tau: not a clock to use
    (0.6, (0.5, 0.7), 1.2, 0.6),
])
def test_the_clock_c_is_read_on(b: float, ci: tuple[float, float], ratio: float, used: float) -> None:
    assert clock_exponent({"b": b, "b_interval": ci, "steps_over_tau": ratio}) == used


def test_training_accuracy_of_probes_above_the_plateau_checks_nothing() -> None:
    """Probes above the plateau say "cannot tell"; their training accuracy is held down by their
    own decay (a reviewer's MLP: 0.967 at lam 0.025, 1.000 at lam <= 0.004), so a low one neither
    makes it "does not hold" (it did, below 0.90) nor reads as the model's capacity."""
    above = {**_f(0.1, (0.0, 0.2)), "n_peaked_clocks": 3, "above_plateau": True}
    verdict, why = decide_verdict(above, 3, no_effect=False, edge="")
    assert verdict == CANNOT and any(r.startswith("cannot tell: at equal steps") for r in why)
    for acc in (0.5, 0.95):
        verdict, why = decide_verdict({**above, "train_acc": acc}, 3, no_effect=False, edge="")
        assert verdict == CANNOT and any(r.startswith("cannot tell: at equal steps") for r in why)
        assert not any("not clearly overparameterized" in r for r in why)
        assert any(r.startswith(f"training accuracy reached {acc:.4f} in these probes") and
                   r.endswith("overparameterization not checked") for r in why)
    unpeaked = _f(1.0, (0.8, 1.2))  # "cannot tell" because no probe reached its top: no capacity read either
    verdict, why = decide_verdict({**unpeaked, "train_acc": 0.5}, 5, no_effect=False, edge="")
    assert verdict == CANNOT and not any("overparameterized" in r for r in why)


def test_low_training_accuracy_still_fails_probes_on_the_plateau() -> None:
    """The control: probes that peaked on the plateau with a tau clock and a low training accuracy
    are not overparameterized, and the verdict says so."""
    peaked = {**_f(1.0, (0.9, 1.1)), "n_peaked_clocks": 5, "train_acc": 0.5}
    verdict, why = decide_verdict(peaked, 5, no_effect=False, edge="")
    assert verdict == FAILS and any("not clearly overparameterized" in r for r in why)
    assert not any("cannot tell" in r for r in why)
