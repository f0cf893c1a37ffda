"""The probes' summary rows (`l2advisor.probe(...).probes`, the probe table): lr*lam and tau* keep
12 significant digits, so 0.1 * 0.03 reads 0.003 and a 5-digit lam keeps all its digits."""

from __future__ import annotations

import math

from l2advisor.probing.probe import summarize
from l2advisor.runs.store import RunState


def _state(lam: float, lr: float) -> RunState:
    evals = []
    for step in range(0, 2001, 100):
        val = 0.9 - 0.4 * ((step - 1200) / 1200) ** 2  # peaks at step 1200
        evals.append({"step": step, "tau": lr * lam * step, "val_metric": val, "train_acc": 0.95,
                      "train_loss": 0.5})
    return RunState(f"lam={lam:g}", {"lam": lam, "lr": lr, "seed": 0}, evals=evals,
                    end={"status": "finished", "steps": 2000, "seconds": 1.0})


def test_shrink_and_tau_star_keep_twelve_digits() -> None:
    [row] = summarize([_state(0.012345, 0.1)], tolerance=0.005)
    assert row["shrink"] == 0.0012345  # 0.0012345000000000002 rounded, its digits kept
    assert math.isfinite(row["tau_star"]) and row["tau_star"] == float(f"{row['tau_star']:.12g}")
    assert math.isclose(row["tau_star"], 0.1 * 0.012345 * row["t_star"], rel_tol=1e-11)
    [clean] = summarize([_state(0.03, 0.1)], tolerance=0.005)
    assert clean["shrink"] == 0.003 and repr(clean["tau_star"]) == repr(float(f"{clean['tau_star']:.6g}"))
