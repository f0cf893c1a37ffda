"""A model file that provides a Lightning `LightningModule` instead of `build_model()`.

What l2advisor takes from Lightning, and what it does not (it runs its own training loop):

- the model: the one `LightningModule` subclass the file defines, built with no arguments
  (or the file's `build_module()`), whose `forward(x)` returns the outputs the loss takes;
- lr, optimizer type (SGD or AdamW) and momentum: from `configure_optimizers()`, which must
  return one optimizer (alone, in a list, or in a dict with "optimizer"); its weight_decay is
  replaced by each probe's lam; an lr scheduler it returns is ignored (probes run at constant
  lr, which the tau clock needs); flags (`--lr`, ...) override;
- data: the file's `build_data()` if it has one, else the `LightningDataModule` subclass it
  defines (built with no arguments; `prepare_data()`, `setup("fit")`, then the datasets of
  `train_dataloader()` and `val_dataloader()`), else the module's own dataloader methods;
  the batch size is the training loader's unless the file sets `batch_size`;
- the loss: the file's `loss` setting, else cross-entropy on `forward`'s outputs.

Not supported: manual optimization, several optimizers, optimizers other than SGD and AdamW,
Nesterov momentum, hooks and callbacks; each is one `InputError` sentence where it can be
detected. Not used, and said (`TaskSpec.notes`): the module's own `training_step` /
`validation_step` (never called) and an lr scheduler `configure_optimizers()` returns.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from l2advisor.errors import InputError

UNSUPPORTED = "manual optimization, several optimizers, optimizers other than SGD and AdamW"


def lightning_bases() -> list[tuple[type | None, type | None]]:
    """(LightningModule, LightningDataModule) of each Lightning package already imported; none is
    imported here (a file or a caller using Lightning has imported it)."""
    return [(getattr(sys.modules[name], "LightningModule", None), getattr(sys.modules[name], "LightningDataModule", None))
            for name in ("lightning.pytorch", "pytorch_lightning", "lightning") if name in sys.modules]


def is_lightning_module(value: Any) -> bool:
    """`value` is an instance of a LightningModule (of any imported Lightning package)."""
    return any(base is not None and isinstance(value, base) for base, _ in lightning_bases())


def lightning_classes(module: ModuleType) -> tuple[list[type], list[type]]:
    """(LightningModule subclasses, LightningDataModule subclasses) defined in the file itself;
    empty when the file did not import Lightning (checked without importing it)."""
    bases = lightning_bases()
    models, datas = [], []
    for value in vars(module).values():
        if not isinstance(value, type) or value.__module__ != module.__name__:
            continue
        for model_base, data_base in bases:
            if model_base is not None and issubclass(value, model_base) and value not in models:
                models.append(value)
            if data_base is not None and issubclass(value, data_base) and value not in datas:
                datas.append(value)
    return models, datas


def built_module_settings(build_model: Callable[[], Any], path: Path, own_loss: bool = False) -> dict[str, Any]:
    """`module_optimizer` of the model `build_model()` builds (a class, a lambda, a factory:
    whatever it is); {} without building anything where no Lightning package is imported (nothing
    built can be a LightningModule). The global generator is left as it was; a build that fails
    gives {}: building the task meets the same error and says it in one sentence."""
    if not lightning_bases():
        return {}
    import torch

    try:
        with torch.random.fork_rng():  # the caller's generator as it was
            sample = build_model()
    except Exception:  # the user's
        return {}
    return module_optimizer(sample, path, own_loss)


def module_optimizer(model: Any, path: Path, own_loss: bool = False) -> dict[str, Any]:
    """lr, optimizer and momentum from `configure_optimizers()` when `model` is a LightningModule,
    with "notes" on what of it the probes do not run (`own_loss`: a `loss` of the file's own
    replaces cross-entropy); {} for any other model."""
    if not is_lightning_module(model):
        return {}
    _refuse_manual(model, path)
    found = optimizer_settings(model, path)
    return {**found, "notes": _unused(model, found.pop("scheduler", False), own_loss, path)}


def lightning_settings(module: ModuleType, path: Path) -> dict[str, Any] | None:
    """`build_model`, `build_data` and the settings Lightning decides, or None when the file
    defines no LightningModule (or has its own build_model: the plain contract wins)."""
    if callable(getattr(module, "build_model", None)):
        return None
    models, datas = lightning_classes(module)
    build_module = getattr(module, "build_module", None)
    if not models and not callable(build_module):
        return None
    where = path.name
    if not callable(build_module):
        if len(models) > 1:
            names = ", ".join(m.__name__ for m in models)
            raise InputError(f"{where} defines {len(models)} LightningModules ({names}); define "
                             "build_module() to say which one to probe.")
        build_module = models[0]
    sample = _call(build_module, path, "building the LightningModule")
    _refuse_manual(sample, path)
    found = {"build_model": build_module, **optimizer_settings(sample, path)}
    own_loss = getattr(module, "loss", None) is not None
    found["notes"] = _unused(sample, found.pop("scheduler", False), own_loss, path)
    if not callable(getattr(module, "build_data", None)):
        found["build_data"], batch_size = _data_builder(sample, datas, path)
        if batch_size is not None:
            found["batch_size"] = batch_size
    return found


def _refuse_manual(sample: Any, path: Path) -> None:
    """Manual optimization: the module steps its own optimizers in training_step, which the
    probes never call (the API took such a module silently; a model file was refused)."""
    if getattr(sample, "automatic_optimization", True) is False:
        raise InputError(f"{path.name}: manual optimization is not supported; l2advisor trains with its own loop "
                         f"(not supported: {UNSUPPORTED}).")


def _own_steps(sample: Any) -> list[str]:
    """training_step / validation_step that the module's class defines or inherits from a class of
    the user's (a base class's counted: only Lightning's own are left out)."""
    lightning = {base for base, _ in lightning_bases() if base is not None}
    users = [cls for cls in type(sample).__mro__
             if not any(issubclass(base, cls) for base in lightning) and cls is not object]
    return [name for name in ("training_step", "validation_step") if any(name in cls.__dict__ for cls in users)]


def _unused(sample: Any, scheduler: bool, own_loss: bool, path: Path) -> tuple[str, ...]:
    """What the module defines that the probes will not run, said once each: its own
    training_step (l2advisor calls forward and the loss: the file's `loss`, when `own_loss`)
    and an lr scheduler."""
    notes = []
    own = _own_steps(sample)
    if own:
        notes.append(f"{path.name}: {' and '.join(own)} of {type(sample).__name__} {'is' if len(own) == 1 else 'are'} "
                     f"not called: l2advisor {_trained_with(own_loss)}")
    if scheduler:
        notes.append(f"{path.name}: the lr scheduler configure_optimizers() returns is not used: l2advisor runs "
                     "at constant lr unless told --lr-schedule (probes always do: the tau clock needs it; "
                     "`recommend --lr-schedule` sizes the advice for a scheduled run).")
    return tuple(notes)


def _trained_with(own_loss: bool) -> str:
    """How the probes train instead of training_step: with the file's `loss`, or cross-entropy."""
    if own_loss:
        return "trains forward() with the file's own `loss`, so what training_step adds beyond it is not in these runs."
    return ("trains forward() with the file's `loss` (cross-entropy by default), so an extra term "
            "there (a penalty, a custom loss) is not in these runs; set `loss` in the file for it.")


def optimizer_settings(sample: Any, path: Path) -> dict[str, Any]:
    """lr, optimizer and momentum of the one optimizer `configure_optimizers()` returns, and
    whether it came with an lr scheduler ("scheduler")."""
    import torch

    where = path.name
    config = _call(sample.configure_optimizers, path, "configure_optimizers()")
    scheduler = _has_scheduler(config)
    if isinstance(config, dict):
        config = config.get("optimizer")
    elif isinstance(config, (list, tuple)):
        first = config[0] if len(config) else None
        if isinstance(first, (list, tuple)):  # ([optimizers], [schedulers])
            config = first
        config = [c.get("optimizer") if isinstance(c, dict) else c for c in config]
        if len(config) != 1:
            raise InputError(f"{where}: configure_optimizers() returns {len(config)} optimizers; l2advisor "
                             "probes one (not supported: several optimizers).")
        config = config[0]
    if not isinstance(config, torch.optim.Optimizer):
        raise InputError(f"{where}: configure_optimizers() must return a torch optimizer (alone, in a list or "
                         f"in a dict under \"optimizer\"), got {type(config).__name__}.")
    group = config.param_groups[0]
    if type(config) is torch.optim.AdamW:
        return {"lr": float(group["lr"]), "optimizer": "adamw", "scheduler": scheduler}
    if type(config) is torch.optim.SGD:
        if group.get("nesterov") or group.get("dampening"):
            raise InputError(f"{where}: SGD with Nesterov momentum or dampening is not supported; use plain "
                             "momentum.")
        return {"lr": float(group["lr"]), "optimizer": "sgd", "momentum": float(group.get("momentum", 0.0)),
                "scheduler": scheduler}
    raise InputError(f"{where}: configure_optimizers() returns {type(config).__name__}; l2advisor probes SGD "
                     "or AdamW (their weight decay is the paper's lam).")


def _has_scheduler(config: Any) -> bool:
    """configure_optimizers() returned an lr scheduler too: a dict's "lr_scheduler", or
    ([optimizers], [schedulers]) with a scheduler in the second list."""
    if isinstance(config, dict):
        return config.get("lr_scheduler") is not None
    if isinstance(config, (list, tuple)):
        if len(config) == 2 and all(isinstance(c, (list, tuple)) for c in config):
            return bool(config[1])
        return any(isinstance(c, dict) and c.get("lr_scheduler") is not None for c in config)
    return False


def _data_builder(sample: Any, datas: list[type], path: Path) -> tuple[Callable[[], Any], int | None]:
    """build_data() over the DataModule's (or the module's) loaders, and the training batch size."""
    where = path.name
    if len(datas) > 1:
        raise InputError(f"{where} defines {len(datas)} LightningDataModules; define build_data() instead.")
    if datas:
        source = _call(datas[0], path, "building the LightningDataModule")
        _call(source.prepare_data, path, "prepare_data()")
        _call(lambda: source.setup("fit"), path, "setup(\"fit\")")
    else:
        source = sample
    loaders = []
    for name in ("train_dataloader", "val_dataloader"):
        method = getattr(source, name, None)
        loader = _call(method, path, f"{name}()") if callable(method) else None
        if isinstance(loader, (list, tuple)) and len(loader) == 1:
            loader = loader[0]
        if not hasattr(loader, "dataset"):
            owner = "the LightningDataModule" if datas else "the LightningModule (no DataModule, no build_data())"
            raise InputError(f"{where}: {owner} gives no single {name}() DataLoader to take a dataset from.")
        loaders.append(loader)
    train, val = loaders[0].dataset, loaders[1].dataset
    return (lambda: (train, val)), getattr(loaders[0], "batch_size", None)


def _call(func: Callable[[], Any], path: Path, what: str) -> Any:
    from l2advisor.modelfile.spec import describe_user_error

    try:
        return func()
    except InputError:
        raise
    except Exception as err:  # the user's code
        raise InputError(f"{path.name}: {what} raised {describe_user_error(err, path)} (l2advisor runs a LightningModule "
                         f"without a Trainer; not supported: {UNSUPPORTED}).") from None
