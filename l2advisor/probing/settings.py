"""The probe settings the command line (and the API) build: the default ladder, or one sized to
a budget (budget.py). One place, so that simulations and tests probe the plan users get."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from pathlib import Path

from l2advisor.errors import InputError
from l2advisor.modelfile.spec import TaskSpec
from l2advisor.modelfile.task import Task
from l2advisor.probing.budget import DEFAULT_HORIZON, EVALS_PER_DECADE, BudgetPlan, plan_for_budget
from l2advisor.probing.notices import coarse_val_note, uneven_classes_note
from l2advisor.probing.plan import ProbeRun, ProbeSettings, plan_probes
from l2advisor.probing.probe import check_settings
from l2advisor.runs.rundir import BASELINE_KEY, PLAN_KEY, record_sized_for
from l2advisor.runs.store import Results, make_header, settings_diff
from l2advisor.training.constant_baseline import class_shares, constant_baseline
from l2advisor.training.train import TrainConfig

DEFAULT_PROBE_BUDGET = 24000  # total steps of the default ladder, all probes and seeds
DEFAULT_SEEDS = (0, 1)
# What a budget-sized plan changes with the budget alone: the cap, the budget and which rungs fit.
# A rung's length follows from its lam, the lr and the window, so with the window, lr and seeds
# unchanged, a probe the two plans share is the same run and is reused.
RESIZED_KEYS = ("probe.budget_steps", "probe.probe_budget", "probe.lambdas")


def refuse_hand_ladder(*, lambdas: Sequence[float] = (), lrs: Sequence[float] = (), lam_max: float | None = None,
                       probe_budget: int | None = None, factor: float = 2.0) -> None:
    """With --budget, the ladder's flags that were given, refused in one sentence naming them (the
    command line checks this before the model file runs)."""
    given = [flag for flag, on in (("--lambdas", bool(lambdas)), ("--lam-max", lam_max is not None),
                                   ("--probe-budget", probe_budget is not None), ("--factor", factor != 2.0),
                                   ("extra --lrs", len(lrs) > 1)) if on]
    if given:
        raise InputError(f"--budget plans the ladder and its cost itself: drop {', '.join(given)} (or drop --budget "
                         "to choose the ladder by hand).")


def refuse_early_stop(early_stop: bool | None) -> None:
    """With --budget, an explicit --early-stop, refused: the plan runs every rung through the same tau
    window, and dropping the flag silently would say it stopped early (`--no-early-stop` says what runs)."""
    if early_stop:
        raise InputError("--budget runs every rung through the same tau window, with no early stop: drop "
                         "--early-stop (or drop --budget for the default ladder, which stops early).")


def horizon_ok(horizon: object) -> bool:
    """A probe window (tau units) is a finite real number > 0; the CLI and the API word the refusal
    each in its own names."""
    return not isinstance(horizon, bool) and isinstance(horizon, numbers.Real) and math.isfinite(horizon) \
        and horizon > 0


def probe_settings(lr: float, momentum: float, *, seeds: Sequence[int] = DEFAULT_SEEDS,
                   budget_steps: int | None = None, n_val: int = 1000, batch_size: int = 64,
                   lrs: Sequence[float] = (), horizon: float | None = None,
                   probe_budget: int | None = None, lambdas: Sequence[float] = (),
                   lam_max: float | None = None, factor: float = 2.0, tolerance: float = 0.005,
                   early_stop: bool | None = None) -> tuple[ProbeSettings, BudgetPlan | None]:
    """Settings for `probe`: with `budget_steps`, the ladder of `plan_for_budget` (every rung
    the same tau window, no early stop); without, the default ladder under `probe_budget`
    (DEFAULT_PROBE_BUDGET when None). Both evaluate EVALS_PER_DECADE times per decade of steps.
    `early_stop`: None is the default ladder's early stop, and no stop under a budget, where True is refused."""
    halve_to_fit = horizon is None  # the default window may be halved to fit a budget; a given one is run as given
    horizon = DEFAULT_HORIZON * (1.0 - momentum) if horizon is None else horizon
    if not horizon_ok(horizon):  # before a plan divides by it
        raise InputError(f"--horizon must be a finite number > 0, got {horizon!r}.")
    if budget_steps is None:
        return ProbeSettings(lrs=tuple(lrs) or (lr,), seeds=tuple(seeds), horizon=horizon,
                             probe_budget=DEFAULT_PROBE_BUDGET if probe_budget is None else probe_budget,
                             lambdas=tuple(lambdas) or None, lam_max=lam_max,
                             factor=factor, tolerance=tolerance, early_stop=early_stop is not False,
                             eval_per_decade=EVALS_PER_DECADE), None
    refuse_hand_ladder(lambdas=lambdas, lrs=lrs, lam_max=lam_max, probe_budget=probe_budget, factor=factor)
    refuse_early_stop(early_stop)
    lr = float(lrs[0]) if len(lrs) == 1 else lr  # one --lrs value is the probe lr (it was dropped silently)
    plan = plan_for_budget(budget_steps, lr, momentum, horizon, len(seeds), n_val, batch_size, halve_to_fit)
    settings = ProbeSettings(lrs=(lr,), seeds=tuple(seeds), horizon=plan.horizon, probe_budget=int(plan.cap),
                             lambdas=plan.lams, factor=factor, tolerance=tolerance, early_stop=False,
                             budget_steps=int(budget_steps), eval_per_decade=EVALS_PER_DECADE)
    return settings, plan


def hand_ladder_notes(settings: ProbeSettings, probe_budget_given: bool) -> list[str]:
    """Warnings about a hand-made plan, for the CLI's stderr and the API's notices: fewer lams
    than a fit needs, a probe budget that does not apply to a list of lams, and a single seed."""
    lams = settings.lambdas if settings.budget_steps is None else None  # a budget's ladder is the plan's
    notes = []
    if lams and len(lams) < settings.min_rungs:
        notes.append(f"Only {len(lams)} lam(s) asked for: the fit needs at least {settings.min_rungs} to tell which "
                     f"clock sets the time to the top, so `recommend` will answer with a measured lam "
                     f"(\"does not hold\").")
    if lams and probe_budget_given:
        notes.append("The probe budget (--probe-budget, probe_budget=) does not apply to a list of lams: every "
                     "listed lam is probed.")
    if len(settings.seeds) == 1:
        notes.append("One seed: b gets no interval (so at best \"holds approximately\") and the seed noise the "
                     "verdict compares peaks against is read from each curve's own scatter, which on a noisy "
                     "validation curve can hide a worse lam; two seeds (the default) are safer.")
    return notes


def _seeds(settings: dict) -> set[int]:
    return set((settings.get("probe") or {}).get("seeds") or [])


def carries_over(old: dict, new: dict) -> bool:
    """Whether the probes of `old` settings are probes of `new` ones too (`open_results'`
    `compatible`): the same model settings, window, lr and evaluations, with at most more seeds
    (the old ones among them) and, when both ladders were sized for a budget, another budget.
    A hand-made ladder is the user's choice: never re-sized behind their back."""
    if not _seeds(old) <= _seeds(new):
        return False  # fewer seeds: the extra probes would still be fitted
    sized = all((s.get("probe") or {}).get("budget_steps") is not None for s in (old, new))
    return not settings_diff(old, new, ignore=(*RESIZED_KEYS, "probe.seeds") if sized else ("probe.seeds",))


carries_over.may_differ = (*RESIZED_KEYS, "probe.seeds")  # type: ignore[attr-defined]  # for the refusal's wording


def _halved_for_seeds(old: dict, new: dict) -> str | None:
    """Why a plan for more seeds has another window: each seed adds its probes' cost, and over the
    cap the planner halves every rung's window (budget.py), so those probes are other runs."""
    before, after = (s.get("probe") or {} for s in (old, new))
    if len(after.get("seeds") or []) > len(before.get("seeds") or []) and \
            (after.get("horizon") or 0) < (before.get("horizon") or 0):
        return ("the window changed because the plan for more seeds costs more: to stay within the cap every rung "
                "runs half the window, so the probes here are not probes of that plan")
    return None


def _other_budget(old: dict, new: dict, run_dir: Path | None) -> str | None:
    """Where only the probe plan differs and the new one is sized for another budget: the window
    that budget's plan runs (nobody typed it), and that the probes here already serve the budget
    through `recommend DIR --budget N` (which says how far it extrapolates)."""
    before, after = (s.get("probe") or {} for s in (old, new))
    budget = after.get("budget_steps")
    if budget is None or budget == before.get("budget_steps"):
        return None
    if any(not d.startswith("probe.") for d in settings_diff(old, new)):
        return None  # another model or lr: these probes say nothing of the new settings
    window = ""
    if after.get("horizon") != before.get("horizon") and after.get("horizon") and before.get("horizon"):
        window = (f"the plan for {budget:,} steps runs every rung through tau = {after['horizon']:g}, where these "
                  f"probes ran tau = {before['horizon']:g}; ")
    command = f"recommend {run_dir} --budget {budget}" if run_dir is not None else f"recommend --budget {budget}"
    return window + (f"to advise for {budget:,} steps from the probes already here, `{command}` reuses them and "
                     "says how far it extrapolates")


def _moved_file(old: dict, new: dict) -> str | None:
    """The same model file's text at another path: why its probes are not reused (the command
    line's hash is of the text alone; the neighbouring modules and data files a file imports are
    found beside it) and where they would be."""
    if old.get("model_sha256") != new.get("model_sha256") or old.get("model_file") == new.get("model_file"):
        return None
    return (f"the model file's text is the same, but what it imports (neighbouring modules, data files) is found "
            f"beside it, so probes from another place are not taken as these: probe {old.get('model_file')} to resume "
            "them")


def _fewer_seeds(old: dict, new: dict) -> str | None:
    """Fewer seeds than the probes here were extended to (a seed added, then interrupted, or a rerun
    without the --seeds that extended them): the --seeds that resumes them, all kept."""
    before, after = _seeds(old), _seeds(new)
    sized = all((s.get("probe") or {}).get("budget_steps") is not None for s in (old, new))
    if not after < before or settings_diff(old, new, ignore=(*RESIZED_KEYS, "probe.seeds") if sized else ("probe.seeds",)):
        return None  # fewer seeds is not all that differs (a budget's plan for fewer seeds may differ too)
    return (f"these probes were extended to seeds {','.join(map(str, sorted(before)))}: --seeds "
            f"{','.join(map(str, sorted(before)))} resumes them, every finished probe kept")


def _other_window(old: dict, new: dict) -> str | None:
    """Only the window differs, both sized for the same budget: the --horizon that resumes the probes here
    (a --horizon given with --budget is run as given; earlier versions halved it to fit the cap, so an
    old command's --horizon 8 had run tau = 4)."""
    before, after = (s.get("probe") or {} for s in (old, new))
    if before.get("budget_steps") is None or before.get("budget_steps") != after.get("budget_steps") or \
            before.get("horizon") == after.get("horizon") or not before.get("horizon"):
        return None  # another budget: _other_budget says the window its plan runs
    if settings_diff(old, new, ignore=(*RESIZED_KEYS, "probe.seeds", "probe.horizon")):
        return None
    return (f"these probes ran every rung through tau = {before['horizon']:g}: `probe --horizon "
            f"{before['horizon']:g}` resumes them (a --horizon given with --budget is run as given; earlier versions "
            "halved it to fit the cap)")


def _why_other(old: dict, new: dict, run_dir: Path | None = None) -> str | None:
    """The refusal's explanation (settings_diff.blocking): why a difference came, and what else would do."""
    said = [why for why in (_halved_for_seeds(old, new), _moved_file(old, new), _other_budget(old, new, run_dir),
                            _fewer_seeds(old, new), _other_window(old, new)) if why]
    return "; ".join(said) or None


carries_over.explain = _why_other  # type: ignore[attr-defined]


def keep_first_script(header: dict, existing: dict) -> str | None:
    """For `l2advisor.probe`: where the probes in a directory were made from a script of another
    name or place with the same model hash (build_model's source, the built model's shapes and
    the data: modelfile/fingerprint.py), keep that script's path in `header` so the directory is
    resumed and goes on naming where its probes were made; returns that path (None: nothing kept)."""
    settings = header["settings"]
    first = existing.get("model_file")
    if not first or first == settings.get("model_file") or existing.get("model_sha256") != settings.get("model_sha256"):
        return None
    settings["model_file"] = first
    return first


def resize_note(previous: dict, settings: ProbeSettings, runs: Sequence[ProbeRun], results: Results) -> str:
    """One line for a directory whose probes carry over (`carries_over`): sized for another
    budget, or with seeds added, and how many of the plan's probes are already there."""
    old = (previous.get("probe") or {}).get("budget_steps")
    planned = {run.run_id for run in runs}
    reused = sum(1 for rid, state in results.runs.items() if rid in planned and state.done)
    beyond = sum(1 for rid, state in results.runs.items() if rid not in planned and state.done)
    added = sorted(set(settings.seeds) - _seeds(previous))
    said = []
    if old != settings.budget_steps:
        said.append(f"these probes were sized for a budget of {old:,} steps; the plan for {settings.budget_steps:,} "
                    f"has the same window (tau = {settings.horizon:g}) and lr")
    if added:
        said.append(f"seed{'s' if len(added) > 1 else ''} {', '.join(map(str, added))} "
                    f"{'are' if len(added) > 1 else 'is'} added to the probes here")
    note = "; ".join(said)
    here = (f"all {reused} of the plan's probes are" if reused == len(planned) else
            f"{reused} of the plan's {len(planned)} probes are")
    note = note[:1].upper() + note[1:] + f", so {here} already here and reused"
    return note + (f"; {beyond} finished probe(s) outside this plan stay and are fitted too." if beyond else ".")


def prepare_probes(spec: TaskSpec, task: Task, settings: ProbeSettings, device: str,
                   baseline: bool = True) -> tuple[list[ProbeRun], TrainConfig, dict]:
    """Check the settings against the task, then (every probe run, the shared training config,
    the results header with the plan's run ids so `recommend` can name missing probes and, with
    `baseline`, what the best constant prediction scores: `--plan`, which writes nothing, skips it)."""
    check_settings(settings, task)
    runs = plan_probes(settings, spec.momentum)
    base = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=1, eval_every=1,
                       momentum=spec.momentum, optimizer=spec.optimizer, device=device)
    header = make_header("probe", {**spec.settings(), "probe": settings.to_dict(), "train_size": task.train_size},
                         device)
    header[PLAN_KEY] = [run.run_id for run in runs]
    if baseline:
        record_baseline(header, task)
    return runs, base, header


def record_budget(header: dict, budget: tuple[float, str], steps: int, val_size: int, plan: BudgetPlan | None) -> None:
    """`record_sized_for` with the planner's inputs `plan` was made from (the window asked for, and
    whether it could be halved: the default one), for `probe` and `l2advisor.probe` alike."""
    record_sized_for(header, budget, steps, val_size, None if plan is None else plan.asked_horizon,
                     plan is None or plan.halve_to_fit)


def record_baseline(header: dict, task: Task) -> None:
    """Write into a probe header what the best constant prediction scores, where it can be told."""
    baseline = constant_baseline(task)
    if baseline is not None:
        header[BASELINE_KEY] = baseline.to_dict()


def data_notes(task: Task, tolerance: float) -> list[str]:
    """What the data limits in the probes' reading, a sentence each: a validation set too small for
    the tolerance, accuracy dominated by one class."""
    shares = class_shares(task)
    notes = (coarse_val_note(len(task.val), task.spec.metric == "accuracy", tolerance),
             None if shares is None else uneven_classes_note(*shares))
    return [note for note in notes if note is not None]
