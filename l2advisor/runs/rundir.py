"""A run directory's files, and its recorded runs as `Curve`s for the pure core."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l2advisor.errors import InputError
from l2advisor.runs.store import Results, RunState, read_results
from l2advisor.science.curves import Curve, analyze_curve
from l2advisor.science.learned import Baseline

PROBES_FILE = "probes.jsonl"
TRAIN_FILE = "train.jsonl"
PLAN_KEY = "plan"  # header key: the run ids `l2advisor probe` planned, in order
# Results header key: the budget a sized plan was made for, as the user gave it ({"value", "unit",
# "steps"}), so that `recommend` without --budget says it in their unit; a header without it: steps.
SIZED_FOR_KEY = "sized_for"
BASELINE_KEY = "constant_baseline"  # what the best constant prediction scores (science.learned.Baseline), where known
MADE_IN_KEY = "made_in"  # header key: "python" for probes made with l2advisor.probe (no model file to name)


def results_path(run_dir: Path, name: str = PROBES_FILE) -> Path:
    return Path(run_dir) / name


def curve_from_state(state: RunState) -> Curve:
    """One run's evaluation records as aligned arrays (missing values become NaN)."""
    def column(key: str) -> np.ndarray:
        return np.array([np.nan if r.get(key) is None else r[key] for r in state.evals], dtype=float)

    meta = state.meta
    return Curve(lam=float(meta["lam"]), lr=float(meta["lr"]), seed=int(meta["seed"]),
                 steps=column("step"), tau=column("tau"), val_metric=column("val_metric"),
                 train_acc=column("train_acc"), train_loss=column("train_loss"), status=state.status)


def load_probe_curves(run_dir: Path) -> tuple[Results, list[Curve]]:
    """The finished probes of a run directory (unfinished ones are left out: they restart)."""
    results = read_results(results_path(run_dir))
    curves = [curve_from_state(s) for s in results.runs.values() if s.done and s.evals]
    if not curves:
        ended = [s for s in results.runs.values() if s.done]
        if ended:  # finished, but as failures with nothing recorded: running on will not help
            raise InputError(f"{run_dir} has no usable probe: all {len(ended)} that ended failed or diverged "
                             f"before their first evaluation (`l2advisor probe` showed why); fix that and "
                             f"probe again with --force.")
        raise InputError(f"{run_dir} has no finished probe yet; run `l2advisor probe` to completion first.")
    return results, curves


@dataclass(frozen=True)
class ProbeGap:
    """A planned probe the fit does not get: never started, unfinished, failed or diverged."""

    run: str  # run id, e.g. "lr=0.1/lam=0.02/seed=0"
    state: str  # "not started", "unfinished", "failed" or "diverged"
    message: str = ""  # the end record's message (failed probes)

    def to_dict(self) -> dict[str, str]:
        return {"run": self.run, "state": self.state, "message": self.message}


def probe_gaps(results: Results) -> tuple[list[ProbeGap], list[ProbeGap]]:
    """(missing, failed): planned probes not started or without an end record, and probes
    that ended failed or diverged. The plan is the header's; a header without one (written
    before it was recorded) only tells about the probes that started."""
    planned = results.header.get(PLAN_KEY)
    ids = [str(r) for r in planned] if isinstance(planned, list) else list(results.runs)
    missing, failed = [], []
    for run_id in ids:
        state = results.runs.get(run_id)
        if state is None:
            missing.append(ProbeGap(run_id, "not started"))
        elif not state.done:
            missing.append(ProbeGap(run_id, "unfinished"))
        elif state.status in ("failed", "diverged"):
            failed.append(ProbeGap(run_id, state.status, str((state.end or {}).get("message") or "")))
    return missing, failed


def unusable_message(reasons: tuple[str, ...], curves: list[Curve], where: object) -> str:
    """Why probes that ended give nothing to fit, and what to do: a failure (an exception in
    the model's code, recorded in the results) is fixed in the model; a divergence needs a
    smaller lr, or smaller lams unless the smallest lam diverged too (divergence_hint)."""
    statuses = {cv.status for cv in curves}
    hints = []
    if "failed" in statuses:
        hints.append("fix what made them fail (`l2advisor probe` showed each error; probes.jsonl keeps them)")
    if statuses - {"failed"}:
        diverged = [cv.lam for cv in curves if cv.status != "failed" and analyze_curve(cv).diverged]
        hints.append(divergence_hint(diverged, [cv.lam for cv in curves]))
    return (f"None of the {len(curves)} probes that ended in {where} is usable (" + "; ".join(reasons[1:])
            + "), so there is nothing to advise from; " + ", or ".join(hints) + ".")


def unusable_error(reasons: tuple[str, ...], curves: list[Curve], where: object) -> Exception:
    """The error for probes that give nothing to fit: a metric NaN at every evaluation of every probe
    is the model file's mistake (InputError, exit 2, as `probe` says it; it was told to probe smaller
    lams), anything else `unusable_message`'s RunFailed."""
    from l2advisor.errors import RunFailed

    values = [np.asarray(cv.val_metric, dtype=float) for cv in curves if cv.status not in ("failed", "diverged")]
    if values and all(v.size and np.isnan(v).all() for v in values):
        return InputError(f"The validation metric was NaN at every evaluation of every probe in {where}, so there "
                          "is nothing to read; fix `metric` in the model file (it must return a number for the "
                          "validation set).")
    return RunFailed(unusable_message(reasons, curves, where))


def divergence_hint(diverged_lams: Sequence[float], lams: Sequence[float]) -> str:
    """What to change for diverged probes: when even the smallest probed lam (of `lams`) is
    among `diverged_lams`, lam is not the cause, so a smaller lr; else smaller lams or lr."""
    smallest = min(lams, default=math.nan)
    if smallest in diverged_lams:
        return f"use a smaller lr (even the smallest lam probed, {smallest:.3g}, diverged: lam is not the cause)"
    return "probe smaller lams or a smaller lr"


def sized_for_warning(results: Results, steps: int, measured: bool = False) -> str | None:
    """When the advice is for a budget far (beyond 2x either way) from the one the probes were
    sized for: one sentence saying what that does to it (`measured`: the advice is a probed lam
    compared over the probes' own lengths, verdict "does not hold", not the formula's
    extrapolation); None otherwise."""
    sized_for = ((results.header.get("settings") or {}).get("probe") or {}).get("budget_steps")
    if not sized_for or 0.5 <= steps / sized_for <= 2.0:
        return None
    if measured:
        effect = (f"the advice is a probed lam compared over the probes' lengths, which a run that "
                  f"{'long' if steps > sized_for else 'short'} may not favour")
    else:
        effect = (f"the advice extrapolates {'further below' if steps > sized_for else 'less far below'} "
                  "the probed lams than planned")
    return (f"The probes were sized for a budget of {sized_for} steps; this budget is {steps / sized_for:.3g}x "
            f"that, so {effect} (`probe --budget {steps}` sizes them for it: in this directory when "
            f"its plan keeps their window in tau, reusing the probes the two plans share; else with --out).")


def record_sized_for(header: dict, budget: tuple[float, str], steps: int, val_size: int | None = None,
                     horizon_asked: float | None = None, halve_to_fit: bool = True) -> None:
    """Write into a probe header the budget (value, unit) its plan of `steps` was sized for and,
    where given, the planner's other inputs (the validation set's size, the window asked for and
    whether it could be halved to fit: the default one), with which `recommend` can tell whether
    another budget's plan is these same probes."""
    header[SIZED_FOR_KEY] = {"value": float(budget[0]), "unit": budget[1], "steps": steps}
    if val_size is not None and horizon_asked is not None:
        header[SIZED_FOR_KEY] |= {"val_size": int(val_size), "horizon_asked": float(horizon_asked),
                                  "halve_to_fit": bool(halve_to_fit)}


def sized_for(header: dict, steps: int) -> tuple[float, str]:
    """The budget of `steps` the probes were sized for, in the unit it was given: the header's
    SIZED_FOR_KEY in epochs, or steps (a header without it, older ones, or one for other steps)."""
    given = header.get(SIZED_FOR_KEY) or {}
    epochs = given.get("unit") == "epochs" and given.get("steps") == steps and isinstance(given.get("value"), float)
    return (given["value"], "epochs") if epochs else (float(steps), "steps")


def baseline_of(header: dict) -> Baseline | None:
    """The constant prediction's score a probe header records (None where it records none: a
    probe from before it was kept, or a metric that could not score a constant)."""
    raw = header.get(BASELINE_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        share = raw.get("train_share")
        return Baseline(float(raw["metric"]), str(raw["predicts"]), float(raw["scale"]),
                        None if share is None else float(share))
    except (KeyError, TypeError, ValueError):
        return None


def advice_lr(settings: dict, lr: object = None) -> float | None:
    """The lr an advice is for: `lr` where it is a positive number, else the model file's lr as a
    results header records it (None where it records none): the lr whose probes the fit reads."""
    for value in (lr, settings.get("lr")):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
            return float(value)
    return None
