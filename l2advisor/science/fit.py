"""Probe metrics across lams -> `Fit`: c, the t* exponent, the plateau, and a verdict.

Pure numpy (no torch). Units: `lam` is torch's weight_decay, `lr*lam` the per-step shrink
(the clock), `t*` in optimizer steps, `tau = lr*lam*steps` dimensionless.

The verdict's rules are in verdict.py; how t* scales with lr*lam is in scaling.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import fields, replace

import numpy as np

from l2advisor.science.c_reading import c_shown
from l2advisor.science.clock import clock_exponent, fit_time_exponent, on_clock
from l2advisor.science.collapse import collapse, pool_members
from l2advisor.science.curves import Curve, CurveMetrics, finite_median
from l2advisor.science.failed_probes import NONE as NO_FAILURES
from l2advisor.science.failed_probes import failures
from l2advisor.science.failed_probes import key as probe_key
from l2advisor.science.fit_types import Excluded, Fit, LamRow  # noqa: F401 - re-exported: fit's API
from l2advisor.science.learned import (  # noqa: F401 - re-exported
    BARELY,
    NOTHING_LEARNED,
    Baseline,
    at_chance_words,
    barely_words,
    beyond_constant,
    capped_verdict,
    learned,
    nothing_learned,
    nothing_learned_words,
    shows_nothing,
    trained_beyond_chance,
)
from l2advisor.science.plateau import (
    ABOVE_MARGIN,
    FOLLOW_UP_HALF_WIDTH,
    above_plateau_margin,
    above_plateau_score,
    peaks_at_equal_steps,
    plateau_of,
)
from l2advisor.science.scaling import fit_alpha, fit_clock
from l2advisor.science.screen import nan_note, screen, table_rows
from l2advisor.science.serial import from_jsonable, to_jsonable
from l2advisor.science.verdict import (  # noqa: F401 - re-exported: the verdict names are part of fit's API
    APPROX,
    CANNOT,
    FAILS,
    HOLDS,
    MIN_LAMS,
    TRAIN_ACC_APPROX,
    VERDICTS,
    decide_verdict,
)

NAN = float("nan")


def _blank(tolerance: float) -> dict:
    """Field values of a Fit that measured nothing (NaN, empty, None), by annotation."""
    empty = {"float": NAN, "tuple[float, float]": (NAN, NAN), "bool | None": None,
             "bool": False, "int": 0, "str": FAILS}
    return {**{f.name: empty.get(str(f.type), ()) for f in fields(Fit)},
            "tolerance": float(tolerance), "c_bound": ""}


def _describe(f: dict, learned_something: bool = True) -> list[str]:
    """Reasons that state the plateau and c, whatever the verdict; where nothing was learned, no
    claim that smaller lams are worse (their peaks then differ by what training undid)."""
    best = [r.peak_mean for r in f["table"] if r.lam == f["lam_best"] and r.lr == f["lr"] and r.n_seeds]
    out = [f"plateau: lam <= {f['lam_c']:.3g} has a peak within {f['plateau_threshold']:.4f} of the best, "
           + (f"{best[0]:.4f} (lam {f['lam_best']:.3g}, mean over seeds, each probe's own window)" if best
              else f"at lam {f['lam_best']:.3g}")
           + f"; the plateau's level (the mean peak of its lams) {f['plateau_level']:.4f}"]
    if f["interior_max"] and learned_something:
        largest = max(r.lam for r in f["table"] if r.n_seeds and r.lr == f["lr"])
        star = f"lam* = {f['lam_star']:.3g}"
        if f["lam_best"] < largest:
            said = f"the peak has an interior maximum: the plateau ends below at {star}"
        elif f["lam_star"] < f["lam_best"]:  # best at the top of the ladder, tied with smaller lams down to lam*
            said = (f"the peak is best at the largest probed lam, {f['lam_best']:.3g} (larger ones were not probed); "
                    f"the plateau ends below at {star}")
        else:
            said = f"the peak is best at the largest probed lam, {star} (larger ones were not probed)"
        out.append(said + ": smaller lams are clearly worse, longer budgets must not go below it")
    median = f["tau_star_median"]
    out.append(f"{c_shown(f['c'], f['c_interval'], f.get('c_bound', ''))}: tau where the pooled plateau curve is best"
               + (f" (single-run tau* median {median:.3g})" if math.isfinite(median) else ""))
    return out



def _main_lr(ms: list[CurveMetrics], prefer: float | None = None) -> float:
    """The lr whose probes the fit reads: of the lrs probed at MIN_LAMS lams or more, `prefer` (the
    lr the advice is for), so its advice comes from its own probes, or the one nearest it (on a log
    scale: the shortest translation on the lr*lam clock); without a preference or such an lr, the
    lr with the most usable probes (ties: most lams, then the smallest lr)."""
    lrs = sorted({m.lr for m in ms})
    full = [lr for lr in lrs if len({m.lam for m in ms if m.lr == lr}) >= MIN_LAMS]
    if prefer is not None and prefer > 0 and full:
        return min(full, key=lambda lr: (abs(math.log(lr / prefer)), lr))
    return max(lrs, key=lambda lr: (sum(m.lr == lr for m in ms),
                                    len({m.lam for m in ms if m.lr == lr}), -lr))


def _fit(curves: Sequence[Curve], tolerance: float, n_boot: int, seed: int, main_lr: float | None = None,
         baseline: Baseline | None = None) -> Fit:
    f, rng = _blank(tolerance), np.random.default_rng(seed)
    usable, excluded = screen(list(curves or ()), tolerance)
    ms = [m for m, _ in usable]
    rows = table_rows(ms, excluded)
    f.update(excluded=tuple(excluded), n_usable=len(ms), table=tuple(rows))
    notes = [f"{len(excluded)} probe(s) excluded: " + "; ".join(
        f"lam={e.lam:.3g} lr={e.lr:.3g} seed={e.seed}: {e.reason}" for e in excluded)
    ] if excluded else []
    notes += nan_note(ms)
    if not ms:
        return Fit(**{**f, "reasons": tuple(["no usable probe"] + notes)})
    if not learned(ms, tolerance):
        notes.insert(0, nothing_learned_words(ms, tolerance))
    elif not trained_beyond_chance(ms, baseline):
        notes.insert(0, at_chance_words(ms, baseline))  # type: ignore[arg-type] - known where it fails
    elif not beyond_constant(ms, tolerance, baseline):
        notes.insert(0, barely_words(ms, baseline, tolerance))  # type: ignore[arg-type] - known where it fails
    whole = bool(_said_of_every_probe(notes))
    fails = NO_FAILURES if whole else failures(ms, tolerance, baseline, main_lr)
    if fails.dead_seeds:  # a seed that learned at no lam: left out, as if not made
        dead = [(m, cv) for m, cv in usable if (m.lr, m.seed) in fails.dead_seeds]
        excluded += [Excluded(m.lam, m.lr, m.seed, "learned nothing at any lam (the seed, not weight decay)")
                     for m, _ in dead]
        usable = [pair for pair in usable if pair not in dead]
        ms = [m for m, _ in usable]
        rows = table_rows(ms, excluded)
        f.update(excluded=tuple(excluded), n_usable=len(ms), table=tuple(rows))
    failed = fails.at_lams | {k for k in map(probe_key, ms) if k[0] in fails.silent_lrs}
    rows = [replace(r, n_learned_nothing=sum(k[:2] == (r.lr, r.lam) for k in failed)) for r in rows]
    notes = ([fails.first] if fails.first else []) + notes + list(fails.notes)
    learning = [m for m in ms if probe_key(m) not in failed]  # curves with a rise to time
    plateaus = {lr: plateau_of([r for r in rows if r.lr == lr and r.n_seeds],
                             [m for m in ms if m.lr == lr], tolerance) for lr in {m.lr for m in ms}}
    lr0 = _main_lr([m for m in ms if m.lr not in fails.silent_lrs] or ms, main_lr)
    p = plateaus[lr0]
    common, at_common = peaks_at_equal_steps([(m, cv) for m, cv in usable if m.lr == lr0])
    rows = [replace(r, in_plateau=r.n_seeds > r.n_learned_nothing and r.lam in plateaus[r.lr]["inside"],
                    peak_common=at_common.get(r.lam, NAN) if r.lr == lr0 else NAN) for r in rows]
    f["common_steps"] = common
    plat = [(m, cv) for m, cv in usable if m.lr == lr0 and m.lam in p["inside"]]
    over = [m.max_train_acc for m, _ in plat]
    f.update(table=tuple(rows), lr=lr0, lam_c=p["lam_c"], lam_best=p["lam_best"],
             lam_min_probed=min(m.lam for m in ms if m.lr == lr0),
             plateau_level=p["level"], plateau_threshold=p["threshold"],
             interior_max=p["interior"], lam_star=p["lam_star"], train_acc=finite_median(over))
    f["overparameterized"] = (None if not math.isfinite(f["train_acc"])
                              else f["train_acc"] >= TRAIN_ACC_APPROX)
    good = [m for m in learning if m.peaked and m.t_star > 0]
    reg = [m for m in good if m.lam <= plateaus[m.lr]["lam_c"]]
    if len({m.lr * m.lam for m in reg}) < MIN_LAMS:
        if len({m.lr * m.lam for m in good}) > len({m.lr * m.lam for m in reg}):
            peaked = len({m.lam for m in reg})
            notes.append(f"{f'only {peaked}' if peaked else 'no'} plateau lam{'' if peaked == 1 else 's'} "
                         f"clearly peaked: the t* fit "
                         f"also uses lams above the plateau edge, where t* need not follow 1/lam; "
                         f"probe smaller lams (a larger probe budget) for a sharper test")
        reg = good
    main = [(m, cv) for m, cv in usable if m.lr == lr0 and probe_key(m) not in failed]
    timed = [(m, cv) for m, cv in plat if probe_key(m) not in failed]
    compared = timed if len({m.lam for m, _ in timed}) >= MIN_LAMS else main
    timing = fit_time_exponent([cv for _, cv in compared], [m.peak_metric for m, _ in compared],
                               tolerance, n_boot, rng)
    f.update(b=timing.get("b", NAN), b_interval=timing.get("b_interval", (NAN, NAN)),
             steps_over_tau=timing.get("steps_over_tau", NAN))
    if timing.get("n_at_start"):
        notes.append(f"{timing['n_at_start']} probe(s) already at the common levels at step 0 (a model that starts "
                     "near its top): they took no time to reach them, so they were left out of b")
    n_clocks = timing.get("n_clocks", 0)
    score = above_plateau_score([r for r in rows if r.lr == lr0], p["threshold"], tolerance)
    margin = above_plateau_margin(f["b"], f["b_interval"])
    verdict_inputs = {"n_peaked_clocks": len({m.lr * m.lam for m in good}), "above_plateau": score > margin,
                      "n_at_start": timing.get("n_at_start", 0)}
    if len({m.lr * m.lam for m in reg}) >= 2:
        f.update(fit_alpha(reg, n_boot, rng))
        f.update(fit_clock(reg, n_boot, rng))
    unpeaked = len(learning) - len(good)  # not those that learned nothing, said above
    if unpeaked:
        notes.append(f"{unpeaked} probe(s) had not clearly peaked (or peaked at step 0): left out of the t* fit")
    pool = [pair for pair, kept in zip(plat, pool_members([m.peaked for m, _ in plat]), strict=True) if kept]
    b_used = clock_exponent(f)
    f.update(b_used=b_used, clock_ref=float(np.exp(np.mean([np.log(m.lr * m.lam) for m, _ in compared]))))
    f.update(_in_tau(collapse([on_clock(cv, b_used) for _, cv in pool], [p["level"] - m.peak_metric for m, _ in pool],
                              finite_median(m.noise for m, _ in pool), n_boot, rng), b_used, f["clock_ref"]))
    kind = f.pop("edge", "")
    f["c_bound"] = {"rising": "lower", "first": "upper"}.get(kind, "")
    edge = {"rising": f"the pooled curve is still rising at tau = {f['c']:.3g}: c is a "
                      f"lower bound (probes too short)",
            "first": "the pooled curve is best at its first point: c is an upper bound",
            "": ""}[kind]
    if not math.isfinite(f["c"]) and math.isfinite(f["tau_star_median"]):
        f["c"], f["c_interval"] = f["tau_star_median"], (NAN, NAN)
        edge, f["c_bound"] = "no pooled curve: c taken from the median single-run tau*", ""
    verdict, why = decide_verdict({**f, **verdict_inputs}, n_clocks, p["no_effect"], edge)
    flipped, _ = decide_verdict({**f, **verdict_inputs, "above_plateau": not verdict_inputs["above_plateau"]},
                                n_clocks, p["no_effect"], edge)
    if verdict == CANNOT and f["overparameterized"] is False:  # decay or a short window held it down
        f["overparameterized"] = None  # (verdict.py): not checked
    f.update(above_plateau_score=score,
             needs_seed=flipped != verdict and abs(score - margin) < FOLLOW_UP_HALF_WIDTH)
    if verdict_inputs["above_plateau"] and margin < ABOVE_MARGIN:
        why.append(f"at equal steps the largest lam falls {score:.2f} thresholds below the smallest; "
                   f"{margin:g} suffices because b is clearly negative: larger lams reach the common "
                   f"levels later, as over-regularized probes do")
    if timing.get("floor_steps", 0.0) > 0:
        why.append(f"b is read above a floor of about {timing['floor_steps']:.0f} steps that holds up the quickest "
                   "probes' crossings (the first rise every probe needs, whatever lam)")
    if f["needs_seed"]:
        seeds = max((row.n_seeds for row in f["table"]), default=0)
        settle = ("one more seed per lam settles it" if seeds < 3 else  # the follow-up round adds the third
                  f"still so with {seeds} seeds per lam: read the verdict as uncertain (more --seeds would settle it)")
        why.append(f"at equal steps the largest lam falls {score:.2f} thresholds below the smallest, near "
                   f"the {margin:g} that decides whether the probes sit above the plateau (verdict "
                   f"\"{flipped}\" the other side): {settle}")
    first = _said_of_every_probe(notes)  # read first
    if first and shows_nothing(first[0]):  # no plateau edge to advise from, no clock, no seed to add
        f.update(interior_max=False, lam_star=NAN, needs_seed=False)
        verdict, why = capped_verdict(verdict, why, f["b"], first[0])
    return Fit(**{**f, "verdict": verdict, "reasons": tuple(first + why + _describe(f, not first) + notes[len(first):])})


def _said_of_every_probe(notes: list[str]) -> list[str]:
    """The first note where it is said of every probe (nothing was learned, at all or at the advised lr, or
    the probes barely beat a constant), as a one-item list; else empty."""
    return notes[:1] if notes and (nothing_learned(notes) or notes[0].startswith(BARELY)) else []


def _in_tau(pooled: dict, b: float, clock_ref: float) -> dict:
    """The pooled curve's axis, c and its interval, read on the clock steps*(lr*lam)^b, in tau at the
    probes' reference clock: x * clock_ref^(1-b), which is tau itself for a probe at clock_ref. So c
    is always a tau (the top's, where the probes ran) whatever b the collapse used."""
    if b == 1.0 or not pooled:
        return pooled
    k = clock_ref ** (1.0 - b)
    out = {**pooled, "c": pooled["c"] * k, "c_interval": tuple(v * k for v in pooled["c_interval"])}
    for key in ("collapsed_tau",):
        out[key] = tuple(v * k for v in pooled[key])
    return out


def fit_relations(
    curves: Sequence[Curve], tolerance: float = 0.005, n_bootstrap: int = 200, seed: int = 0,
    main_lr: float | None = None, baseline: Baseline | None = None,
) -> Fit:
    """Fit the paper's relations to probe curves (see the module docstring for the verdict).

    Probes at several lrs: the plateau, t*, b and c are read at one of them, the one probed at 3
    lams or more that is nearest `main_lr` (the lr the advice is for; itself where it was probed),
    else the lr with the most usable probes; every lr serves the check that lr*lam is the clock.
    `baseline`: what the best constant prediction scores (learned.py), where the probe recorded it.

    On input it cannot use (empty, all diverged, NaN, one lam, constant curves) it returns a
    Fit with verdict "does not hold" and a reason, decided explicitly. Anything it raises is
    a bug of l2advisor, never a verdict on the probes. `seed` fixes the bootstrap so a fit
    is repeatable; the curves are taken in one order (lr, lam, seed), so that the order a file
    holds them in (parallel jobs write as they finish) never moves the bootstrap.
    """
    with np.errstate(all="ignore"):  # odd input gives NaN and a verdict, not warnings
        return _fit(in_fit_order(curves), float(tolerance), max(int(n_bootstrap), 0), int(seed),
                    None if main_lr is None else float(main_lr), baseline)


def in_fit_order(curves: Sequence[Curve]) -> list[Curve]:
    """The order every fit takes its curves in: by lr, lam, seed (stable for equal ones)."""
    return sorted(curves, key=lambda c: (float(c.lr), float(c.lam), int(c.seed)))


def fit_to_dict(fit: Fit) -> dict:
    """JSON-safe dict of a Fit, with schema_version 1."""
    return {"schema_version": 1, **to_jsonable(fit)}


def fit_from_dict(d: dict) -> Fit:
    """Inverse of `fit_to_dict` (extra keys ignored; a missing key is a ValueError)."""
    return from_jsonable(Fit, d, {"LamRow": LamRow, "Excluded": Excluded})
