"""Probes of models with dropout: stacked (each replica draws its own masks, training/dropout.py)
against one probe after another, which is how such models were probed before.

Three models a user might write, each with dropout, on scikit-learn's digits (offline): an MLP
as an `nn.Sequential` (the packed form), a Conv1d with GroupNorm in a custom module (folded since
GroupNorm folds; vmap before), and a transformer of torch's encoder layers at their default
dropout 0.1, attention included (folded); the table says which form each took. For each, one
torch thread, alone on the machine:

  cost      `l2advisor probe FILE --budget N --seeds 0,1` as a command (the one on PATH, as the
            suite runs it: benchmarks/harness/cli_runs.py), stacked (the default) and with
            --no-batched, in alternating rounds: wall seconds, medians;
  sameness  the budget's probe plan for seeds 0..S-1 trained in-process both ways; per probe
            (lam, seed: same initial weights and batches, other masks) the peak validation
            accuracy and the last validation loss, stacked minus alone: the mean difference over
            the probes, its standard error and z (|z| above about 3 would say the stacked
            curves differ), and the same of the mean training loss (dropout's own, measured on
            the training batches) against one-by-one runs with and without dropout (the control:
            a stack whose dropout did nothing would look like the latter);
  advice    `l2advisor recommend --json` on the two commands' probes of the last round: the
            weight decay and the verdict.

    python benchmarks/dropout_probes.py            # 3 models, 3 rounds, 6 seeds: ~15 min
    python benchmarks/dropout_probes.py --quick    # MLP and Conv1d, 1 round, 4 seeds: ~1 min
    python benchmarks/dropout_probes.py --models "conv1d + groupnorm"   # one model, 3 rounds, 6 seeds
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness.cli_runs import run_cli  # noqa: E402
from l2advisor.modelfile.spec import load_spec  # noqa: E402
from l2advisor.modelfile.task import build_task  # noqa: E402
from l2advisor.probing.plan import plan_probes  # noqa: E402
from l2advisor.probing.probe import run_probes  # noqa: E402
from l2advisor.probing.settings import probe_settings  # noqa: E402
from l2advisor.training.replicas import stack_replicas  # noqa: E402
from l2advisor.training.train import TrainConfig, build_seeded_model  # noqa: E402

HEAD = '''import torch
from torch import nn
from l2advisor.datasets import load_digits_split
batch_size = 32
def build_data():
    return load_digits_split(n_train=1200, seed=0)
'''
MODELS = {
    "mlp": HEAD + '''lr = 0.1
def build_model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(DROP), nn.Linear(128, 10))
''',
    "conv1d + groupnorm": HEAD + '''lr = 0.05
momentum = 0.9
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.norm, self.drop = nn.Conv1d(8, 32, 3, padding=1), nn.GroupNorm(4, 32), nn.Dropout(DROP)
        self.head = nn.Linear(32 * 8, 10)
    def forward(self, x):
        return self.head(self.drop(torch.relu(self.norm(self.conv(x.view(-1, 8, 8))))).flatten(1))
def build_model():
    return Net()
''',
    "transformer encoder": HEAD + '''lr = 0.002
optimizer = "adamw"
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.pos = nn.Linear(8, 32), nn.Parameter(torch.zeros(1, 8, 32))
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=DROP, batch_first=True)
        self.encoder, self.head = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), nn.Linear(32, 10)
    def forward(self, x):
        return self.head(self.encoder(self.embed(x.view(-1, 8, 8)) + self.pos).mean(1))
def build_model():
    return Net()
''',
}
DROPOUT = {"mlp": 0.3, "conv1d + groupnorm": 0.1, "transformer encoder": 0.1}
QUICK = ("mlp", "conv1d + groupnorm")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write(work: Path, name: str, rate: float) -> Path:
    path = work / f"{name.split()[0]}_{'drop' if rate else 'nodrop'}.py"
    path.write_text(MODELS[name].replace("DROP", repr(rate)))
    return path


def cost_and_advice(model: Path, budget: int, rounds: int, work: Path) -> dict[str, object]:
    walls: dict[str, list[float]] = {"stacked": [], "one by one": []}
    advice = {}
    for r in range(rounds):
        for way, flags in (("stacked", []), ("one by one", ["--no-batched"])):
            out = work / f"{model.stem}_{way.replace(' ', '_')}_{r}"
            _, wall = run_cli(["probe", str(model), "--budget", str(budget), "--seeds", "0,1", "--out", str(out),
                               *flags], work)
            walls[way].append(wall)
            log(f"  round {r} {way}: {wall:.2f} s")
            if r == rounds - 1:
                text, _ = run_cli(["recommend", str(out), "--json"], work)
                made = json.loads(text)
                advice[way] = (made["weight_decay"], made["verdict"])
    return {"walls": {k: statistics.median(v) for k, v in walls.items()}, "advice": advice}


def stacked_form(model: Path) -> str:
    """The form two seeds of the model stack in (replicas.py), as the probes stack them."""
    task = build_task(load_spec(model, {}))
    models = [build_seeded_model(task, seed, torch.device("cpu")) for seed in (0, 1)]
    sample = torch.stack([task.train[i][0] for i in range(8)])
    return stack_replicas(models, sample, per_replica=True).kind


def probe_summaries(model: Path, budget: int, seeds: range, replicas: int) -> dict[str, tuple[float, ...]]:
    """{run id: (peak validation accuracy, last validation loss, mean training loss)} of the
    budget's probe plan (the training loss is dropout's own: measured on the training batches)."""
    spec = load_spec(model, {})
    task = build_task(spec)
    settings, _ = probe_settings(spec.lr, spec.momentum, seeds=tuple(seeds), budget_steps=budget,
                                 n_val=len(task.val), batch_size=spec.batch_size)
    base = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, max_steps=1, eval_every=1,
                       momentum=spec.momentum, optimizer=spec.optimizer)
    records: dict[str, list[dict]] = {}

    def keep(record: dict) -> None:
        if record.get("type") == "eval":
            records.setdefault(record["run"], []).append(record)

    run_probes(task, plan_probes(settings, spec.momentum), base, settings, keep, replicas=replicas)
    return {run: (max(r["val_metric"] for r in rs), rs[-1]["val_loss"],
                  statistics.fmean(r["train_loss"] for r in rs[1:])) for run, rs in records.items()}


def paired(mine: dict[str, tuple[float, ...]], theirs: dict[str, tuple[float, ...]], which: int) -> str:
    diffs = [mine[run][which] - theirs[run][which] for run in theirs]
    mean = statistics.fmean(diffs)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    return f"{mean:+.4f} (se {se:.4f}, z {mean / se if se > 0 else math.nan:+.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two models, 1 round, 4 seeds")
    parser.add_argument("--budget", type=int, default=3200, help="steps the probes are sized for [3200]")
    parser.add_argument("--first-seed", type=int, default=0, help="the sameness seeds start here [0]")
    parser.add_argument("--models", default=None, help=f"comma-separated, from: {', '.join(MODELS)}")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = tuple(args.models.split(",")) if args.models else QUICK if args.quick else tuple(MODELS)
    if unknown := [n for n in names if n not in MODELS]:
        parser.error(f"unknown model(s): {', '.join(unknown)}")
    rounds, count = (1, 4) if args.quick else (3, 6)
    seeds = range(args.first_seed, args.first_seed + count)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for name in names:
            log(f"{name}")
            model = write(work, name, DROPOUT[name])
            measured = cost_and_advice(model, args.budget, rounds, work)
            log("  sameness: stacked, one by one, and one by one without dropout")
            stacked = probe_summaries(model, args.budget, seeds, replicas=6)
            alone = probe_summaries(model, args.budget, seeds, replicas=1)
            plain = probe_summaries(write(work, name, 0.0), args.budget, seeds, replicas=1)
            walls = measured["walls"]
            rows.append((f"{name} ({stacked_form(model)})", walls, measured["advice"], len(alone), paired(stacked, alone, 0),
                         paired(stacked, alone, 1), paired(stacked, alone, 2), paired(stacked, plain, 2)))
    print(f"torch {torch.__version__}, 1 thread, probe --budget {args.budget}, {rounds} round(s), "
          f"sameness over seeds {seeds.start}-{seeds.stop - 1}")
    print("| model | probe s stacked | one by one | ratio | advice stacked | one by one | probes | "
          "peak acc stacked - alone | last val loss | mean train loss | train loss, alone without dropout |")
    print("|---|---:|---:|---:|---|---|---:|---|---|---|---|")
    for name, walls, advice, n, peak, loss, train_loss, control in rows:
        said = {way: f"{lam:.3g}, {verdict}" for way, (lam, verdict) in advice.items()}
        print(f"| {name} | {walls['stacked']:.2f} | {walls['one by one']:.2f} | "
              f"{walls['one by one'] / walls['stacked']:.2f}x | {said['stacked']} | {said['one by one']} | {n} | "
              f"{peak} | {loss} | {train_loss} | {control} |")


if __name__ == "__main__":
    main()
