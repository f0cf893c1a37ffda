"""One more seed when the planned probes leave the verdict on a knife's edge.

A sequential design: the planned probes are fitted, and when the verdict hinges on the
"above the plateau" test and its score lies near the margin (`Fit.needs_seed`, science/
plateau.py), every lam of the fit's lr gets one more seed, the largest planned seed + 1, with
the same length and evaluation schedule. Then the fit over all of them decides. It costs a
seed's probes only where two seeds could not decide; on the bundled default, 2 of 6 two-seed
sets needed it, and 218 of 220 three-seed sets were clear of the edge.

The decision reads only the planned probes, so a resumed run decides the same follow-up,
and it is made once: the follow-up probes never ask for another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from l2advisor.probing.plan import ProbeRun, pending
from l2advisor.runs.rundir import PLAN_KEY, ProbeGap, advice_lr, baseline_of, probe_gaps
from l2advisor.runs.store import Results, read_results
from l2advisor.science.curves import Curve
from l2advisor.science.learned import Baseline

NEAR_MARGIN = "at equal steps the largest lam falls"  # how the fit's reason on the margin starts (science/fit.py)


@dataclass(frozen=True)
class FollowUp:
    """The probes to add (none when the planned ones decide) and why, in one sentence."""

    runs: tuple[ProbeRun, ...] = ()
    reason: str = ""


def follow_up(planned: Sequence[ProbeRun], results: Results | None, tolerance: float) -> FollowUp:
    """What the planned probes in `results` ask for. Nothing while any planned probe has not
    ended: the fit would be of a partial plan."""
    from l2advisor.runs.rundir import curve_from_state

    if results is None:
        return FollowUp()
    states = [results.runs.get(run.run_id) for run in planned]
    if any(state is None or not state.done for state in states):
        return FollowUp()
    return decide_follow_up(planned, [curve_from_state(s) for s in states if s is not None and s.evals], tolerance,
                            advice_lr(results.header.get("settings") or {}), baseline_of(results.header))


def decide_follow_up(planned: Sequence[ProbeRun], curves: Sequence[Curve], tolerance: float,
                     main_lr: float | None = None, baseline: Baseline | None = None) -> FollowUp:
    """The follow-up for the planned probes' `curves` (the simulator calls this too), fitted as
    `recommend` fits them (`main_lr`: the model file's lr). None when fewer than two seeds were
    planned: one seed's noise is its curves' own scatter, which the follow-up's rule was not
    measured on."""
    from l2advisor.science.fit_memo import fit_once
    from l2advisor.science.plateau import above_plateau_margin

    if not planned or len({run.seed for run in planned}) < 2:
        return FollowUp()
    fit = fit_once(curves, tolerance, main_lr=main_lr, baseline=baseline)
    if not fit.needs_seed:
        return FollowUp()
    seed = max(run.seed for run in planned) + 1
    first = min(run.seed for run in planned)
    runs = tuple(replace(run, seed=seed) for run in planned if run.lr == fit.lr and run.seed == first)
    margin = above_plateau_margin(fit.b, fit.b_interval)
    said = next((r.split("): ")[0] + ")" for r in fit.reasons  # recommend's words
                 if r.startswith(NEAR_MARGIN) and "that decides whether" in r), None)
    near = said or (f"{NEAR_MARGIN} {fit.above_plateau_score:.2f} thresholds below the smallest, near the {margin:g} "
                    "that decides whether the probes sit above the plateau")
    return FollowUp(runs, f"{near[:1].upper()}{near[1:]}: probing seed {seed} at each of the {len(runs)} lams to "
                          f"settle it ({_added(runs, planned)}).")


def _added(runs: Sequence[ProbeRun], planned: Sequence[ProbeRun]) -> str:
    """What the follow-up adds to the plan's cost, in training steps (a plan sized for a budget
    was sized without it: the user learns that the probes now cost more than the sizing said)."""
    added, plan = sum(r.max_steps for r in runs), sum(r.max_steps for r in planned)
    return f"{added:,} more probe steps, {added / plan:.0%} on top of the plan's {plan:,}"


def with_follow_up(planned: Sequence[ProbeRun], results: Results | None, tolerance: float) -> list[ProbeRun]:
    """The planned probes and the follow-up round they ask for, as far as `results` can tell
    (no follow-up while a planned probe has not ended): every probe a rerun would train or reuse."""
    return [*planned, *follow_up(planned, results, tolerance).runs]


def run_with_follow_up(planned: Sequence[ProbeRun], path: Path, tolerance: float,
                       run: Callable[[list[ProbeRun]], None], interrupted: Callable[[], bool],
                       notice: Callable[[str], None]) -> list[ProbeRun]:
    """Run the planned probes not yet done in results file `path` (`run(todo)`), then the
    follow-up they ask for, telling `notice` why; returns every probe of the plan and its
    follow-up. Resumes: finished probes of either kind are reused."""
    todo, _ = pending(planned, read_results(path))
    run(todo)
    if interrupted():
        return list(planned)
    extra = follow_up(planned, read_results(path), tolerance)
    todo, _ = pending(extra.runs, read_results(path))
    if todo:  # a resume that finds them done says nothing again
        notice(extra.reason)
        run(todo)
    return [*planned, *extra.runs]


def gaps_with_follow_up(results: Results) -> tuple[list[ProbeGap], list[ProbeGap]]:
    """(missing, failed) as `probe_gaps`, plus the follow-up probes that the finished plan
    asked for: "not started" or "unfinished" ones (a probe run that was cut short), failed ones."""
    missing, failed = probe_gaps(results)
    planned = _planned_runs(results)
    if missing or not planned:
        return missing, failed
    tolerance = float((results.header.get("settings", {}).get("probe") or {}).get("tolerance", 0.005))
    for run in follow_up(planned, results, tolerance).runs:
        state = results.runs.get(run.run_id)
        if state is None or not state.done:
            missing.append(ProbeGap(run.run_id, "not started" if state is None else "unfinished"))
        elif state.status in ("failed", "diverged"):
            failed.append(ProbeGap(run.run_id, state.status, str((state.end or {}).get("message") or "")))
    return missing, failed


def _planned_runs(results: Results) -> list[ProbeRun]:
    """The header's plan as ProbeRuns, from each probe's start record ([] when the header
    has no plan or a start record lacks a field: files written before either existed)."""
    ids = results.header.get(PLAN_KEY)
    if not isinstance(ids, list):
        return []
    names = [f.name for f in fields(ProbeRun)]
    runs = []
    for run_id in ids:
        state = results.runs.get(str(run_id))
        meta = state.meta if state is not None else {}
        if not all(name in meta for name in names):
            return []
        runs.append(ProbeRun(**{name: meta[name] for name in names}))
    return runs
