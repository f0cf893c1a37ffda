"""Probes that learned nothing while others did, and what each kind says (pure).

A probe learned nothing when its smoothed peak is not above the best constant prediction by that
check's margin (learned.py, `beyond_constant`). Where no constant was scored, only a whole lam is
judged, on its probes' own starts (`learned`): one seed's rise from its start is too noisy a test
(a fine-tuned model that gained 0.7 points where its other seeds gained 1.6 was called a failure,
review 45). What the failures mean depends on where they fall:

- every probe at one lr: that lr keeps the model from learning (too large an lr keeps it at
  chance), not weight decay; where it is the lr the advice is for, nothing was learned for it;
- every lam of one seed (at one lr, probed at two lams or more): the seed failed to start learning;
  its probes are left out, as if not made;
- some lams, or some seeds at a lam: weight decay too strong to learn at, or training that fails on
  some seeds. Such a lam is no plateau lam (a reviewer's 1D CNN: lam 0.05 peaked 0.8869 on one seed
  and stayed at chance, 0.3519, on the other, and its sd of 0.38 took it into the plateau), and its
  failed curves, which have no rise to time, stay out of b and the t* fit (a bag-of-tokens model's
  lam 0.1 peaked at 0.4545 where always answering class 2 scores 0.445, and b was read through levels
  every probe met at step 0); at equal steps they still count, as the worst they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from l2advisor.science.curves import CurveMetrics
from l2advisor.science.learned import NOTHING_LEARNED_OPENING, Baseline, beyond_constant, learned
from l2advisor.science.numbers import shown

ProbeKey = tuple[float, float, int]  # (lr, lam, seed)
LEARNED_NOTHING_AT = "learned nothing (peak"  # in the caveat naming a lam at which some probe learned nothing
DEAD_SEED = "learned nothing at any lam"  # in the note on a seed left out
DEAD_LR = "no probe learned at any lam"  # in the notes on an lr at which nothing was learned
DEAD_ADVISED_LR = f"{NOTHING_LEARNED_OPENING} at lr "  # the opening of the first reason: the advised lr's
LOWER_THE_LR = "lower the lr"  # in that reason where the lr, not weight decay, is to blame


def key(m: CurveMetrics) -> ProbeKey:
    return (m.lr, m.lam, m.seed)


@dataclass(frozen=True)
class Failures:
    """The probes that learned nothing, by kind; `notes` say them, `first` (or "") is a reason to read
    first: nothing was learned at the lr the advice is for."""

    at_lams: frozenset[ProbeKey]  # failures at some lams: those lams are no plateau lams
    dead_seeds: frozenset[tuple[float, int]]  # (lr, seed) that learned at no lam: left out
    silent_lrs: frozenset[float]  # lrs at which no probe learned (never read where another lr learned)
    notes: tuple[str, ...]
    first: str = ""


NONE = Failures(frozenset(), frozenset(), frozenset(), ())


def failures(ms: list[CurveMetrics], tolerance: float, baseline: Baseline | None,
             advised_lr: float | None) -> Failures:
    """Which probes learned nothing while others did, sorted into the module docstring's kinds."""
    failed = _learning_nothing(ms, tolerance, baseline)
    if not failed:
        return NONE
    lrs = {m.lr for m in ms}
    silent = {lr for lr in lrs if all(key(m) in failed for m in ms if m.lr == lr)}  # no probe learned there
    blamed = {lr for lr in silent if _lr_not_decay(ms, failed, lr)}  # the lr's fault, not decay's
    dead_seeds = {(m.lr, m.seed) for m in ms if m.lr not in silent and
                  len({n.lam for n in ms if (n.lr, n.seed) == (m.lr, m.seed)}) >= 2 and
                  all(key(n) in failed for n in ms if (n.lr, n.seed) == (m.lr, m.seed))}
    at_lams = {k for k in failed if k[0] not in blamed and (k[0], k[2]) not in dead_seeds}
    kept = [m for m in ms if (m.lr, m.seed) not in dead_seeds]  # the others' words are about these
    against = _against(baseline)
    notes = [_dead_lr_words(ms, lr, against) for lr in sorted(blamed) if lr != advised_lr]
    notes += [_dead_seed_words(ms, kept, lr, seed, against, len(lrs) > 1) for lr, seed in sorted(dead_seeds)]
    if at_lams:
        notes.append(_at_lams_words(kept, at_lams, against, len(lrs) > 1))
    first = _advised_lr_words(ms, advised_lr, against, advised_lr in blamed) if advised_lr in silent else ""
    return Failures(frozenset(at_lams), frozenset(dead_seeds), frozenset(silent), tuple(notes), first)


def _lr_not_decay(ms: list[CurveMetrics], failed: set[ProbeKey], lr: float) -> bool:
    """At an lr where no probe learned: probed at two lams or more, and another lr learned at an lr*lam as
    large as the smallest there, so the lr, not weight decay, keeps the model from learning (with the same
    lams at two lrs, the larger lr's shrinks all too strong to learn at are weight decay's, review 47)."""
    mine = [m for m in ms if m.lr == lr]
    if len({m.lam for m in mine}) < 2:
        return False
    slowest = min(m.lr * m.lam for m in mine)
    return any(m.lr != lr and key(m) not in failed and m.lr * m.lam >= slowest * (1 - 1e-9) for m in ms)


def _learning_nothing(ms: list[CurveMetrics], tolerance: float, baseline: Baseline | None) -> set[ProbeKey]:
    """Every probe that learned nothing (the module docstring's test), or none where all did."""
    if baseline is not None and math.isfinite(baseline.metric):
        failed = {key(m) for m in ms if not beyond_constant([m], tolerance, baseline)}
    else:
        rungs: dict[tuple[float, float], list[CurveMetrics]] = {}
        for m in ms:
            rungs.setdefault((m.lr, m.lam), []).append(m)
        failed = {key(m) for rung in rungs.values() if not learned(rung, tolerance) for m in rung}
    return failed if len(failed) < len(ms) else set()


def _against(baseline: Baseline | None) -> str:
    if baseline is not None and math.isfinite(baseline.metric):
        return f"always predicting {baseline.predicts}: {shown(baseline.metric, '.4g')}"
    return "no better than their own start"


def _peaks(probes: list[CurveMetrics]) -> str:
    top = shown(max(m.peak_metric for m in probes), ".4g")
    return f"peaks up to {top}" if len(probes) > 1 else f"peak {top}"


def _seeds(seeds: list[int]) -> str:
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def _at_lams_words(ms: list[CurveMetrics], failed: set[ProbeKey], against: str, several_lrs: bool) -> str:
    said = []
    for lr, lam in sorted({k[:2] for k in failed}, key=lambda k: (k[0], -k[1])):
        rung = [m for m in ms if (m.lr, m.lam) == (lr, lam)]
        bad = [m for m in rung if key(m) in failed]
        at = f"lam {lam:.3g}" + (f" at lr {lr:.3g}" if several_lrs else "")
        if len(bad) == len(rung):
            said.append(f"{at} learned nothing ({_peaks(bad)})")
        else:
            good = [m for m in rung if key(m) not in failed]
            said.append(f"{at}: {_seeds([m.seed for m in bad])} learned nothing ({_peaks(bad)}) where "
                        f"{_seeds([m.seed for m in good])} reached {shown(max(m.peak_metric for m in good), '.4g')}")
    return ("; ".join(said) + f" ({against}): weight decay too strong to learn at, or training that fails on some "
            "seeds; left out of the plateau, b and the t* fit (no rise to time), still counted at equal steps")


def _dead_seed_words(ms: list[CurveMetrics], kept: list[CurveMetrics], lr: float, seed: int, against: str,
                     several_lrs: bool) -> str:
    mine = [m for m in ms if (m.lr, m.seed) == (lr, seed)]
    at = f" at lr {lr:.3g}" if several_lrs else ""
    gone = sorted({m.lam for m in mine} - {m.lam for m in kept if m.lr == lr}, reverse=True)
    lost = (f"; lam {', '.join(f'{lam:.3g}' for lam in gone)} had no other seed and drop{'s' if len(gone) == 1 else ''} "
            "out of the fit" if gone else "")
    return (f"seed {seed} {DEAD_SEED}{at} ({_peaks(mine)}; {against}) where other seeds learned: the "
            f"seed failed to start learning, not weight decay; its {len(mine)} probes are left out, as if not made{lost}")


def _dead_lr_words(ms: list[CurveMetrics], lr: float, against: str) -> str:
    mine = [m for m in ms if m.lr == lr]
    return (f"at lr {lr:.3g} {DEAD_LR} ({_peaks(mine)}; {against}): that lr, not weight decay, "
            "keeps the model from learning; the fit reads another lr's probes")


def _advised_lr_words(ms: list[CurveMetrics], lr: float, against: str, lr_not_decay: bool) -> str:
    mine = [m for m in ms if m.lr == lr]
    cause = ("that lr, not weight decay, keeps the model from learning (too large an lr keeps a model at chance): "
             f"{LOWER_THE_LR}, or ask for advice at a probed lr that learned" if lr_not_decay else
             "weight decay at every lam probed there, or that lr, keeps the model from learning: probe smaller lams "
             f"at it, or {LOWER_THE_LR}")
    return (f"{DEAD_ADVISED_LR}{lr:.3g}, the lr the advice is for: {DEAD_LR} there ({_peaks(mine)}; {against}), "
            f"where other lrs' did; {cause}")


def near_failure_words(rows: tuple, probe_lr: float, probe_lam: float, k: float) -> str | None:
    """Where some seed learned nothing at a probed lam at the advice or a factor 2 from it (`probe_lam`
    at the probes' lr; `k`: probe lr / run lr), the words that say so; None elsewhere. Some seeds: the
    prediction is what a seed that learns reaches (advise.py reads it from the lams that learned). Every
    seed: weight decay that strong keeps the model from learning, a second seed would not help (review 47)."""
    if not probe_lam > 0:
        return None
    near = [r for r in rows if r.lr == probe_lr and r.n_learned_nothing and r.n_seeds
            and abs(math.log(r.lam / probe_lam)) <= math.log(2.0) + 1e-9]
    if not near:
        return None
    r = min(near, key=lambda row: abs(math.log(row.lam / probe_lam)))
    at = "the advised lam" if math.isclose(r.lam, probe_lam, rel_tol=0.05) else "beside the advice"
    if r.n_learned_nothing >= r.n_seeds:
        return (f"at lam {r.lam * k:.3g}, {at}, no probe seed learned anything: weight decay that strong keeps the "
                "model from learning; do not go above the advice")
    return (f"at lam {r.lam * k:.3g}, {at}, {r.n_learned_nothing} of {r.n_seeds} probe seeds learned nothing: training "
            "there fails on some seeds, so train the advice with a second seed too; the predicted metric is what a "
            "seed that learns reaches")
