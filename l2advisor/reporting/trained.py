"""The runs `l2advisor train` recorded beside the probes, for the report: what each reached,
against what the advice predicted for it (pure: run records in, frozen dataclasses out).

A run trained by `train --advise` keeps the advice it used in its start record (with --autol2 it
is shown without a prediction: AutoL2 makes none); any other run
at a constant weight decay and constant lr is compared with the report's advice when it trained
at that advice's weight decay and lr for that advice's budget (a replayed weight-decay schedule,
an AutoL2 run or a scheduled lr never is). Units: steps (under an lr schedule, the run's own);
the metric as recorded, its raw best evaluation (the prediction is read from smoothed probes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from l2advisor.runs.store import SCHEDULE_RUN, RunState
from l2advisor.science.advise import Advice, prediction_is_floor
from l2advisor.science.verdict import CANNOT

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
    last_lam: float = math.nan  # lam at its last evaluation (AutoL2 or a replayed schedule moves it)
    predicted_is_floor: bool = False  # the prediction is "at least" (science.advise.predicted_is_lower_bound)
    predicted_step_assumed: bool = False  # its step rests on a c the probes did not measure ("cannot tell")
    budget_steps: int = 0  # the steps the run was started for (0: not recorded)


def _num(value: Any) -> float:
    """A number from a JSON record; None (how NaN and inf are stored) and anything else: NaN."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _whole(value: Any) -> int:
    """A recorded step count; 0 where none (or not a number) was recorded."""
    number = _num(value)
    return int(number) if math.isfinite(number) else 0


def _prediction(state: RunState, advice: Advice | None, common_steps: float) -> tuple[float, float, bool, str]:
    """(predicted metric, its step, whether the metric is a floor, the verdict) of the advice a run followed."""
    if state.meta.get("autol2"):  # AutoL2, advised or not, predicts no peak
        return math.nan, math.nan, False, ""
    used: dict[str, Any] | None = state.meta.get("advice")
    if isinstance(used, dict):  # train --advise: the advice it was trained at
        # under an lr schedule or a warmup the schedule view's peak_step is in the run's steps
        step = used["peak_step"] if "peak_step" in used else used.get("predicted_peak_step")
        floor = prediction_is_floor(str(used.get("verdict")), _num(used.get("budget_steps")), common_steps)
        return _num(used.get("predicted_metric")), _num(step), floor, str(used.get("verdict"))
    lam, lr, steps = state.meta.get("lam"), state.meta.get("lr"), state.meta.get("max_steps")
    if (advice is None or state.run_id.startswith(SCHEDULE_RUN)
            or state.meta.get("lr_schedule", "constant") != "constant" or state.meta.get("warmup")
            or steps != advice.budget_steps or not math.isclose(_num(lam), advice.weight_decay, rel_tol=SAME_LAM)
            or not math.isclose(_num(lr), advice.lr, rel_tol=SAME_LAM)):
        return math.nan, math.nan, False, ""
    floor = prediction_is_floor(advice.verdict, advice.budget_steps, common_steps)
    return advice.predicted_metric, advice.predicted_peak_step, floor, advice.verdict


def trained_runs(states: Iterable[RunState], advice: Advice | None = None,
                 common_steps: float = math.nan) -> list[TrainedRun]:
    """One TrainedRun per recorded run, in the file's order; `common_steps`: the steps at which the
    probes' fit compared the lams (Fit.common_steps), which says when a prediction is a floor."""
    runs = []
    for state in states:
        finite = [r for r in state.evals if isinstance(r.get("val_metric"), (int, float))
                  and math.isfinite(r["val_metric"])]
        best = max(finite, key=lambda r: r["val_metric"], default=None)
        predicted, predicted_step, floor, verdict = _prediction(state, advice, common_steps)
        runs.append(TrainedRun(
            run_id=state.run_id, weight_decay=_num(state.meta.get("lam")),
            autol2=bool(state.meta.get("autol2")), lr_schedule=str(state.meta.get("lr_schedule", "constant")),
            steps=int((state.end or {}).get("steps") or (state.evals[-1]["step"] if state.evals else 0)),
            status=state.status, peak_metric=float(best["val_metric"]) if best else math.nan,
            peak_step=float(best["step"]) if best else math.nan, predicted_metric=predicted,
            predicted_peak_step=predicted_step, last_lam=_num(state.evals[-1].get("lam")) if state.evals else math.nan,
            predicted_is_floor=floor, budget_steps=_whole(state.meta.get("max_steps")),
            predicted_step_assumed=verdict == CANNOT or floor))
    return runs
