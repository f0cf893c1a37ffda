"""How much the advice moves with the probe seeds: the bundled default (or any model file)
probed with disjoint seed sets, each set's `recommend` for one budget, and the spread of the
advised lam (max / min; target at most 1.5). Runs the real CLI, as a user would.

    python benchmarks/advice_stability.py --budget 20000              # seeds 0,1 / 3,4 / 6,7
    python benchmarks/advice_stability.py --budget 20000 --quick      # two sets
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "examples" / "mnist_cnn.py"


def run(args: list[str]) -> str:
    done = subprocess.run([sys.executable, "-m", "l2advisor", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"l2advisor {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT)
    parser.add_argument("--budget", type=int, default=20000)
    parser.add_argument("--sets", default="0,1/3,4/6,7", help="probe-seed sets, / between sets (each leaves room for its follow-up seed)")
    parser.add_argument("--work", type=Path, default=Path("runs/advice_stability"))
    parser.add_argument("--no-size", action="store_true", help="default ladder instead of probe --budget")
    parser.add_argument("--quick", action="store_true", help="the first two sets")
    args = parser.parse_args()
    sets = args.sets.split("/")[: 2 if args.quick else None]
    rows = []
    for seeds in sets:
        out = args.work / f"{args.model.stem}-T{args.budget}-seeds{seeds.replace(',', '_')}"
        start = time.perf_counter()
        sizing = [] if args.no_size else ["--budget", str(args.budget)]
        probed = json.loads(run(["probe", str(args.model), "--out", str(out), "--seeds", seeds, *sizing, "--json"]))
        advice = json.loads(run(["recommend", str(out), "--budget", str(args.budget), "--json"]))
        extra = sorted({int(r.rsplit("seed=", 1)[1]) for r in probed.get("follow_up", [])})
        rows.append((seeds + "".join(f" (+{s})" for s in extra), advice, time.perf_counter() - start))
        print(f"seeds {seeds}: weight_decay {advice['weight_decay']:.4g} {advice['verdict']}", file=sys.stderr)
    print("(+N: the follow-up seed the first two asked for, probing/follow_up.py)", file=sys.stderr)
    print("| probe seeds | advised lam | interval | verdict | c | probe + recommend (s) |\n|---|---:|---|---|---:|---:|")
    for seeds, a, secs in rows:
        lo, hi = a["interval"]
        print(f"| {seeds} | {a['weight_decay']:.4g} | [{lo:.3g}, {hi:.3g}] | {a['verdict']} | {a['c']:.3g} | {secs:.0f} |")
    lams = [a["weight_decay"] for _, a, _ in rows]
    print(f"spread of the advised lam (max/min): {max(lams) / min(lams):.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
