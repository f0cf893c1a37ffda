"""`probe --lrs a,b`: the summary names each probe's lr. It showed lam and lr*lam only, and on a
narrow terminal lr*lam gives way first, leaving two rows with the same lam and seed and nothing
to tell which lr each was; one lr keeps the table as it was."""

from __future__ import annotations

import io

from rich.console import Console

from l2advisor.cli.probe_view import summary_table


def _row(lam: float, lr: float, seed: int) -> dict:
    return {"lam": lam, "lr": lr, "shrink": lr * lam, "seed": seed, "t_star": 400, "tau_star": 2.0, "peak": 0.84,
            "final_train_acc": 0.98, "steps": 1600, "seconds": 1.0, "status": "finished"}


def _lines(rows: list[dict], width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(summary_table(rows, "accuracy", console))
    return console.file.getvalue().splitlines()


def test_probes_at_two_lrs_are_told_apart_at_any_width() -> None:
    rows = [_row(0.05, lr, seed) for lr in (0.1, 0.05) for seed in (0, 1)]
    for width in (120, 72, 64):
        lines = _lines(rows, width)
        shown = [" ".join(line.split()) for line in lines if "finished" in line]
        assert len(shown) == len(set(shown)) == len(rows), (width, lines)  # one distinct line per probe
        assert any(line.split()[:2] == ["lam", "lr"] for line in lines), (width, lines)


def test_one_lr_keeps_the_table_as_it_was() -> None:
    lines = _lines([_row(0.05, 0.1, seed) for seed in (0, 1)], 120)
    assert lines[2].split() == ["lam", "lr*lam", "seed", "t*", "tau*", "accuracy", "acc", "steps", "at", "s",
                                "status"], lines
