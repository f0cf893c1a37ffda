"""The sentence under `compare`'s table (its "conclusion" in compare.json): how many of Optuna's
trials reached the advisor's mean, and which arms scored clearly above, alongside, or clearly below
the advisor, weighed by the seeds' noise; and whether Optuna could try the advised lam at all."""

from __future__ import annotations

import math
from typing import Any

from l2advisor.cli.tune import fmt_num


def seconds_text(seconds: float | None) -> str:
    """Compute seconds: whole ones from 10 on, two digits below (a sub-second arm showed "0")."""
    return fmt_num(seconds, ",.0f" if seconds is None or seconds >= 10 else ".2g")



def match_line(report: dict[str, Any]) -> str:
    match = report.get("trials_to_match")
    advisor = next((r for r in report["rows"] if r["arm"] == "advisor"), None)
    if advisor is None or "optuna_trials" not in report:
        return "Trials to match the advisor: - (an arm is missing)."
    if advisor.get("failed"):
        return "Trials to match the advisor: - (the advisor arm failed)."
    if match is None:
        line = (f"Optuna's trials (one seed each) never reached the advisor's mean {advisor['peak_mean']:.4f} in "
                f"{report['settings']['trials']} trials")
    else:
        line = (f"Optuna's best so far reached the advisor's mean {match['target']:.4f} after {match['trials']} "
                f"trial{'s' if match['trials'] != 1 else ''} ({match['steps']:,.0f} steps, {seconds_text(match['seconds'])} s; "
                f"the advisor used {advisor['compute_steps']:,.0f} steps, {seconds_text(advisor['compute_seconds'])} s)")
    if _cut_short(advisor):  # its mean holds a partial run's peak: no arm is weighed against it
        return line + "; the advisor's own runs include one that failed, so no arm is weighed against it" + \
            _outside(report, advisor) + "."
    n, clearly, tied, below = _sorted_arms(report, advisor)
    unweighed = [arm_name(r) for r in report["rows"] if r["arm"] != "advisor" and _cut_short(r)]
    left = f"; not weighed, some of their runs failed: {', '.join(unweighed)}" if unweighed else ""
    return line + _better_arms(n, clearly) + _within_noise(n, tied) + _beaten_arms(n, below) + left + \
        _outside(report, advisor) + "."


def _cut_short(row: dict[str, Any]) -> bool:
    """An arm some of whose runs failed (the model file raised) or were interrupted: its mean holds a
    partial run's peak (a diverged run's peak before it blew up is a checkpoint it had, and counts)."""
    return any(run.get("status") in ("failed", "interrupted") for run in row.get("runs") or ())


def _better_arms(n: int, clearly: list[dict[str, Any]]) -> str:
    """The arms whose mean beat the advisor's (`_sorted_arms`, `n` seeds), said beside the match line
    ("never reached the advisor" read as a win where the table put it last): beyond the seeds' noise
    where the seeds give one (twice the standard error of the difference), else, one seed, by their
    means alone."""
    if not clearly:
        return ""
    named = ", ".join(f"{arm_name(r)} {r['peak_mean']:.4f}" for r in clearly)
    return f"; the advisor is not the best arm here: {named} scored higher" + (
        " beyond the seeds' noise" if n >= 2 else "")


def _within_noise(n: int, tied: list[dict[str, Any]]) -> str:
    """The arms whose means lie within twice the standard error of their difference from the
    advisor's (`_sorted_arms`, `n` seeds), above or below: with 2 seeds and a few hundred validation
    examples a gap of an example or two is the seeds' noise, not a ranking (a reviewer's advisor was
    "not the best arm" at 0.9375 against 0.9387, one example in one seed)."""
    if not tied:
        return ""
    named = ", ".join(f"{arm_name(r)} {r['peak_mean']:.4f}" for r in tied)
    return (f"; {named} {'ties' if len(tied) == 1 else 'tie'} with the advisor within the seeds' noise (twice the "
            f"standard error of the difference, {n} seeds each)")


def _beaten_arms(n: int, below: list[dict[str, Any]]) -> str:
    """The arms the advisor beat beyond twice the standard error of the difference (2 seeds or more:
    with one, a gap is not weighed), said as the arms that beat it are: a reviewer's advisor beat the
    default and zero by 3.6 standard errors and the conclusion only said Optuna had not reached it."""
    if not below or n < 2:
        return ""
    named = ", ".join(f"{arm_name(r)} {r['peak_mean']:.4f}" for r in below)
    return f"; the advisor scored clearly higher than {named} (beyond twice the standard error of the difference)"


def _outside(report: dict[str, Any], advisor: dict[str, Any]) -> str:
    """Where the advised lam lies outside Optuna's search range, said in the conclusion too (it was on
    stderr only, beside a line that read as the advisor's win): Optuna could never try it."""
    study = (report.get("settings") or {}).get("study") or {}
    low, high, lam = study.get("lam_low"), study.get("lam_high"), advisor.get("lam")
    if low is None or high is None or lam is None or low <= lam <= high or lam == 0:
        return ""
    return (f"; Optuna could not try the advised lam {lam:.3g}, outside its search range [{low:g}, {high:g}] "
            "(--lam-low, --lam-high): widen it for a fair race")


def _sorted_arms(report: dict[str, Any], advisor: dict[str, Any]) -> tuple[int, list[dict], list[dict], list[dict]]:
    """(seeds, the arms clearly above the advisor, the arms tied with it, the arms clearly below it),
    best first: clearly above (below) is beyond twice the standard error of the difference where 2
    seeds or more give one (any gap above with one seed; none below), tied is within it."""
    n = len(report["settings"].get("seeds") or ())
    others = [r for r in report["rows"] if r["arm"] != "advisor" and r.get("peak_mean") is not None
              and not _cut_short(r)]
    if advisor.get("peak_mean") is None:
        return n, [], [], []
    clearly, tied, below = [], [], []
    for r in sorted(others, key=lambda r: -r["peak_mean"]):
        gap = r["peak_mean"] - advisor["peak_mean"]
        sds = (advisor.get("peak_sd"), r.get("peak_sd"))
        if n >= 2 and all(sd is not None for sd in sds):
            two_se = 2.0 * math.sqrt((sds[0] ** 2 + sds[1] ** 2) / n)
            (clearly if gap > two_se else tied if abs(gap) <= two_se else below).append(r)
        elif gap > 0:
            clearly.append(r)
    return n, clearly, tied, below


def arm_name(row: dict[str, Any]) -> str:
    return "Optuna's lam re-run" if row["arm"] == "optuna" else row["arm"]
