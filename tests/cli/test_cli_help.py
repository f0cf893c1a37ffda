"""`--help` is instant and readable: no torch (nor optuna, matplotlib, numpy) behind any `--help`, and
no help line broken mid-sentence by a line break in a docstring."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from l2advisor.cli.app import app

COMMANDS = sorted(typer.main.get_command(app).commands)  # every registered command, new ones too
HEAVY = ("torch", "optuna", "matplotlib", "numpy", "scipy", "pydantic")  # numpy: about 0.1 s; pydantic 0.15 s
# Runs the app as the console script does, then reports which heavy modules were imported.
PROBE = """import sys
{prelude}
from l2advisor.cli.app import app
try:
    app(args=sys.argv[1:], prog_name="l2advisor")
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
print("IMPORTED:" + ",".join(m for m in {heavy!r} if m in sys.modules))
"""


def heavy_imported(args: list[str], prelude: str = "") -> tuple[list[str], str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(prelude=prelude, heavy=HEAVY), *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("IMPORTED:"), done.stdout
    return [m for m in last[len("IMPORTED:"):].split(",") if m], done.stdout


def test_every_command_is_covered() -> None:
    assert {"probe", "train", "recommend", "report", "tune", "compare"} <= set(COMMANDS)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_imports_no_torch(command: str | None) -> None:
    imported, output = heavy_imported([*([command] if command else []), "--help"])
    assert "Usage" in output  # the help was really printed
    assert imported == [], f"`l2advisor {command or ''} --help` imported {imported}"


def test_probe_sees_torch_when_it_is_imported() -> None:
    """Negative control: the check above would notice torch, were it imported."""
    imported, _ = heavy_imported(["--help"], prelude="import l2advisor.training.train")
    assert "torch" in imported and "numpy" in imported


def help_lines(args: list[str]) -> list[str]:
    """The text lines of a help page rendered 1000 columns wide: no line wraps by width there,
    so every line break left is one the help text itself carries."""
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "1000", "TERM": "dumb"},
                                terminal_width=1000)
    assert result.exit_code == 0, result.output
    lines = [line.strip().strip("│").strip() for line in result.output.splitlines()]
    return [line for line in lines if line and not line.startswith(("Usage:", "╭", "╰"))]


ENDS_A_SENTENCE = re.compile(r"[.:;)\]!?]$")  # a paragraph, an option's help, a [default: ...]
# An option too long for click's first column stands alone; its help follows on the next line.
OPTION_ALONE = re.compile(r"^--[\w-]+( / --[\w-]+)?( <\w+>)?$")


def broken(lines: list[str]) -> list[str]:
    """The lines that end mid-sentence."""
    return [line for line in lines if not ENDS_A_SENTENCE.search(line) and not OPTION_ALONE.match(line)]


def test_broken_finds_a_line_cut_mid_sentence() -> None:
    """Negative control: a help text broken after "the" is caught, an option standing alone is not."""
    assert broken(["Run the probes at the", "budget.", "--include-zero / --no-include-zero"]) == ["Run the probes at the"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_has_no_line_broken_mid_sentence(command: str | None) -> None:
    lines = help_lines([command] if command else [])
    assert lines and broken(lines) == []


def test_the_rule_catches_a_hard_line_break() -> None:
    """Negative control: the command list as typer 0.29 drew `tune` before the fix."""
    before = ["tune       Search lam with Optuna (TPE): each trial trains the full budget; the objective is the peak",
              "validation metric. Re-running resumes the study; several processes (machines) sharing one",
              "--storage work on one study, and together stop at --trials trials."]
    assert broken(before) == before[:2]


@pytest.mark.parametrize("command", COMMANDS)
def test_summary_paragraph_is_one_line(command: str) -> None:
    """The command list shows a docstring's first paragraph; it must be one line."""
    summary = inspect.cleandoc(typer.main.get_command(app).commands[command].help).split("\n\n")[0]
    assert "\n" not in summary, summary
