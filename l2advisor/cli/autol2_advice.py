"""What `l2advisor recommend --autol2` prints: the `l2advisor train` command line and a snippet for
the user's own loop, with the reasons in a panel (advising.py computes the configuration)."""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.panel import Panel

from l2advisor.cli.app import out
from l2advisor.science.autol2_setup import AUTOL2_DECAY, AutoL2Advice
from l2advisor.science.verdict import APPROX, CANNOT, FAILS, HOLDS

VERDICT_STYLE = {HOLDS: "bold green", APPROX: "bold yellow", CANNOT: "bold magenta", FAILS: "bold red"}


def printed(value: float) -> str:
    """An AutoL2 setting as the printed command gives it (4 digits); `train --advise --autol2`
    trains with exactly these, so both are one run under one run id."""
    return f"{value:.4g}"


def autol2_flags(cfg: AutoL2Advice, model_file: str, settings: dict) -> str:
    """The `l2advisor train` command line that runs this AutoL2 configuration. The lr, batch size,
    optimizer and momentum are always spelled out, as the probes ran them (`settings`, their
    header's): the probes may have overridden the file's, and lam0 and the refractory time were
    measured with these."""
    flags = [f"l2advisor train {model_file} --budget {cfg.budget_steps} --autol2",
             f"--lam0 {printed(cfg.lam0)}", f"--refractory-tau {printed(cfg.refractory_tau)}",
             f"--lam-min {printed(cfg.lam_min)}"]
    if cfg.decay != AUTOL2_DECAY:
        flags.append(f"--decay {cfg.decay:g}")
    flags.append(f"--lr {cfg.lr:g}")
    if settings.get("batch_size") is not None:
        flags.append(f"--batch-size {settings['batch_size']}")
    optimizer = settings.get("optimizer") or "sgd"
    flags.append(f"--optimizer {optimizer}")
    if optimizer == "sgd":
        flags.append(f"--momentum {settings.get('momentum') or 0.0:g}")
    return " ".join(flags)


def autol2_snippet(cfg: AutoL2Advice, optimizer: str = "sgd", momentum: float = 0.0, accuracy: bool = True,
                   lr_schedule: str = "constant", warmup: int = 0) -> str:
    """A Python snippet for the user's own training loop, with the probes' optimizer and momentum
    (the clock and AutoL2's refractory time were measured with them). `accuracy`: the task has a
    training accuracy (else AutoL2 steps on the loss alone). An lr schedule (or a warmup) the
    advice was made for is built too, as `l2advisor train --lr-schedule` runs it: the snippet said
    "before any lr scheduler" and built none, so a user copying it ran the constant lr."""
    decay = "" if cfg.decay == AUTOL2_DECAY else f", decay={cfg.decay:g}"
    extra = f", momentum={momentum:g}" if optimizer == "sgd" and momentum else ""
    name = "AdamW" if optimizer == "adamw" else "SGD"
    scheduled = lr_schedule != "constant" or warmup > 0
    lines = ["import torch", "from l2advisor import AutoL2"]
    if scheduled:
        lines.append("from l2advisor.science.schedules import lr_factors  # lr_t / lr, as `l2advisor train` runs it")
    lines += ["", f"optimizer = torch.optim.{name}(model.parameters(), lr={cfg.lr:g}{extra})",
              f"sched = AutoL2(optimizer, lam0={cfg.lam0:.4g}, refractory_tau={cfg.refractory_tau:.4g}, "
              f"lam_min={cfg.lam_min:.4g}{decay})"]
    if scheduled:
        lines.append(f"lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: float(lr_factors("
                     f"{lr_schedule!r}, {cfg.budget_steps}, {warmup}, [t])[0]))")
    lines += [f"for step in range({cfg.budget_steps}):",
              "    ...  # forward, loss (without an L2 term), backward" + (
                  "; train_accuracy: this batch's accuracy, in [0, 1]" if accuracy else ""),
              "    optimizer.step()",
              f"    {_sched_step(accuracy)}  # after optimizer.step(), before any lr scheduler"]
    if scheduled:
        lines.append("    lr_scheduler.step()")
    return "\n".join(lines)


def _sched_step(accuracy: bool) -> str:
    """AutoL2's step call: the loss, and the training accuracy where the task has one."""
    return "sched.step(loss.item(), train_accuracy)" if accuracy else "sched.step(loss.item())"


def autol2_panel(cfg: AutoL2Advice, title: str = "l2advisor recommend --autol2") -> Panel:
    """The verdict, the configuration and its reasons (`recommend --autol2`, `train --advise --autol2`)."""
    why = [f"- {escape(r)}" for r in cfg.reasons]
    style = VERDICT_STYLE.get(cfg.verdict, "bold")
    setting = (f"[bold cyan]lam0={cfg.lam0:.4g}[/], refractory_tau={cfg.refractory_tau:.4g}, "
               f"lam_min={cfg.lam_min:.4g}, decay={cfg.decay:g}")
    return Panel(Group(f"[bold]the paper's relations[/]: [{style}]{cfg.verdict}[/]", setting, *why),
                 title=title, title_align="left", expand=False)


def print_autol2(cfg: AutoL2Advice, flags: str | None, snippet: str) -> None:
    """The reasons in a panel; the command and the snippet as plain lines, for copying. No command
    (`flags` None) for probes made with the Python API: no model file for `l2advisor train` to run."""
    out.print(autol2_panel(cfg), soft_wrap=False)
    out.print("\n# run it:", style="bold", highlight=False)
    out.print(flags or "# (these probes were made with l2advisor.probe: no model file for `l2advisor train`; "
              "AutoL2.from_advice, or a callback's from_advice, reads this advice.json)",
              markup=False, highlight=False, soft_wrap=True)
    out.print("\n# or in your own loop:", style="bold", highlight=False)
    out.print(snippet, markup=False, highlight=False, soft_wrap=True)
