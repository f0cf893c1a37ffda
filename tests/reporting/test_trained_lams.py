"""report.md's weight_decay column for runs whose lam moved: AutoL2's and a replayed schedule's."""

from __future__ import annotations

import math

from l2advisor.reporting.page import _lam_text
from l2advisor.reporting.trained import TrainedRun


def _run(run_id: str, first: float, last: float, autol2: bool = False) -> TrainedRun:
    return TrainedRun(run_id=run_id, weight_decay=first, autol2=autol2, lr_schedule="constant", steps=4000,
                      status="finished", peak_metric=0.9, peak_step=3000.0, predicted_metric=math.nan,
                      predicted_peak_step=math.nan, last_lam=last)


def test_a_replayed_schedule_shows_where_it_took_lam() -> None:
    """The replay ran 0.01 -> 0.005 -> 0.0025 and the table said "0.01", as for a constant lam."""
    assert _lam_text(_run("wd-schedule=wd.json/seed=0", 0.01, 0.0025)) == "0.01 -> 0.0025 (schedule)"
    assert _lam_text(_run("autol2/lam0=0.01/seed=0", 0.01, 0.0025, autol2=True)) == "0.01 -> 0.0025 (AutoL2)"
    assert _lam_text(_run("autol2/lam0=0.01/seed=0", 0.01, 0.01, autol2=True)) == "0.01 (AutoL2 start)"
    assert _lam_text(_run("lam=0.002/seed=0", 0.002, 0.002)) == "0.002"  # the control: constant
    assert _lam_text(_run("lam=0.002/seed=0", 0.002, math.nan)) == "0.002"  # no evaluation recorded
