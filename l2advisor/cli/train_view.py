"""What `l2advisor train` shows while and after it trains: a progress bar on stderr and the
summary table on stdout (train.py runs the command)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.table import Table

from l2advisor.cli.tables import step_bars

if TYPE_CHECKING:
    from l2advisor.training.autol2 import AutoL2
    from l2advisor.training.train import Record, TrainResult

TOLERANCE = 0.005  # "arrived": first evaluation within 0.5 accuracy points of the peak


class TrainBar:
    """One bar with ETA on stderr: steps, current lam and lr, validation metric (and best)."""

    def __init__(self, total: int, label: str) -> None:
        self.bars = step_bars(elapsed=True)
        self.task = self.bars.add_task(label, total=total, info="")
        self.best = -math.inf
        self.decays = 0

    def update(self, record: Record, scheduler: AutoL2 | None) -> None:
        metric = record["val_metric"]
        if math.isfinite(metric):
            self.best = max(self.best, metric)
        for event in (scheduler.events[self.decays:] if scheduler else []):
            self.bars.console.print(f"AutoL2 decay at step {event.step} (tau {event.tau:.3g}, {event.signal}): "
                                    f"lam {event.old_lam:.3g} -> {event.new_lam:.3g}")
        self.decays = len(scheduler.events) if scheduler else 0
        self.bars.update(self.task, completed=record["step"],
                         info=f"lam {record['lam']:.3g}  lr {record['lr']:.3g}  val {metric:.4f} "
                              f"(best {self.best:.4f})")


def summary_table(summary: dict[str, Any], metric: str, autol2: bool = False) -> Table:
    table = Table(title=f"Training summary ({summary['status']}, {summary['steps']} steps, "
                        f"{summary['seconds']:.1f} s)", title_justify="left", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    rows = [(f"peak validation {metric}", _fmt(summary["peak_metric"], ".4f")),
            ("at step", _fmt(summary["peak_step"], "d")),
            (f"first within {summary['tolerance']:g} of the peak at step", _fmt(summary["within_tolerance_step"], "d")),
            (f"final validation {metric}", _fmt(summary["final_metric"], ".4f")),
            ("final lam (weight_decay)", _fmt(summary["final_lam"], ".4g")),
            ("final tau = sum lr*lam", _fmt(summary["final_tau"], ".3g"))]
    for row in rows:
        table.add_row(*row)
    for e in summary["lam_history"]:
        stalled = "loss and accuracy" if e["signal"] == "both" else e["signal"]
        table.add_row(f"decay at step {e['step']} (tau {e['tau']:.3g}; {stalled} stalled)",
                      f"{e['old_lam']:.3g} -> {e['new_lam']:.3g}")
    if autol2 and not summary["lam_history"]:
        table.add_row("AutoL2 decays", "none (lam stayed at lam0)")
    return table


def _fmt(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(int(value) if fmt == "d" else value, fmt)


def summarize(records: list[Record], scheduler: AutoL2 | None, result: TrainResult) -> dict[str, Any]:
    """Peak validation metric and where it arrived, final lam, and the lam history."""
    finite = [r for r in records if r["val_metric"] is not None and math.isfinite(r["val_metric"])]
    best = max(finite, key=lambda r: r["val_metric"], default=None)
    arrived = None
    if best is not None:
        arrived = next(r for r in finite if r["val_metric"] >= best["val_metric"] - TOLERANCE)
    last = records[-1] if records else {}
    return {
        "status": result.status, "steps": result.steps, "seconds": result.seconds,
        "peak_metric": best["val_metric"] if best else None, "peak_step": best["step"] if best else None,
        "peak_tau": _cleared(best["tau"]) if best else None,  # a sum over steps: 0.39000000000000745 read 0.39
        "within_tolerance_step": arrived["step"] if arrived else None, "tolerance": TOLERANCE,
        "final_metric": last.get("val_metric"), "final_lam": last.get("lam"), "final_tau": _cleared(last.get("tau")),
        "lam_history": [asdict(e) for e in scheduler.events] if scheduler else [],
    }


def _cleared(tau: Any) -> Any:
    """A tau (a sum of lr_t*lam_t over steps) without the float noise of the sum, as the advice's lam is."""
    from l2advisor.science.numbers import noise_cleared

    return noise_cleared(tau) if isinstance(tau, float) else tau


def against_prediction(summary: dict[str, Any], advice: dict[str, Any], applied: str, metric: str) -> str | None:
    """One sentence setting a `train --advise` run's peak against what its advice predicted (review 42:
    a transformer's summary showed 0.9975 beside nothing, where the panel had said 0.8577); None
    where nothing was predicted (AutoL2, no metric) or nothing measured."""
    predicted, peak = advice.get("predicted_metric"), summary.get("peak_metric")
    if applied != "weight_decay" or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (predicted, peak)):
        return None
    reached = f"the run's best evaluation was {peak:.4f} at step {_fmt(summary.get('peak_step'), 'd')}"
    if advice.get("predicted_metric_is_floor"):
        said = "met it" if peak >= predicted else f"{predicted - peak:.4g} short of it"
        return f"The advice said at least {predicted:.4f} peak validation {metric}; {reached}: {said}."
    step = advice.get("peak_step", advice.get("predicted_peak_step"))
    assumed = (", a step the probes did not measure" if advice.get("predicted_peak_step_is_assumed") else "")
    when = f" around step {_fmt(step, 'd')}{assumed}" if isinstance(step, (int, float)) and math.isfinite(step) else ""
    return (f"The advice predicted {predicted:.4f} peak validation {metric}{when}; {reached} ({peak - predicted:+.4f}; "
            "a best raw evaluation sits a little above a smoothed peak, by the evaluation noise).")
