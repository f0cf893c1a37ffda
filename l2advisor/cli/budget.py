"""The run's length and its directory, checked as a command line takes them: the budget in
steps or epochs (before the model file runs, then in steps once the training set's size is
known), a training set smaller than one batch, a run directory that holds another model
file's probes, and an --out that cannot be a directory. Shared by `probe`, `train` and `recommend`."""

from __future__ import annotations

import math
from pathlib import Path

from l2advisor.errors import InputError
from l2advisor.probing.budget import UNITS, budget_in_steps
from l2advisor.runs.store import make_dir, read_results

UNIT_HELP = ("Unit of --budget: steps or epochs (one epoch = floor(train size / batch) steps, as the probes draw "
             "batches, a partial last batch left out; one step when the set is smaller than a batch).")

def refuse_other_models_probes(run_dir: Path, sha256: str, model_file: Path) -> None:
    """A run directory holding another model file's probes is not this run's: one sentence."""
    from l2advisor.runs.rundir import PROBES_FILE, results_path

    probes = results_path(run_dir, PROBES_FILE)
    if not probes.exists():
        return
    settings = read_results(probes).header.get("settings", {})
    if settings.get("model_sha256") not in (None, sha256):
        name = model_file.name
        if Path(str(settings.get("model_file"))).resolve() == model_file.resolve():
            raise InputError(f"{name} has changed since the probes in {run_dir} were made: train into a directory "
                             "of its own (--out), or probe again (`l2advisor probe --force`, or `train --advise "
                             "--force`).")
        raise InputError(f"{run_dir} holds probes of another model file ({settings.get('model_file')}), not "
                         f"{name}: train into a directory of its own (--out).")


def refuse_unusable_out(out_dir: Path | None) -> None:
    """An --out that cannot be a directory (a file, or below one), said before the model file
    runs, in make_dir's sentence; nothing is created. Without --out the directory is named
    after the model, so it is checked when made."""
    if out_dir is None:
        return
    there = next((p for p in (out_dir, *out_dir.parents) if p.exists()), None)
    if there is not None and not there.is_dir():
        make_dir(out_dir)  # raises: a directory cannot be made at or below a file


def small_set_note(train_size: int, batch_size: int) -> str | None:
    """A sentence when the batch is larger than the training set (every step then sees all of it)."""
    if train_size >= batch_size:
        return None
    return (f"batch_size {batch_size} is larger than the {train_size} training examples: every step uses "
            f"all {train_size} (one step an epoch).")


def check_unit(unit: str) -> None:
    """--unit is steps or epochs: the one sentence both checks below give."""
    if unit not in UNITS:
        raise InputError(f"--unit must be steps or epochs, got {unit!r}.")


def check_budget(budget: float, unit: str) -> None:
    """One clear sentence for a budget that is not one, before the model file runs."""
    check_unit(unit)
    if not (math.isfinite(budget) and budget > 0):
        raise InputError(f"--budget must be a finite number > 0, got {budget!r}.")
    if unit == "steps" and budget != int(budget):
        raise InputError(f"--budget in steps must be a whole number, got {budget!r}.")


def check_unit_has_budget(budget: float | None, unit: str, without: str) -> None:
    """--unit names --budget's unit: given alone it would change nothing, so one sentence
    (`without`: what the command does with no --budget)."""
    check_unit(unit)
    if budget is None and unit != "steps":
        raise InputError(f"--unit applies to --budget: give both, or neither for {without}.")


def check_run_budget(budget: float, unit: str) -> None:
    """`tune` and `compare`: check_budget, with their long-standing sentence for a budget of no steps
    (a fraction of one step is check_budget's: not a whole number)."""
    if unit == "steps" and budget <= 0:
        raise InputError(f"--budget must be a positive number of steps, got {budget:g}.")
    check_budget(budget, unit)


def budget_steps(budget: float, unit: str, train_size: int, batch_size: int) -> int:
    """The budget in optimizer steps; one clear sentence for a budget that is not one."""
    check_budget(budget, unit)
    return budget_in_steps(budget, unit, train_size, batch_size)


def budget_flags(budget: float, unit: str, steps: int) -> str:
    """The --budget flags that repeat the user's budget: "--budget 4600", or "--budget 100 --unit epochs"."""
    return f"--budget {steps}" if unit == "steps" else f"--budget {budget:.12g} --unit {unit}"
