"""`compare`: the compute accounting against hand-computed numbers, the arms end to end."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.probing.plan import ProbeSettings
from l2advisor.runs.store import read_results
from l2advisor.training.train import TrainConfig
from l2advisor.tuning.accounting import (
    Cost,
    best_so_far,
    mean_sd,
    method_cost,
    optuna_costs,
    trials_to_match,
)
from l2advisor.tuning.arms import ArmRun, evaluate_metric, run_seed, summarize_arm
from l2advisor.tuning.baseline import StudySettings
from l2advisor.tuning.compare import CompareSettings, Comparison
from tests.conftest import TINY_MODEL, write_model

runner = CliRunner()


def test_method_cost_is_the_whole_search_plus_one_final_run() -> None:
    probes = [Cost(100, 1.0), Cost(200, 2.5), Cost(400, 4.0)]
    finals = [Cost(1000, 10.0), Cost(1000, 12.0), Cost(1000, 11.0)]
    assert method_cost(probes, finals) == Cost(100 + 200 + 400 + 1000, 1.0 + 2.5 + 4.0 + 11.0)
    assert method_cost([], finals) == Cost(1000, 11.0)  # default, lam = 0: one run
    trials = [Cost(1000, 9.0), Cost(250, 2.0), Cost(1000, 10.0)]
    assert method_cost(trials, []) == Cost(2250, 21.0)  # Optuna: its trials (the best one is the model)


def test_trials_to_match_counts_trials_and_compute_in_trial_order() -> None:
    values = [0.90, None, 0.95, 0.97]  # None: a pruned trial (it still cost compute)
    costs = [Cost(1000, 10.0), Cost(300, 3.0), Cost(1000, 11.0), Cost(1000, 9.0)]
    assert best_so_far(values) == [0.90, 0.90, 0.95, 0.97]
    assert trials_to_match(values, costs, 0.95) == {"trials": 3, "steps": 2300, "seconds": 24.0, "target": 0.95}
    assert trials_to_match(values, costs, 0.90)["trials"] == 1
    assert trials_to_match(values, costs, 0.98) is None


def test_optuna_costs_keep_counted_trials_and_ignore_pruned_values() -> None:
    trials = [{"state": "COMPLETE", "value": 0.9, "steps": 100, "seconds": 1.0},
              {"state": "FAIL", "value": None, "steps": 40, "seconds": 0.5},  # interrupted: left out
              {"state": "PRUNED", "value": 0.8, "steps": 30, "seconds": 0.25},
              {"state": "COMPLETE", "value": 0.95, "steps": 100, "seconds": 1.5}]
    values, costs = optuna_costs(trials)
    assert values == [0.9, None, 0.95]
    assert costs == [Cost(100, 1.0), Cost(30, 0.25), Cost(100, 1.5)]


def test_an_arm_row_has_mean_sd_and_both_compute_figures() -> None:
    runs = [ArmRun("advisor", 1e-3, seed, peak, 80, None, 1000, secs, "finished")
            for seed, peak, secs in ((0, 0.90, 10.0), (1, 0.92, 12.0), (2, 0.94, 14.0))]
    row = summarize_arm("advisor", 1e-3, runs, [Cost(500, 5.0), Cost(700, 6.0)])
    assert row["peak_mean"] == pytest.approx(0.92) and row["peak_sd"] == pytest.approx(0.02)
    assert (row["compute_steps"], row["compute_seconds"]) == (2200, 23.0)  # probes + one run
    assert (row["spent_steps"], row["spent_seconds"]) == (4200, 47.0)  # probes + every seed
    assert row["test_mean"] is None and mean_sd([0.5]) == (0.5, None)


def test_test_metric_is_taken_at_the_peak_validation_checkpoint(tmp_path: Path) -> None:
    # build_test returns the validation set itself: the test metric must equal the peak
    model = write_model(tmp_path, TINY_MODEL + "\ndef build_test():\n    return _blobs(128, 2)\n")
    task = build_task(load_spec(model))
    import torch

    from l2advisor.training.batches import eval_chunks

    chunks = eval_chunks(task.val, torch.device("cpu"))
    records: list[dict] = []
    config = TrainConfig(lr=0.5, batch_size=32, max_steps=60, eval_every=5, seed=1)
    run = run_seed(task, config, "default", 0.05, chunks, records.append, None, lambda: False)
    evals = [r["val_metric"] for r in records if r["type"] == "eval"]
    assert run.peak == max(evals) and run.test_metric == pytest.approx(run.peak)
    assert run.peak_step == records[1 + evals.index(max(evals))]["step"]
    assert records[-1]["type"] == "end" and records[-1]["test_metric"] == run.test_metric
    # the control: an untrained model scores well below it, so the match above is the checkpoint's
    assert evaluate_metric(task.spec.build_model(), chunks, "accuracy") < run.peak - 0.1


def compare_args(model: Path, out: Path, *extra: str) -> list[str]:
    return ["compare", str(model), "--budget", "40", "--eval-every", "10", "--trials", "2", "--seeds", "2",
            "--probe-budget", "400", "--probe-seeds", "0", "--horizon", "0.4", "--out", str(out),
            "--device", "cpu", *extra]


def test_compare_runs_every_arm_and_accounts_compute(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = runner.invoke(app, [*compare_args(tiny_model, out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads((out / "compare.json").read_text())  # stdout is compare.json, versions included
    assert report["schema_version"] and report["l2advisor_version"]
    rows = {row["arm"]: row for row in report["rows"]}
    assert list(rows) == ["advisor", "autol2", "default", "zero", "optuna"]
    probes = read_results(out / "probes.jsonl")
    probe_steps = sum(state.end["steps"] for state in probes.runs.values())
    assert rows["advisor"]["compute_steps"] == probe_steps + 40  # probes + one run of the budget
    assert rows["autol2"]["search_steps"] == probe_steps
    assert rows["default"]["compute_steps"] == 40 and rows["default"]["lam"] == 5e-4 and rows["zero"]["lam"] == 0
    assert rows["optuna"]["compute_steps"] == 2 * 40 and len(rows["optuna"]["runs"]) == 2
    assert all(len(row["runs"]) == 2 and row["test_mean"] is not None for row in rows.values())
    assert report["versions"]["optuna"] and report["optuna_study"]["sampler"]["sampler"] == "TPESampler"
    assert (out / "compare.json").exists() and (out / "compare.png").stat().st_size > 0
    lines = len((out / "compare_runs.jsonl").read_text().splitlines())
    again = runner.invoke(app, compare_args(tiny_model, out))  # resumes: every run is reused
    assert again.exit_code == 0, again.output
    assert len((out / "compare_runs.jsonl").read_text().splitlines()) == lines
    assert "autol2" in again.stdout and "the advisor's mean" in again.stdout
    bar = next(line for line in again.stderr.splitlines() if line.startswith("compare (steps)"))
    counts = re.search(r"(\d+)/(\d+)", bar)
    assert counts and counts[1] == counts[2] and "done" in bar, bar  # reused runs count: not stuck at 0


NAN_MODEL = TINY_MODEL.replace("return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))",
                                "return nn.Sequential(nn.Linear(8, 4), Poisoned())") + """
class Poisoned(nn.Module):
    def forward(self, x):
        return x * float("nan")  # every run diverges at its first step, probes included
"""


def test_compare_sizes_its_probes_to_the_budget_by_default(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"  # no --probe-budget: planned as `probe --budget 40` (it once always failed)
    args = [a for a in compare_args(tiny_model, out, "--trials", "1", "--seeds", "1") if a not in ("--probe-budget", "400")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    from l2advisor.runs.store import read_results

    probes = read_results(next(out.rglob("probes.jsonl"))).header["settings"]["probe"]
    assert probes["budget_steps"] == 40 and probes["early_stop"] is False


def test_compare_extends_with_more_trials_and_seeds(tiny_model: Path, tmp_path: Path) -> None:
    from l2advisor.runs.store import read_results

    out = tmp_path / "cmp"
    first = runner.invoke(app, [*compare_args(tiny_model, out), "--json"])
    assert first.exit_code == 0, first.output
    runs_file = out / "compare_runs.jsonl"
    before = {rid for rid, st in read_results(runs_file).runs.items() if st.done}
    more = compare_args(tiny_model, out, "--json")
    more[more.index("--trials") + 1], more[more.index("--seeds") + 1] = "3", "3"
    again = runner.invoke(app, more)
    assert again.exit_code == 0, again.output
    assert ("a comparison with other numbers of trials and seeds: the runs the two share are reused"
            in " ".join(again.stderr.split()))
    starts = [json.loads(line) for line in runs_file.read_text().splitlines() if '"start"' in line]
    assert all(sum(s["run"] == rid for s in starts) == 1 for rid in before)  # none of them trained again
    report = json.loads(again.stdout)
    assert report["settings"]["trials"] == 3 and report["settings"]["seeds"] == [0, 1, 2]
    assert any(s["run"].startswith("zero/") and s["run"].endswith("seed=2") for s in starts)  # the new seed ran
    assert len([t for t in report["optuna_trials"] if t["state"] == "COMPLETE"]) == 3  # and the third trial
    back = runner.invoke(app, [*compare_args(tiny_model, out), "--json"])  # the earlier command still resumes
    assert back.exit_code == 0, back.output
    fewer = json.loads(back.stdout)  # and compares the study's first 2 trials, as a 2-trial study would
    assert [t["number"] for t in fewer["optuna_trials"]] == [0, 1]
    assert any("holds 3 trials; its first 2 are compared" in n for n in fewer["notes"])
    optuna_row = next(r for r in fewer["rows"] if r["arm"] == "optuna")
    assert optuna_row["compute_steps"] == 2 * 40  # two trials' compute, not three
    trained = {rid for rid, st in read_results(runs_file).runs.items() if st.done}
    other = runner.invoke(app, [*compare_args(tiny_model, out, "--default-lam", "0.01"), "--json"])
    assert other.exit_code == 0, other.output  # it needed --force, which trained every arm again
    starts = [json.loads(line) for line in runs_file.read_text().splitlines() if '"start"' in line]
    again_trained = {s["run"] for s in starts} - trained
    assert again_trained == {"default/lam=0.01/seed=0", "default/lam=0.01/seed=1"}  # that arm alone
    assert "a comparison with other default lam: the runs" in " ".join(other.stderr.split())
    default_row = next(r for r in json.loads(other.stdout)["rows"] if r["arm"] == "default")
    assert default_row["lam"] == 0.01
    moved = compare_args(tiny_model, out, "--default-lam", "0.01", "--horizon", "2")  # the control: a probe setting
    refused = runner.invoke(app, moved)
    assert refused.exit_code == 2 and "horizon" in " ".join(refused.stderr.split())


@pytest.mark.parametrize("flag,value,message", [("--budget", "0", "--budget must be a positive number of steps"),
                                                ("--probe-budget", "0", "--probe-budget must be at least 1 step"),
                                                ("--default-lam", "-1", "--default-lam must be a finite number >= 0")])
def test_compare_checks_its_numbers_before_training(tiny_model: Path, tmp_path: Path, flag: str, value: str,
                                                    message: str) -> None:
    args = compare_args(tiny_model, tmp_path / "cmp")
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in " ".join(result.stderr.split()), result.output
    assert not (tmp_path / "cmp").exists()  # nothing trained (it once trained the probes, then failed)


def test_no_usable_advice_fails_the_advisor_arms_loudly(tmp_path: Path) -> None:
    """Every probe diverges: no advice. The advisor and AutoL2 arms are failed rows (no lam, no
    runs), never the default 5e-4 under the advisor's name; the other arms still run; exit 1."""
    assert "Poisoned()" in NAN_MODEL
    out = tmp_path / "cmp"
    result = runner.invoke(app, [*compare_args(write_model(tmp_path, NAN_MODEL), out), "--json"])
    assert result.exit_code == 1, result.output
    assert "advisor and autol2 arms failed" in " ".join(result.stderr.split())
    report = json.loads(result.stdout)
    assert json.loads((out / "compare.json").read_text())["failed_arms"] == report["failed_arms"]
    rows = {row["arm"]: row for row in report["rows"]}
    assert set(report["failed_arms"]) == {"advisor", "autol2"}
    for arm in ("advisor", "autol2"):
        assert rows[arm]["failed"] and rows[arm]["lam"] is None and rows[arm]["runs"] == []
        assert rows[arm]["peak_mean"] is None and "no usable advice" in rows[arm]["note"]
    assert rows["advisor"]["search_steps"] > 0  # the probes were paid for
    assert rows["default"]["lam"] == 5e-4 and len(rows["default"]["runs"]) == 2  # the other arms ran
    runs = read_results(out / "compare_runs.jsonl").runs
    assert runs and not [r for r in runs if r.startswith(("advisor/", "autol2/"))]  # nothing trained as them
    table = runner.invoke(app, compare_args(write_model(tmp_path, NAN_MODEL), out))  # resumes: the table
    assert table.exit_code == 1 and "advisor FAILED" in table.stdout and "advisor arm failed" in table.stdout


def test_a_usable_advice_is_not_marked_failed(tiny_model: Path, tmp_path: Path) -> None:
    """The negative control at the library level: probes that train give the advisor a lam."""
    task = build_task(load_spec(tiny_model))
    base = TrainConfig(lr=0.1, batch_size=32, max_steps=10, eval_every=5)
    settings = CompareSettings(10, 1, (0,), 5, ProbeSettings((0.1,), (0,), 0.4, 100), StudySettings(trials=1))
    comparison = Comparison(task, settings, tmp_path, base, f"journal:{tmp_path / 'j.log'}", "s")
    records: list[dict] = []
    assert comparison.run(records.append, {})
    report = comparison.report()
    assert report["failed_arms"] == {} and not any(row.get("failed") for row in report["rows"])
    assert [row["arm"] for row in report["rows"]] == ["advisor", "autol2", "default", "zero", "optuna"]
    assert report["rows"][0]["lam"] > 0 and len(report["rows"][0]["runs"]) == 1
    assert dataclasses.asdict(settings.study)["trials"] == 1


def test_a_comparison_whose_probes_learned_nothing_says_so_in_its_notes(tiny_model: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from l2advisor.science import fit as fit_module

    real = fit_module.fit_relations

    def learned_nothing(*args, **kwargs):  # as an lr of 200 or random labels make it
        fitted = real(*args, **kwargs)
        return dataclasses.replace(fitted, reasons=(fit_module.NOTHING_LEARNED, *fitted.reasons))

    monkeypatch.setattr(fit_module, "fit_relations", learned_nothing)
    result = runner.invoke(app, [*compare_args(tiny_model, tmp_path / "cmp"), "--json"])
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["notes"]
    assert any(n.startswith("The probes learned nothing") for n in notes), notes
    monkeypatch.setattr(fit_module, "fit_relations", real)  # the control: a model that learns
    plain = runner.invoke(app, [*compare_args(tiny_model, tmp_path / "cmp2"), "--json"])
    assert not any(n.startswith("The probes learned nothing") for n in json.loads(plain.stdout)["notes"])
    conclusion = json.loads(plain.stdout)["conclusion"]  # the sentence under the table, for scripts too
    assert conclusion.startswith("Optuna's") and conclusion.endswith(".")
    assert json.loads((tmp_path / "cmp2" / "compare.json").read_text())["conclusion"] == conclusion


def test_compare_says_when_the_advisors_probes_cost_more_than_the_cap(tiny_model: Path, tmp_path: Path) -> None:
    """`compare --budget 20` ran 5,600 probe steps for a 20-step budget without a word, where `probe
    --budget 20` warns; a --probe-budget (no sizing to the budget) is the control."""
    args = ["compare", str(tiny_model), "--budget", "40", "--eval-every", "10", "--trials", "1", "--seeds", "1",
            "--probe-seeds", "0", "--device", "cpu"]
    sized = runner.invoke(app, [*args, "--out", str(tmp_path / "sized")])
    assert sized.exit_code == 0, sized.output
    said = " ".join(sized.stderr.split())
    assert "The advisor's probes: Sized for a budget of 40 steps" in said and "More than the cap" in said
    hand = runner.invoke(app, [*args, "--probe-budget", "400", "--horizon", "0.4", "--out", str(tmp_path / "hand")])
    assert hand.exit_code == 0, hand.output
    assert "Sized for a budget" not in " ".join(hand.stderr.split())


def test_sub_second_compute_is_not_shown_as_zero() -> None:
    from l2advisor.cli.compare_words import seconds_text

    assert [seconds_text(v) for v in (0.43, 0.0041, 9.96, 12.6, 1234.4, None)] == ["0.43", "0.0041", "10", "13", "1,234", "-"]


def test_the_match_line_says_when_another_arm_beat_the_advisor() -> None:
    """"Optuna never reached the advisor's mean" read as a win where the table put the advisor last."""
    from l2advisor.cli.compare import match_line

    rows = [{"arm": "advisor", "peak_mean": 0.9798, "compute_steps": 7600, "compute_seconds": 0.35},
            {"arm": "default", "peak_mean": 0.9836}, {"arm": "zero", "peak_mean": 0.9820},
            {"arm": "optuna", "peak_mean": 0.9700}]
    report = {"rows": rows, "optuna_trials": [], "trials_to_match": None, "settings": {"trials": 4}}
    said = match_line(report)
    assert said.startswith("Optuna's trials (one seed each) never reached the advisor's mean 0.9798 in 4 trials")
    assert said.endswith("; the advisor is not the best arm here: default 0.9836, zero 0.9820 scored higher.")
    rows[0]["peak_mean"] = 0.99  # the control: the advisor best, nothing added (one seed: no gap weighed)
    assert "not the best arm" not in match_line(report) and "clearly higher" not in match_line(report)
    report["trials_to_match"] = {"target": 0.99, "trials": 2, "steps": 2000, "seconds": 0.35}
    assert "(2,000 steps, 0.35 s; the advisor used 7,600 steps, 0.35 s)." in match_line(report)  # not "0 s"


def test_an_advice_outside_optunas_range_is_noted(tiny_model: Path, tmp_path: Path) -> None:
    """AdamW's advice (0.625) lay above Optuna's default range (up to 0.1) with "notes": []."""
    outside = runner.invoke(app, [*compare_args(tiny_model, tmp_path / "narrow"), "--lam-high", "1e-5",
                                  "--lam-low", "1e-6", "--json"])
    assert outside.exit_code == 0, outside.output
    report = json.loads(outside.stdout)
    lam = report["advice"]["weight_decay"]
    assert lam > 1e-5 and any(n.startswith(f"The advice, lam = {lam:.3g}, lies outside Optuna's search range "
                                           "[1e-06, 1e-05]") for n in report["notes"]), report["notes"]
    wide = runner.invoke(app, [*compare_args(tiny_model, tmp_path / "wide"), "--lam-high", "10", "--json"])
    assert wide.exit_code == 0 and not any("outside Optuna's search range" in n
                                           for n in json.loads(wide.stdout)["notes"])  # the control


def test_the_match_line_says_when_the_nearest_arm_is_within_the_seeds_noise() -> None:
    """A reviewer's AdamW MLP: the advisor 0.9750 ± 0.0024 against Optuna's lam re-run 0.9650 ± 0.0071,
    2 seeds, 300 validation examples: "never reached the advisor's mean" with nothing of the noise."""
    from l2advisor.cli.compare import match_line

    rows = [{"arm": "advisor", "peak_mean": 0.9750, "peak_sd": 0.0024, "compute_steps": 8400, "compute_seconds": 4.0},
            {"arm": "optuna", "peak_mean": 0.9650, "peak_sd": 0.0071}, {"arm": "zero", "peak_mean": 0.9600,
                                                                         "peak_sd": 0.0040}]
    report = {"rows": rows, "optuna_trials": [], "trials_to_match": None, "settings": {"trials": 5, "seeds": [0, 1]}}
    said = match_line(report)
    assert "; Optuna's lam re-run 0.9650 ties with the advisor within the seeds' noise (twice the standard error " \
           "of the difference, 2 seeds each)" in said
    assert said.endswith("; the advisor scored clearly higher than zero 0.9600 (beyond twice the standard error of "
                         "the difference).")  # zero: 0.0150 below, beyond 2 se (0.0047)
    rows[1]["peak_sd"] = 0.0010  # the control: a gap of 0.0100 against 2 se of 0.0052 is said as it is
    assert "noise" not in match_line(report)
    rows[1]["peak_sd"] = 0.0071
    report["settings"]["seeds"] = [0]  # one seed: no sd to weigh a gap with
    assert "noise" not in match_line(report)


def test_the_nothing_learned_note_reads_as_one_sentence_in_either_wording() -> None:
    import synthetic as S

    from l2advisor.science.fit import NOTHING_LEARNED, fit_relations
    from l2advisor.tuning.compare import _why_nothing

    assert _why_nothing(NOTHING_LEARNED).startswith("No probe's validation metric rose above the best untrained")
    solved = fit_relations(S.solved_for_seed_0()).reasons[0]
    assert _why_nothing(solved).startswith("Nothing was learned beyond the best untrained model: seed 0's is at 1.0000")
    assert "l2advisor maximizes it" in _why_nothing(NOTHING_LEARNED)  # the rest kept as written, not lowercased


def test_an_arm_above_the_advisor_within_the_noise_ties_and_beyond_it_wins() -> None:
    """A reviewer's compare said "the advisor is not the best arm here: default 0.9387" against the
    advisor's 0.9375, one validation example in one of two seeds."""
    from l2advisor.cli.compare import match_line

    rows = [{"arm": "advisor", "peak_mean": 0.9375, "peak_sd": 0.0, "compute_steps": 8000, "compute_seconds": 3.0},
            {"arm": "default", "peak_mean": 0.93875, "peak_sd": 0.0018}, {"arm": "zero", "peak_mean": 0.9300,
                                                                           "peak_sd": 0.0010}]
    report = {"rows": rows, "optuna_trials": [], "trials_to_match": None, "settings": {"trials": 6, "seeds": [0, 1]}}
    said = match_line(report)
    assert "not the best arm" not in said
    assert "; default 0.9387 ties with the advisor within the seeds' noise (twice the standard error of the " \
           "difference, 2 seeds each); the advisor scored clearly higher than zero 0.9300" in said
    rows[1]["peak_mean"] = 0.9500  # the control: beyond the noise it is said to win
    assert "; the advisor is not the best arm here: default 0.9500 scored higher beyond the seeds' noise" in \
        match_line(report)


def test_the_raw_best_is_called_biased_upward_only_above_its_rerun() -> None:
    from l2advisor.cli.compare import _raw_note

    assert _raw_note({"raw_best": 0.9700, "peak_mean": 0.9663}) == "one noisy run, biased upward"
    assert _raw_note({"raw_best": 0.9650, "peak_mean": 0.9663}) == "one noisy run"  # a reviewer's c1
    assert _raw_note({"raw_best": 0.9650, "peak_mean": None}) == "one noisy run, biased upward"


def test_the_match_line_names_the_arms_the_advisor_beat_and_a_lam_optuna_could_not_try() -> None:
    """A reviewer's regression: the advisor beat default and zero by 3.6 standard errors, unsaid;
    its advice (0.2) lay outside Optuna's range [1e-6, 0.1], said on stderr only."""
    from l2advisor.cli.compare import match_line

    rows = [{"arm": "advisor", "lam": 0.2, "peak_mean": -0.5813, "peak_sd": 0.0001, "compute_steps": 8600,
             "compute_seconds": 4.0},
            {"arm": "default", "peak_mean": -0.6022, "peak_sd": 0.0082}, {"arm": "zero", "peak_mean": -0.6022,
                                                                          "peak_sd": 0.0082},
            {"arm": "optuna", "peak_mean": -0.5815, "peak_sd": 0.0003}]
    report = {"rows": rows, "optuna_trials": [], "trials_to_match": None,
              "settings": {"trials": 3, "seeds": [0, 1], "study": {"lam_low": 1e-6, "lam_high": 0.1}}}
    said = match_line(report)
    assert "; the advisor scored clearly higher than default -0.6022, zero -0.6022 (beyond twice the standard " \
           "error of the difference)" in said
    assert "Optuna's lam re-run -0.5815 ties with the advisor" in said  # within the noise: not among the beaten
    assert said.endswith("; Optuna could not try the advised lam 0.2, outside its search range [1e-06, 0.1] "
                         "(--lam-low, --lam-high): widen it for a fair race.")
    report["settings"]["study"]["lam_high"] = 1.0  # the control: inside the range, nothing said of it
    rows[1]["peak_mean"] = rows[2]["peak_mean"] = -0.5820  # and within the noise: not beaten
    assert "could not try" not in match_line(report) and "clearly higher" not in match_line(report)


def test_the_table_title_names_the_budget_as_given_and_the_lr_schedule() -> None:
    """`compare --budget 300 --unit epochs --lr-schedule cosine` was titled "budget 2700 steps"."""
    from rich.console import Console

    from l2advisor.cli.compare import compare_table

    rows = [{"arm": "advisor", "lam": 0.01, "peak_mean": 0.9, "peak_sd": 0.01, "test_mean": None, "test_sd": None,
             "compute_steps": 1000, "compute_seconds": 1.0, "note": ""}]
    report = {"rows": rows, "metric": "accuracy", "budget_as_given": {"value": 300.0, "unit": "epochs"},
              "settings": {"budget": 2700, "seeds": [0, 1], "lr_schedule": "cosine", "warmup": 100}}
    console = Console(width=120, record=True)
    console.print(compare_table(report, console))
    assert "Comparison: budget 300 epochs (2700 steps), cosine lr after 100 warmup steps, 2 seeds" in \
        " ".join(console.export_text().split())  # the title wraps at the table's width
    plain = {**report, "budget_as_given": {"value": 2700.0, "unit": "steps"}, "settings": {"budget": 2700, "seeds": [0]}}
    console = Console(width=120, record=True)
    console.print(compare_table(plain, console))
    assert "Comparison: budget 2700 steps, 1 seed peak val" in " ".join(console.export_text().split())  # nothing added


def test_arms_with_failed_runs_are_not_weighed_against_the_advisor() -> None:
    """Review 38: a run that failed at step 50 had its partial peak averaged into its arm's mean, and
    the conclusion called the arms tied with the advisor."""
    from l2advisor.cli.compare import match_line

    ok, failed = [{"status": "finished"}, {"status": "finished"}], [{"status": "finished"}, {"status": "failed"}]
    rows = [{"arm": "advisor", "lam": 0.01, "peak_mean": 0.95, "peak_sd": 0.001, "compute_steps": 8600,
             "compute_seconds": 4.0, "runs": ok},
            {"arm": "default", "peak_mean": 0.80, "peak_sd": 0.15, "runs": failed},
            {"arm": "zero", "peak_mean": 0.90, "peak_sd": 0.001, "runs": ok}]
    report = {"rows": rows, "optuna_trials": [], "trials_to_match": None, "settings": {"trials": 3, "seeds": [0, 1]}}
    said = match_line(report)
    assert "; not weighed, some of their runs failed: default" in said and "than zero 0.9000" in said
    assert "default 0.8000" not in said
    rows[0]["runs"] = failed  # the advisor's own: nothing is weighed against it
    assert "the advisor's own runs include one that failed, so no arm is weighed against it." in match_line(report)
    rows[0]["runs"] = rows[1]["runs"] = ok  # the control: every run finished, default is weighed (and beaten)
    rows[1]["peak_sd"] = 0.01
    assert "zero 0.9000, default 0.8000" in match_line(report) and "not weighed" not in match_line(report)


def test_more_probe_seeds_extend_a_comparison_as_probe_adds_them(tiny_model: Path, tmp_path: Path) -> None:
    """Review 37b: `compare --probe-seeds 0,1` on a comparison probed with seed 0 was refused and had to
    train everything again; `probe` reuses its probes and adds the new seed's."""
    out = tmp_path / "cmp"
    assert runner.invoke(app, compare_args(tiny_model, out)).exit_code == 0
    starts = lambda: [json.loads(ln) for ln in (out / "probes.jsonl").read_text().splitlines()  # noqa: E731
                      if json.loads(ln).get("type") == "start"]
    first = starts()
    args = compare_args(tiny_model, out)
    args[args.index("--probe-seeds") + 1] = "0,1"
    more = runner.invoke(app, [*args, "--json"])
    assert more.exit_code == 0, more.output
    assert "other probe seeds" in " ".join(more.stderr.split())
    after = starts()
    assert after[:len(first)] == first and {s["seed"] for s in after[len(first):]} == {1}  # seed 0 reused
    args[args.index("--probe-seeds") + 1] = "1"  # the control: seed 0 dropped, its probes would still be fitted
    fewer = runner.invoke(app, args)
    assert fewer.exit_code == 2 and "compare.probe.seeds" in " ".join(fewer.output.split())
