"""`l2advisor.probe(...)`: the probe step for notebooks and scripts, the engine of `l2advisor probe`.

Same plan, same training loop, same run directory (`probes.jsonl`, resumable, locked) as the
command line, from Python objects instead of a model file: a `build_model` callable and the
training and validation data (map-style datasets, or `(inputs, targets)` tensor pairs).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2advisor.api.keywords import (
    check_budget,
    check_ladder,
    check_numbers,
    check_path,
    input_error,
    lambdas_of,
    on_off,
    seeds_of,
)
from l2advisor.api.progress import ProgressArg, check_progress, make_progress
from l2advisor.api.words import api_lines, speaks_api
from l2advisor.probing.notices import once
from l2advisor.runs.store import Results
from l2advisor.science.curves import Curve


@dataclass(frozen=True)
class ProbeResults:
    """What `probe` measured: one summary row per finished probe, their curves, where they live.

    `probes` rows: run, lam, lr, seed, shrink (lr*lam), t_star, tau_star, peak, final_train_acc,
    steps, seconds, status (as `l2advisor probe --json`). `budget_steps` is the budget given to
    `probe` in steps (a budget in epochs converted; None if none): `recommend(results)` uses it when
    given no budget of its own.
    """

    run_dir: Path
    probes: tuple[dict[str, Any], ...]
    curves: tuple[Curve, ...] = field(repr=False)
    results: Results = field(repr=False, compare=False)
    budget_steps: int | None = None
    notices: tuple[str, ...] = ()  # e.g. why the probes could not train as stacked replicas (in keywords: words.py)

    def __repr__(self) -> str:  # every row of `probes` made it 2,300 characters
        lams = sorted({row["lam"] for row in self.probes}, reverse=True)
        shown = f", lams {lams[0]:g}..{lams[-1]:g}" if lams else ""
        return (f"ProbeResults(run_dir={str(self.run_dir)!r}, {len(self.probes)} probes{shown}, "
                f"budget_steps={self.budget_steps}, {len(self.notices)} notices)")

    def recommend(self, budget: int | None = None, **kwargs: Any) -> Any:
        from l2advisor.api.advice import recommend

        return recommend(self, budget, **kwargs)

    def report(self, out: str | Path | None = None, **kwargs: Any) -> list[Path]:
        from l2advisor.api.advice import report

        return report(self, out, **kwargs)


def _keeps_global_rng(function: Callable[..., Any]) -> Callable[..., Any]:
    """The caller's torch generator as it was before the call: the probes seed their own, and a
    notebook's next `torch.rand` after a probe no longer followed the seed set before it."""
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        import torch

        with torch.random.fork_rng(devices=[]):  # the CPU generator (CUDA's: the probes seed theirs)
            return function(*args, **kwargs)
    return call


@speaks_api("probe")  # a refusal from the shared probing code names probe's keywords, not the CLI's flags
@_keeps_global_rng
def probe(
    build_model: Callable[[], Any],
    train_data: Any,
    val_data: Any,
    *,
    lr: float | None = None,
    budget: float | None = None,
    unit: str = "steps",
    out: str | Path | None = None,
    seeds: Sequence[int] = (0, 1),
    progress: ProgressArg = True,
    batch_size: int = 64,
    momentum: float | None = None,
    optimizer: str | None = None,
    loss: Callable[[Any, Any], Any] | None = None,
    metric: str | Callable[[Any, Any], float] = "accuracy",
    lambdas: Sequence[float] | None = None,
    horizon: float | None = None,
    probe_budget: int | None = None,  # None: probing.settings.DEFAULT_PROBE_BUDGET (24000), as `l2advisor probe`
    tolerance: float = 0.005,
    early_stop: bool | None = None,
    batched: bool = True,
    batch_replicas: int = 8,
    device: str = "auto",
    force: bool = False,
    name: str | None = None,
) -> ProbeResults:
    """Probe `build_model` at a ladder of large weight decays and return what was measured.

    `build_model()` returns a freshly initialised `torch.nn.Module` per call; `train_data` and
    `val_data` are map-style datasets of (input, target) or `(inputs, targets)` tensors. The
    settings mean what the model-file settings and `l2advisor probe` flags of the same name
    mean. Results go to `out` (default `runs/<name>`, `name` defaulting to the file that
    defines `build_model`); calling again with the same arguments resumes, other settings on
    the same directory are refused (`force=True` starts over), except another `budget` whose
    ladder has the same window: the probes the two plans share are reused. `budget` (steps of the run you
    will train, or epochs with `unit="epochs"`) sizes the probes as `l2advisor probe --budget` does (the ladder is then
    planned, so `lambdas` must not be given, and every probe runs its whole window: `early_stop=True`
    is refused; without a budget, None stops early), and is remembered for `recommend`. `progress`: True draws a bar (stderr / notebook), a callable receives
    `ProgressEvent`s, False or None is silent. Mistakes raise `l2advisor.errors.InputError`.
    `lr`, `momentum` and `optimizer` left None are, where `build_model` builds a LightningModule (its
    class, or a function returning one), its own (`configure_optimizers()`, read as a model file's),
    else 0.1, 0 and "sgd".
    """
    from l2advisor.modelfile.spec import DEFAULTS
    from l2advisor.modelfile.task import build_task
    from l2advisor.probing.budget import budget_in_steps, budget_words, sizing_note
    from l2advisor.probing.follow_up import run_with_follow_up
    from l2advisor.probing.plan import retry_words
    from l2advisor.probing.probe import failure_lines, run_probes, summarize
    from l2advisor.probing.settings import (
        carries_over,
        data_notes,
        hand_ladder_notes,
        keep_first_script,
        prepare_probes,
        probe_settings,
        record_budget,
        resize_note,
    )
    from l2advisor.runs.lock import RunLock
    from l2advisor.runs.rundir import (
        MADE_IN_KEY,
        PROBES_FILE,
        curve_from_state,
        results_path,
    )
    from l2advisor.runs.store import open_results, read_results
    from l2advisor.training.train import resolve_device

    given = {"lr": lr, "momentum": momentum, "optimizer": optimizer}  # None: a LightningModule's own, else defaults
    defaults = {key: DEFAULTS[key] if value is None else value for key, value in given.items()}  # the file's
    spec = _spec(build_model, _dataset(train_data), _dataset(val_data), name, batch_size=batch_size, loss=loss,
                 metric=metric, **defaults)
    if isinstance(batch_replicas, bool) or not isinstance(batch_replicas, numbers.Integral) or batch_replicas < 1:
        raise input_error(f"batch_replicas must be a whole number >= 1, got {batch_replicas!r}.")
    check_progress(progress)
    early_stop = on_off("early_stop", early_stop, none_ok=True)
    batched, force = on_off("batched", batched), on_off("force", force)
    check_budget(budget, unit)
    lambdas = lambdas_of(lambdas)
    check_numbers(tolerance=tolerance, probe_budget=probe_budget)
    tolerance = float(tolerance)  # numpy's numbers as Python's: JSON headers, the planner's arithmetic
    probe_budget = int(probe_budget) if isinstance(probe_budget, numbers.Integral) else probe_budget
    check_path("out", out)
    if name is not None and not isinstance(name, str):
        raise input_error(f"name must be a string (the run directory's name under runs/), got {name!r}.")
    check_ladder(budget, lambdas, probe_budget, horizon, early_stop)
    torch_device = resolve_device(device)
    spec, task = _module_optimizer(spec, build_task(spec, read_module_optimizer=True), given)
    spec = _fingerprinted(spec, task)
    budget_steps = None if budget is None else budget_in_steps(budget, unit, task.train_size, spec.batch_size)
    settings, plan = probe_settings(  # the plan `l2advisor probe` makes: sized to the budget when given
        spec.lr, spec.momentum, seeds=seeds_of(seeds), budget_steps=budget_steps,
        n_val=len(task.val), batch_size=spec.batch_size, horizon=horizon, probe_budget=probe_budget,
        lambdas=lambdas, tolerance=tolerance, early_stop=early_stop)
    runs, base, header = prepare_probes(spec, task, settings, str(torch_device))
    header[MADE_IN_KEY] = "python"  # its "model_file" defines build_model: no file `l2advisor train` can run
    if budget_steps is not None:  # the header keeps the budget as given, for `recommend` without one
        record_budget(header, (budget, unit), budget_steps, len(task.val), plan)
    run_dir = Path(out) if out is not None else Path("runs") / spec.name
    path = results_path(run_dir, PROBES_FILE)
    notices: list[str] = []
    tell = once(notices.append)  # a follow-up round's probes would repeat the first round's
    sizing, warns = sizing_note(plan, runs, settings, len(task.val), spec.batch_size,
                                None if budget_steps is None else budget_words(budget, unit, budget_steps))
    if warns or plan is None:  # over the cap, or over probe_budget; or which budgets a ladder suits
        tell(sizing)
    for note in (*hand_ladder_notes(settings, probe_budget is not None), *data_notes(task, settings.tolerance)):
        if note is not None:
            tell(note)
    for note in spec.notes:  # what a Lightning file defines that the probes do not run
        tell(note)
    found = read_results(path) if not force and path.exists() and path.stat().st_size > 0 else None  # once
    if (retried := retry_words(runs, found)) is not None:
        tell(retried)
    if found is not None and (first := keep_first_script(header, found.header.get("settings", {}))) is not None:
        tell(f"The probes in {run_dir} were made from {first}; build_model's source, the model's shapes and the "
             "data are the same from this script, so they are resumed.")
    with RunLock(run_dir), open_results(path, header, force=force, compatible=carries_over) as writer:
        if writer.previous_settings is not None:
            tell(resize_note(writer.previous_settings, settings, runs, read_results(path)))
        rounds: list[tuple[Any, Any]] = []  # one progress over every round of this call

        def run(todo: list[Any]) -> None:
            if rounds and rounds[0][0] is not None:
                rounds[0][0].add(todo)  # the follow-up seed: the same done/total, grown
            else:
                rounds[:] = [make_progress(progress, todo, f"probing {spec.name}")]
            reporter, context = rounds[0]
            with context:
                run_probes(task, todo, base, settings, writer.write, reporter,
                           replicas=batch_replicas if batched else 1, notice=tell)

        every = run_with_follow_up(runs, path, settings.tolerance, run, lambda: False, tell)
    results = read_results(path)
    states = [results.runs[r.run_id] for r in every if r.run_id in results.runs]
    for line in failure_lines(states):  # failures with their messages, as `probe` prints them
        tell(line)
    curves = tuple(curve_from_state(s) for s in results.runs.values() if s.done and s.evals)
    return ProbeResults(run_dir=run_dir, probes=tuple(summarize(states, settings.tolerance)), curves=curves,
                        results=results, budget_steps=budget_steps,
                        notices=api_lines(notices, ("probe",)))  # shared with the CLI's stderr: in its flags


def _dataset(data: Any) -> Any:
    """A `(inputs, targets)` pair of tensors becomes a TensorDataset; anything else is kept."""
    import torch
    from torch.utils.data import TensorDataset

    if (isinstance(data, (tuple, list)) and len(data) == 2
            and all(type(t).__module__ == "numpy" and hasattr(t, "shape") for t in data)):
        raise input_error("got (inputs, targets) as numpy arrays: pass torch tensors, e.g. "
                           "(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)), or a torch Dataset.")
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        if len(data[0]) != len(data[1]):
            raise input_error(f"(inputs, targets) must have one target per input, got {len(data[0])} inputs "
                               f"and {len(data[1])} targets.")
        return TensorDataset(*data)
    return data


def _module_optimizer(spec: Any, task: Any, given: dict[str, Any]) -> tuple[Any, Any]:
    """The spec and task with lr, momentum and optimizer, those not `given` (None), from the
    `configure_optimizers()` of the LightningModule `build_model()` built (a class or a factory:
    read as a model file's, modelfile/lightning.py) when it built one, and its notes (what of the
    module the probes do not run: the API's notices); else as they were (the defaults 0.1, 0,
    "sgd"). Such a module's own optimizer was silently replaced by plain SGD at lr 0.1, and the
    advice was for another run."""
    import dataclasses

    from l2advisor.modelfile.spec import validate_settings

    own = {key: task.module_optimizer[key] for key in given if given[key] is None and key in task.module_optimizer}
    notes = tuple(task.module_optimizer.get("notes", ()))  # its training_step, its lr scheduler: not run
    if not (own or notes):
        return spec, task
    spec = validate_settings(dataclasses.replace(spec, **own, notes=spec.notes + notes), keywords=True)
    return spec, dataclasses.replace(task, spec=spec)


def _spec(build_model: Callable[[], Any], train: Any, val: Any, name: str | None, **settings: Any) -> Any:
    """A `TaskSpec` for Python objects: the file is the one defining `build_model` (for error
    messages); its hash, of build_model's source here, is completed by `_fingerprinted` once the
    task is built (a changed model or changed data is refused on resume, as a changed model file is)."""
    import torch

    from l2advisor.modelfile.spec import TaskSpec, validate_settings

    if isinstance(build_model, torch.nn.Module):  # callable too, but one module cannot be every probe
        raise input_error(f"build_model must be a function returning a fresh torch.nn.Module (each probe "
                           f"trains its own), got a {type(build_model).__name__} itself; pass e.g. "
                           f"`lambda: {type(build_model).__name__}(...)`.")
    if not callable(build_model):
        raise input_error(f"build_model must be a function returning a torch.nn.Module, got "
                           f"{type(build_model).__name__}.")
    try:
        source_file = inspect.getsourcefile(build_model)
    except TypeError:
        source_file = None
    # a notebook cell's file name changes with each kernel: "<notebook>", so a rerun resumes
    on_disk = bool(source_file) and Path(source_file).is_file()  # type: ignore[arg-type]
    path = Path(source_file) if on_disk else Path("<notebook>")  # type: ignore[arg-type]
    from l2advisor.modelfile.fingerprint import source_text

    text = source_text(build_model)
    default_name = path.stem if on_disk else "notebook"
    spec = TaskSpec(path=path, name=name or default_name, sha256=hashlib.sha256(text.encode()).hexdigest(),
                    build_model=build_model, build_data=lambda: (train, val), build_test=None, **settings)
    return validate_settings(spec, keywords=True)


def _fingerprinted(spec: Any, task: Any) -> Any:
    """The spec with its hash over build_model's source, the built model's shapes and a sample of
    the data (modelfile/fingerprint.py): data or a model global changed between calls made the
    directory resume its old probes without a word."""
    import dataclasses

    from l2advisor.modelfile.fingerprint import python_task_sha256

    return dataclasses.replace(spec, sha256=python_task_sha256(spec.sha256, task.shapes, task.train, task.val))
