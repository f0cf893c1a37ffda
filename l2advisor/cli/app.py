"""The command line: a typer app; each command lives in its own module beside this one.

The library never prints; this layer owns the consoles: data (tables, JSON) to stdout,
progress and diagnostics to stderr. Every `L2AdvisorError` becomes one sentence and its
exit code (2 for bad input, 1 for a failed run); any other exception is a bug of ours, said
so in one line, exit 1; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import atexit
import functools
import gc
import importlib
import os
import re
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from l2advisor._version import __version__
from l2advisor.cli.quick_exit import quick_exit
from l2advisor.consoles import log_width
from l2advisor.errors import InputError, L2AdvisorError


class _Group(TyperGroup):
    """typer's group, with its --help flag defaulting to False instead of None: typer coerces a
    non-bool value through pydantic, and the group's absent --help (None) was the one that made
    every `l2advisor COMMAND --help` import pydantic (0.15 s) before printing."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option

    def invoke(self, ctx: Any) -> Any:
        """A command's unknown option that another tool's users would type (--steps, --epochs,
        --wd) suggests this command's own (--budget, --weight-decay) instead of click's guesses
        by spelling, which offered `--seeds` for `--steps`."""
        try:
            return super().invoke(ctx)
        except _no_such_option() as error:
            meant = OPTION_SYNONYMS.get(error.option_name.split("=")[0])
            names = {name for param in getattr(error.ctx.command, "params", ()) if error.ctx is not None
                     for name in getattr(param, "opts", ())}
            if meant in names:  # alone: click sorts its guesses, which would bury it
                error.possibilities = [meant]
            raise


def _no_such_option() -> type[Exception]:
    """click's NoSuchOption as typer raises it: a recent typer carries its own copy of click."""
    try:
        from typer._click.exceptions import NoSuchOption
    except ImportError:  # an older typer, on the click package
        from click.exceptions import NoSuchOption
    return NoSuchOption


# what users of other tools type for this CLI's options (suggested only where the command has it)
OPTION_SYNONYMS = {"--steps": "--budget", "--max-steps": "--budget", "--iterations": "--budget", "--iters": "--budget",
                   "--epochs": "--budget", "--wd": "--weight-decay", "--weight_decay": "--weight-decay",
                   "--lam": "--weight-decay", "--lambda": "--weight-decay", "--l2": "--weight-decay",
                   "--learning-rate": "--lr", "--learning_rate": "--lr",
                   "--batch_size": "--batch-size", "--bs": "--batch-size", "--seed": "--seeds"}


app = typer.Typer(
    cls=_Group,
    name="l2advisor",
    help="Which L2 / weight-decay coefficient to train with, measured on your own model with a few "
         "short probe runs (Lewkowycz & Gur-Ari, NeurIPS 2020).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich's help renderer imports markdown-it and pygments (0.2 s)
)
out = Console(soft_wrap=True)  # data
err = Console(stderr=True, width=log_width())  # progress and diagnostics
_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., Any])
# --threads belongs to the commands that train, not to the group: typer coerces every non-flag
# group option through pydantic before a subcommand's --help runs (0.2 s of imports).
Threads = Annotated[int | None, typer.Option(
    "--threads", min=1, show_default=False,
    help="Torch threads of a training process [default: 1 for a small model, all cores for a large one; "
         "or L2ADVISOR_THREADS].")]


def _version(value: bool) -> None:
    if value:
        out.print(f"l2advisor {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Probe, recommend, report, train with AutoL2, and compare against an Optuna search."""
    _state["debug"] = debug


def say_notes(spec: Any) -> None:
    """What the model file defines that l2advisor will not use (`TaskSpec.notes`), on stderr."""
    for note in spec.notes:
        err.print(f"[yellow]{escape(note)}[/]", highlight=False)


def use_threads_for(task: Any, threads: int | None) -> str:
    """Set torch's thread count for training `task`'s model in this process (the rule in
    l2advisor.training.threads, unless `threads` (--threads) overrides it); returns the choice in words."""
    import torch

    # available: torch's count now (its default: the cores), so the rule never adds threads
    choice = _thread_choice(task, threads, torch.get_num_threads())
    if choice.threads is not None:
        torch.set_num_threads(choice.threads)
    return choice.reason


def worker_threads_for(task: Any, threads: int | None, jobs: int, backend: str) -> tuple[int | None, str]:
    """The torch threads of each of `jobs` worker processes (probe --jobs, --devices, --backend
    dask), and the choice in words: the same rule and overrides as `use_threads_for`, with the
    cores divided among the jobs. None: on Dask, each host's cores divided among its job slots
    there (this process cannot see them), unless --threads or L2ADVISOR_THREADS sets a count."""
    from l2advisor.probing.parallel import cores_per_job
    from l2advisor.training.threads import ENV

    if backend == "dask" and threads is None and not os.environ.get(ENV, "").strip():
        return None, "on each Dask worker, its host's cores divided among the jobs running there"
    share = cores_per_job(jobs)
    choice = _thread_choice(task, threads, share)
    each = f"in each of {jobs} worker process{'' if jobs == 1 else 'es'}"
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if choice.threads is None and omp.isdigit() and int(omp) > 0:  # the user's, as one process takes it
        return int(omp), f"{int(omp)} thread(s), from OMP_NUM_THREADS, {each}"  # (it gave 2 to 1 worker)
    if choice.threads is None:  # a model not measured: the workers divide the cores
        return share, f"{share} thread(s), the cores divided among {jobs} job{'' if jobs == 1 else 's'}, {each}"
    return choice.threads, f"{choice.reason}, {each}"


def _thread_choice(task: Any, threads: int | None, available: int) -> Any:
    """The thread rule's `ThreadChoice` for `task`'s model with `available` threads to share."""
    from l2advisor.training.threads import choose_threads, overridden

    flops, at_least = (None, False) if overridden(threads) else _step_flops(task)  # an override needs no count
    try:
        return choose_threads(flops, available, threads, at_least=at_least)
    except ValueError as error:
        raise InputError(f"{error}.") from None


def _step_flops(task: Any) -> tuple[float | None, bool]:
    """`thread_flops` of a throw-away model on one batch; (None, False) for a model that cannot
    be measured (it keeps torch's default threads; training reports its errors properly)."""
    import torch

    from l2advisor.training.threads import thread_flops

    try:
        batch = torch.stack([task.train[i][0] for i in range(min(task.spec.batch_size, task.train_size))])
        with torch.random.fork_rng():  # building the throw-away model draws random numbers
            model = task.spec.build_model()
        return thread_flops(model, batch)
    except Exception:  # noqa: BLE001 (the user's model)
        return None, False


def handle_errors(command: F) -> F:
    """Turn library errors (and unexpected ones) into one line on stderr and an exit code."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from l2advisor.cli.json_out import stdout_for_json_only

        with stdout_for_json_only(bool(kwargs.get("as_json"))):  # a model file's prints: stderr
            try:
                return command(*args, **kwargs)
            except typer.Exit as stop:
                if stop.exit_code == INTERRUPTED:  # Ctrl-C: said on stderr; under --json, one document still
                    _json_error(kwargs, "interrupted (Ctrl-C): what was written so far is kept; the same command "
                                        "resumes", INTERRUPTED)
                raise
            except typer.Abort:
                raise
            except L2AdvisorError as error:
                if _state["debug"]:
                    raise
                err.print(f"[bold red]Error:[/] {escape(str(error))}", highlight=False)
                _json_error(kwargs, str(error), error.exit_code)
                raise typer.Exit(error.exit_code) from None
            except Exception as error:  # anything else is a bug of ours: one line, unless --debug
                if _state["debug"]:
                    raise
                err.print(internal_error_line(error), highlight=False)
                _json_error(kwargs, f"internal error: {type(error).__name__}: {error}", 1)
                raise typer.Exit(1) from None
    return wrapper  # type: ignore[return-value]


def _json_error(kwargs: dict[str, Any], message: str, code: int) -> None:
    """Under --json, the error as one JSON object on stdout too (a script read an empty string),
    unless the command printed its JSON before failing."""
    from l2advisor.cli.json_out import print_json, printed_json

    if kwargs.get("as_json") and not printed_json():
        print_json({"error": message, "exit_code": code})


def internal_error_line(error: BaseException) -> str:
    """An unexpected exception: a bug of l2advisor, never a verdict on the user's input."""
    return (f"[bold red]Internal error[/] (a bug in l2advisor, not a problem with your input or probes): "
            f"{type(error).__name__}: {escape(str(error))}. Please report it with the traceback that "
            "`l2advisor --debug` followed by the same command prints.")


def flag_names(keywords: Iterable[str]) -> list[str]:
    """The command line's flags for Python keywords: lam0 -> --lam0, check_every -> --check-every."""
    return [f"--{k.replace('_', '-')}" for k in keywords]


def as_flags(message: str, keywords: Iterable[str]) -> str:
    """A library message in the command line's words, for the keywords that name a setting (followed
    by " must" or " ("): `lam_min (0.2) must not exceed lam0 (0.1).` -> `--lam-min (0.2) must not
    exceed --lam0 (0.1).`; the same word in prose stays."""
    names = "|".join(map(re.escape, keywords))
    return re.sub(rf"\b({names})\b(?= must| \()", lambda m: flag_names([m.group(1)])[0], message)


INTERRUPTED = 130  # the exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells give it
KEPT = "What was written so far is kept."  # a second Ctrl-C, where the command has no more to say


class Interrupt:
    """First Ctrl-C: finish at the next evaluation point; a second one stops at once, saying
    `kept` (what is kept, and what a rerun does with it: each command its own)."""

    def __init__(self, kept: str = KEPT) -> None:
        self.requested = False
        self.kept = kept
        self.pid = os.getpid()  # DataLoader workers fork with this handler; a Ctrl-C reaches them too

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum: int, frame: Any) -> None:
        if os.getpid() != self.pid:  # a worker process: the main one decides (and says it once)
            return
        if self.requested:  # said, not a silent exit 130
            err.print(f"\n[yellow]Ctrl-C again: stopping now. {escape(self.kept)}[/]")
            raise KeyboardInterrupt
        self.requested = True
        err.print("\n[yellow]Ctrl-C: stopping at the next evaluation point (press again to stop now).[/]")


@contextmanager
def catch_interrupt(kept: str = KEPT) -> Iterator[Interrupt]:
    """Install the Ctrl-C handler for the duration of a long job (`kept`: see Interrupt)."""
    interrupt = Interrupt(kept)
    previous = signal.signal(signal.SIGINT, interrupt._handle)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, previous)


def load_task(spec: Any) -> Any:
    """The model file's task (torch, the file's model and data loaded), then the end of start-up
    (`start_up_done`): every command that trains calls this once, before its work."""
    from l2advisor.modelfile.task import build_task  # imports torch: not behind --help

    task = build_task(spec)
    start_up_done()  # torch, the model file and its data are loaded
    return task


def start_up_done() -> None:
    """Collect again from here on, leaving out what start-up made (it lives to the end), so a
    long run's collections walk only what it makes itself. Only after `main` paused collecting:
    a test's runner or a user's process keeps its collector as it was."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


COMMAND_MODULES = ("probe", "train", "advice", "tune", "compare")
for _module in COMMAND_MODULES:  # each registers its commands on `app`
    importlib.import_module(f"l2advisor.cli.{_module}")


def main() -> NoReturn:
    """Console-script entry point."""
    # Start-up (torch's import, the model file, its data) allocates ~200,000 objects that live
    # to the end, and the collector walks them again and again while they are made: paused
    # until `start_up_done`, which each command calls once they are loaded.
    gc.disable()
    # At exit, before the interpreter's last collection: every object still alive then is
    # frozen out of it. With torch loaded that pass walks ~200,000 objects and took 0.2-0.6 s
    # of every command's wall time (`benchmarks/cli_startup.py`); what it would free is freed
    # by the process ending. Files are closed by their writers, not by this collection. (Now
    # for the ordinary exit only, which quick_exit takes while a non-daemon thread runs.)
    atexit.register(gc.freeze)
    try:
        app()
    except SystemExit as done:  # every command ends here (typer's standalone mode), errors too
        quick_exit(done.code)  # without the interpreter's teardown: quick_exit.py
    quick_exit(0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
