"""What one `compare` is (`CompareSettings`) and which changes to it extend an earlier one
(`extends`: more Optuna trials or training seeds, or another --default-lam, reuse the runs
already made)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from l2advisor.runs.store import settings_diff

DEFAULT_LAM = 5e-4  # the common default weight decay


@dataclass(frozen=True)
class CompareSettings:
    """One comparison: budget (steps), Optuna's K trials, the S training seeds of every arm."""

    budget: int
    trials: int
    seeds: tuple[int, ...]
    eval_every: int
    probe: Any  # probe.ProbeSettings
    study: Any  # baseline.StudySettings
    default_lam: float = DEFAULT_LAM
    lr_schedule: str = "constant"  # every arm's lr schedule (the probes stay at constant lr)
    warmup: int = 0  # steps of linear lr warmup in every arm
    # --budget as the user gave it, (value, unit): the probes' header says it for `recommend`
    # without --budget; not among the settings (to_dict), so a resume compares what it did before
    budget_as_given: tuple[float, str] | None = None

    @property
    def scheduled(self) -> bool:
        return self.lr_schedule != "constant" or self.warmup > 0

    def schedule(self) -> dict[str, Any]:
        """The schedule's settings, empty for plain constant lr (older run directories resume)."""
        return {"lr_schedule": self.lr_schedule, "warmup": self.warmup} if self.scheduled else {}

    def to_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "trials": self.trials, "seeds": list(self.seeds),
                "eval_every": self.eval_every, "default_lam": self.default_lam,
                "probe": self.probe.to_dict(), "study": self.study.to_dict(), **self.schedule()}


def extends(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two compare headers' settings differ only in how many Optuna trials and training
    seeds they ask for, one seed list a prefix of the other, everything else equal (`open_results`'
    `compatible`). The runs the two share are then the same runs and are reused: more trials or
    seeds extend the comparison, and the earlier command still resumes after an extension that
    was interrupted or failed (its header is the extension's by then)."""
    before, after = old.get("compare") or {}, new.get("compare") or {}
    seeds_a, seeds_b = list(before.get("seeds") or []), list(after.get("seeds") or [])
    shorter, longer = sorted((seeds_a, seeds_b), key=len)
    if longer[:len(shorter)] != shorter:
        return False
    probes_a, probes_b = (set((s.get("probe") or {}).get("seeds") or []) for s in (before, after))
    if not probes_a <= probes_b:  # fewer probe seeds: the extra probes would still be fitted (as probe refuses)
        return False
    return not settings_diff(old, new, ignore=EXTENDABLE)


# more probe seeds: the probes there are reused and the new seed's added (as `probe` does); the advice
# may move, and the advisor and AutoL2 arms then train at the new lam
EXTENDABLE = ("compare.trials", "compare.seeds", "compare.study.trials", "compare.default_lam", "compare.probe.seeds")
extends.may_differ = EXTENDABLE  # type: ignore[attr-defined]  # for the refusal's wording
