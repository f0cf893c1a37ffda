"""`train --advise --autol2` takes every advised AutoL2 setting from the probes; the resume note and
the refusal count and name what they should."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from l2advisor.cli.app import app
from tests.cli.test_cli_probe_budget import budget_args
from tests.cli.test_cli_train_advise import advise_args

runner = CliRunner()


def test_more_seeds_are_named_fine_alone_beside_what_blocks(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, budget_args(tiny_model, out, "5000")).exit_code == 0  # seed 0
    args = budget_args(tiny_model, out, "5000", "--lr", "0.05")
    args[args.index("--seeds") + 1] = "0,1"
    result = runner.invoke(app, args)
    said = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "would be accepted on" in said
    assert "probe.seeds: [0] -> [0, 1]" in said.split("; the other difference")[1]


def test_advise_autol2_refuses_each_setting_the_probes_give(tiny_model: Path, tmp_path: Path) -> None:
    for flag, value in (("--refractory-tau", "3"), ("--lam-min", "1e-5")):
        result = runner.invoke(app, [*advise_args(tiny_model, tmp_path / "r"), "--autol2", flag, value])
        assert result.exit_code == 2, (flag, result.output)
        assert f"takes {flag} from the probes" in " ".join(result.stderr.split()) and "drop it" in result.stderr
    assert not (tmp_path / "r").exists()


def test_advised_autol2_is_the_printed_command() -> None:
    from l2advisor.cli.advise_first import advised_autol2
    from l2advisor.cli.autol2_advice import autol2_flags
    from l2advisor.science.autol2_setup import AUTOL2_DECAY, AutoL2Advice

    cfg = AutoL2Advice(lam0=0.0123456789, decay=AUTOL2_DECAY, refractory_tau=1.23456789, lam_min=0.000123456789,
                       lr=0.1, budget_steps=2000, verdict="holds", reasons=())
    flags = {"refractory_tau": None, "lam_min": None, "decay": None, "check_every": 5, "patience": None}
    lam0, rest = advised_autol2({"autol2": cfg.to_dict()}, flags)
    printed = autol2_flags(cfg, "m.py", {}).split()
    value = lambda flag: float(printed[printed.index(flag) + 1])  # noqa: E731
    assert lam0 == value("--lam0")
    assert rest == {"refractory_tau": value("--refractory-tau"), "lam_min": value("--lam-min"), "check_every": 5}


def test_the_reuse_note_counts_only_finished_probes(tiny_model: Path, tmp_path: Path) -> None:
    import json

    from l2advisor.runs.rundir import results_path

    out = tmp_path / "run"
    assert runner.invoke(app, budget_args(tiny_model, out, "10000")).exit_code == 0  # 4 rungs
    path = results_path(out)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    runs = [r["run"] for r in records if r.get("type") == "start"]
    cut = {runs[0], runs[-1]}  # interrupted: the smallest rung, and one the 5,000-step plan leaves out
    path.write_text("".join(json.dumps(r) + "\n" for r in records
                            if not (r.get("type") == "end" and r.get("run") in cut)))
    fewer = runner.invoke(app, budget_args(tiny_model, out, "5000"))
    said = " ".join(fewer.stderr.split())
    assert fewer.exit_code == 0, fewer.output
    assert "2 of the plan's 3 probes are already here and reused" in said and "outside this plan" not in said


def test_flag_names_spell_keywords_as_the_command_line_does() -> None:
    from l2advisor.cli.app import flag_names

    assert flag_names(["lam0", "check_every", "refractory_tau"]) == ["--lam0", "--check-every", "--refractory-tau"]
    assert flag_names(k for k in ()) == []
