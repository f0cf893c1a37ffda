"""`probe --plan` against its run directory: what `probe` would reuse there, or why it would refuse it.

Without this, `--plan` priced every planned probe as if the directory were empty: a rerun whose
probes were all finished was priced as a whole new probe, and a plan the directory would refuse
(other settings) was priced as if it would run. Read only: nothing is written or locked.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class PlanDirectory:
    """The run directory as `probe` would find it: the planned probes already finished there
    (reused), why it would refuse the directory (None: it would not), and how many finished
    probes --force would delete."""

    run_dir: Path
    reused: tuple[str, ...] = ()
    refused: str | None = None
    deleted_by_force: int = 0

    def words(self, planned: int) -> str | None:
        """One sentence for stderr, or None for a new (or empty) directory."""
        if self.refused is not None:
            return (f"Without --plan, probe would stop here: {self.refused}. Priced below as in a new directory "
                    "(--out), which is what --force would also train.")
        if self.deleted_by_force:
            return (f"--force would delete the {self.deleted_by_force} finished probe(s) in {self.run_dir} and train "
                    f"all {planned} planned probes again.")
        if not self.reused:
            return None
        if len(self.reused) == planned:
            return (f"All {planned} planned probes are already finished in {self.run_dir}: probe would train none of "
                    "them, only a follow-up seed if two seeds cannot decide the verdict.")
        return (f"{len(self.reused)} of the {planned} planned probes are already finished in {self.run_dir} and "
                f"would be reused: the price below is the {planned - len(self.reused)} left.")

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "reused": list(self.reused), "refused": self.refused,
                "deleted_by_force": self.deleted_by_force}


def plan_directory(run_dir: Path, header: dict[str, Any], runs: list[Any], force: bool) -> PlanDirectory:
    """What `probe` (probe_into) would do with `run_dir` for these planned `runs` and results
    `header`: the same refusal (runs.store.settings_conflict with the probes' `carries_over`) and
    the same split into finished and to-run probes (probing.plan.pending)."""
    from l2advisor.errors import InputError
    from l2advisor.probing.plan import pending
    from l2advisor.probing.settings import carries_over
    from l2advisor.runs.rundir import PROBES_FILE, results_path
    from l2advisor.runs.store import read_results, settings_conflict

    path = results_path(run_dir, PROBES_FILE)
    if not (path.exists() and path.stat().st_size > 0):
        return PlanDirectory(run_dir)
    if force:  # probe deletes the file unread: a corrupt one is no reason to refuse the plan
        try:
            finished = sum(1 for state in read_results(path).runs.values() if state.done)
        except InputError:
            finished = 0
        return PlanDirectory(run_dir, deleted_by_force=finished)
    if (refused := settings_conflict(path, header, carries_over)) is not None:
        return PlanDirectory(run_dir, refused=refused)
    _, reused = pending(runs, read_results(path))
    return PlanDirectory(run_dir, reused=tuple(run.run_id for run in reused))
