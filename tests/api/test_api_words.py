"""The Python API speaks in its keywords: notices, warnings, the advice's reasons and caveats and
refusals from the shared (command-line worded) code name `probe_budget=`, `budget=`, ... and not the
flags a Python caller never typed; the command line still prints its flags; the translation on its own."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
import synthetic as S
from test_api import blobs, build_model
from test_cli_advice import as_json, write_run
from typer.testing import CliRunner

import l2advisor
from l2advisor.cli.app import app
from l2advisor.errors import InputError, RunFailed

FLAG = re.compile(r"(?<![\w/])--[a-z]")  # a command-line flag left in the API's text
runner = CliRunner()


def flagless(lines: Iterable[str]) -> bool:
    return not any(FLAG.search(line) for line in lines)


def cli_probe(model: Path, out: Path, *flags: str) -> tuple[int, str]:
    done = runner.invoke(app, ["probe", str(model), "--out", str(out), "--seeds", "0", "--device", "cpu", *flags])
    return done.exit_code, " ".join(done.stderr.split())


@pytest.fixture(scope="module")
def dear(tmp_path_factory: pytest.TempPathFactory) -> l2advisor.ProbeResults:
    """Probes for a 50-step run: the cheapest plan costs more than the cap (1,400 probe steps)."""
    return l2advisor.probe(build_model, blobs(128, 1), blobs(64, 2), out=tmp_path_factory.mktemp("w") / "d",
                           budget=50, lr=0.1, batch_size=32, seeds=[0], progress=False)


def test_notices_name_the_calls_and_keywords(dear: l2advisor.ProbeResults, tmp_path: Path) -> None:
    said = " ".join(dear.notices)
    assert "They serve longer budgets too: `l2advisor.recommend(results, budget=N)` reuses them" in said
    small = l2advisor.probe(build_model, blobs(128, 1), blobs(64, 2), out=tmp_path / "s", lr=0.1, batch_size=32,
                            seeds=[0], horizon=2.0, probe_budget=500, progress=False)  # 3 rungs: 1,400 steps
    said = " ".join(small.notices)
    assert "`budget=STEPS` sizes them. More than probe_budget=500: up to 1,400 steps" in said
    assert flagless(dear.notices) and flagless(small.notices)


def test_the_cli_still_prints_its_flags(tiny_model: Path, tmp_path: Path) -> None:
    """The negative control: the same notice and refusal from `l2advisor probe`."""
    ladder = ("--lambdas", "", "--lam-max", "0.4", "--horizon", "2")
    code, said = cli_probe(tiny_model, tmp_path / "s", *ladder, "--probe-budget", "200")  # 350 steps
    assert code == 0 and "`--budget STEPS` sizes them. More than --probe-budget 200" in said
    code, said = cli_probe(tiny_model, tmp_path / "t", *ladder, "--probe-budget", "10")
    assert code == 2 and "--probe-budget 10 steps does not cover even the shortest probe" in said


def test_warnings_name_the_probe_call(dear: l2advisor.ProbeResults) -> None:
    far = l2advisor.recommend(dear, budget=1_000_000, write=False)  # a plan of more rungs than these
    said = " ".join(far.warnings)
    assert "(`l2advisor.probe(..., budget=1000000)` sizes them for it" in said and "; else with out=)" in said
    assert flagless(far.warnings) and flagless(far.reasons) and flagless(far.caveats)


@pytest.fixture(scope="module")
def above(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic probes that may all sit above the plateau: the verdict says to probe smaller lams."""
    return write_run(tmp_path_factory.mktemp("w") / "above", S.family(lam_c=0.0005, alpha=0.0))


def test_the_advice_says_what_to_probe_in_keywords(above: Path) -> None:
    advice = l2advisor.recommend(above, budget=20000, write=False)
    told = ("probe smaller lams (budget= for a longer run; without budget=, a larger probe_budget= or "
            "lambdas=) to test the tau clock")
    assert any(told in c for c in advice.caveats)
    assert any("--probe-budget" in r for r in advice.fit.reasons)  # the science core's own, as the CLI prints it
    assert flagless(advice.reasons) and flagless(advice.caveats) and flagless(advice.warnings)
    as_dict = advice.to_dict()  # the JSON the API gives says it so too
    assert as_dict["caveats"] == list(advice.caveats) and as_dict["reasons"] == list(advice.reasons)
    assert flagless([json.dumps(as_dict)])


def test_the_cli_advice_keeps_its_flags(above: Path) -> None:
    """The negative control: `recommend --json`, and advice.json beside the probes, in the CLI's words."""
    d = as_json(above, "--budget", "20000")
    assert any("(--budget for a longer run; without --budget, a larger --probe-budget or --lambdas)" in c
               for c in d["caveats"])
    assert json.loads((above / "advice.json").read_text())["caveats"] == d["caveats"]


@pytest.mark.bad_input
def test_refusals_from_shared_code_name_the_keywords(tmp_path: Path) -> None:
    data = blobs(64, 1), blobs(64, 2)
    with pytest.raises(InputError, match=r"^probe_budget=10 steps does not cover even the shortest probe") as short:
        l2advisor.probe(build_model, *data, out=tmp_path / "a", probe_budget=10, progress=False)
    assert short.value.__cause__ is None and short.value.__suppress_context__  # re-raised `from None`
    with pytest.raises(InputError, match=r"^horizon=0.01 is too short: .*; raise horizon= or lower the lams\.$"):
        l2advisor.probe(build_model, *data, out=tmp_path / "b", lr=0.1, lambdas=[0.4, 0.2, 0.1], horizon=0.01,
                        progress=False)
    with pytest.raises(InputError, match=r"^budget= plans .*: drop lambdas=, probe_budget= \(or drop budget="):
        l2advisor.probe(build_model, *data, out=tmp_path / "c", budget=500, lambdas=[0.4], probe_budget=9,
                        progress=False)
    assert not any((tmp_path / name).exists() for name in "abc")  # refused before anything ran


# the translation on its own


@pytest.mark.parametrize(("cli", "api", "call"), [
    ("--probe-budget 500", "probe_budget=500", "probe"),
    ("--probe-budget 24,000: up to", "probe_budget=24000: up to", "probe"),
    ("drop --lambdas and", "drop lambdas= and", "probe"),
    ("raise --horizon or", "raise horizon= or", "probe"),
    ("--horizon 0.5 is too short", "horizon=0.5 is too short", "probe"),
    ("--seeds must name", "seeds= must name", "probe"),
    ("--tolerance must be", "tolerance= must be", "probe"),
    ("or --out for", "or out= for", "probe"),
    ("Use --force to", "Use force=True to", "probe"),
    ("--no-batched: one", "batched=False: one", "probe"),
    ("--no-early-stop", "early_stop=False", "probe"),
    ("--batch-replicas 4", "batch_replicas=4", "probe"),
    ("--device", "device=", "probe"),
    ("--budget STEPS sizes", "budget=STEPS sizes", "recommend"),
    ("--lr 0.05", "lr=0.05", "recommend"),
    ("--lr-schedule", "lr_schedule=", "recommend"),
    ("--unit", "unit=", "recommend"),
    ("--warmup 100", "warmup=100", "recommend"),
    ("--out", "out=", "report"),
])
def test_each_flag_becomes_its_keyword(cli: str, api: str, call: str) -> None:
    from l2advisor.api.words import api_words

    assert api_words(cli, (call,)) == api
    keyword = re.search(r"(\w+)=", api)[1]  # type: ignore[index]
    assert keyword in inspect.signature(getattr(l2advisor, call)).parameters  # a real keyword of that call


@pytest.mark.parametrize(("cli", "api"), [
    ("`recommend --budget N` reuses them", "`l2advisor.recommend(results, budget=N)` reuses them"),
    ("(`probe --budget 8000` sizes them", "(`l2advisor.probe(..., budget=8000)` sizes them"),
    ("`recommend --lr-schedule` sizes", "`l2advisor.recommend(results, lr_schedule=...)` sizes"),
    ("`report --budget 5,000 --lr 0.1`", "`l2advisor.report(results, budget=5000, lr=0.1)`"),
    ("run `l2advisor probe` to completion", "run `l2advisor.probe` to completion"),
    ("; `--budget STEPS` sizes them.", "; `budget=STEPS` sizes them."),
    ("The probe budget (--probe-budget, probe_budget=) does", "The probe budget (probe_budget=) does"),
])
def test_commands_become_calls(cli: str, api: str) -> None:
    from l2advisor.api.words import api_words

    assert api_words(cli) == api


@pytest.mark.parametrize("text", [
    "runs/--budget/x and C:\\--out", "a--budget", "'--budget' as typed", "a — b -- c", "got -1 and --1",
    "lr=-1, 1e-3", "--lam-max 2, --factor 3, extra --lrs 0.1,0.2, --jobs 2, --json",  # no API keyword
    "`l2advisor recommend DIR --autol2`", "`l2advisor train` and `probe --jobs 2`", "`recommend` answers",
])
def test_other_text_is_left_alone(text: str) -> None:
    from l2advisor.api.words import api_words

    assert api_words(text) == text


def test_only_the_concerned_calls_keywords() -> None:
    from l2advisor.api.words import api_words

    assert api_words("--out", ("recommend",)) == "--out"  # recommend takes no out=
    assert api_words("--lr-schedule cosine", ("probe",)) == "--lr-schedule cosine"  # nor probe lr_schedule=
    assert api_words("--horizon 2. Then", ("probe",)) == "horizon=2. Then"  # the sentence's full stop stays
    said = api_words("More than --probe-budget 500: a larger --horizon", ("probe",))
    assert api_words(said, ("probe",)) == said  # said once, said the same again


def test_a_refusal_keeps_its_type_and_attributes() -> None:
    from l2advisor.api.words import reworded, speaks_api
    from l2advisor.runs.store import OtherSettings

    again = reworded(OtherSettings("x holds results made with other settings"))
    assert type(again) is OtherSettings and again.conflict == "x holds results made with other settings"
    assert str(again) == "x holds results made with other settings. Use force=True to start over, or out= for a new directory."

    @speaks_api("probe")
    def failing() -> None:
        raise RunFailed("fix it and probe again with --force.")

    with pytest.raises(RunFailed, match=r"probe again with force=True\.$"):
        failing()


def test_a_switch_in_a_command_does_not_take_the_next_flag_as_its_value() -> None:
    """`probe --force --lr 0.1` read "--lr" as --force's value and dropped lr=0.1 from the call."""
    from l2advisor.api.words import api_words

    assert api_words("`probe --force --lr 0.1`") == "`l2advisor.probe(..., force=True, lr=0.1)`"
    assert api_words("`probe --lr 0.1 --force`") == "`l2advisor.probe(..., lr=0.1, force=True)`"


@pytest.mark.parametrize(("cli", "api"), [
    ("--lr-schedule cosine", "lr_schedule='cosine'"),
    ("with --lr-schedule cosine and --warmup 100, the", "with lr_schedule='cosine' and warmup=100, the"),
    ("--lr-schedule step.", "lr_schedule='step'."),
    ("--unit epochs needs the training set size", "unit='epochs' needs the training set size"),
    ("`recommend --lr-schedule cosine` sizes", "`l2advisor.recommend(results, lr_schedule='cosine')` sizes"),
    ("`recommend --budget N --unit epochs`", "`l2advisor.recommend(results, budget=N, unit='epochs')`"),
])
def test_a_word_value_is_kept_as_a_string(cli: str, api: str) -> None:
    """A value in lowercase letters was read as the sentence's word: "--lr-schedule cosine" came
    back "lr_schedule= cosine"; the keyword takes it as Python writes a string (as unit='epochs'
    in the API's own refusals)."""
    from l2advisor.api.words import api_words

    assert api_words(cli, ("recommend",)) == api


@pytest.mark.parametrize(("cli", "api"), [
    ("--budget must be a number", "budget= must be a number"),
    ("--lr-schedule must be one of constant, cosine", "lr_schedule= must be one of constant, cosine"),
    ("--unit must be steps or epochs, got 'x'.", "unit= must be steps or epochs, got 'x'."),
    ("--lr-schedule and --warmup carry over", "lr_schedule= and warmup= carry over"),
    ("--budget in steps must be", "budget= in steps must be"),
    ("--unit is steps or epochs", "unit= is steps or epochs"),
    ("--lr-schedule cosines", "lr_schedule= cosines"),
])
def test_a_flag_followed_by_prose_takes_no_value(cli: str, api: str) -> None:
    """The word after a flag is its value only where it is one the keyword takes (a schedule's or
    a unit's name): "--budget must be" says what budget= must be; "must" is no budget."""
    from l2advisor.api.words import api_words

    assert api_words(cli, ("recommend",)) == api


@pytest.mark.parametrize(("cli", "api"), [
    ("pass --lr-schedule=cosine", "pass lr_schedule='cosine'"),
    ("pass --budget=20,000 and", "pass budget=20000 and"),
    ("pass --horizon=0.5.", "pass horizon=0.5."),
    ("pass --lr-schedule=cosines", "pass --lr-schedule=cosines"),  # no schedule of that name: as written
])
def test_a_value_after_an_equals_sign_is_the_flags(cli: str, api: str) -> None:
    """`--flag=value` read as the flag, then "=value": lr_schedule==cosine."""
    from l2advisor.api.words import api_words

    assert api_words(cli, ("recommend", "probe")) == api


def test_a_halved_window_is_named_in_keywords_where_no_probe_reached_its_top(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import l2advisor.api.advice as api_advice

    probed = l2advisor.probe(build_model, blobs(128, 1), blobs(64, 2), out=tmp_path / "h", budget=2000, lr=0.1,
                             batch_size=32, seeds=[0], progress=False)
    plain = l2advisor.recommend(probed, write=False)
    assert not any("These probes ran every rung" in w for w in plain.warnings)  # the control: tops reached
    real = api_advice.fit_relations
    short = "cannot tell: no probe clearly reached its top within its window (probe longer: a larger `probe --horizon`)"
    monkeypatch.setattr(api_advice, "fit_relations", lambda curves, tolerance, **kw: dataclasses.replace(
        real(curves, tolerance=tolerance), reasons=(*real(curves, tolerance=tolerance).reasons, short)))
    said = " ".join(l2advisor.recommend(probed, write=False).warnings)
    assert "half of the default window of 8 (horizon=8 runs the whole window, at a higher cost; with another out=, " \
           "or force=True, since other rungs are other probes)" in said
