"""report.md: the verdict and its reasons, the advice, the per-lam table and the figures with
their captions, written beside the PNGs that report.py draws."""

from __future__ import annotations

import math
from pathlib import Path

from l2advisor.reporting.axes import num
from l2advisor.reporting.data import AUTOL2_KEYS, ReportData, run_step
from l2advisor.reporting.expected import expected_words
from l2advisor.reporting.figures import PLOTTERS
from l2advisor.reporting.trained import TrainedRun
from l2advisor.runs.store import SCHEDULE_RUN, make_dir
from l2advisor.science.c_reading import c_text
from l2advisor.science.fit_types import LamRow
from l2advisor.science.learned import nothing_learned
from l2advisor.science.reason_words import unrepeated

FIGURES = {  # file name -> caption in report.md
    "curves.png": "Validation metric of every probe against steps (left) and against tau = lr*lam*steps "
                  "(right). If the relations hold, the curves of the plateau lams (solid) fall onto one "
                  "curve on the right.",
    "tstar.png": "Steps to reach the peak (t*, first evaluation within the tolerance of the peak) "
                 "against 1/(lr*lam). The fit log t* = log c0 + alpha log(1/(lr*lam)) with its 95% "
                 "bootstrap band; the paper predicts slope 1.",
    "plateau.png": "Peak validation metric against lam. Lams up to lam_c are within noise of the best "
                   "(the plateau); the advice for the budget is marked when there is one (`recommend` "
                   "first, or report(budget=) in Python).",
    "collapsed.png": "The plateau probes pooled on the tau clock (each centred on the plateau level). "
                     "c is the tau where the pooled curve is best: lam = c/(lr*T).",
}


def _f(x: float, fmt: str = ".3g") -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return num(x, fmt)  # -0.001 at .2f: "0.00", not "-0.00"


def _alpha_text(f) -> str:
    """alpha with its interval, or that it was not measured (no "- [-, -]" placeholders)."""
    if not math.isfinite(f.alpha):
        return "alpha not measured"
    lo, hi = f.alpha_interval
    return f"alpha = {_f(f.alpha, '.2f')}" + (f" [{_f(lo, '.2f')}, {_f(hi, '.2f')}]" if math.isfinite(lo) else "")


def markdown(data: ReportData, figures: list[str]) -> str:
    """report.md: verdict and reasons, the advice, the per-lam table, the figures."""
    f, a = data.fit, data.advice
    out = [f"# l2advisor report: {data.title}", "",
           f"**Verdict (the paper's relations): {f.verdict}.** Probe lr {_f(f.lr)}; {f.probes_words().replace(' probes', ' usable probes', 1)}; "
           f"{c_text(f)}; "
           f"{_alpha_text(f)}; plateau edge lam_c = {_f(f.lam_c)}.", ""]
    out += [f"- {r}" for r in unrepeated(f.reasons)] + [""]
    if a is not None:
        answer = f"`weight_decay={_f(a.weight_decay, '.3g')}`"
        answer = (f"none yet: {answer} from these probes means nothing, since they learned nothing"
                  if nothing_learned(f.reasons) else f"**{answer}**")  # as the panel's "use" row says it
        out += ["## Advice", "",
                f"For a budget of **{data.budget_text or f'{data.run_steps or a.budget_steps} steps'}** at lr {_f(a.lr)}"
                + (f" ({data.advice_source})" if data.advice_source else "") + f": {answer} "
                f"(interval {_f(a.interval[0])} .. {_f(a.interval[1])}); {_prediction_text(data)}.",
                ""]
        out += [f"- {r}" for r in a.reasons]
        out += ["", "| rule of thumb (zero cost) | weight_decay | / advice |", "|---|---:|---:|"]
        out += [f"| {k} | {_f(v)} | {_f(v / a.weight_decay, '.2g')} |"
                for k, v in a.rules_of_thumb.items()] + [""]
    out += _autol2_lines(data.autol2)
    out += ["## Probes per lam", "",
            f"| lr | lam | lr*lam | seeds | diverged | peak {data.metric_name} (mean +- sd) | "
            "t* (steps) | tau* | max train acc (median) | peaked | plateau |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in sorted(f.table, key=lambda r: (r.lr, -r.lam)):
        out.append(f"| {_f(r.lr)} | {_f(r.lam)} | {_f(r.lr * r.lam)} | {r.n_seeds} | {r.n_diverged} | "
                   f"{_f(r.peak_mean, '.4f')} +- {_f(r.peak_sd, '.4f')} | {_t_star(r)} | "
                   f"{_f(r.tau_star, '.2f')} | {_f(r.max_train_acc, '.3f')} | {r.n_peaked}/{r.n_seeds} | "
                   f"{'yes' if r.in_plateau else 'no'} |")
    if any(r.n_peaked == 0 and math.isfinite(r.t_star) for r in f.table):
        out.append("\nt*+: no probe of that lam clearly peaked before it ended (its top may lie later), as the "
                   "probe summary marks it; the t* fit leaves such probes out.")
    for e in f.excluded:
        out.append(f"\nExcluded: lam={_f(e.lam)} lr={_f(e.lr)} seed={e.seed}: {e.reason}")
    out.append("")
    out += _trained_section(data)
    for name in figures:
        out += [f"## {name[:-4]}", "", f"![{name[:-4]}]({name})", "", FIGURES[name], ""]
    return "\n".join(out)


def _t_star(row: LamRow) -> str:
    """A lam's t* in steps; "400+" where none of its probes clearly peaked (the probe summary's mark)."""
    return _f(row.t_star, ".0f") + ("+" if row.n_peaked == 0 and math.isfinite(row.t_star) else "")


def _prediction_text(data: ReportData) -> str:
    """The advice's predicted peak and when it comes, or why there is none, as the panel says it."""
    a = data.advice
    step = data.run_peak_step if data.run_steps else a.predicted_peak_step
    schedule, warmup = data.run_schedule
    to_run = (lambda steps: run_step(steps, a, schedule, data.run_steps, warmup)) if data.run_steps else None
    words = expected_words(a, data.fit, data.metric_name, step, scheduled=bool(data.run_steps),
                           run_steps=data.run_steps, to_run=to_run)
    return words if words.startswith("no predicted metric") else f"predicted {words}"


def _lam_text(run: TrainedRun) -> str:
    """A constant lam, or where a schedule (AutoL2, a replayed one) took it: "0.01 -> 0.0025 (AutoL2)"."""
    moved = math.isfinite(run.last_lam) and not math.isclose(run.last_lam, run.weight_decay, rel_tol=1e-9)
    kind = "AutoL2" if run.autol2 else "schedule" if run.run_id.startswith(SCHEDULE_RUN) else ""
    if moved:
        return f"{_f(run.weight_decay)} -> {_f(run.last_lam)}" + (f" ({kind})" if kind else "")
    return _f(run.weight_decay) + (f" ({kind} start)" if kind else "")


def _trained_section(data: ReportData) -> list[str]:
    """The runs trained beside the probes: what each reached, and what its advice predicted."""
    if not data.trained:
        return []
    out = ["## Runs trained in this directory", "",
           f"| run | weight_decay | lr schedule | steps | status | peak {data.metric_name}: best raw evaluation "
           "(at step) | predicted by its advice, from smoothed probe peaks (around step) |",
           "|---|---:|---|---:|---|---:|---:|"]
    for t in data.trained:
        predicted = (f"{'at least ' if t.predicted_is_floor else ''}{_f(t.predicted_metric, '.4f')} "
                     f"({_f(t.predicted_peak_step, '.0f')}{', assumed' if t.predicted_step_assumed else ''})"
                     if math.isfinite(t.predicted_metric) else "-")
        out.append(f"| {t.run_id} | {_lam_text(t)} | {t.lr_schedule} | "
                   f"{t.steps} | {t.status} | {_f(t.peak_metric, '.4f')} ({_f(t.peak_step, '.0f')}) | {predicted} |")
    sds = [r.peak_sd for r in data.fit.table if math.isfinite(r.peak_sd)]
    noise = (f" (the probes' peaks scatter by about {math.sqrt(sum(v * v for v in sds) / len(sds)):.4f} between seeds)"
             if sds else "")
    return [*out, "", *_other_budgets(data), "Predictions are read from the probes' smoothed peaks (the advice's reasons say how); a run's "
            "best raw evaluation sits a little above its smoothed peak, by the evaluation noise. A run that peaks "
            f"within the seed noise of its prediction{noise} did what the advice said; a step marked assumed is no "
            "prediction for the run (under \"cannot tell\" it rests on a c the probes did not measure, and the peak "
            "may come much earlier or later; under \"does not hold\" it is the probe's own). AutoL2 makes no prediction.", ""]


def _other_budgets(data: ReportData) -> list[str]:
    """A line naming the runs started for another budget than the advice above is for (a reader took
    a run trained at 4,000 steps' advice for one of the 10,000-step advice shown above it)."""
    advised = data.run_steps or (data.advice.budget_steps if data.advice is not None else 0)
    others = [t for t in data.trained if advised and t.budget_steps and t.budget_steps != advised]
    if not others:
        return []
    named = ", ".join(f"{t.run_id} ({t.budget_steps} steps)" for t in others[:4]) + (", ..." if len(others) > 4 else "")
    return [f"The advice above is for {advised} steps; {named} {'was' if len(others) == 1 else 'were'} started for "
            "another budget, whose advice `l2advisor recommend DIR --budget STEPS` gives.", ""]


def write_report(data: ReportData, out_dir: Path) -> list[Path]:
    """Write the four PNGs and report.md into out_dir; returns their paths (report.md last)."""
    out_dir = Path(out_dir)
    make_dir(out_dir)
    paths = [plot(data, out_dir / name) for name, plot in PLOTTERS.items()]
    md = out_dir / "report.md"
    md.write_text(markdown(data, list(PLOTTERS)), encoding="utf-8")
    return [*paths, md]


def _autol2_lines(saved: dict | None) -> list[str]:
    """The AutoL2 setup saved with the advice (`recommend --autol2`, `train --autol2 --advise`): a
    run trained with it shows its lam falling in the runs' table, and here what it was told."""
    if saved is None:
        return []
    setup = ", ".join(f"`{k}={saved[k]:.4g}`" for k in AUTOL2_KEYS)
    command = saved.get("train_command")
    out = ["## AutoL2", "", f"The AutoL2 schedule saved with this advice: {setup}"
           + (f"; `{command}` trains it." if isinstance(command, str) and command else "."), ""]
    reasons = saved.get("reasons")
    if isinstance(reasons, list):
        out += [f"- {r}" for r in reasons if isinstance(r, str)] + [""]
    return out
