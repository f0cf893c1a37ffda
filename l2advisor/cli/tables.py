"""Tables that fit the terminal and never cut a number (`0.0…`, `12…`, `diverg…`).

A table is built from `Column`s and rows of strings. Number and status columns never wrap;
text columns marked `wrap` may wrap at spaces. Rows are drawn compactly (a rule under the
header, one space of padding); if the table still does not fit the console, the optional
columns (`drop` > 0) go, highest `drop` first, until it fits; narrower still, each row becomes
one wrapped line of `header value` pairs. The JSON outputs always carry every field.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from l2advisor.logged_progress import LoggedProgress


@dataclass(frozen=True)
class Column:
    header: str  # may hold "\n": a two-line header is narrower
    justify: str = "right"
    drop: int = 0  # 0: always shown; otherwise dropped to fit, the highest first
    wrap: bool = False  # text that may wrap at spaces (never a number)


def fitted_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], console: Console,
                 title: str | None = None, whole: bool = False) -> Table:
    """A table of `rows` (one string per column) no wider than `console.width`, if dropping
    the optional columns can make it so; rich would otherwise cut cells with an ellipsis.
    `whole`: every column, as wide as it needs (for a file or a pipe, which has no width; print
    it on a soft-wrapping console)."""
    if whole:
        return _whole(_table(list(columns), [list(row) for row in rows], title))
    kept = list(range(len(columns)))
    optional = sorted((i for i, c in enumerate(columns) if c.drop > 0), key=lambda i: -columns[i].drop)
    while True:
        table = _table([columns[i] for i in kept], [[row[i] for i in kept] for row in rows], title)
        if not _cut(table, console.width):
            return table
        if not optional:  # too narrow even so: one wrapped line per row, every field named
            return _stacked([columns[i] for i in kept], [[row[i] for i in kept] for row in rows], title)
        kept.remove(optional.pop(0))


def _stacked(columns: list[Column], rows: list[list[str]], title: str | None) -> Table:
    """Each row as one text cell, `header value` pairs joined by ", ", wrapping at the spaces: a
    number is cut only if it alone is wider than the console."""
    table = Table(title=title, title_justify="left", box=None, show_header=False, padding=(0, 0), pad_edge=False)
    table.add_column(no_wrap=False)
    names = [" ".join(c.header.split()) for c in columns]
    for row in rows:
        table.add_row(", ".join(f"{name} {value}" for name, value in zip(names, row, strict=True)))
    return table


def _table(columns: list[Column], rows: list[list[str]], title: str | None) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1),
                  pad_edge=False)
    for column in columns:
        table.add_column(column.header, justify=column.justify, no_wrap=not column.wrap)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    return table


def _whole(table: Table) -> Table:
    """`table` fixed at its natural width, which rich then draws even past the console's."""
    from rich.measure import Measurement

    wide = Console(file=io.StringIO(), width=10_000, color_system=None, legacy_windows=False)
    table.width = Measurement.get(wide, wide.options, table).maximum
    return table


def _cut(table: Table, width: int) -> bool:
    """Whether rich, drawing `table` `width` columns wide, cuts a cell (with an ellipsis)."""
    probe = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    probe.print(table)
    return "…" in probe.file.getvalue()  # type: ignore[attr-defined]


def step_bars(elapsed: bool = False, disable: bool = False) -> LoggedProgress:
    """rich bars on stderr as every long command draws them: description, bar, steps done of
    total, an info field, (elapsed time,) time remaining; `disable`: kept, never drawn. Where
    stderr is not a terminal, a plain line now and then instead (l2advisor/logged_progress.py), disabled or not.
    rich.progress is imported here, so that `--help` need not load it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from l2advisor.cli.app import err
    from l2advisor.logged_progress import LoggedProgress, log_every

    return LoggedProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[info]}"), *([TimeElapsedColumn()] if elapsed else []),
                          TimeRemainingColumn(), console=err, every_s=log_every(), disable=disable,
                          plain_unless_live=not disable)
