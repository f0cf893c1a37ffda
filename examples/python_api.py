"""The Python API in a script (or a notebook cell): probe, recommend, report; then train with the
advice in your own loop (`l2advisor train --advise` does all of it in one command).

    python examples/python_api.py      # offline: the 1000 MNIST images that ship with l2advisor

Same engine and run directory as `l2advisor probe` / `recommend` / `report`: calling it again
resumes, and `l2advisor recommend runs/python_api --budget 4000` reads the same probes.
"""

from torch import nn

import l2advisor
from l2advisor.datasets import load_mnist_subset


def build_model() -> nn.Module:  # a freshly initialised model per call
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


train, val = load_mnist_subset(n_train=1000, n_val=1000, seed=0)
results = l2advisor.probe(build_model, train, val, lr=0.1, budget=4000, out="runs/python_api")
for notice in results.notices:  # what `l2advisor probe` would say on stderr (cost over the cap, failures)
    print("note:", notice)
advice = l2advisor.recommend(results)  # for the budget given to probe; budget=... for another
print(f"weight_decay={advice.weight_decay:.3g} in [{advice.interval[0]:.3g}, {advice.interval[1]:.3g}], "
      f"{advice.verdict}; AutoL2 lam0={advice.autol2.lam0:.3g}")
for caveat in advice.caveats + advice.warnings:
    print("caveat:", caveat)
print(l2advisor.report(results)[-1])  # figures and report.md beside the probes
