"""A stacked probe step, two ways side by side: the CNNs' packed convolutions on NCHW inputs
against channels-last memory, a custom module (the suite's mixer) under vmap against folded,
a residual MLP with batch norms (examples/resmlp_digits.py) and a small ResNet (examples/resnet_digits.py,
whose batch norms beside convolutions fold only here) under vmap against folded,
the generic vmap path by torch.func (vmap of functional_call) against its own (vmapped.py: tensors
swapped into the modules, functorch's level primitives) on the suite's negative control, a transformer
of torch's encoder layers (examples/transformer_digits.py) and a vision transformer with a class
token, positions and a convolution (examples/vit_digits.py) and a causal transformer in nanoGPT's style
(examples/gpt_digits.py: positions looked up by `torch.arange`, mask buffers) under vmap against folded, and the
MLPs' packed linears batch first (K, B, F: h @ W^T) against features first (K, F, B:
W @ h, whose weight gradients come in the weights' layout, and whose batch norms need no copy), and
the MLPs' gradients (batch norms too) through autograd against written out by hand (mlp_grad.py).

For each model file, K replicas of it are stacked each way (`PackedStacked` with and without
channels-last or features-first linears; `VmapStacked` against `FoldedStacked`), each replica with
its own batch (K seeds in one stack, as budget-sized probes run), and timed side by side in
alternating rounds, one torch thread:

- a training step: forward, per-replica cross-entropy, gradients, and the stacked optimizer's
  update (the task's optimizer, lam 1e-4: the update's speed depends on the gradients' layout);
- an evaluation pass over 512 validation images in the chunks `train_batched` uses.

Printed per model and K: milliseconds per step and per evaluation pass each way (median of the
rounds), and the speed-up; and, for scale, one unstacked step of the user's model.

    python benchmarks/stacked_step.py            # 5 rounds, every row, K = 2, 4, 6
    python benchmarks/stacked_step.py --quick    # 2 rounds, 5 rows, K = 2, 6
    python benchmarks/stacked_step.py --models "mlp_bn_mnist14 (gradients)"   # chosen rows, 5 rounds
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from l2advisor.modelfile.spec import load_spec  # noqa: E402
from l2advisor.modelfile.task import build_task  # noqa: E402
from l2advisor.training.batches import eval_chunks  # noqa: E402
from l2advisor.training.mlp_grad import MlpGrad  # noqa: E402
from l2advisor.training.replicas import (  # noqa: E402
    FoldedStacked,
    PackedStacked,
    Stacked,
    VmapStacked,
    _has_tied_tensors,
)
from l2advisor.training.stacked_optim import StackedOptimizer  # noqa: E402
from l2advisor.training.train import TrainConfig, build_seeded_model, make_optimizer  # noqa: E402
from l2advisor.training.vmapped import _torch_func_forward  # noqa: E402

SUITE = ROOT / "benchmarks" / "suite"
LAYOUTS: dict[str, Callable[[list], Stacked]] = {  # before, after
    "NCHW": lambda models: PackedStacked(models, channels_last=False),
    "channels-last": lambda models: PackedStacked(models, channels_last=True)}
FORMS: dict[str, Callable[[list], Stacked]] = {"vmap": VmapStacked, "folded": FoldedStacked}
CONV_NORMS: dict[str, Callable[[list], Stacked]] = {  # batch norms beside convolutions: vmap is the default
    "vmap": VmapStacked, "folded": lambda models: FoldedStacked(models, batch_norms_beside_convolutions=True)}


class TorchFuncVmap(VmapStacked):
    """The generic path as it was: torch.func.vmap over functional_call."""

    def _vmapped(self, per_replica: bool) -> Callable[..., torch.Tensor]:
        return _torch_func_forward(self.base, per_replica, _has_tied_tensors(self.base))


VMAPS: dict[str, Callable[[list], Stacked]] = {"torch.func vmap": TorchFuncVmap, "level vmap": VmapStacked}
LINEARS: dict[str, Callable[[list], Stacked]] = {
    "batch-first": lambda models: PackedStacked(models, features_first=False),
    "features-first": lambda models: PackedStacked(models, features_first=True)}
GRADIENTS: dict[str, Callable[[list], Stacked]] = {  # the same packed stack; "by hand": mlp_grad.py
    "autograd": PackedStacked, "by hand": PackedStacked}
MODELS = {"bundled default (28x28)": (ROOT / "examples" / "mnist_cnn.py", LAYOUTS),
          "cnn_plain_mnist14": (SUITE / "cnn_plain_mnist14.py", LAYOUTS),
          "mixer_adamw_digits": (SUITE / "mixer_adamw_digits.py", FORMS),
          "mlp_tiny_data": (SUITE / "mlp_tiny_data.py", LINEARS),
          "cnn_bn_digits": (SUITE / "cnn_bn_digits.py", LAYOUTS),
          "mlp_bn_mnist14": (SUITE / "mlp_bn_mnist14.py", LINEARS),
          "mlp_momentum_digits": (SUITE / "mlp_momentum_digits.py", LINEARS),
          "null_weightnorm": (SUITE / "null_weightnorm.py", VMAPS),
          "mlp_tiny_data (gradients)": (SUITE / "mlp_tiny_data.py", GRADIENTS),
          "mlp_momentum_digits (gradients)": (SUITE / "mlp_momentum_digits.py", GRADIENTS),
          "mlp_bn_mnist14 (gradients)": (SUITE / "mlp_bn_mnist14.py", GRADIENTS),
          "transformer_digits": (ROOT / "examples" / "transformer_digits.py", FORMS),
          "vit_digits": (ROOT / "examples" / "vit_digits.py", FORMS),
          "gpt_digits": (ROOT / "examples" / "gpt_digits.py", FORMS),
          "bert_digits": (ROOT / "examples" / "bert_digits.py", FORMS),
          "resmlp_digits": (ROOT / "examples" / "resmlp_digits.py", FORMS),
          "resnet_digits": (ROOT / "examples" / "resnet_digits.py", CONV_NORMS)}
QUICK = ("cnn_plain_mnist14", "mixer_adamw_digits", "mlp_tiny_data", "null_weightnorm", "mlp_tiny_data (gradients)")
VAL_IMAGES = 512


def ms_per_call(fn: Callable[[], object], calls: int) -> float:
    fn()  # warm-up: kernels chosen, memory allocated
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e3


def timers(task, k: int, make: Callable[[list], Stacked],
           by_hand: bool = False) -> tuple[Callable[[], object], Callable[[], object]]:
    """(training step, evaluation pass) of K stacked replicas, each on its own batch; `by_hand`:
    the step's gradients from mlp_grad.py instead of autograd."""
    device = torch.device("cpu")
    models = [build_seeded_model(task, seed, device) for seed in range(k)]
    stacked = make(models)
    mlp = MlpGrad.of(models[0], stacked.params) if by_hand else None
    if by_hand and mlp is None:
        raise SystemExit(f"{task.spec.path.name} is not an MLP whose gradients mlp_grad.py writes out")
    size = task.spec.batch_size
    inputs = torch.stack([torch.stack([task.train[(r * size + i) % len(task.train)][0] for i in range(size)])
                          for r in range(k)])  # (K, B, ...)
    targets = torch.stack([torch.stack([torch.as_tensor(task.train[(r * size + i) % len(task.train)][1])
                                        for i in range(size)]) for r in range(k)])  # (K, B)
    params = list(stacked.params.values())
    config = TrainConfig(lr=task.spec.lr, batch_size=size, max_steps=1, eval_every=1, seed=0,
                         optimizer=task.spec.optimizer, momentum=task.spec.momentum)
    optimizer = StackedOptimizer(stacked.params, [1e-4] * k, config)
    val = eval_chunks(torch.utils.data.Subset(task.val, range(min(VAL_IMAGES, len(task.val)))), device,
                      chunk=max(128, 1024 // k))

    def step() -> None:
        if mlp is not None:
            optimizer.step(stacked.params, mlp(stacked.params, stacked.buffers, inputs, targets, True)[2])
            return
        outputs = stacked(inputs, True, per_replica=True)  # (K, B, classes)
        loss = F.cross_entropy(outputs.transpose(1, 2), targets, reduction="none").mean(1).sum()
        optimizer.step(stacked.params, torch.autograd.grad(loss, params, allow_unused=True))  # as batched.py

    @torch.no_grad()
    def evaluate() -> None:
        for x, _ in val:
            stacked(x, False)
    return step, evaluate


def single_step(task) -> Callable[[], object]:
    model = build_seeded_model(task, 0, torch.device("cpu"))
    size = task.spec.batch_size
    x = torch.stack([task.train[i][0] for i in range(size)])
    y = torch.stack([torch.as_tensor(task.train[i][1]) for i in range(size)])
    config = TrainConfig(lr=task.spec.lr, batch_size=size, max_steps=1, eval_every=1, seed=0,
                         optimizer=task.spec.optimizer, momentum=task.spec.momentum)
    optimizer = make_optimizer(model, config, 1e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 rounds, 5 rows, K = 2 and 6")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", default=None, help=f"comma-separated rows, from: {', '.join(MODELS)}")
    args = parser.parse_args()
    unknown = [n for n in (args.models or "").split(",") if n and n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}")
    torch.set_num_threads(1)
    rounds, ks = (2, (2, 6)) if args.quick else (args.rounds, (2, 4, 6))
    names = args.models.split(",") if args.models else QUICK if args.quick else list(MODELS)
    models = {name: MODELS[name] for name in names}
    print(f"torch {torch.__version__}, 1 thread, load average at the start {os.getloadavg()[0]:.1f}, "
          f"{rounds} rounds (medians)")
    print("| model | before -> after | K | one model's step (ms) | step before (ms) | step after (ms) | speed-up | "
          f"eval {VAL_IMAGES} before (ms) | eval after (ms) | speed-up |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    for name, (path, ways) in models.items():
        task = build_task(load_spec(path, {}))
        one = statistics.median(ms_per_call(single_step(task), 50) for _ in range(rounds))
        before, after = ways
        for k in ks:
            fns = {way: timers(task, k, make, by_hand=way == "by hand") for way, make in ways.items()}
            step: dict[str, list[float]] = {way: [] for way in ways}
            ev: dict[str, list[float]] = {way: [] for way in ways}
            for r in range(rounds):  # alternate the order, so drift in load hits both alike
                for way in (list(ways) if r % 2 == 0 else list(ways)[::-1]):
                    step[way].append(ms_per_call(fns[way][0], 50))
                    ev[way].append(ms_per_call(fns[way][1], 3))
            s = {way: statistics.median(v) for way, v in step.items()}
            e = {way: statistics.median(v) for way, v in ev.items()}
            print(f"| {name} | {before} -> {after} | {k} | {one:.2f} | {s[before]:.2f} | {s[after]:.2f} | "
                  f"{s[before] / s[after]:.2f}x | {e[before]:.1f} | {e[after]:.1f} | {e[before] / e[after]:.2f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
