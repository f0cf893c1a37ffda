"""plateau.png at the probes' lr, for advice given at another lr (`recommend --lr`): the legend
names the advised lam and interval as the panel does, beside their place on the figure's axis
(its legend said "advice interval 1 .. 2" where the panel said 0.5 .. 1 at lr 0.02, and under
"does not hold" there was no star, so the advised lam was not in the legend at all)."""

from __future__ import annotations

import dataclasses
import math

import synthetic as S

from l2advisor.reporting.data import report_data
from l2advisor.reporting.figures import plateau_figure
from l2advisor.science.advise import advise
from l2advisor.science.fit import FAILS, fit_relations


def _labels(advice, fit) -> list[str]:
    ax = plateau_figure(report_data(S.no_effect_family(), fit, advice)).axes[0]
    return [h for h in ax.get_legend_handles_labels()[1] if h.startswith("advice")]


def test_advice_at_another_lr_is_labelled_with_its_own_numbers() -> None:
    fit = fit_relations(S.no_effect_family())
    advice = advise(fit, 3000, lr=2 * fit.lr)
    wd, (lo, hi) = advice.weight_decay, advice.interval
    labels = _labels(advice, fit)
    assert any(f"({lo:.3g} .. {hi:.3g} at lr 0.2)" in label and label.startswith(
        f"advice interval {lo * 2:.3g} .. {hi * 2:.3g}") for label in labels), labels
    assert f"advice for 3000 steps: lam={wd * 2:.3g} ({wd:.3g} at lr 0.2), not predicted" in labels, labels


def test_advice_at_the_probes_lr_keeps_its_plain_labels() -> None:
    fit = fit_relations(S.no_effect_family())
    advice = advise(fit, 3000)
    labels = _labels(advice, fit)
    assert any(label.startswith(f"advice for 3000 steps: lam={advice.weight_decay:.3g}, predicted") for label in labels)
    assert not any("at lr" in label or "not predicted" in label for label in labels), labels


def test_the_default_lam_at_the_probes_lr_is_in_the_legend() -> None:
    """Nothing usable at the probes' lr: the advice falls back to the common default, with no
    predicted metric and so no star; its line is labelled all the same (it had no legend entry)."""
    fit = fit_relations(S.no_effect_family())
    fit = dataclasses.replace(fit, verdict=FAILS, table=tuple(dataclasses.replace(r, n_seeds=0) for r in fit.table))
    advice = advise(fit, 3000)
    assert advice.lr == fit.lr and math.isnan(advice.predicted_metric)  # the fallback, at the probes' lr
    labels = _labels(advice, fit)
    assert labels == [f"advice for 3000 steps: lam={advice.weight_decay:.3g}, not predicted"], labels


def test_advice_for_a_scheduled_run_names_the_runs_own_length() -> None:
    """A 2000-step cosine run's advice was labelled "advice for 1001 steps" (the constant-lr steps of
    its tau), a length the user never asked for; the report's data knows the run's own."""
    fit = fit_relations(S.no_effect_family())
    advice = advise(fit, 1001)
    scheduled = dataclasses.replace(report_data(S.no_effect_family(), fit, advice), run_steps=2000)
    labels = [h for h in plateau_figure(scheduled).axes[0].get_legend_handles_labels()[1] if h.startswith("advice for")]
    assert labels and all(h.startswith("advice for the 2000-step run (1001 constant-lr steps of tau)") for h in labels)
    assert any(h.startswith("advice for 1001 steps") for h in _labels(advice, fit))  # the control: a constant run
