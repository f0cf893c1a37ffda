"""What a run directory made from Python objects (the API's `probe(build_model, train, val)`)
records as its model's identity: without a file to hash, the probes must still notice a changed
model or changed data on resume, as a changed model file is noticed.

The fingerprint hashes build_model's source, the names and shapes of a freshly built model's
parameters and buffers, its layers (each module's name, class and settings: an nn.ReLU swapped for
an nn.Tanh has the same shapes) with the source of every module class not defined by torch (an
edited forward), and each dataset's length with a sample of its items (SAMPLE evenly
spaced ones: inputs and targets, their values, dtypes and shapes). A sample, not every item: a
60,000-image set would take a second to hash in full; relabelled or reshuffled data changes the
sampled items with near certainty, an edit to one item among thousands may not.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
from typing import Any

import torch
from torch import nn

SAMPLE = 64  # items hashed per dataset, evenly spaced from the first to the last


ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{6,}")  # a memory address: another on every run


def model_shapes(model: nn.Module) -> tuple[str, ...]:
    """`name:shape:dtype` of every parameter and buffer, in the model's order, then
    `model_layers`."""
    return tuple(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}"
                 for name, tensor in [*model.named_parameters(), *model.named_buffers()]) + model_layers(model)


def model_layers(model: nn.Module) -> tuple[str, ...]:
    """`layer name:class(settings)` of every module, and the source's sha256 of every module class
    defined outside torch (its forward is the model too); memory addresses left out."""
    layers, classes = [], {}
    for name, module in model.named_modules():
        kind = type(module)
        layers.append(ADDRESS.sub("", f"layer {name}:{kind.__module__}.{kind.__qualname__}({module.extra_repr()})"))
        if not kind.__module__.startswith("torch.") and kind not in classes:
            classes[kind] = f"class {kind.__module__}.{kind.__qualname__}:{_source_sha(kind)}"
    return (*layers, *classes.values())


def _source_sha(kind: type) -> str:
    try:
        return hashlib.sha256(inspect.getsource(kind).encode()).hexdigest()[:16]
    except (OSError, TypeError):  # defined where no source is kept (a REPL, stdin, exec'd text)
        return "no source"


def source_text(build_model: Any) -> str:
    """What stands for build_model's code in the fingerprint: its source; for a functools.partial,
    the wrapped function's with the bound arguments; without source (stdin, a REPL), its name
    (the built model's layers still tell models apart). Never a repr with a memory address,
    which would make every run another model."""
    if isinstance(build_model, functools.partial):
        bound = ADDRESS.sub("", f"args={build_model.args!r} keywords={sorted(build_model.keywords.items())!r}")
        return f"partial({source_text(build_model.func)}; {bound})"
    try:
        return inspect.getsource(build_model)
    except (OSError, TypeError):
        name = getattr(build_model, "__qualname__", None) or type(build_model).__qualname__
        return ADDRESS.sub("", str(name))


def python_task_sha256(source: str, shapes: tuple[str, ...], train: Any, val: Any) -> str:
    """sha256 over build_model's `source`, the built model's `shapes` (`model_shapes`), and both datasets."""
    digest = hashlib.sha256(source.encode())
    for shape in shapes:
        digest.update(f"{shape};".encode())
    for dataset in (train, val):
        _add_dataset(digest, dataset)
    return digest.hexdigest()


def _add_dataset(digest: Any, dataset: Any) -> None:
    size = len(dataset)
    digest.update(f"len={size};".encode())
    picks = sorted({round(i * (size - 1) / max(SAMPLE - 1, 1)) for i in range(min(SAMPLE, size))})
    for index in picks:
        for part in dataset[index]:
            value = torch.as_tensor(part).detach().cpu().contiguous()
            digest.update(f"{value.dtype}{tuple(value.shape)}".encode())
            digest.update(value.numpy().tobytes() if value.dtype != torch.bfloat16 else value.float().numpy().tobytes())
