"""What `l2advisor report RUN_DIR` does, behind its option parsing (advice.py): the probes'
figures and report.md, with the runs `l2advisor train` recorded in the same directory."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from rich.markup import escape

from l2advisor.cli.advising import ADVICE_FILE, load_and_fit
from l2advisor.cli.app import err, out
from l2advisor.errors import InputError
from l2advisor.reporting.data import saved_advice_source, with_saved_run
from l2advisor.reporting.trained import TrainedRun, trained_runs
from l2advisor.runs.rundir import TRAIN_FILE, results_path
from l2advisor.runs.store import read_json, read_results
from l2advisor.science.advise import Advice, advice_from_dict, advise


def report_command(run_dir: Path, out_dir: Path | None) -> None:
    """`l2advisor report`: see its help."""
    from l2advisor.reporting.data import report_data
    from l2advisor.reporting.page import write_report  # matplotlib: only when drawing

    saved = Path(run_dir) / ADVICE_FILE
    results, curves, fit, _ = load_and_fit(run_dir, refuse_pending=False, lr=_saved_lr(saved))  # partial: warned
    advice = None
    if saved.exists():  # redo the saved advice's budget and lr on this fit: one consistent picture
        try:  # only reading the file is guarded: an exception in advise() is a bug
            raw = read_json(saved)
            old = advice_from_dict(raw)
            if not (old.budget_steps > 0 and math.isfinite(old.lr) and old.lr > 0):
                raise ValueError("its budget or lr is not a positive number")
        except (InputError, ValueError, TypeError, KeyError) as error:
            err.print(f"[yellow]Ignoring {saved}: {escape(str(error))}[/]", highlight=False)
        else:
            advice = advise(fit, old.budget_steps, old.lr, results.momentum)
    settings = results.header.get("settings", {})
    title = Path(str(settings.get("model_file", run_dir))).stem
    data = report_data(curves, fit, advice, title=title, metric_name=settings.get("metric", "metric"),
                       advice_source=saved_advice_source(raw) if advice is not None else "")
    if advice is not None:  # a scheduled run: its own length and peak step
        data = with_saved_run(data, raw)
    trained = _trained(run_dir, results.header.get("settings", {}), advice, fit.common_steps)
    if trained:  # what the runs trained here reached, against the advice they followed
        data = replace(data, trained=trained)
    for path in write_report(data, out_dir or Path(run_dir)):
        out.print(str(path), highlight=False)


def _trained(run_dir: Path, probe_settings: dict, advice: Advice | None,
             common_steps: float) -> tuple[TrainedRun, ...]:
    """The runs of train.jsonl beside the probes, when they trained the probes' model file; a
    file that cannot be read, or holds another version of the model, is said and left out."""
    train_file = results_path(run_dir, TRAIN_FILE)
    if not train_file.exists():
        return ()
    try:
        results = read_results(train_file)
    except InputError as error:
        err.print(f"[yellow]Leaving out the trained runs: {escape(str(error))}[/]", highlight=False)
        return ()
    for warning in results.warnings:
        err.print(f"[yellow]{escape(warning)}[/]", highlight=False)
    model = results.header.get("settings", {}).get("model_sha256")
    if model != probe_settings.get("model_sha256"):
        err.print(f"[yellow]Leaving out the runs of {train_file}: they trained another version of the model file "
                  "than the probes.[/]", highlight=False)
        return ()
    return tuple(trained_runs(results.runs.values(), advice, common_steps))


def _saved_lr(saved: Path) -> float | None:
    """The lr of the advice saved in `saved` (the fit is read there, as `recommend` read it), or
    None where there is none to read (what is wrong with the file is said where it is read)."""
    try:
        lr = read_json(saved).get("lr") if saved.exists() else None
    except (InputError, ValueError, AttributeError):
        return None
    return float(lr) if isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0 else None
