"""What the best constant prediction scores: a model that learned nothing of its inputs. A probe's
header records it (runs.rundir.BASELINE_KEY) for the fit's checks (science/learned.py): a
classifier whose training accuracy never beats always answering the most frequent class learned
nothing; probes whose validation metric barely beats the constant may be crushed by their weight
decay (a regression's untrained outputs sit near 0, below the mean, so a rise from the untrained
start alone can be a probe that only learned the mean).

Only where a constant's score is unambiguous:
- the built-in accuracy (integer labels): the validation share of the training set's most frequent
  class, and its training share; `scale` = 1 - that share (the way to a perfect score);
- float targets other than 0/1 labels, scored by the user's metric as predictions in the targets'
  units (a regression): the training targets' mean or median, whichever scores higher, kept only
  where it is a local best of the metric (no better half a robust target sd either side: a metric
  that reads outputs as logits or log-probabilities is not scored so); `scale` = what the metric
  loses one robust target sd off it (R^2: about 1, -MSE: about the variance), a unit-free yardstick
  where no perfect score is known.
A user's metric of class outputs (logits, probabilities or log-probabilities: unknown), 0/1 float
labels (logits or probabilities), labels read item by item past MOST_ITEMS, or a metric that raises
or gives NaN on the constant: None, and the checks are left out.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.utils.data import Dataset

from l2advisor.modelfile.task import Task
from l2advisor.modelfile.tensors import as_tensors
from l2advisor.science.learned import Baseline

MOST_ITEMS = 5_000  # a dataset read item by item (transforms run on every item): no larger
OFFSET_SD = 0.5  # the local-best check: the metric half a (robust) target sd either side of the constant
IQR_PER_SD = 1.349  # a normal distribution's interquartile range in sds


def constant_baseline(task: Task) -> Baseline | None:
    """The validation metric of the best constant prediction for `task`, or None (see above)."""
    train, val = _targets(task.train), _targets(task.val)
    if train is None or val is None or len(train) == 0 or len(val) == 0:
        return None
    if task.spec.metric == "accuracy":
        return _majority(train, val) if _labels(train) and _labels(val) else None
    if train.dtype.is_floating_point and val.dtype.is_floating_point and train.shape[1:] == val.shape[1:] \
            and not _zero_one(train):
        return _mean(task, train, val)
    return None


def class_shares(task: Task) -> tuple[float, int] | None:
    """Under the built-in accuracy: the training set's most frequent class's share and how many
    classes its labels hold; None for any other metric or targets."""
    train = _targets(task.train) if task.spec.metric == "accuracy" else None
    if train is None or len(train) == 0 or not _labels(train):
        return None
    counts = torch.unique(train, return_counts=True)[1]
    return float(counts.max()) / len(train), len(counts)


def _majority(train: Tensor, val: Tensor) -> Baseline:
    classes, counts = torch.unique(train, return_counts=True)
    majority = int(classes[int(torch.argmax(counts))])
    share = float((val == majority).double().mean())
    return Baseline(share, f"class {majority}, the training set's most frequent", 1.0 - share,
                    train_share=float(counts.max()) / len(train))


def _mean(task: Task, train: Tensor, val: Tensor) -> Baseline | None:
    """The training targets' mean or median, whichever the metric scores higher (-MSE: the mean; -MAE
    on outlier-heavy targets: the median), kept where it is a local best of the metric; its scale is
    what the metric loses one robust target sd (the interquartile range / 1.349: outliers inflated an
    MAE target's sd 28-fold) off it."""
    values = train.double()
    spread = (torch.quantile(values, 0.75, dim=0) - torch.quantile(values, 0.25, dim=0)) / IQR_PER_SD
    spread = torch.where(spread > 0, spread, values.std(0))
    if not bool((spread > 0).all()):
        return None
    centers = {"the training targets' mean": values.mean(0), "the training targets' median": values.median(0).values}
    scored = {name: _score(task, _filled(center, val), val) for name, center in centers.items()}
    name = max((n for n in scored if scored[n] is not None), key=lambda n: scored[n], default=None)  # type: ignore[arg-type, return-value]
    if name is None:
        return None
    center = centers[name]
    at = {k: _score(task, _filled(center + k * spread, val), val) for k in (OFFSET_SD, -OFFSET_SD, 1.0, -1.0)}
    best = scored[name]
    if any(v is None for v in at.values()) or max(at[OFFSET_SD], at[-OFFSET_SD]) > best:  # type: ignore[operator]
        return None  # not a local best of the metric: outputs are not predictions in the targets' units
    scale = best - min(at[1.0], at[-1.0])  # type: ignore[operator]
    return Baseline(best, name, scale) if scale > 0 else None  # type: ignore[arg-type]


def _filled(center: Tensor, like: Tensor) -> Tensor:
    """`center` (one target's shape) as a constant output for every row of `like`."""
    return center.to(like.dtype).expand_as(like).clone()


def _score(task: Task, outputs: Tensor, targets: Tensor) -> float | None:
    """The user's metric of constant `outputs`; None where it cannot score them (any error of its
    own, or a non-finite value)."""
    try:
        with torch.no_grad():
            value = float(task.spec.metric(outputs, targets))  # type: ignore[operator]
    except Exception:  # noqa: BLE001 - the user's metric on outputs no model gave: the check is left out
        return None
    return value if math.isfinite(value) else None


def _labels(targets: Tensor) -> bool:
    return not targets.dtype.is_floating_point and not targets.dtype == torch.bool and targets.dim() == 1


def _zero_one(targets: Tensor) -> bool:
    """Float targets that are all 0 or 1: binary labels, whose outputs may be logits or probabilities."""
    return bool(((targets == 0) | (targets == 1)).all())


_READ: list[tuple[Dataset, Tensor | None]] = []  # the last two datasets read item by item, and their targets


def _targets(dataset: Dataset) -> Tensor | None:
    """Every target of `dataset` on the CPU: from its tensors, or read item by item up to MOST_ITEMS,
    once: the constant baseline and the class shares `probe` notes both ask (held, so `is` cannot
    meet a new dataset at a freed one's address)."""
    tensors = as_tensors(dataset)
    if tensors is not None:
        return tensors[1].detach().cpu()
    known = next((targets for seen, targets in _READ if seen is dataset), False)
    if known is not False:
        return known  # type: ignore[return-value]
    targets = _read_items(dataset)
    _READ[:] = [*_READ[-1:], (dataset, targets)]
    return targets


def _read_items(dataset: Dataset) -> Tensor | None:
    size = len(dataset)  # type: ignore[arg-type]
    if size > MOST_ITEMS:
        return None
    with torch.random.fork_rng(devices=[]):  # an augmenting dataset draws random numbers: not the probes'
        try:
            return torch.stack([torch.as_tensor(dataset[i][1]) for i in range(size)])
        except (TypeError, RuntimeError, IndexError, ValueError):  # targets of uneven shapes: nothing to average
            return None
