"""What every figure of the report shares: colours per lam, log axes labelled in plain numbers,
y limits that keep the tops in view, the legend (figures.py draws with them)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from l2advisor.reporting.data import ProbeLine, ReportData
from l2advisor.science.numbers import shown


def lam_colors(lams: list[float]) -> dict[float, tuple]:
    """One colour per lam, dark (small lam) to light (large lam)."""
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    lams = sorted(set(lams))
    return {lam: cmap(0.85 * i / max(len(lams) - 1, 1)) for i, lam in enumerate(lams)}


def num(value: float, fmt: str) -> str:
    """`value` formatted as report.md and the reasons write it: a negative zero without its sign (a
    figure's title read "alpha = -0.00")."""
    return shown(value, fmt)


METRIC_MAX = {"accuracy": 1.0}  # metrics with a ceiling: no axis runs past it


def capped(top: float, metric_name: str) -> float:
    """An upper y limit no higher than the metric's maximum (accuracy's 1.0: the axes and the
    pooled band reached 1.005-1.010)."""
    return min(top, METRIC_MAX.get(metric_name, math.inf))


def ylim_high(lines: list[ProbeLine], metric_name: str = "") -> float | None:
    """Upper y limit just above the highest raw evaluation, at most the metric's maximum."""
    tops = [float(np.nanmax(ln.raw)) for ln in lines if np.isfinite(ln.raw).any()]
    return capped(max(tops) + 0.005, metric_name) if tops else None


def left_edge(pairs: list[tuple[np.ndarray, np.ndarray]], low: float | None) -> float | None:
    """Smallest x where any series is above `low` (divided by 1.5): trims the empty left."""
    xs = [x[np.isfinite(y) & (y >= low)] for x, y in pairs] if low is not None else []
    xs = [x.min() for x in xs if x.size]
    return min(xs) / 1.5 if xs else None


def log_x(ax, minor_labels: bool = True, axis: str = "x") -> None:
    """Log x (or y) axis labelled in plain numbers (100, 0.5), not powers of ten. On a range of
    up to about 2.5 decades the minor ticks at 2 and 5 are labelled too (a tau axis from 0.2 to 4
    would otherwise show only "1"); on longer ranges, or where the caller sets its own ticks,
    they would collide, so they stay bare."""

    getattr(ax, f"set_{axis}scale")("log")
    ticks = ax.xaxis if axis == "x" else ax.yaxis
    ticks.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    if not minor_labels:
        ticks.set_minor_formatter(NullFormatter())
        return
    ticks.set_minor_locator(LogLocator(subs=(2.0, 5.0)))

    def minor(value: float, _: int) -> str:  # decided when drawn, after the limits are set
        low, high = ticks.get_view_interval()
        low, high = min(low, high), max(low, high)
        return f"{value:g}" if 0 < low < high <= low * 10**2.5 else ""

    ticks.set_minor_formatter(FuncFormatter(minor))
    ax.tick_params(axis=axis, which="both", labelsize=8)


def legend_if_any(ax, **kw) -> None:
    """A legend when something is labelled (an empty fit draws empty axes, quietly)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)


def legend_under(fig, ax) -> None:
    """The axes' legend under the figure, the layout making room for it: to the right, a long entry
    (the advice's, with its c and verdict) squeezed the plot to a third of the width and pushed the
    title off the figure's left edge."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=2 if len(handles) > 3 else 1, fontsize=7)


def main_lines(data: ReportData) -> list[ProbeLine]:
    """Drawable probes at the fit's lr (all probes when the fit has no lr)."""
    lr = data.fit.lr
    return [ln for ln in data.lines if ln.steps.size and (not math.isfinite(lr) or ln.lr == lr)]


def ylim_low(lines: list[ProbeLine]) -> float | None:
    """Lower y limit that keeps the top visible: a bit under the worst probe's peak."""
    peaks = [ln.peak_metric for ln in lines if math.isfinite(ln.peak_metric)]
    if not peaks:
        return None
    top, low = max(peaks), min(peaks)
    return low - max(top - low, 0.03)
