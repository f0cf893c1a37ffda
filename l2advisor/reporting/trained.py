"""The runs `l2advisor train` recorded beside the probes, for the report: what each reached,
against what the advice predicted for it (pure: run records in, frozen dataclasses out).

A run trained by `train --advise` keeps the advice it used in its start record; any other run
at a constant weight decay is compared with the report's advice when it trained at that
advice's weight decay for that advice's budget. Units: steps; the metric as recorded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from l2advisor.runs.store import RunState
from l2advisor.science.advise import Advice

SAME_LAM = 1e-3  # relative: a run "at the advice" when its weight decay is this close


@dataclass(frozen=True)
class TrainedRun:
    run_id: str
    weight_decay: float  # the run's first lam (AutoL2 lowers it as it goes)
    autol2: bool
    lr_schedule: str
    steps: int  # steps trained
    status: str
    peak_metric: float  # best validation metric recorded (nan: none)
    peak_step: float
    predicted_metric: float  # what the advice the run followed predicted (nan: no such advice)
    predicted_peak_step: float  # in the run's steps


def _prediction(state: RunState, advice: Advice | None) -> tuple[float, float]:
    used: dict[str, Any] | None = state.meta.get("advice")
    if isinstance(used, dict):  # train --advise: the advice it was trained at
        return float(used.get("predicted_metric", math.nan)), float(used.get("predicted_peak_step", math.nan))
    lam, steps = state.meta.get("lam"), state.meta.get("max_steps")
    if (advice is None or state.meta.get("autol2") or state.meta.get("lr_schedule", "constant") != "constant"
            or not isinstance(lam, (int, float)) or steps != advice.budget_steps
            or not math.isclose(float(lam), advice.weight_decay, rel_tol=SAME_LAM)):
        return math.nan, math.nan
    return advice.predicted_metric, advice.predicted_peak_step


def trained_runs(states: Iterable[RunState], advice: Advice | None = None) -> list[TrainedRun]:
    """One TrainedRun per recorded run, in the file's order."""
    runs = []
    for state in states:
        finite = [r for r in state.evals if isinstance(r.get("val_metric"), (int, float))
                  and math.isfinite(r["val_metric"])]
        best = max(finite, key=lambda r: r["val_metric"], default=None)
        predicted, predicted_step = _prediction(state, advice)
        runs.append(TrainedRun(
            run_id=state.run_id, weight_decay=float(state.meta.get("lam", math.nan)),
            autol2=bool(state.meta.get("autol2")), lr_schedule=str(state.meta.get("lr_schedule", "constant")),
            steps=int((state.end or {}).get("steps") or (state.evals[-1]["step"] if state.evals else 0)),
            status=state.status, peak_metric=float(best["val_metric"]) if best else math.nan,
            peak_step=float(best["step"]) if best else math.nan, predicted_metric=predicted,
            predicted_peak_step=predicted_step))
    return runs
