"""Tables at 80 columns: no cell is cut (`0.0…`, `12…`, `diverg…`) and the numbers appear whole.

Checked on the real commands (a tiny probe, `recommend` on synthetic probes) and on the table
builders with the widest values they meet (tiny lams, long runs, `diverged`)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import synthetic as S
from rich.console import Console
from test_cli_advice import write_run
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.cli.compare import compare_table
from l2advisor.cli.probe_view import summary_table
from l2advisor.cli.tables import Column, fitted_table
from l2advisor.cli.tune import trials_table

runner = CliRunner()
NARROW = {"COLUMNS": "80"}


def rendered(table, width: int = 80) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue()


def widest(text: str) -> int:
    return max(len(line.rstrip()) for line in text.splitlines())


def test_probe_command_at_80_columns(tiny_model: Path, tmp_path: Path) -> None:
    args = ["probe", str(tiny_model), "--out", str(tmp_path / "run"), "--lambdas", "0.4,0.2,0.1",
            "--horizon", "2", "--seeds", "0,1", "--device", "cpu"]
    table = runner.invoke(app, args, env=NARROW)
    assert table.exit_code == 0, table.output
    rows = json.loads(runner.invoke(app, [*args, "--json"], env=NARROW).stdout)["probes"]  # reuses the probes
    assert "…" not in table.stdout and widest(table.stdout) <= 80, table.stdout
    for row in rows:
        line = next(line for line in table.stdout.splitlines()
                    if line.split()[:1] == [f"{row['lam']:.4g}"] and f" {row['seed']} " in line)
        t_star = str(int(row["t_star"])) + ("" if row["peaked"] else "+")  # +: had not clearly peaked by its end
        for cell in (f"{row['shrink']:.3g}", t_star, f"{row['tau_star']:.2f}", f"{row['peak']:.4f}",
                     f"{row['final_train_acc']:.3f}", str(row["steps"]), f"{row['seconds']:.1f}", row["status"]):
            assert cell in line.split(), (cell, line)
    said = " ".join(table.stderr.split())  # what + means, under the table
    assert ("t*+: had not clearly peaked when the probe ended" in said) is (not all(r["peaked"] for r in rows))
    assert any(not r["peaked"] for r in rows) and any(r["peaked"] for r in rows)  # both kinds shown here


WIDE_PROBES = [{"lam": lam, "shrink": 0.1 * lam, "seed": seed, "t_star": 12800, "tau_star": 12.34,
                "peak": 0.96821, "final_train_acc": 0.99512, "steps": 128000, "seconds": 1234.5,
                "status": status}
               for lam, seed, status in [(6.25e-05, 0, "finished"), (0.0125, 1, "diverged"), (0.4, 11, "stopped")]]


def test_probe_summary_keeps_the_numbers_whole() -> None:
    text = rendered(summary_table(WIDE_PROBES, "accuracy"))
    assert "…" not in text and widest(text) <= 80, text
    for cell in ("6.25e-05", "0.0125", "12800", "12.34", "0.9682", "128000", "diverged", "finished"):
        assert cell in text, cell


def test_optional_columns_give_way_before_a_number_is_cut() -> None:
    text = rendered(summary_table(WIDE_PROBES, "accuracy"), width=72)
    assert "…" not in text and "12800" in text and "diverged" in text and "0.995" in text
    assert "1234.5" not in text and "0.00125" not in text  # the seconds went first, then lr*lam


def test_a_table_too_wide_without_optional_columns_becomes_one_line_per_row() -> None:
    from l2advisor.cli.tables import _table

    columns = [Column(f"column {i}") for i in range(10)]
    rows = [["0.123456789"] * 10]
    assert "…" in rendered(_table(columns, rows, None))  # negative control: as a table, rich cuts it
    text = rendered(fitted_table(columns, rows, Console(width=80)))
    assert "…" not in text and text.count("0.123456789") == 10 and widest(text) <= 80
    assert "column 0 0.123456789, column 1 0.123456789" in " ".join(text.split())


def test_probe_summary_at_50_columns_names_every_number_whole() -> None:
    text = rendered(summary_table(WIDE_PROBES, "accuracy", Console(width=50)), width=50)
    assert "…" not in text and widest(text) <= 50, text
    for cell in ("6.25e-05", "12800", "0.9682", "diverged"):
        assert cell in text, cell


def test_tune_table_at_80_columns() -> None:
    rows = [{"number": 117, "lam": 1.234e-06, "state": state, "value": 0.96821, "steps": 128000,
             "seconds": 12345.6, "surplus": False, "retry_of": retry}
            for state, retry in [("COMPLETE", None), ("PRUNED", None), ("FAIL", 12)]]
    text = rendered(trials_table(rows, "accuracy", "Optuna study 'mnist_cnn-T20000-seed0'"))
    assert "…" not in text and widest(text) <= 80, text
    for cell in ("117", "1.23e-06", "COMPLETE", "PRUNED", "0.9682", "128000", "retry of 12"):
        assert cell in text, cell


def test_compare_table_at_80_columns() -> None:
    arms = ["advisor", "autol2", "default", "zero", "optuna"]
    rows = [{"arm": arm, "lam": 1.234e-03, "peak_mean": 0.96821, "peak_sd": 0.00123, "test_mean": 0.95512,
             "test_sd": 0.00234, "compute_steps": 1_234_567, "compute_seconds": 12_345, "raw_best": 0.97123,
             "note": "its lam from the probes" if arm == "advisor" else ""} for arm in arms]
    report = {"metric": "accuracy", "settings": {"budget": 20000, "seeds": [0, 1, 2]}, "rows": rows}
    text = rendered(compare_table(report))
    assert "…" not in text and widest(text) <= 80, text
    for cell in ("0.00123", "0.9682", "± 0.0012", "0.9551", "1,234,567", "0.9712", "advisor"):
        assert cell in text, cell


def test_recommend_panel_at_80_columns(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    write_run(run_dir, S.family())
    panel = runner.invoke(app, ["recommend", str(run_dir), "--budget", "20000"], env=NARROW)
    assert panel.exit_code == 0, panel.output
    advice = json.loads(runner.invoke(app, ["recommend", str(run_dir), "--budget", "20000", "--json"]).stdout)
    assert "…" not in panel.stdout and widest(panel.stdout) <= 80, panel.stdout
    assert f"weight_decay={advice['weight_decay']:.3g}" in panel.stdout
    lo, hi = advice["interval"]
    assert f"{lo:.3g} .. {hi:.3g}" in panel.stdout


def test_stderr_of_a_log_file_is_drawn_120_wide_and_a_terminal_its_own(monkeypatch) -> None:
    import sys

    from l2advisor.consoles import log_width

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert log_width() == 120  # rich's 80 cut the bars' counts and times ("560…", "0:0…")
    monkeypatch.setenv("COLUMNS", "60")
    assert log_width() is None  # the user's $COLUMNS: rich reads it
    monkeypatch.delenv("COLUMNS")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert log_width() is None  # a terminal: its own width


def test_probe_into_a_file_keeps_every_column_and_logs_a_line_per_probe(tiny_model: Path, tmp_path: Path) -> None:
    """Piped or in a log (no terminal, no $COLUMNS), the summary was fitted to rich's 80 columns,
    dropping "ended at s" (and more for smaller lams), and the bars reached the log only at the
    end, drawn once. Now: the whole table on stdout, and a plain line per probe as it ends."""
    args = ["probe", str(tiny_model), "--out", str(tmp_path / "run"), "--lambdas", "0.4,0.2,0.00625",
            "--horizon", "1", "--seeds", "0,1", "--device", "cpu"]
    result = runner.invoke(app, args, env={"COLUMNS": None})
    assert result.exit_code == 0, result.output
    rows = json.loads(runner.invoke(app, [*args, "--json"]).stdout)["probes"]
    assert "at s" in result.stdout and widest(result.stdout) > 80, result.stdout  # wider than rich's default
    for row in rows:
        line = next(line for line in result.stdout.splitlines()
                    if line.split()[:1] == [f"{row['lam']:.4g}"] and f" {row['seed']} " in line)
        for cell in (f"{row['shrink']:.3g}", f"{row['final_train_acc']:.3f}", f"{row['seconds']:.1f}"):
            assert cell in line.split(), (cell, line)
    logged = [line for line in result.stderr.splitlines() if " ended, " in line]
    assert "━" not in result.stderr and len(logged) == len(rows), result.stderr
    for k, line in enumerate(logged, start=1):
        assert f"({k} of {len(rows)} ended, " in line and ", tau " in line and ", val " in line, line
    said = {f"lr=0.1/lam={r['lam']:g}/seed={r['seed']}: {r['status']} at step {r['steps']} of " for r in rows}
    assert {line[:line.index(" of ") + 4] for line in logged} == said, logged
