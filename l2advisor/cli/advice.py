"""`l2advisor recommend RUN_DIR --budget N` and `l2advisor report RUN_DIR`: the options.

What they do is in advising.py, imported when a command runs (so `--help` stays instant).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from l2advisor.cli.app import app, handle_errors, start_up_done
from l2advisor.cli.budget import UNIT_HELP


@app.command()
@handle_errors
def recommend(
    run_dir: Annotated[Path, typer.Argument(help="The run directory written by `l2advisor probe`.")],
    budget: Annotated[float | None, typer.Option(help="Training budget of the real run, in --unit [default: the "
                                                      "budget `probe --budget` sized the probes for].",
                                                 show_default=False)] = None,
    unit: Annotated[str, typer.Option(help=UNIT_HELP)] = "steps",
    lr: Annotated[float | None, typer.Option(help="Learning rate of the real run [default: the probe lr].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    autol2: Annotated[bool, typer.Option("--autol2", help="Advise an AutoL2 schedule instead of a constant lam.")] = False,
    lr_schedule: Annotated[str, typer.Option(help="The real run's lr schedule: constant, cosine or linear (to 0), "
                                                  "or step; the advice is carried over on the tau clock.")] = "constant",
    warmup: Annotated[int, typer.Option(help="Steps of linear lr warmup in the real run.")] = 0,
) -> None:
    """The weight decay to train with for a budget, from the probes (writes fit.json and advice.json)."""
    from l2advisor.cli.advising import recommend_command

    start_up_done()
    recommend_command(run_dir, budget, unit, lr, as_json, autol2, lr_schedule, warmup)


@app.command()
@handle_errors
def report(
    run_dir: Annotated[Path, typer.Argument(help="The run directory written by `l2advisor probe`.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where to write the figures [default: RUN_DIR].")] = None,
) -> None:
    """PNG figures (curves on the tau clock, t* fit, plateau, collapsed curve) and report.md."""
    from l2advisor.cli.report_run import report_command

    start_up_done()
    report_command(run_dir, out_dir)
