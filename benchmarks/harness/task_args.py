"""The command-line choice of suite tasks and rounds that the cost benchmarks share."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def task_parser(description: str, quick_help: str, rounds_help: str = "rounds [3]") -> argparse.ArgumentParser:
    """--budget (steps), --tasks, --rounds, --quick and --json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--budget", type=int, default=6400, help="budget-run length in steps [6400]")
    parser.add_argument("--tasks", default=None, help="comma-separated suite tasks [all]")
    parser.add_argument("--rounds", type=int, default=3, help=rounds_help)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    return parser


def chosen(parser: argparse.ArgumentParser, args: argparse.Namespace, tasks: Sequence[str],
           quick_tasks: Sequence[str]) -> tuple[tuple[str, ...], int]:
    """The tasks asked for (all, or the quick ones) and the rounds (1 with --quick); a task the
    suite does not have, or fewer than 1 round, is the parser's error (exit 2)."""
    names = tuple(args.tasks.split(",")) if args.tasks else tuple(quick_tasks if args.quick else tasks)
    unknown = [n for n in names if n not in tasks]
    if unknown:
        parser.error(f"unknown task(s): {', '.join(unknown)}; the suite has {', '.join(tasks)}")
    rounds = 1 if args.quick else args.rounds
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    return names, rounds
