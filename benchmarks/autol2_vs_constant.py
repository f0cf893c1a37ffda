"""AutoL2 against a tuned constant weight decay, at constant lr and under a cosine schedule.

On the bundled default (examples/mnist_cnn.py: BN CNN, 1000 MNIST images, SGD lr 0.1, batch
64) at a fixed budget, with the same seeds, initialisations and data order for every arm:

  autol2-probes  AutoL2 configured by l2advisor from probe runs (`autol2_config`): lam0 = lam_c,
                 refractory_tau = c/4 on the tau clock, lam_min one decay below the advice.
  autol2-paper   the authors' rule (AutoL2 preset: raw minibatch checks every 10 steps, decay
                 by 10, refractory in steps, no floor) at their lam0 = 0.1 in THEIR convention:
                 their loss has L2 * ||theta||^2 without the 1/2, so torch weight_decay = 0.2,
                 and their refractory 0.1 / L2 steps becomes 0.2 / weight_decay steps. (Their
                 cross-entropy is also averaged over classes and they used lr 0.2 with momentum
                 0.9: no lam0 carries over exactly; this one keeps their L2 gradient.)
  best-constant  the best of a grid of constant lams, chosen per lr schedule by the mean peak
                 over the same seeds it is scored on (so it is biased upward: a tuned oracle).
  lam=0          no weight decay.

Printed per (schedule, arm): peak validation accuracy (the max over the run's evaluations,
the paper's "performance"), mean, sd and range over seeds; and the steps until a run first
comes within 0.5 points of its own peak (on the 5-point smoothed curve, as the probes' t*).

    python benchmarks/autol2_vs_constant.py            # full: 6000 steps, 3 seeds, < 30 min on 2 cores
    python benchmarks/autol2_vs_constant.py --quick    # a few minutes (400 steps, 2 seeds, 3 lams)
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILE = ROOT / "examples" / "mnist_cnn.py"
TOLERANCE = 0.005  # accuracy units: "within 0.5 points"
PAPER_LAM0 = 0.2  # the paper's L2 = 0.1 on L2*||theta||^2 (no 1/2) = torch weight_decay 0.2
PAPER_REFRACTORY = 0.2  # their 0.1/L2 steps = 0.2/weight_decay steps


@lru_cache(maxsize=1)
def _task():  # one per worker process: the data are built once
    import torch

    from l2advisor.modelfile.spec import load_spec
    from l2advisor.modelfile.task import build_task

    torch.set_num_threads(1)  # a tiny CNN: one thread per worker is fastest
    return build_task(load_spec(MODEL_FILE))


def _config(steps: int, eval_every: int, seed: int):
    from l2advisor.training.train import TrainConfig

    spec = _task().spec
    return TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=steps, eval_every=eval_every,
                       seed=seed, momentum=spec.momentum, optimizer=spec.optimizer, device="cpu")


def probe_job(run: Any, settings: Any) -> list[dict[str, Any]]:
    """One probe through the library's probe runner; its records, to be stored by the parent."""
    from l2advisor.probing.probe import run_one

    records: list[dict[str, Any]] = []
    run_one(_task(), run, _config(1, 1, run.seed), settings, records.append, None, lambda: False)
    return records


def arm_job(arm: dict[str, Any], schedule: str, seed: int, steps: int, eval_every: int) -> dict[str, Any]:
    """One full-budget run of an arm; its curve, decay events and time."""
    from l2advisor.training.autol2 import PAPER_RULE, AutoL2
    from l2advisor.training.lr_schedules import make_lr_at
    from l2advisor.training.train import train

    made: list[AutoL2] = []

    def factory(opt):
        if arm["kind"] == "paper":
            rule = {**PAPER_RULE, "refractory_lam_steps": PAPER_REFRACTORY}
            made.append(AutoL2(opt, arm["lam"], **rule))
        else:
            made.append(AutoL2(opt, arm["lam"], **arm["autol2"]))
        return made[0]

    config = _config(steps, eval_every, seed)
    result = train(_task(), config, arm["lam"], lr_at=make_lr_at(schedule, config.lr, steps),
                   scheduler_factory=factory if arm["kind"] != "constant" else None)
    return {"arm": arm["name"], "lam": arm["lam"], "schedule": schedule, "seed": seed, "status": result.status,
            "seconds": result.seconds, "records": result.records,
            "events": [asdict(e) for e in made[0].events] if made else []}


def run_probes(out_dir: Path, quick: bool, jobs: int) -> tuple[Any, float, int]:
    """Probe the default model with the library (default ladder), store, fit."""
    from l2advisor.probing.probe import ProbeSettings, plan_probes
    from l2advisor.runs.rundir import PROBES_FILE, load_probe_curves, results_path
    from l2advisor.runs.store import make_header, open_results
    from l2advisor.science.fit import fit_relations

    spec = _task().spec
    if quick:
        settings = ProbeSettings(lrs=(spec.lr,), seeds=(0,), horizon=4.0, probe_budget=3000,
                                 lambdas=(0.1, 0.05, 0.025))
    else:
        settings = ProbeSettings(lrs=(spec.lr,), seeds=(0, 1), horizon=8.0 * (1 - spec.momentum),
                                 probe_budget=24000)  # `l2advisor probe`'s defaults
    runs = plan_probes(settings, spec.momentum)
    start = time.perf_counter()
    done = Parallel(n_jobs=jobs)(delayed(probe_job)(run, settings) for run in runs)
    seconds = time.perf_counter() - start
    header = make_header("probe", {**spec.settings(), "probe": settings.to_dict()}, "cpu")
    with open_results(results_path(out_dir, PROBES_FILE), header, force=True) as writer:
        for records in done:
            for record in records:
                writer.write(record)
    _, curves = load_probe_curves(out_dir)
    steps = sum(int(records[-1]["steps"]) for records in done if records[-1]["type"] == "end")
    return fit_relations(curves, tolerance=TOLERANCE), seconds, steps


def arrival(records: list[dict[str, Any]]) -> tuple[float, float]:
    """(raw peak of the validation metric, first step within TOLERANCE of the smoothed peak)."""
    from l2advisor.science.curves import Curve, analyze_curve

    col = {k: np.array([np.nan if r[k] is None else r[k] for r in records], float)
           for k in ("step", "tau", "val_metric", "train_acc", "train_loss")}
    curve = Curve(lam=0.0, lr=1.0, seed=0, steps=col["step"], tau=col["tau"], val_metric=col["val_metric"],
                  train_acc=col["train_acc"], train_loss=col["train_loss"])
    return float(np.nanmax(col["val_metric"])), analyze_curve(curve, tolerance=TOLERANCE).t_star


def _stats(values: list[float]) -> tuple[float, float, float, float]:
    sd = statistics.stdev(values) if len(values) > 1 else math.nan
    return statistics.fmean(values), sd, min(values), max(values)


def table(results: list[dict[str, Any]], grid: list[float]) -> list[str]:
    """Rows per schedule: the AutoL2 arms, the best constant lam (chosen by mean peak), lam=0."""
    lines = []
    header = (f"{'schedule':<9} {'arm':<14} {'lam':>18} {'peak val acc':>16} {'range':>15} "
              f"{'steps to peak-0.5pt':>20} {'decays':>6}")
    for schedule in dict.fromkeys(r["schedule"] for r in results):
        rows = [r for r in results if r["schedule"] == schedule]
        by_arm: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_arm.setdefault(r["arm"], []).append(r)
        means = {lam: statistics.fmean(r["peak"] for r in by_arm[f"lam={lam:g}"]) for lam in grid}
        best = max(means, key=means.get)
        lines += ["", f"{schedule} lr: grid mean peaks " + ", ".join(f"{lam:g}: {m:.4f}" for lam, m in means.items()),
                  header]
        for name, label in (("autol2-probes", "autol2-probes"), ("autol2-paper", "autol2-paper"),
                            (f"lam={best:g}", "best-constant"), ("lam=0", "lam=0")):
            runs = by_arm[name]
            mean, sd, lo, hi = _stats([r["peak"] for r in runs])
            t_mean, t_sd, _, _ = _stats([r["t_star"] for r in runs])
            lam0 = runs[0]["lam"]
            if runs[0]["events"]:
                finals = sorted({r["events"][-1]["new_lam"] for r in runs if r["events"]} |
                                {lam0 for r in runs if not r["events"]})
                lam = f"{lam0:.3g}->{'/'.join(f'{f:.2g}' for f in finals)}"
            else:
                lam = f"{lam0:.3g}"
            decays = statistics.fmean(len(r["events"]) for r in runs)
            lines.append(f"{schedule:<9} {label:<14} {lam:>18} {mean:>9.4f} ± {sd:.4f} {lo:>7.4f}-{hi:.4f} "
                         f"{t_mean:>12.0f} ± {t_sd:>5.0f} {decays:>6.1f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke-sized run (minutes)")
    parser.add_argument("--budget", type=int, help="steps per run [6000; quick 400]")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (one thread each)")
    parser.add_argument("--out", type=Path, help="directory for the probe results and bench.json")
    args = parser.parse_args()
    steps = args.budget or (400 if args.quick else 6000)
    seeds = (0, 1) if args.quick else (0, 1, 2)
    grid = [0.005, 0.02, 0.08] if args.quick else [0.0025, 0.005, 0.01, 0.02, 0.04]
    eval_every = max(1, steps // (25 if args.quick else 50))  # an evaluation costs ~10 training steps
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="autol2_bench_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    from l2advisor.runs.store import write_json
    from l2advisor.science.advise import advise, autol2_config

    fit, probe_seconds, probe_steps = run_probes(out_dir, args.quick, args.jobs)
    cfg = autol2_config(fit, steps)
    advice = advise(fit, steps)
    print(f"Probes: {probe_steps} steps, {probe_seconds:.0f} s; fit verdict '{fit.verdict}', c = {fit.c:.3g}, "
          f"lam_c = {fit.lam_c:.3g}; advised constant lam for {steps} steps = {advice.weight_decay:.3g}")
    print(f"AutoL2 from probes: lam0 = {cfg.lam0:.3g}, refractory_tau = {cfg.refractory_tau:.3g}, "
          f"lam_min = {cfg.lam_min:.3g}, decay = {cfg.decay:g}")
    print("Fit: " + "; ".join(fit.reasons[:3]))
    sys.stdout.flush()

    arms = [{"name": "autol2-probes", "kind": "autol2", "lam": cfg.lam0,
             "autol2": {"decay": cfg.decay, "refractory_tau": cfg.refractory_tau, "lam_min": cfg.lam_min}},
            {"name": "autol2-paper", "kind": "paper", "lam": PAPER_LAM0},
            *({"name": f"lam={lam:g}", "kind": "constant", "lam": lam} for lam in [*grid, 0.0])]
    todo = [(arm, schedule, seed) for schedule in ("constant", "cosine") for arm in arms for seed in seeds]
    print(f"{len(todo)} runs of {steps} steps on {args.jobs} workers ...")
    sys.stdout.flush()
    start = time.perf_counter()
    results = []
    jobs = Parallel(n_jobs=args.jobs, return_as="generator")(
        delayed(arm_job)(a, s, seed, steps, eval_every) for a, s, seed in todo)
    for r in jobs:  # in submission order, as they finish
        r["peak"], r["t_star"] = arrival(r["records"])
        results.append(r)
        print(f"  {len(results)}/{len(todo)} {r['schedule']} {r['arm']} seed {r['seed']}: peak {r['peak']:.4f}, "
              f"{len(r['events'])} decays, {r['seconds']:.0f} s (elapsed {time.perf_counter() - start:.0f} s)",
              flush=True)
    bad = [f"{r['arm']}/{r['schedule']}/seed={r['seed']}: {r['status']}" for r in results
           if r["status"] != "finished"]
    print(f"Arms: {time.perf_counter() - start:.0f} s" + (f"; not finished: {', '.join(bad)}" if bad else ""))
    print("\n".join(table(results, grid)))
    print(f"\nBudget {steps} steps, seeds {list(seeds)}, evaluation every {eval_every} steps on 1000 validation "
          f"images; total {time.perf_counter() - t0:.0f} s. Peak = max raw validation accuracy over the run; "
          "steps to peak-0.5pt = first step the 5-point smoothed curve is within 0.005 of its own smoothed peak.")
    write_json(out_dir / "bench.json", {"budget_steps": steps, "seeds": list(seeds), "grid": grid,
                                        "autol2_config": cfg.to_dict(), "advised_lam": advice.weight_decay,
                                        "runs": [{k: v for k, v in r.items() if k != "records"} for r in results]})
    print(f"Raw results: {out_dir / 'bench.json'}; probes: {out_dir / 'probes.jsonl'}")


if __name__ == "__main__":
    # Run as the importable module `autol2_vs_constant`, so joblib's workers import these
    # functions by name (and keep their per-process task cache) instead of unpickling copies.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import autol2_vs_constant

    autol2_vs_constant.main()
