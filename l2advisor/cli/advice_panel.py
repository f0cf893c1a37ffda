"""The panel `l2advisor recommend` prints (and `train --advise` on stderr): the answer first,
then why, then what could be wrong, then the zero-cost rules of thumb for contrast. Pure
formatting of an `Advice` and its `Fit`; what could not be measured is said in words."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from l2advisor.cli.autol2_advice import VERDICT_STYLE
from l2advisor.probing.budget import budget_words
from l2advisor.reporting.data import run_step
from l2advisor.reporting.expected import expected_words  # not page.py: it loads matplotlib
from l2advisor.science.advise import (
    Advice,
    caveats,
)
from l2advisor.science.c_reading import c_text
from l2advisor.science.failed_probes import DEAD_ADVISED_LR, LOWER_THE_LR
from l2advisor.science.fit import FAILS, NOTHING_LEARNED, Fit, nothing_learned
from l2advisor.science.learned import BARELY, SOLVED_OPENING, smaller_lams
from l2advisor.science.numbers import shown


def _num(x: float, fmt: str = ".3g") -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return shown(x, fmt)  # -0.001 at .2f: "0.00", not "-0.00", as the reasons write it


def advice_panel(advice: Advice, fit: Fit, metric: str, schedule: dict[str, Any] | None = None,
                 epochs: float | None = None) -> Panel:
    """The answer first, then why, then what could be wrong, then the zero-cost contrast.
    `epochs`: the budget, when the user gave it in epochs (echoed with its steps)."""
    a, f = advice, fit
    lo, hi = a.interval
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    run = f"for {_run_length(a.budget_steps, epochs)}"
    if schedule is not None:  # the run, not its constant-lr equivalent
        warm = f" after {schedule['warmup']} warmup steps" if schedule["warmup"] else ""
        run = f"(peak) for {_run_length(schedule['run_steps'], epochs)} of {schedule['lr_schedule']} lr{warm}"
    answer = f"weight_decay={_num(a.weight_decay, '.3g')}"
    answer = (f"[bold red]none yet[/]: {answer} from these probes means nothing" if nothing_learned(f.reasons)
              else f"[bold cyan]{answer}[/]")  # review 44: the first line gave a number the "but" row took back
    head.add_row("use", f"{answer}  ({_interval_text(lo, hi)})   at lr={_num(a.lr, 'g')} {run}")
    if nothing_learned(f.reasons):  # said beside the number, not only among the reasons below
        head.add_row("[bold red]but[/]", _nothing_learned_row(f, metric))
    elif f.reasons and f.reasons[0].startswith(BARELY):
        head.add_row("[bold yellow]but[/]", "[bold yellow]the probes barely beat a constant prediction[/]: at these "
                     "lams weight decay may keep the model from learning; probe smaller lams (see why)")
    pred = _expect(a, f, metric, schedule)
    if schedule is not None:
        sv = schedule
        clock = (f"{sv['effective_steps']:.0f} constant-lr steps, so lam = c/(lr*{a.budget_steps}) "
                 f"(constant lr for {sv['run_steps']} steps: {_num(sv['constant_lr_weight_decay'])})"
                 if a.verdict != FAILS else f"{sv['effective_steps']:.0f} constant-lr steps; the relations do "
                 f"not hold, so no formula is rescaled: the advice is a measured lam")
        head.add_row("schedule", f"sum of lr_t = {sv['lr_integral']:.3f} x lr*T: the tau clock sees {clock}")
    head.add_row("expect", pred)
    head.add_row("verdict", f"[{VERDICT_STYLE.get(a.verdict, 'bold')}]{a.verdict}[/]: {_fit_line(f, a)}")
    why = [f"- {escape(r)}" for r in a.reasons]
    doubts = caveats(f, a)
    parts: list[Any] = [head, "", "[bold]why[/]", *why]
    if doubts:
        parts += ["", "[bold yellow]caveats[/]", *[f"- {escape(c)}" for c in doubts]]
    parts += ["", _rules_table(a)]
    return Panel(Group(*parts), title="l2advisor recommend", title_align="left", expand=False)


def _expect(a: Advice, f: Fit, metric: str, schedule: dict[str, Any] | None) -> str:
    """The "expect" row (reporting/expected.py, as report.md says it), its qualifiers in yellow."""
    peak_step = a.predicted_peak_step if schedule is None else schedule["peak_step"]
    to_run = None if schedule is None else (
        lambda steps: run_step(steps, a, schedule["lr_schedule"], schedule["run_steps"], schedule["warmup"]))
    return expected_words(a, f, metric, peak_step, scheduled=schedule is not None,
                          mark=lambda text: f"[yellow]({escape(text)})[/]", to_run=to_run)


def _nothing_learned_row(f: Fit, metric: str) -> str:
    """The "but" row: the probes learned nothing, and what to check."""
    if f.reasons[0].startswith(SOLVED_OPENING):  # one seed's untrained model was already where the others climbed to
        return ("[bold red]the probes learned nothing beyond the best untrained model[/]: this weight decay means "
                "nothing; either the task is solved before training or the model learns nothing (see why)")
    if f.reasons[0].startswith(DEAD_ADVISED_LR):  # at the advised lr only (other lrs learned)
        fix = ("lower the lr, or ask for advice at a probed lr that learned" if LOWER_THE_LR + "," in f.reasons[0]
               else "probe smaller lams at this lr, or lower it")
        return f"[bold red]the probes learned nothing at this lr[/]: this weight decay means nothing; {fix} (see why)"
    own = "" if metric == "accuracy" or f.reasons[0] != NOTHING_LEARNED else \
        f", and that {metric} rises as the model improves (l2advisor maximizes it)"
    return ("[bold red]the probes learned nothing[/]: this weight decay means nothing until they do; weight decay "
            f"at every probed lam may keep the model from learning (probe smaller lams: --lambdas "
            f"{smaller_lams(f.lam_min_probed)}), or check the model, the labels and the lr{escape(own)} (see why)")


def _rules_table(a: Advice) -> Table:
    rules = Table(title="zero-cost rules of thumb, for contrast", title_justify="left",
                  box=None, padding=(0, 2), title_style="dim")
    rules.add_column("rule", style="dim")
    rules.add_column("weight_decay", justify="right")
    rules.add_column("x advice", justify="right")
    for name, value in a.rules_of_thumb.items():
        ratio = value / a.weight_decay if a.weight_decay > 0 else math.nan
        rules.add_row(escape(name), _num(value), _num(ratio, ".2g"))
    return rules


def _run_length(steps: int, epochs: float | None) -> str:
    """The run's length in the user's unit: "4600 steps", or "100 epochs (4600 steps)"."""
    return f"{steps} steps" if epochs is None else budget_words(epochs, "epochs", steps)


def _interval_text(lo: float, hi: float) -> str:
    """The advice's interval, or in words that there is none (one lam bounds nothing)."""
    if not (math.isfinite(lo) or math.isfinite(hi)):
        return "no interval"
    return f"interval {_num(lo)} .. {_num(hi)}"


def _b_text(fit: Fit) -> str:
    """b against the tau clock's 1, with its interval when known; in words when not measurable."""
    if not math.isfinite(fit.b):
        return "b not measurable"
    lo, hi = fit.b_interval
    interval = f" [{_num(lo, '.2f')}, {_num(hi, '.2f')}]" if math.isfinite(lo) and math.isfinite(hi) else ""
    return f"b={_num(fit.b, '.2f')}{interval} (tau clock 1)"


def _fit_line(fit: Fit, advice: Advice) -> str:
    """The verdict line's measurements; what could not be measured is said so, not shown as "-"."""
    known = all(math.isfinite(v) for v in fit.c_interval)
    c = c_text(fit, why=False, with_interval=known) if math.isfinite(fit.c) else "c not measurable"
    lam_c = f"lam_c={_num(fit.lam_c)}" if math.isfinite(fit.lam_c) else "lam_c not measurable"
    acc = f"train acc {_num(fit.train_acc, '.4f')}" if math.isfinite(fit.train_acc) else "train acc not measured"
    return f"{_b_text(fit)}, {c}{_c_used(fit, advice)}, {lam_c}, {acc}, {fit.probes_words()}"


def _c_used(fit: Fit, advice: Advice) -> str:
    """" (the advice uses c = 4)" when the advice's c is not the one the probes measured: "cannot
    tell" takes the typical c (science/advise.py), and the verdict line shows the measured one;
    under "does not hold" the measured c is said to go unused."""
    if advice.verdict == FAILS:
        return " (not used: no formula)" if math.isfinite(fit.c) else ""
    if not math.isfinite(advice.c) or math.isclose(advice.c, fit.c, rel_tol=1e-6):
        return ""
    return f" (the advice uses c = {advice.c:.3g})"
