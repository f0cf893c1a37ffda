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
    reused: tuple[tuple[str, str], ...] = ()  # (run id, how it ended: finished, stopped, diverged)
    refused: str | None = None
    deleted_by_force: int = 0
    retried: tuple[str, ...] = ()  # run ids that failed before: probe runs them again

    @property
    def ended(self) -> dict[str, str]:
        """{run id: how it ended} of the planned probes `probe` would reuse (not train again)."""
        return dict(self.reused)

    def words(self, planned: int) -> str | None:
        """One sentence for stderr, or None for a new (or empty) directory."""
        deleted = (f"; --force would delete {_probes(self.deleted_by_force)} that ended there"
                   if self.deleted_by_force else "")
        if self.refused is not None:
            return (f"Without --plan, probe would stop here: {self.refused}. Priced below as in a new directory "
                    f"(--out), which is what --force would also train{deleted}.")
        if self.deleted_by_force:
            return (f"--force would delete {_probes(self.deleted_by_force)} that ended in {self.run_dir} and train "
                    f"all {planned} planned probes from the start.")
        again = (f" ({_probes(len(self.retried))} among them failed before, which probe runs again)"
                 if self.retried else "")
        if not self.reused:
            return (f"No planned probe has ended in {self.run_dir} but {_probes(len(self.retried))} that failed, "
                    "which probe runs again: the price below is of all of them.") if self.retried else None
        diverged = sum(status == "diverged" for _, status in self.reused)
        kept = (f" ({diverged} of them diverged: probe keeps them as they ended, and `recommend` leaves them "
                "out; --force trains everything again)") if diverged else ""
        if len(self.reused) == planned:
            return (f"All {planned} planned probes have already ended in {self.run_dir}{kept}: probe would train none "
                    "of them, only a follow-up seed if the seeds cannot decide the verdict.")
        return (f"{len(self.reused)} of the {planned} planned probes have already ended in {self.run_dir}{kept} and "
                f"would be reused: the price below is of the {_probes(planned - len(self.reused))} left{again}.")

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "reused": [run_id for run_id, _ in self.reused],
                "ended": self.ended, "refused": self.refused, "deleted_by_force": self.deleted_by_force,
                "retried": list(self.retried)}


def _probes(count: int) -> str:
    return f"{count} probe{'' if count == 1 else 's'}"


def plan_directory(run_dir: Path, header: dict[str, Any], runs: list[Any], force: bool) -> PlanDirectory:
    """What `probe` (probe_into) would do with `run_dir` for these planned `runs` and results
    `header`: the same refusal (runs.store.settings_conflict with the probes' `carries_over`) and
    the same split into finished and to-run probes (probing.plan.pending)."""
    from l2advisor.errors import InputError
    from l2advisor.probing.plan import failed_before, pending
    from l2advisor.probing.settings import carries_over
    from l2advisor.runs.rundir import PROBES_FILE, results_path
    from l2advisor.runs.store import read_results, settings_conflict

    path = results_path(run_dir, PROBES_FILE)
    if not (path.exists() and path.stat().st_size > 0):
        return PlanDirectory(run_dir)
    if force:  # probe deletes the file unread: a corrupt one is no reason to refuse the plan
        try:
            ended = sum(1 for state in read_results(path).runs.values() if state.done)
        except InputError:
            ended = 0
        return PlanDirectory(run_dir, deleted_by_force=ended)
    found = read_results(path)  # once: a corrupt file is refused here, as probe refuses it
    if (refused := settings_conflict(path, header, carries_over, found)) is not None:
        ended = sum(1 for state in found.runs.values() if state.done)
        return PlanDirectory(run_dir, refused=refused, deleted_by_force=ended)
    _, reused = pending(runs, found)
    return PlanDirectory(run_dir, reused=tuple((run.run_id, found.runs[run.run_id].status) for run in reused),
                         retried=tuple(failed_before(runs, found)))
