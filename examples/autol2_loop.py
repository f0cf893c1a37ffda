"""AutoL2 in your own PyTorch training loop (no l2advisor trainer): a small CNN on MNIST.

    python examples/autol2_loop.py            # constant learning rate, 15-30 s on a CPU
    python examples/autol2_loop.py --cosine   # the same under a cosine learning-rate schedule

AutoL2 starts with a large weight decay and halves it whenever training stalls. It
needs three lines in a loop: build it on the optimizer, call `sched.step(loss, accuracy)`
after each `optimizer.step()` (and before any learning-rate scheduler steps: it reads the lr
of the step just taken), and read `sched.lam` / `sched.events` when you want to know.
Offline: the 1000 training images ship with l2advisor.
"""

import argparse
import time

import torch
from torch import nn

from l2advisor import AutoL2
from l2advisor.datasets import load_mnist_subset, load_mnist_subset_test
from l2advisor.zoo import small_cnn


@torch.no_grad()
def accuracy(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    correct = (model(inputs).argmax(1) == labels).float().mean().item()
    model.train()
    return correct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--cosine", action="store_true", help="cosine learning-rate schedule")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # a model this small runs fastest on one thread

    train, val = load_mnist_subset(n_train=1000, n_val=1000, seed=0)
    x_train, y_train = train.tensors
    x_val, y_val = val.tensors
    model = small_cnn(channels=(8, 16), batch_norm=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    # lam0 and refractory_tau as `l2advisor recommend RUN_DIR --autol2` would fill them from
    # probes of this model (lam0: the largest lam in the plateau, at most lr*lam = 0.001;
    # refractory: c/4 in tau).
    # To leave biases and norm scales undecayed, build the optimizer on
    # AutoL2.split_decay_groups(model) and pass param_groups="exclude_1d".
    sched = AutoL2(optimizer, lam0=0.001 / args.lr, refractory_tau=1.0)
    lr_sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.steps) if args.cosine else None

    batch, seen_events, best = 64, 0, (0.0, 0)
    order = torch.randperm(len(y_train))
    start = time.perf_counter()
    print(f"{'step':>6} {'lr':>8} {'lam':>8} {'tau':>7} {'train loss':>10} {'val acc':>8}")
    for step in range(1, args.steps + 1):
        i = (step - 1) % (len(y_train) // batch)  # 15 full batches per epoch
        if i == 0:
            order = torch.randperm(len(y_train))
        index = order[i * batch:(i + 1) * batch]
        inputs, labels = x_train[index], y_train[index]
        outputs = model(inputs)
        loss = nn.functional.cross_entropy(outputs, labels)  # the data loss, no L2 term
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        train_acc = (outputs.argmax(1) == labels).float().mean().item()
        sched.step(loss.item(), train_acc)  # after optimizer.step(), before lr_sched.step()
        if lr_sched is not None:
            lr_sched.step()
        for event in sched.events[seen_events:]:
            print(f"  AutoL2 decay at step {event.step} (tau {event.tau:.3f}, {event.signal} stalled): "
                  f"lam {event.old_lam:.3g} -> {event.new_lam:.3g}")
        seen_events = len(sched.events)
        if step % 200 == 0 or step == args.steps:
            val_acc = accuracy(model, x_val, y_val)
            best = max(best, (val_acc, step))
            lr = optimizer.param_groups[0]["lr"]
            print(f"{step:>6} {lr:>8.4f} {sched.lam:>8.2g} {sched.tau:>7.3f} {loss.item():>10.4f} {val_acc:>8.4f}")

    test = load_mnist_subset_test()
    print(f"best validation accuracy {best[0]:.4f} at step {best[1]}; final lam {sched.lam:.3g} after "
          f"{len(sched.events)} decays; test accuracy at the end {accuracy(model, *test.tensors):.4f}; "
          f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
