"""`compare`: the advisor against the usual choices and an Optuna study, on one model file.

Every arm trains the same model file for the same budget (steps) with the same training seeds,
so the same initial weights and data order: the advisor (probes, then runs at the advised lam),
AutoL2 configured from the same probes, a common default weight decay, lam = 0, and an Optuna
TPE study whose chosen lam is re-run on the same seeds (a study's best value is the max of
noisy runs, biased upward; the re-run is what compares). Each run's metric is its peak
validation metric over the evaluation points; its test metric is the held-out metric of the
checkpoint at that peak. Compute of a method = its search (probes or trials) + one final run.
Probes with no usable result fail the advisor and AutoL2 arms (rows marked failed, no lam):
they never train at a default lam under the advisor's name.
The pure accounting functions (accounting.py) are what the tests check by hand; one run of an
arm is in arms.py.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
import torch

from l2advisor.modelfile.task import Task
from l2advisor.runs.store import RunState
from l2advisor.training.train import Record, TrainConfig
from l2advisor.tuning.accounting import Cost, optuna_costs, trials_to_match
from l2advisor.tuning.arms import ArmRun, Progress, run_arm, summarize_arm
from l2advisor.tuning.baseline import run_study, study_objective, trial_rows
from l2advisor.tuning.compare_settings import DEFAULT_LAM, EXTENDABLE, CompareSettings, extends
from l2advisor.tuning.probe_failures import failed_probes_note, refuse_when_all_failed
from l2advisor.tuning.storage import masked_url, open_storage, open_study

ARMS = ("advisor", "autol2", "default", "zero", "optuna")
RUNS_FILE = "compare_runs.jsonl"


__all__ = ["ARMS", "DEFAULT_LAM", "EXTENDABLE", "RUNS_FILE", "CompareSettings", "Comparison", "extends"]


# ---------------------------------------------------------------- the comparison

class _ProbeAdapter:
    """probe.Progress -> Progress."""

    def __init__(self, progress: Progress) -> None:
        self.p = progress

    def begin(self, run: Any, reused: bool) -> None:
        self.p.begin(f"probe {run.run_id}", run.max_steps)

    def update(self, run: Any, record: Record) -> None:
        self.p.update(record)

    def finish(self, run: Any, result: Any) -> None:
        self.p.finish(f"probe {run.run_id}", result.status, result.steps)


class _TuneAdapter:
    """baseline.TuneProgress -> Progress."""

    def __init__(self, progress: Progress, budget: int) -> None:
        self.p, self.budget = progress, budget

    def begin(self, number: int, lam: float, counted: int, total: int) -> None:
        self.p.begin(f"optuna trial {number} ({counted + 1} of {total}), lam={lam:.3g}", self.budget)

    def update(self, record: Record) -> None:
        self.p.update(record)

    def finish(self, outcome: Any, best: float | None, counted: int) -> None:
        self.p.finish(f"optuna trial {outcome.number}", outcome.state.lower(), outcome.steps)

    def note(self, message: str) -> None:
        self.p.note(message)


@dataclass
class Comparison:
    """Everything one `compare` needs; `run()` fills `rows` and `notes` arm by arm."""

    task: Task
    settings: CompareSettings
    run_dir: Any  # Path
    base: TrainConfig
    storage_url: str
    study_name: str
    test_chunks: list | None = None
    progress: Progress | None = None
    interrupted: Callable[[], bool] = lambda: False
    force: bool = False  # start the probes and the study over
    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # arm -> why it has no result

    def arm(self, write: Callable, done: dict, arm: str, lam: float, factory: Callable | None = None) -> list[ArmRun] | None:
        return run_arm(self.task, self.base, arm, lam, self.settings.seeds, done, self.test_chunks, write,
                       self.progress, self.interrupted, factory, self.lr_at())

    def lr_at(self) -> Callable[[int], float] | None:
        """Every arm's lr schedule over the budget; None for the file's constant lr."""
        from l2advisor.training.lr_schedules import make_lr_at

        s = self.settings
        return make_lr_at(s.lr_schedule, self.base.lr, s.budget, s.warmup) if s.scheduled else None

    def advice_budget(self) -> int:
        """The budget the advice is sized for: the schedule's constant-lr equivalent on the tau
        clock (sum of lr_t / lr over the run; the budget itself at constant lr)."""
        from l2advisor.science.schedules import effective_steps

        s = self.settings
        return max(1, round(effective_steps(s.lr_schedule, s.budget, s.warmup))) if s.scheduled else s.budget

    def run(self, write: Callable[[dict[str, Any]], None], done: dict[str, RunState]) -> bool:
        """Run (or reuse) every arm in turn; False if interrupted (a rerun resumes)."""
        steps = (self._advisor, self._fixed, self._optuna)
        return all(step(write, done) for step in steps)

    def _advisor(self, write: Callable, done: dict) -> bool:
        from l2advisor.science.advise import advice_to_dict, advise
        from l2advisor.science.autol2_setup import autol2_config
        from l2advisor.science.fit import fit_relations, nothing_learned

        probed = self._probe(fit_relations)
        if probed is None:
            return False
        states, fit = probed
        refuse_when_all_failed(states)  # every arm would train the same failing file
        if (failed := failed_probes_note(states)) is not None:
            self.notes.append(failed)
            self.extra["failed_probes"] = [s.run_id for s in states if s.status in ("failed", "diverged")]
        search = [Cost(s.end["steps"], s.end["seconds"]) for s in states if s.end]
        self.extra["fit"] = {"verdict": fit.verdict, "c": fit.c, "alpha": fit.alpha, "lam_c": fit.lam_c,
                             "reasons": list(fit.reasons)}
        if nothing_learned(fit.reasons):  # said where the table is read, not only in the fit
            self.notes.append("The probes learned nothing: no arm's number below says anything about weight "
                              "decay. " + _why_nothing(fit.reasons[0]) + ".")
        if fit.n_usable == 0:  # no advice: both arms fail, never a default lam in the advisor's row
            ends = Counter(s.status for s in states)
            self._fail_advisor(f"none of the {len(states)} probes is usable ("
                               + ", ".join(f"{n} {status}" for status, n in sorted(ends.items()))
                               + "; the fit's reasons are in compare.json)", search)
            return True
        advice = advise(fit, self.advice_budget(), self.task.spec.lr, self.task.spec.momentum)
        scheduled = {**self.settings.schedule(), "run_steps": self.settings.budget} if self.settings.scheduled else {}
        self.extra["advice"] = {**advice_to_dict(advice), **scheduled}  # budget_steps: the run's T_eff when scheduled
        low, high = self.settings.study.lam_low, self.settings.study.lam_high
        if advice.weight_decay > high or 0 < advice.weight_decay < low:  # AdamW's lams run far above 0.1
            self.notes.append(f"The advice, lam = {advice.weight_decay:.3g}, lies outside Optuna's search range "
                              f"[{low:g}, {high:g}] (--lam-low, --lam-high): Optuna cannot try it; widen the range "
                              "for a fair search.")
        runs = self.arm(write, done, "advisor", advice.weight_decay)
        if runs is None:
            return False
        self.rows.append(summarize_arm("advisor", advice.weight_decay, runs, search, f"verdict: {fit.verdict}"))
        return self._autol2(write, done, autol2_config(fit, self.advice_budget(), self.task.spec.lr,
                                                    momentum=self.task.spec.momentum), search)

    def _fail_advisor(self, reason: str, search: list[Cost]) -> None:
        """The advisor and AutoL2 arms as failed rows: no lam, no runs, the probes' compute."""
        self.failed["advisor"] = self.failed["autol2"] = f"no usable advice: {reason}"
        for arm in ("advisor", "autol2"):
            self.rows.append({**summarize_arm(arm, None, [], search, f"FAILED: no usable advice: {reason}"),
                              "failed": True})
        if self.progress is not None:
            self.progress.note(f"The advisor and AutoL2 arms failed: no usable advice ({reason}).")

    def _probe(self, fit_relations: Callable) -> tuple[list[RunState], Any] | None:
        from l2advisor.probing.follow_up import run_with_follow_up
        from l2advisor.probing.probe import run_probes
        from l2advisor.probing.settings import carries_over, prepare_probes
        from l2advisor.runs.rundir import (
            PROBES_FILE,
            baseline_of,
            load_probe_curves,
            record_sized_for,
            results_path,
        )
        from l2advisor.runs.store import open_results

        probe = self.settings.probe
        plan, _, header = prepare_probes(self.task.spec, self.task, probe, self.base.device)  # as `probe` makes it
        given = self.settings.budget_as_given
        if given is not None and probe.budget_steps == self.settings.budget:  # sized for the budget as given
            record_sized_for(header, given, probe.budget_steps)
        path = results_path(self.run_dir, PROBES_FILE)
        adapter = _ProbeAdapter(self.progress) if self.progress is not None else None
        with open_results(path, header, force=self.force, compatible=carries_over) as writer:  # more seeds: kept
            every = run_with_follow_up(
                plan, path, probe.tolerance,
                lambda todo: run_probes(self.task, todo, self.base, probe, writer.write, adapter, self.interrupted),
                self.interrupted, self.progress.note if self.progress is not None else lambda text: None)
        if self.interrupted():
            return None
        results, curves = load_probe_curves(self.run_dir)
        states = [results.runs[r.run_id] for r in every if r.run_id in results.runs]
        return states, fit_relations(curves, tolerance=probe.tolerance, baseline=baseline_of(results.header))

    def _autol2(self, write: Callable, done: dict, config: Any, search: list[Cost]) -> bool:
        from l2advisor.training.autol2 import AutoL2

        def factory(optimizer: torch.optim.Optimizer) -> AutoL2:
            return AutoL2(optimizer, lam0=config.lam0, decay=config.decay, refractory_tau=config.refractory_tau,
                          lam_min=config.lam_min, param_groups="nonzero")

        runs = self.arm(write, done, "autol2", config.lam0, factory)
        if runs is None:
            return False
        decays = [r.decays for r in runs]
        self.extra["autol2"] = config.to_dict()
        self.rows.append(summarize_arm("autol2", config.lam0, runs, search,
                                       f"lam0 = {config.lam0:.3g}, decays per run {decays}"))
        return True

    def _fixed(self, write: Callable, done: dict) -> bool:
        for arm, lam in (("default", self.settings.default_lam), ("zero", 0.0)):
            runs = self.arm(write, done, arm, lam)
            if runs is None:
                return False
            self.rows.append(summarize_arm(arm, lam, runs, []))
        return True

    def _optuna(self, write: Callable, done: dict) -> bool:
        study_settings = self.settings.study
        config = dataclasses.replace(self.base, seed=self.settings.seeds[0])
        storage = open_storage(self.storage_url)
        if self.force and self.study_name in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
            optuna.delete_study(study_name=self.study_name, storage=storage)
        study = open_study(storage, self.study_name, study_settings,
                           study_objective(self.task, config, study_settings, self.settings.schedule()),
                           self.settings.budget)
        adapter = _TuneAdapter(self.progress, self.settings.budget) if self.progress is not None else None
        run_study(self.task, config, study, study_settings, adapter, self.interrupted, self.lr_at())
        if self.interrupted():
            return False
        trials = self._first_trials([{k: v for k, v in t.items() if k != "curve"} for t in trial_rows(study)])
        values, costs = optuna_costs(trials)
        complete = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
        self.extra.update(optuna_trials=trials, optuna_study={
            "study_name": self.study_name, "storage": masked_url(self.storage_url), "sampler": study.sampler.describe(),
            "pruner": study_settings.pruner, "lam_range": [study_settings.lam_low, study_settings.lam_high]})
        if not complete:
            self.notes.append("Optuna arm: no trial completed.")
            return True
        best = max(complete, key=lambda t: t["value"])
        runs = self.arm(write, done, "optuna", best["lam"])
        if runs is None:
            return False
        row = summarize_arm("optuna", best["lam"], runs, costs, f"best of {len(values)} trials: trial "
                            f"{best['number']}, raw value {best['value']:.4f}")
        row.update(compute_steps=sum(c.steps for c in costs), compute_seconds=sum(c.seconds for c in costs),
                   raw_best=best["value"], raw_best_trial=best["number"])
        self.rows.append(row)
        advisor = next((r for r in self.rows if r["arm"] == "advisor"), None)
        if advisor is not None and advisor["peak_mean"] is not None:
            self.extra["trials_to_match"] = trials_to_match(values, costs, advisor["peak_mean"])
        return True

    def _first_trials(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The study's first --trials trials (failed ones, re-queued, do not count): a directory that
        once ran more keeps them, and the same seeded draws come first, so fewer trials compare as
        a study of that size would."""
        kept, counted = [], 0
        for row in sorted(rows, key=lambda r: r["number"]):
            if counted >= self.settings.trials:
                break
            kept.append(row)
            counted += row["state"] != "FAIL"
        if len(kept) < len(rows):
            self.notes.append(f"The study here holds {len(rows)} trials; its first {len(kept)} are compared "
                              f"(--trials {self.settings.trials}).")
        return kept

    def report(self) -> dict[str, Any]:
        """The JSON-safe results: settings, every arm's row and runs, Optuna's trials, notes."""
        from l2advisor.runs.store import versions

        return {"settings": self.settings.to_dict(), "model": self.task.spec.settings(), "versions": versions(),
                "device": self.base.device, "metric": self.task.spec.metric_name,
                "test_metric": ("held-out test metric of each run's checkpoint at its peak validation evaluation"
                                if self.test_chunks is not None else "none: the model file has no build_test"),
                "compute": "steps and seconds to get one trained model: search (probes or trials) + one final "
                           "run (mean over seeds; Optuna: its trials only)",
                "rows": self.rows, "notes": self.notes, "failed_arms": self.failed, **self.extra,
                **({"budget_as_given": dict(zip(("value", "unit"), self.settings.budget_as_given, strict=True))}
                   if self.settings.budget_as_given else {})}  # settings.budget is in steps


def _why_nothing(reason: str) -> str:
    """The fit's "nothing was learned" reason as a sentence after "The probes learned nothing: ...":
    the general one without its opening (said already), another wording whole."""
    head, _, tail = reason.partition(": ")
    said = tail if head == "nothing was learned" else reason
    return said[:1].upper() + said[1:]
