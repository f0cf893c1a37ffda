"""report.md after an AutoL2 advice: the setup the runs were told (a reviewer's report showed only the
constant advice after `train --autol2 --advise`, the AutoL2 settings nowhere but advice.json)."""

from __future__ import annotations

from pathlib import Path

import synthetic as S
from test_cli_advice import as_json, write_run

from l2advisor.cli.report_run import report_command


def test_an_autol2_advice_is_in_the_report(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", S.family())
    told = as_json(run, "--budget", "4000", "--autol2")
    report_command(run, None)
    text = " ".join((run / "report.md").read_text().split())
    assert "## AutoL2" in text
    assert (f"The AutoL2 schedule saved with this advice: `lam0={told['lam0']:.4g}`, "
            f"`refractory_tau={told['refractory_tau']:.4g}`, `lam_min={told['lam_min']:.4g}`, "
            f"`decay={told['decay']:.4g}`; `{told['train_command']}` trains it.") in text
    assert all(r in text for r in told["reasons"])


def test_a_constant_advice_has_no_autol2_section(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", S.family())
    as_json(run, "--budget", "4000")  # the control: recommend without --autol2 saves none
    report_command(run, None)
    assert "## AutoL2" not in (run / "report.md").read_text()
