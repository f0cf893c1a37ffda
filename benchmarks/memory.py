"""Memory: peak resident memory (ru_maxrss) of a default probe and of a K = 8 batched probe.

Each case runs in a fresh Python process (so peaks do not mix) that builds the task, trains,
and reports its own `resource.getrusage(RUSAGE_SELF).ru_maxrss`. The baseline process only
imports torch and l2advisor and builds the task; the difference is what training adds.

    python benchmarks/memory.py            # full: 300-step probes, both models
    python benchmarks/memory.py --quick    # 60-step probes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from model_files import DEFAULT_CNN, write_mlp

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent('''
    import json, resource, sys
    import torch
    from l2advisor.training.batched import Replica, train_batched
    from l2advisor.modelfile.spec import load_spec
    from l2advisor.modelfile.task import build_task
    from l2advisor.training.train import TrainConfig, train
    path, case, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    task = build_task(load_spec(path))
    config = TrainConfig(lr=task.spec.lr, batch_size=task.spec.batch_size, max_steps=steps,
                         eval_every=max(1, steps // 100), seed=0)
    if case == "probe":
        train(task, config, 0.01)
    elif case == "batched":
        train_batched(task, config, [Replica(0.01 * 2.0 ** -i, steps, config.eval_every) for i in range(8)])
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
''')


def peak(path: Path, case: str, steps: int) -> float:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), case, str(steps)], capture_output=True,
                          text=True, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["maxrss_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter probes, the default model only")
    args = parser.parse_args()
    steps = 60 if args.quick else 300
    models = {"default CNN (examples/mnist_cnn.py)": DEFAULT_CNN}
    if not args.quick:
        models["MLP 784-256-256-10"] = write_mlp(Path(tempfile.mkdtemp()), hidden=256, depth=2)
    print(f"peak resident memory (ru_maxrss), {steps}-step probes, one process per case")
    for name, path in models.items():
        base, one, eight = (peak(path, case, steps) for case in ("baseline", "probe", "batched"))
        print(f"  {name}: baseline (imports + task) {base:.0f} MB; default probe {one:.0f} MB "
              f"(+{one - base:.0f}); K=8 batched probe {eight:.0f} MB (+{eight - base:.0f})")


if __name__ == "__main__":
    main()
