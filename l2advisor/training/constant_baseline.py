"""What the best constant prediction scores on the validation set: a model that learned nothing of
its inputs. A probe's header records it (runs.rundir.BASELINE_KEY) for the fit's check that the
probes learned something beyond it (science/learned.py): an untrained model starts below it (a
regression's outputs near 0, not the mean), so a rise from the untrained start alone can be a probe
that only learned the mean, or a classifier that climbed to chance.

Classification (integer labels): always the training set's most frequent class (accuracy: the
share of validation labels that are that class; a metric of the user's: scored on one-hot outputs
for it). Float targets: the training targets' mean, in the targets' shape. None where the labels
cannot be read cheaply (a dataset that is not tensors and holds more than MOST_ITEMS items) or the
user's metric cannot score a constant (it raises, or gives NaN): the check is then left out.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.utils.data import Dataset

from l2advisor.modelfile.task import Task
from l2advisor.modelfile.tensors import as_tensors
from l2advisor.science.learned import Baseline, perfect_score

MOST_ITEMS = 5_000  # a dataset read item by item (transforms run on every item): no larger


def constant_baseline(task: Task) -> Baseline | None:
    """The validation metric of the best constant prediction for `task`, or None (see above)."""
    train, val = _targets(task.train), _targets(task.val)
    if train is None or val is None or len(train) == 0 or len(val) == 0:
        return None
    accuracy = task.spec.metric == "accuracy"
    if _labels(train) and _labels(val):
        classes, counts = torch.unique(train, return_counts=True)
        majority = int(classes[int(torch.argmax(counts))])
        predicts = f"class {majority}, the training set's most frequent"
        if accuracy:
            return Baseline(float((val == majority).double().mean()), predicts, 1.0)
        if task.n_outputs is None or not 0 <= majority < task.n_outputs:
            return None
        outputs = torch.zeros(len(val), task.n_outputs)
        outputs[:, majority] = 1.0  # one-hot logits: every prediction is that class
    elif train.dtype.is_floating_point and val.dtype.is_floating_point and train.shape[1:] == val.shape[1:] \
            and not accuracy:
        predicts = "the training targets' mean"
        outputs = train.double().mean(0).to(val.dtype).expand_as(val).clone()
    else:
        return None
    value = _score(task, outputs, val)
    return None if value is None else Baseline(value, predicts, perfect_score(value, accuracy=False))


def _score(task: Task, outputs: Tensor, targets: Tensor) -> float | None:
    """The user's metric of constant `outputs`; None where it cannot score them (any error of its
    own, or a non-finite value: a macro precision with a class never predicted)."""
    try:
        with torch.no_grad():
            value = float(task.spec.metric(outputs, targets))  # type: ignore[operator]
    except Exception:  # noqa: BLE001 - the user's metric on outputs no model gave: the check is left out
        return None
    return value if math.isfinite(value) else None


def _labels(targets: Tensor) -> bool:
    return not targets.dtype.is_floating_point and not targets.dtype == torch.bool and targets.dim() == 1


def _targets(dataset: Dataset) -> Tensor | None:
    """Every target of `dataset` on the CPU: from its tensors, or read item by item up to MOST_ITEMS."""
    tensors = as_tensors(dataset)
    if tensors is not None:
        return tensors[1].detach().cpu()
    size = len(dataset)  # type: ignore[arg-type]
    if size > MOST_ITEMS:
        return None
    with torch.random.fork_rng(devices=[]):  # an augmenting dataset draws random numbers: not the probes'
        try:
            return torch.stack([torch.as_tensor(dataset[i][1]) for i in range(size)])
        except (TypeError, RuntimeError, IndexError, ValueError):  # targets of uneven shapes: nothing to average
            return None
