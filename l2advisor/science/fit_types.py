"""What a fit returns: `Fit`, its per-lam rows (`LamRow`) and the probes it left out
(`Excluded`); frozen dataclasses of plain numbers and tuples (fit.py computes them).

Units: `lam` is torch's weight_decay, `lr*lam` the per-step shrink, `t*` in optimizer steps,
`tau = lr*lam*steps`; NaN where a number could not be measured.
"""

from __future__ import annotations

from dataclasses import dataclass

NAN = float("nan")


@dataclass(frozen=True)
class LamRow:
    """One (lr, lam) of the probe table; medians and means over its usable seeds."""

    lam: float
    lr: float
    n_seeds: int  # usable probes
    n_diverged: int  # probes excluded as diverged
    peak_mean: float  # mean over seeds of the smoothed peak metric
    peak_sd: float  # sd over seeds (NaN with one seed)
    t_star: float  # median t*, steps
    tau_star: float  # median lr*lam*t*
    peak_tau: float  # median tau of the smoothed max
    peak_common: float  # mean smoothed max within the shortest probe's steps (lams compared at equal steps)
    max_train_acc: float  # median of the max training accuracy
    n_peaked: int  # seeds whose curve clearly peaked before its end
    in_plateau: bool  # peak within noise of the best lam at this lr
    n_learned_nothing: int = 0  # seeds that learned nothing at this lam while other probes did (never in the plateau)


def probed_neighbours(rows: list[LamRow] | tuple[LamRow, ...], low: float, high: float,
                      ) -> tuple[LamRow | None, LamRow | None]:
    """The probed rows (with seeds) just below `low` and just above `high`, each None where there is none."""
    used = sorted((r for r in rows if r.n_seeds > 0), key=lambda r: r.lam)
    return (next((r for r in reversed(used) if r.lam < low * (1 - 1e-9)), None),
            next((r for r in used if r.lam > high * (1 + 1e-9)), None))


def reachable(row: LamRow | None) -> bool:
    """Whether an interval may reach this probed neighbour: not where some seed learned nothing (a
    reviewer's 1D CNN failed on one of two seeds at such a lam, in its probes and budget runs alike)."""
    return row is not None and not row.n_learned_nothing


@dataclass(frozen=True)
class Excluded:
    """A probe left out of the fit, and why."""

    lam: float
    lr: float
    seed: int
    reason: str


@dataclass(frozen=True)
class Fit:
    """Everything `advise` and the report need. NaN where not measurable."""

    verdict: str  # one of VERDICTS
    reasons: tuple[str, ...]  # the numbers that decided
    lr: float  # the probe lr that c, the plateau and the table's main rows refer to
    tolerance: float  # metric units; t* = first point within it of the peak
    c: float  # tau where the pooled plateau curve is best: lam_opt = c / (lr*T)
    c_interval: tuple[float, float]
    alpha: float  # log t* = log c0 - alpha log(lr*lam); the paper predicts 1
    alpha_interval: tuple[float, float]
    c0: float  # steps * (lr*lam)^alpha
    b: float  # time to the top scales as (lr*lam)^-b at common levels (clock.py): 1 = tau, 0 = steps
    b_interval: tuple[float, float]
    steps_over_tau: float  # misfit of the crossings on steps / on tau: > 1 when tau lines them up better
    b_used: float  # exponent of the clock c is measured on: steps * (lr*lam)^b_used (1 = tau)
    clock_ref: float  # geometric mean lr*lam of the compared probes (reference of the extrapolation)
    common_steps: float  # steps every probe at `lr` ran: where peak_common compares the lams
    tau_star_median: float  # median single-run tau* (noisy; not what the advice uses)
    beta_lr: float  # log t* = a - beta_lr log lr - beta_lam log lam (several lrs only)
    beta_lr_interval: tuple[float, float]
    beta_lam: float
    beta_lam_interval: tuple[float, float]
    clock_is_lr_lam: bool | None  # None with a single lr
    lam_c: float  # plateau edge: largest lam whose peak is within noise of the best
    lam_best: float  # lam with the best measured mean peak
    lam_min_probed: float  # smallest usable lam at `lr`
    plateau_level: float  # mean peak of the plateau lams
    plateau_threshold: float  # "within noise" margin used for the plateau
    interior_max: bool  # a smaller, clearly-peaked lam is significantly worse than lam_best
    lam_star: float  # when interior_max: the smallest plateau lam above the clearly worse ones (advice floor); else NaN
    overparameterized: bool | None  # plateau probes reached training accuracy ~1; None: unknown, or not checked (cannot tell)
    train_acc: float  # median max training accuracy of the plateau probes
    n_usable: int
    table: tuple[LamRow, ...]
    collapsed_tau: tuple[float, ...]  # tau grid of the pooled plateau curve
    collapsed_mean: tuple[float, ...]  # pooled metric, each probe centred on the plateau level
    collapsed_lo: tuple[float, ...]  # mean - 1 standard error across probes
    collapsed_hi: tuple[float, ...]
    excluded: tuple[Excluded, ...]
    above_plateau_score: float = NAN  # plateau.py: thresholds the largest lam falls below the smallest
    needs_seed: bool = False  # the verdict hinges on that score, within FOLLOW_UP_HALF_WIDTH of its margin
    c_bound: str = ""  # "lower": the pooled curve still rose at the window's end; "upper": best at its start

    def probes_words(self) -> str:
        """How many probes the fit read: "6 probes", or with several lrs "6 probes at lr 0.1 (12 in
        all: the other lrs check that lr*lam is the clock)"."""
        here = sum(r.n_seeds for r in self.table if r.lr == self.lr)
        if here == self.n_usable:
            return f"{self.n_usable} probes"
        return f"{here} probes at lr {self.lr:.3g} ({self.n_usable} in all: the other lrs check that lr*lam is the clock)"
