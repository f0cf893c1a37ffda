"""Build a model file's data once and check it against its model before any training.

Every contract violation found here (wrong return types, empty or ragged datasets, items
that are not (input, target) pairs, labels outside the model's outputs, outputs the loss
rejects) becomes one `InputError` sentence naming the file, before a probe starts.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from l2advisor.errors import InputError
from l2advisor.modelfile.fingerprint import model_shapes
from l2advisor.modelfile.lightning import module_optimizer
from l2advisor.modelfile.spec import TaskSpec, call_user, describe_user_error
from l2advisor.modelfile.tensors import as_tensors


@dataclass(frozen=True)
class Task:
    """A spec with its datasets built (once per process) and checked."""

    spec: TaskSpec
    train: Dataset
    val: Dataset
    n_outputs: int | None  # classes, when the model outputs (batch, classes) logits
    shapes: tuple[str, ...] = ()  # the built model's `name:shape:dtype`s and layers (fingerprint.model_shapes: the API's fingerprint)
    module_optimizer: Mapping[str, Any] = field(default_factory=dict)  # a LightningModule's (API): lightning.py

    @property
    def train_size(self) -> int:
        return len(self.train)  # type: ignore[arg-type]


def build_task(spec: TaskSpec, read_module_optimizer: bool = False) -> Task:
    """Call `build_data()` and `build_model()` once, and check that they fit together; with
    `read_module_optimizer`, the task keeps what the built model's `configure_optimizers()` says
    when it is a LightningModule (the API reads it from the one build here: no build of its own)."""
    where = spec.path.name
    data = call_user(spec, spec.build_data, "build_data()")
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise InputError(f"{where}: build_data() must return (train_dataset, val_dataset), "
                         f"got {_kind(data)}.")
    train, val = data
    for name, dataset in (("training", train), ("validation", val)):
        check_dataset(dataset, name, where)
    model = call_user(spec, spec.build_model, "build_model()")
    if not isinstance(model, nn.Module):
        raise InputError(f"{where}: build_model() must return a torch.nn.Module, got {_kind(model)}.")
    if not any(p.requires_grad for p in model.parameters()):
        raise InputError(f"{where}: build_model() returned a model without trainable parameters: there is "
                         f"nothing to train, and nothing for weight decay to act on.")
    with _broadcast_as_error():  # one for every check: see there
        n_outputs = check_model_fits(spec, model, train, "training")
        check_model_fits(spec, model, val, "validation")
    own = module_optimizer(model, spec.path) if read_module_optimizer else {}
    return Task(spec=spec, train=train, val=val, n_outputs=n_outputs, shapes=model_shapes(model), module_optimizer=own)


def build_test_set(spec: TaskSpec) -> Dataset | None:
    """The held-out split of `build_test()`, checked; None when the file has none."""
    if spec.build_test is None:
        return None
    test = call_user(spec, spec.build_test, "build_test()")
    check_dataset(test, "test", spec.path.name)
    return test


def check_dataset(dataset: Any, name: str, where: str) -> None:
    """A non-empty map-style dataset whose items are (input tensor, target) pairs."""
    _refuse_array_pair(dataset, name, where)
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        loader = hasattr(dataset, "dataset") and hasattr(dataset, "batch_size")  # a DataLoader
        hint = (" Return its dataset (`loader.dataset`) and set `batch_size` in the file: l2advisor draws the "
                "batches itself, one order per seed." if loader else "")
        raise InputError(f"{where}: the {name} dataset must be a map-style dataset "
                         f"(with __len__ and __getitem__), got {_kind(dataset)}.{hint}")
    try:
        size = len(dataset)
        item = dataset[0] if size else None
    except Exception as err:
        raise InputError(f"{where}: reading the {name} dataset raised {describe_user_error(err)}.") from None
    if size == 0:
        raise InputError(f"{where}: the {name} dataset is empty.")
    try:  # a __len__ larger than the items would otherwise fail in the middle of training
        dataset[size - 1]
    except Exception as err:
        raise InputError(f"{where}: the {name} dataset says it has {size} items but reading item {size - 1} "
                         f"raised {describe_user_error(err)}; does __len__ match the items?") from None
    if not (isinstance(item, (tuple, list)) and len(item) == 2):
        raise InputError(f"{where}: each {name} item must be an (input, target) pair, got {_kind(item)}.")
    if not isinstance(item[0], torch.Tensor):
        hint = " (torch.as_tensor(x, dtype=torch.float32) in __getitem__)" if hasattr(item[0], "shape") else ""
        raise InputError(f"{where}: {name} inputs must be tensors, got {_kind(item[0])}{hint}.")


def _refuse_array_pair(dataset: Any, name: str, where: str) -> None:
    """(inputs, targets) as two arrays or tensors is not a dataset of pairs: its items would be the
    two arrays (it was refused as "each item must be an (input, target) pair, got ndarray")."""
    if not (isinstance(dataset, (tuple, list)) and len(dataset) == 2
            and all(hasattr(part, "shape") and not isinstance(part, (tuple, list)) for part in dataset)):
        return
    kinds = " and ".join(type(part).__name__ for part in dataset)
    raise InputError(f"{where}: the {name} split is a pair ({kinds}), not a dataset of (input, target) pairs; "
                     f"wrap it as TensorDataset(torch.as_tensor(inputs, dtype=torch.float32), "
                     f"torch.as_tensor(targets)) from torch.utils.data.")


def check_model_fits(spec: TaskSpec, model: nn.Module, dataset: Dataset, name: str) -> int | None:
    """Run a forward pass and the loss on a few items; return the number of classes if logits."""
    where = spec.path.name
    count = min(4, len(dataset))  # type: ignore[arg-type]
    try:
        items = [dataset[i] for i in range(count)]
        inputs = torch.stack([x for x, _ in items])
        targets = torch.stack([torch.as_tensor(y) for _, y in items])
    except Exception as err:
        raise InputError(f"{where}: the {name} items cannot be batched together "
                         f"({describe_user_error(err)}); do they all have the same shape?") from None
    model.eval()
    try:
        with torch.no_grad():
            outputs = model(inputs)
    except Exception as err:
        raise InputError(f"{where}: the model cannot take a batch of {name} inputs of shape "
                         f"{tuple(inputs.shape)}{_check_batch(count)}: "
                         f"{describe_user_error(err, spec.path)}.") from None
    model.train()
    if not isinstance(outputs, torch.Tensor):
        hint = {"dict": " (return e.g. out[\"logits\"] from forward)", "tuple": " (return its first tensor, e.g. "
                "out[0], from forward)"}.get(type(outputs).__name__, " (return e.g. out.logits from forward)"
                                                                     if hasattr(outputs, "logits") else "")
        raise InputError(f"{where}: the model must return one tensor of outputs, got {_kind(outputs)}{hint}.")
    n_outputs = outputs.shape[1] if outputs.dim() == 2 else None
    if spec.loss is None:
        _check_classification(where, name, outputs, targets, dataset)
    elif spec.metric == "accuracy" and (outputs.dim() != 2 or targets.dtype.is_floating_point or targets.dim() != 1):
        raise InputError(f"{where}: the default metric, accuracy, needs (batch, classes) outputs and integer "
                         f"labels, got outputs {tuple(outputs.shape)} and {name} targets {targets.dtype} "
                         f"{tuple(targets.shape)}{_check_batch(count)}; with a `loss` of your own set `metric` too "
                         "(a function of "
                         f"(outputs, targets), higher is better: the negative of an error).")
    try:
        loss = (spec.loss or nn.functional.cross_entropy)(outputs, targets)
    except Exception as err:
        if isinstance(err, UserWarning) and BROADCAST_WARNING in str(err):  # raised by _broadcast_as_error
            raise InputError(f"{where}: the loss broadcasts the model's outputs {tuple(outputs.shape)} against "
                             f"the {name} targets {tuple(targets.shape)}{_check_batch(count)}, so it compares every "
                             "output with every "
                             "target (torch warns: 'Using a target size ... different to the input size'); make "
                             f"the shapes match in `loss`{_squeeze_hint(outputs.shape, targets.shape)}.") from None
        raise InputError(f"{where}: on a check batch of the first {count} {name} items, the model's outputs "
                         f"{tuple(outputs.shape)} "
                         f"do not fit the loss with their targets {tuple(targets.shape)}: "
                         f"{describe_user_error(err, spec.path)}{_batch_hint(outputs.shape, count)}.") from None
    if not (isinstance(loss, torch.Tensor) and loss.numel() == 1):
        shape = f" of shape {tuple(loss.shape)} (reduction='none'? take its .mean())" if isinstance(loss, torch.Tensor) else ""
        raise InputError(f"{where}: the loss must return a scalar tensor, got {_kind(loss)}{shape}.")
    if callable(spec.metric):
        _check_metric(spec, outputs, targets)
    if name == "training":
        _check_trainable(spec, model, inputs, targets)
    return n_outputs


def _squeeze_hint(outputs: torch.Size, targets: torch.Size) -> str:
    """Which squeeze makes the outputs' shape the targets' (a size-1 axis the targets lack), if one does."""
    for dim, size in enumerate(outputs):
        if size == 1 and outputs[:dim] + outputs[dim + 1:] == targets:
            return f", e.g. with outputs.squeeze({dim})"
    for dim, size in enumerate(targets):
        if size == 1 and targets[:dim] + targets[dim + 1:] == outputs:
            return f", e.g. with targets.squeeze({dim})"
    return ""


def _batch_hint(outputs: torch.Size, count: int) -> str:
    """Where the outputs' first size is not the batch's: say so (a recurrent layer without
    batch_first=True reads the batch as time)."""
    if len(outputs) and outputs[0] != count:
        return (f"; the outputs' first size, {outputs[0]}, should be the batch's, {count} (an nn.LSTM, nn.GRU or "
                "nn.RNN without batch_first=True reads (time, batch, features))")
    return ""


BROADCAST_WARNING = "different to the input size"  # torch's mse/l1/huber loss on mismatched shapes


@contextmanager
def _broadcast_as_error() -> Iterator[None]:
    """torch's warning for a loss that broadcasts outputs against targets of another shape ((B, 1)
    against (B,): every output compared with every target) raised as an error, so that the check of
    the loss refuses it: the probes trained on the wrong loss, its one warning lost among the
    progress lines. Other warnings meet the user's filters as they are (an "error" filter makes
    them a user error, as before). One context around all the checks: each change of the filters
    resets Python's memory of the warnings shown, and the user's own were repeated for every call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=f".*{BROADCAST_WARNING}", category=UserWarning)
        yield


def _check_trainable(spec: TaskSpec, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> None:
    """The loss must reach a trainable parameter (a frozen network whose only trainable parameter
    is unused failed every probe at step 0 inside torch's backward)."""
    model.eval()
    try:
        with torch.enable_grad():
            loss = (spec.loss or nn.functional.cross_entropy)(model(inputs), targets)
    finally:
        model.train()
    if not loss.requires_grad:
        raise InputError(f"{spec.path.name}: the loss does not depend on any trainable parameter: training "
                         f"would change nothing. Are the parameters the forward uses frozen (requires_grad=False), "
                         f"or the trainable ones unused?")


def _check_metric(spec: TaskSpec, outputs: torch.Tensor, targets: torch.Tensor) -> None:
    """A metric callable returns one number (a float or a one-element tensor) on a batch. A
    metric that raises on these few items is not judged: it may need more than one class (an
    AUROC on data sorted by class); on the whole validation set a real error fails the probes."""
    where = spec.path.name
    try:
        value = spec.metric(outputs, targets)  # type: ignore[operator]
    except Exception:  # noqa: BLE001 - not judged on 4 items, see above
        return
    try:
        float(value)
    except (TypeError, ValueError, RuntimeError):  # RuntimeError: a tensor of more than one element
        raise InputError(f"{where}: the metric must return one number (higher is better), got "
                         f"{_kind(value)}.") from None


def _check_classification(where: str, name: str, outputs: torch.Tensor, targets: torch.Tensor,
                          dataset: Dataset) -> None:
    """Cross-entropy needs (batch, classes) logits and integer labels in [0, classes)."""
    if outputs.dim() != 2:
        raise InputError(f"{where}: with the default cross-entropy loss the model must output "
                         f"(batch, classes) logits, got shape {tuple(outputs.shape)}{_check_batch(len(targets))}.")
    if targets.dtype.is_floating_point or targets.dim() != 1:
        raise InputError(f"{where}: with the default cross-entropy loss the {name} targets must be "
                         f"integer class labels of shape (batch,), got {targets.dtype} of shape "
                         f"{tuple(targets.shape)}{_check_batch(len(targets))}{_target_hint(targets)}.")
    if targets.dtype not in (torch.long, torch.uint8):  # int32: cross-entropy refuses it inside torch
        raise InputError(f"{where}: with the default cross-entropy loss the {name} labels must be int64 "
                         f"(torch.long), got {targets.dtype}; return them as .long().")
    labels = _all_labels(dataset)
    classes = outputs.shape[1]
    if labels is not None and labels.numel() and (labels.min() < 0 or labels.max() >= classes):
        raise InputError(f"{where}: {name} labels range over [{int(labels.min())}, {int(labels.max())}] "
                         f"but the model has {classes} outputs.")


def _check_batch(count: int) -> str:
    """Where a shape comes from: the check batch of a file's first few items, not its batch_size (a
    reviewer looked for where a 4 came from in a file whose batch_size was 64)."""
    return f" (a check batch of the first {count} items)"


def _target_hint(targets: torch.Tensor) -> str:
    """What to change: a (batch, 1) label column squeezed; float targets of a regression need a `loss`
    and a `metric` of the file's own."""
    if not targets.dtype.is_floating_point and targets.dim() == 2 and targets.shape[1] == 1:
        return " (a column of labels: squeeze it, e.g. y.squeeze(1) or y.view(-1))"
    if targets.dtype.is_floating_point:
        return (" (a regression? set `loss` (e.g. torch.nn.functional.mse_loss) and `metric` (higher is better, "
                "e.g. the negative error) in the file)")
    return ""


def _all_labels(dataset: Dataset) -> torch.Tensor | None:
    tensors = as_tensors(dataset)
    if tensors is not None:
        return tensors[1]
    targets = getattr(dataset, "targets", None)  # torchvision datasets keep their labels here
    return torch.as_tensor(targets) if targets is not None else None


def _kind(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__
