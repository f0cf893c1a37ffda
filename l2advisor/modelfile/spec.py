"""Load a user's model file into a frozen `TaskSpec`, with one readable sentence per mistake.

The model file is the user's own code and is executed as such (like a `conftest.py`).
Contract: `build_model() -> nn.Module`, `build_data() -> (train, val)` map-style datasets;
optional settings `lr`, `batch_size`, `momentum`, `optimizer`, `loss`, `metric`,
`build_test()`. Flags given on the command line override the file's settings.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import numbers
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from l2advisor.errors import InputError
from l2advisor.modelfile.lightning import built_module_settings, lightning_settings
from l2advisor.modelfile.unread import meant_builder, unread_settings_notes

DEFAULTS: dict[str, Any] = {
    "lr": 0.1,
    "batch_size": 64,
    "momentum": 0.0,
    "optimizer": "sgd",
    "loss": None,  # None -> cross-entropy
    "metric": "accuracy",
}
OPTIMIZERS = ("sgd", "adamw")
# plain Adam's weight_decay is L2 added to the gradient, which Adam then divides by each coordinate's
# gradient scale: weights shrink by lr*lam/sqrt(v) a step, not lr*lam, so tau = lr*lam*steps is not its clock
ADAM_HINT = (" Adam's weight_decay is L2 added to the gradient, which Adam rescales per coordinate, so the clock "
             "lr*lam*steps the advice rests on does not hold for it; AdamW decays every weight by 1 - lr*lam a step: "
             "{use} (torch.optim.AdamW) is the Adam that l2advisor advises.")


@dataclass(frozen=True)
class TaskSpec:
    """A model file, loaded: its callables and its (possibly overridden) settings."""

    path: Path
    name: str  # file stem, the default run-directory name
    sha256: str  # of the file's text: a results directory knows which task wrote it
    build_model: Callable[[], Any]
    build_data: Callable[[], Any]
    build_test: Callable[[], Any] | None
    lr: float
    batch_size: int
    momentum: float
    optimizer: str
    loss: Callable[[Any, Any], Any] | None
    metric: str | Callable[[Any, Any], float]
    notes: tuple[str, ...] = ()  # what the file defines that l2advisor will not use (one sentence each)

    @property
    def metric_name(self) -> str:
        return self.metric if isinstance(self.metric, str) else getattr(self.metric, "__name__", "metric")

    def settings(self) -> dict[str, Any]:
        """The JSON-safe settings that define this task (for result headers)."""
        return {
            "model_file": str(self.path),
            "model_sha256": self.sha256,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "momentum": self.momentum,
            "optimizer": self.optimizer,
            "loss": "cross_entropy" if self.loss is None else getattr(self.loss, "__name__", "custom"),
            "metric": self.metric_name,
        }


def load_spec(path: str | Path, overrides: Mapping[str, Any] | None = None) -> TaskSpec:
    """Execute the model file and check its contract; `overrides` (non-None values) win."""
    path = Path(path)
    module = _exec_file(path)
    where = path.name
    found = lightning_settings(module, path) or _built_module(module, path)  # a LightningModule instead of build_model
    builders = {name: found.pop(name, getattr(module, name, None)) for name in ("build_model", "build_data")}
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    notes = tuple(found.pop("notes", ())) + unread_settings_notes(module, DEFAULTS, where, {**found, **flags})
    for required in ("build_model", "build_data"):
        _check_builder(where, required, builders[required], meant_builder(module, required))
    build_test = getattr(module, "build_test", None)
    if build_test is not None and not callable(build_test):
        raise InputError(f"{where}: `build_test` must be a function returning a dataset.")
    settings = {key: getattr(module, key, default) for key, default in DEFAULTS.items()}
    settings.update({k: v for k, v in found.items() if not (k == "batch_size" and hasattr(module, k))})
    settings.update(flags)
    spec = TaskSpec(
        path=path.resolve(), name=path.stem, sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        build_model=builders["build_model"], build_data=builders["build_data"], build_test=build_test,
        notes=notes, **settings,
    )
    return validate_settings(spec, frozenset(flags))


def _is_module(value: object) -> bool:
    torch = sys.modules.get("torch")  # loaded by the model file when it built a module
    return torch is not None and isinstance(value, torch.nn.Module)


def _check_builder(where: str, name: str, builder: object, meant: str | None = None) -> None:
    """One sentence when `build_model` / `build_data` is missing (naming a function of the file's
    that seems `meant` for it), or is not a function (a module itself is callable, but its call is
    its forward: it failed inside torch's forward)."""
    if _is_module(builder):
        kind = type(builder).__name__
        raise InputError(f"{where}: `{name}` is a {kind} itself, not a function returning a fresh one "
                         f"(every probe and run trains its own); write `def {name}(): return {kind}(...)`.")
    if builder is None:
        hint = f" (did you mean `{meant}()`? rename it `{name}`)" if meant else ""
        raise InputError(f"{where} has no function `{name}()`{hint}; a model file must define "
                         "build_model() -> torch.nn.Module and build_data() -> (train, val) "
                         "(or a LightningModule, see the README).")
    if not callable(builder):
        raise InputError(f"{where}: `{name}` is a {type(builder).__name__}, not a function; write "
                         f"`def {name}(): ...` returning " + ("a torch.nn.Module." if name == "build_model"
                                                             else "(train, val)."))


def _built_module(module: ModuleType, path: Path) -> dict[str, Any]:
    """What `configure_optimizers()` says of the settings the file leaves out, and its notes, when
    the file's build_model() returns a LightningModule (defined elsewhere: one the file defines
    is read by `lightning_settings`); the file's own settings win."""
    build_model = getattr(module, "build_model", None)
    chosen = ("lr", "momentum", "optimizer")
    if not callable(build_model) or _is_module(build_model) or all(hasattr(module, key) for key in chosen):
        return {}
    own = built_module_settings(build_model, path, own_loss=getattr(module, "loss", None) is not None)
    return {key: value for key, value in own.items() if key == "notes" or (key in chosen and not hasattr(module, key))}


def _optimizer_name(optimizer: object) -> str:
    """The setting's name in lower case; torch's optimizer class given for its name (torch.optim.AdamW:
    "adamw", torch.optim.Adam: "adam", which is refused with ADAM_HINT)."""
    if isinstance(optimizer, type) and optimizer.__module__.startswith("torch.optim"):
        return optimizer.__name__.lower()
    return str(optimizer).lower()


def validate_settings(spec: TaskSpec, overridden: frozenset[str] = frozenset(), keywords: bool = False) -> TaskSpec:
    """Check types and ranges of the settings; returns the spec with normalised values. A setting
    in `overridden` came from a command-line flag, and its message names the flag, not the file;
    with `keywords` every setting came from a Python call, and its message names the keyword."""
    def at(name: str) -> str:  # the sentence's subject: "lr=", "--lr", or "model.py: `lr`"
        if keywords:
            return f"{name}="
        return f"--{name.replace('_', '-')}" if name in overridden else f"{spec.path.name}: `{name}`"

    lr = check_positive(spec.lr, at("lr"))
    batch_size = spec.batch_size
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise InputError(f"{at('batch_size')} must be a positive integer, got {batch_size!r}.")
    batch_size = int(batch_size)  # numpy's too, as a plain int (it is written to JSON headers)
    momentum = _as_float(spec.momentum, at("momentum"))
    if not 0.0 <= momentum < 1.0:
        raise InputError(f"{at('momentum')} must be in [0, 1), got {momentum!r}.")
    optimizer = _optimizer_name(spec.optimizer)
    if optimizer not in OPTIMIZERS:
        use = ("optimizer=\"adamw\"" if keywords else "--optimizer adamw" if "optimizer" in overridden
               else "optimizer = \"adamw\"")
        raise InputError(f"{at('optimizer')} must be one of {', '.join(OPTIMIZERS)}, "
                         f"got {spec.optimizer!r}.{ADAM_HINT.format(use=use) if optimizer == 'adam' else ''}")
    if spec.loss is not None and not callable(spec.loss):
        raise InputError(f"{at('loss')} must be a callable (outputs, targets) -> loss tensor.")
    if not (spec.metric == "accuracy" or callable(spec.metric)):
        raise InputError(f"{at('metric')} must be \"accuracy\" or a callable (outputs, targets) -> float "
                         f"(higher is better), got {spec.metric!r}.")
    notes = spec.notes
    if optimizer == "adamw" and momentum != 0.0:  # a user from Adam writing beta1 as momentum
        notes += (f"{at('momentum')} {momentum:g} is not used with AdamW (its betas stay torch's (0.9, 0.999)); "
                  "l2advisor plans and trains as for momentum 0.",)
        momentum = 0.0
    return replace(spec, lr=lr, batch_size=batch_size, momentum=momentum, optimizer=optimizer, notes=notes)


def check_positive(value: Any, subject: str) -> float:
    """A finite number > 0, or one clear sentence saying what it was (`subject`: as `at` names it)."""
    number = _as_float(value, subject)
    if not (math.isfinite(number) and number > 0):
        raise InputError(f"{subject} must be a finite number > 0, got {value!r}.")
    return number


def _as_float(value: Any, subject: str) -> float:
    if isinstance(value, (bool, str, bytes)):  # lr = "0.1" is a typo to say, not to parse
        raise InputError(f"{subject} must be a number, got {value!r}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{subject} must be a number, got {value!r}.") from None


def _exec_file(path: Path) -> ModuleType:
    """Run the model file as a module; turn any failure into one sentence with the user's line."""
    if not path.exists():
        raise InputError(f"Model file {path} does not exist.")
    if not path.is_file():
        raise InputError(f"Model file {path} is not a file.")
    try:
        source = path.read_text()
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not a Python file (it is not readable as text).") from None
    try:
        compile(source, str(path), "exec")
    except SyntaxError as err:
        raise InputError(f"{path.name} is not valid Python: {err.msg} at line {err.lineno}.") from None
    module_name = f"l2advisor_user_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise InputError(f"{path.name} cannot be loaded as a Python module.")
    module = importlib.util.module_from_spec(loader_spec)
    sys.path.insert(0, str(path.resolve().parent))  # the file may import its neighbours
    try:
        loader_spec.loader.exec_module(module)
    except Exception as err:  # the user's code: anything can happen
        raise InputError(f"{path.name} raised {describe_user_error(err, path)} while being loaded.") from None
    finally:
        sys.path.remove(str(path.resolve().parent))
    return module


def describe_user_error(err: BaseException, path: Path | None = None) -> str:
    """`ValueError: message (line 12 of model.py: `code`)`, pointing at the user's deepest line.
    With no line of `path` in the traceback: where in a library it was raised (`raised in
    torch/nn/modules/linear.py, line 134`), or nothing when l2advisor's own call of the user's
    function failed (a wrong signature: the message says it, and our line would mislead)."""
    text = f"{type(err).__name__}: {err}"
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return text
    mine = [f for f in frames if path is None or str(Path(f.filename).resolve()) == str(path.resolve())]
    last = (mine or frames)[-1]
    code = f": `{last.line.strip()}`" if last.line else ""
    if mine:
        return text + f" (line {last.lineno} of {Path(last.filename).name}{code})"
    where = _in_package(Path(last.filename))
    if where.startswith("l2advisor/"):
        return text
    return text + f" (raised in {where}, line {last.lineno}{code})"


def _in_package(file: Path) -> str:
    """`torch/nn/modules/linear.py` for a file under site-packages (or any folder on sys.path);
    the file's name otherwise."""
    parts = file.parts
    for i in range(len(parts) - 1, 0, -1):
        if parts[i - 1] in ("site-packages", "dist-packages") or (parts[i] == "l2advisor" and i < len(parts) - 1):
            return "/".join(parts[i:])
    return file.name


def call_user(spec: TaskSpec, func: Callable[..., Any], what: str, *args: Any) -> Any:
    """Call one of the model file's functions; its exceptions become an `InputError`."""
    try:
        return func(*args)
    except InputError:
        raise
    except Exception as err:
        raise InputError(f"{spec.path.name}: {what} raised {describe_user_error(err, spec.path)}.") from None
