"""What `l2advisor probe` shows: a bar per probe on stderr, what a rerun or an interrupt kept,
failed probes, and the summary table (probe.py runs the command; `train --advise` shows the same)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from l2advisor.cli.app import err, out
from l2advisor.cli.tables import Column, fitted_table, step_bars
from l2advisor.errors import InputError, RunFailed
from l2advisor.runs.store import read_results

if TYPE_CHECKING:
    from l2advisor.probing.plan import ProbeRun
    from l2advisor.runs.store import RunState
    from l2advisor.training.train import Record, TrainResult


class ProbeBars:
    """A bar per probe and an overall bar with ETA, on a terminal's stderr. Elsewhere (a log file,
    a pipe) rich would draw the bars once, at the end: there each probe gets a plain line as it ends."""

    def __init__(self, runs: list[ProbeRun], live: bool | None = None) -> None:
        from l2advisor.logged_progress import redraws  # rich.progress: not behind --help

        self.live = redraws(err) if live is None else live
        self.bars = step_bars(disable=not self.live)
        _hide_eta_when_ended(self.bars)
        total = sum(run.max_steps for run in runs)
        self.started, self.info, self.ended, self.count = time.perf_counter(), {}, 0, len(runs)
        # nothing to run (all reused): no empty "0/0" bar
        self.overall = self.bars.add_task(f"all {len(runs)} probes (steps)", total=total, info="") if runs else None
        self.tasks: dict[str, Any] = {}
        self.done_steps: dict[str, int] = {}

    def begin(self, run: ProbeRun, reused: bool) -> None:
        self.tasks[run.run_id] = self.bars.add_task(run.run_id, total=run.max_steps, info="")
        self.done_steps[run.run_id] = 0

    def update(self, run: ProbeRun, record: Record) -> None:
        step = record["step"]
        self.info[run.run_id] = f"tau {record['tau']:.2f}  val {record['val_metric']:.4f}"
        self.bars.update(self.tasks[run.run_id], completed=step, info=self.info[run.run_id])
        self.bars.advance(self.overall, step - self.done_steps[run.run_id])
        self.done_steps[run.run_id] = step

    def finish(self, run: ProbeRun, result: TrainResult) -> None:
        # an early stop skips the rest of the probe: the overall ETA must drop with it; an
        # interrupted one counts only the steps it ran (the rest are still to do on resume)
        if result.status == "interrupted":
            self.bars.advance(self.overall, result.steps - self.done_steps[run.run_id])
            self.bars.update(self.overall, ended=True)
        else:
            self.bars.advance(self.overall, run.max_steps - self.done_steps[run.run_id])
        self.done_steps[run.run_id] = result.steps
        self.bars.update(self.tasks[run.run_id], info=f"[{'green' if result.status in ('finished', 'stopped') else 'red'}]"
                         f"{result.status}[/] at step {result.steps}", completed=result.steps, ended=True)
        self.ended += 1
        if not self.live:
            err.print(self.line(run, result), soft_wrap=True, highlight=False, markup=False)

    def line(self, run: ProbeRun, result: TrainResult) -> str:
        """A probe's end as one line for a log: whatever its bar would show, never cut."""
        last = f", {', '.join(self.info[run.run_id].split('  '))}" if run.run_id in self.info else ""
        return (f"{run.run_id}: {result.status} at step {result.steps} of {run.max_steps}{last} "
                f"({self.ended} of {self.count} ended, {time.perf_counter() - self.started:.0f} s)")


def _hide_eta_when_ended(bars: Any) -> None:
    """The time-remaining column stays blank for a bar marked `ended` (an interrupted, failed
    or diverged probe stops short of its total: an ETA there means nothing)."""
    from rich.progress import TimeRemainingColumn
    from rich.text import Text

    class EndedBlank(TimeRemainingColumn):
        def render(self, task: Any) -> Text:
            return Text("") if task.fields.get("ended") else super().render(task)

    bars.columns = tuple(EndedBlank() if isinstance(column, TimeRemainingColumn) else column
                         for column in bars.columns)


def interrupted_note(path: Path, runs: list[ProbeRun], tolerance: float | None = None) -> str:
    """What an interrupt kept: finished probes are reused on resume, unfinished ones restart, so
    with none finished a rerun starts over (it said "finished probes are reused" then too).
    `tolerance` (the probes'): the follow-up round the finished plan asks for counts too."""
    from l2advisor.probing.follow_up import with_follow_up
    from l2advisor.probing.plan import pending

    found = read_results(path)
    every = list(runs) if tolerance is None else with_follow_up(runs, found, tolerance)
    _, reused = pending(every, found)
    head = f"Interrupted. Everything measured so far is in {path}; "
    if not reused:
        return head + ("no probe had finished, so running the same command again starts them over "
                       "(unfinished probes restart).")
    if len(reused) == len(every):  # an interrupt after the last probe ended: nothing restarts
        return head + (f"all {len(every)} probes had ended, so running the same command again reuses them and "
                       "trains only what the verdict may still ask for (one more seed).")
    done = f"{len(reused)} finished probe{'' if len(reused) == 1 else 's'} of {len(every)}"
    return head + (f"run the same command again to resume: the {done} {'is' if len(reused) == 1 else 'are'} "
                   "reused, the others restart.")


def all_reused_note(planned: int, run_dir: Path, scheduler: str | None) -> str:
    """A rerun that finds every planned probe finished: what it trains (nothing) and whom it asks."""
    unasked = f" (the Dask scheduler {scheduler} was not contacted)" if scheduler else ""
    return (f"All {planned} planned probes had already finished in {run_dir}: reused, none to train"
            f"{unasked}.")


def report_failures(states: list[RunState], model_name: str) -> None:
    """Failed or diverged probes: a warning each (the others still count); all of them: exit 1
    (naming the model file, `model_name`, when every one crashed on a line of it)."""
    from l2advisor.probing.probe import failure_lines

    bad = [state for state in states if state.status in ("failed", "diverged")]
    for line in failure_lines(bad):
        err.print(f"[yellow]{escape(line)}[/]", highlight=False)
    if bad and len(bad) == len(states):
        crashed_here = all(state.status == "failed" and f" of {model_name}:" in (state.end or {}).get("message", "")
                           for state in bad)  # every failure on a line of the model file
        if crashed_here:  # exit 1 still: the file passed its checks, its runs failed (a bug, or the machine)
            raise RunFailed(f"All {len(states)} probes failed inside {model_name} (see above), so there is "
                            "nothing to fit; fix what fails there.")
        if all(state.status == "failed" for state in bad):  # errors, no divergence: lam and lr are not the cause
            raise RunFailed(f"All {len(states)} probes failed (see above), so there is nothing to fit; fix what "
                            f"fails: {model_name}, its data or its loss (a label out of the model's range, say).")
        raise RunFailed(f"All {len(states)} probes failed or diverged (see above), so there is nothing to "
                        f"fit; fix the model file, or {all_bad_hint(states)}.")
    if bad:
        err.print(f"[yellow]{len(bad)} of {len(states)} probes failed or diverged; "
                  "`l2advisor recommend` leaves them out.[/]")


def all_bad_hint(states: list[RunState]) -> str:
    """For probes that all failed or diverged: a smaller lr when the smallest lam diverged too
    (lam is not the cause), else smaller lams or a smaller lr."""
    from l2advisor.runs.rundir import divergence_hint  # numpy: not behind --help

    diverged = [float(state.meta["lam"]) for state in states if state.status == "diverged"]
    return divergence_hint(diverged, [float(state.meta["lam"]) for state in states])


def summary_table(rows: list[dict[str, Any]], metric: str, console: Console = out, whole: bool = False) -> Table:
    """One row per probe. "ended at s" counts from the start of its stack (stacked probes share a
    clock). On a narrow console those seconds, then lr*lam, then the train accuracy give way,
    rather than a number being cut (`--json` has them all); `whole`: every column (a file). Probes
    at several lrs (--lrs) get an lr column, never dropped: a lam and seed alone name two probes."""
    several = len({row.get("lr") for row in rows}) > 1
    columns = [Column("lam"), *([Column("lr")] if several else []), Column("lr*lam", drop=2), Column("seed"),
               Column("t*"), Column("tau*"), Column(f"peak\n{metric[:10]}"), Column("train\nacc", drop=1),
               Column("steps"), Column("ended\nat s", drop=3), Column("status", justify="left")]
    cells = [[f"{row['lam']:.4g}", *([f"{row['lr']:.4g}"] if several else []), f"{row['shrink']:.3g}",
              str(row["seed"]), _num(row["t_star"], "d") + _rising(row), _num(row["tau_star"], ".2f"),
              _num(row["peak"], ".4f"), _num(row["final_train_acc"], ".3f"), str(row["steps"]),
              _num(row["seconds"], ".1f"), row["status"]]
             for row in rows]
    return fitted_table(columns, cells, console, title="Probe summary", whole=whole)


def say_rising(rows: list[dict[str, Any]]) -> None:
    """What "+" after t* means, where the summary shows one: on stderr, under the table."""
    if any(_rising(row) for row in rows):
        err.print("t*+: had not clearly peaked when the probe ended (its top may lie later); `recommend` leaves "
                  "it out of the t* fit.", highlight=False)


def say_best_at_start(rows: list[dict[str, Any]], metric: str) -> None:
    """Every probe at its best at step 0 (t* 0): training never raised the metric, said under the
    table on stderr, before anyone fits these probes (a loss returned as the metric reads so)."""
    stars = [row["t_star"] for row in rows if row.get("t_star") is not None and math.isfinite(row["t_star"])]
    if stars and len(stars) == len(rows) and max(stars) == 0:
        err.print(f"Every probe's validation {escape(metric)} was best at its first evaluation (step 0, before training): "
                  "training never raised it. If it is an error or a loss, return it negated (l2advisor maximizes "
                  "it); otherwise check the lr and the model.", highlight=False)


def say_outcome(states: list[RunState], rows: list[dict[str, Any]], extra: list[str], spec: Any,
                notes: bool = True) -> None:
    """What the table of finished probes leaves unsaid (`notes`: the stderr lines, left out under
    --json), then the refusals: a metric NaN everywhere (exit 2), every probe failed (exit 1)."""
    if notes:
        ended = [row for row in rows if row["status"] not in ("failed", "diverged")]  # their curves stop short
        say_rising(ended)
        say_best_at_start(ended, spec.metric_name)
        if extra:
            err.print(f"Plus {len(extra)} follow-up probes (one more seed) to settle the verdict.")
    say_nan_metric(rows, spec.metric_name, spec.path.name, said=notes)
    report_failures(states, spec.path.name)


def say_nan_metric(rows: list[dict[str, Any]], metric: str, model_file: str, said: bool = True) -> None:
    """Evaluations whose validation metric was NaN (left out of the curves, not taken for a
    divergence), said under the table; NaN at every evaluation of every probe is the model file's
    metric failing, refused (exit 2) before anyone fits nothing."""
    hit = [row for row in rows if row.get("nan_evals")]
    if not hit:
        return
    nan, evals = sum(row["nan_evals"] for row in hit), sum(row.get("evals") or 0 for row in hit)
    if len(hit) == len(rows) and nan >= evals:
        raise InputError(f"{model_file}: the validation {metric} was NaN at every evaluation of every probe, so "
                         "there is nothing to read; fix `metric` (it must return a number for the validation set).")
    if said:
        err.print(f"[yellow]The validation {escape(metric)} was NaN at {nan} of {evals} evaluations in {len(hit)} "
                  f"of {len(rows)} probes: those evaluations are left out, as if not made (a metric that cannot score "
                  "some evaluations, e.g. a macro average with a class never predicted, leaves fewer points to "
                  "read t* and the peak from).[/]", highlight=False)


def _rising(row: dict[str, Any]) -> str:
    """"+" after t* for a probe that ended without clearly peaking (still rising, or a top too
    recent to call), where its t* is a number at all."""
    if row.get("status") in ("failed", "diverged"):  # it stopped on an error, not before its top
        return ""
    return "+" if row.get("peaked") is False and row["t_star"] is not None and math.isfinite(row["t_star"]) else ""


def _num(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(int(value) if fmt == "d" else value, fmt)


def say_next(run_dir: Path, again: str, model_file: Path | None, seeds: Sequence[int],
             overrides: dict[str, Any]) -> None:
    """What to run next (stderr): `recommend` on these probes, and where a budget's probes cost
    more than its cap (`model_file` given), `train --advise` with the flags that reuse them (each
    command pays start-up: one process pays it once)."""
    err.print(f"Next: [bold]l2advisor recommend {run_dir} {again}[/]")
    if model_file is not None:
        err.print(f"[dim]Or probe, advise and train in one process: l2advisor train {model_file} {again} "
                  f"--advise{_same_probes(run_dir, seeds, overrides)}[/]", highlight=False)


def _same_probes(run_dir: Path, seeds: Sequence[int], overrides: dict[str, Any]) -> str:
    """The flags that make `train --advise` reuse these probes: their directory, their seeds where
    not the default, the settings given here (a reviewer's hint without them would have probed
    again from scratch, into runs/<name>, with seeds 0,1)."""
    from l2advisor.cli.advise_first import PROBE_SEEDS

    flags = f" --out {run_dir}"
    if ",".join(map(str, seeds)) != PROBE_SEEDS:
        flags += f" --probe-seeds {','.join(map(str, seeds))}"
    for name, value in overrides.items():
        if value is not None:
            flags += f" --{name.replace('_', '-')} {format(value, 'g') if isinstance(value, float) else value}"
    return flags
