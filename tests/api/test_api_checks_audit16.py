"""The API's keyword checks of today's changes, each a one-sentence InputError in the keyword's
own name, before anything is trained or drawn: recommend's and report's lr=, probe's horizon=
and the ladder keywords that budget= replaces."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import synthetic as S
from test_api import FAST, blobs, build_model
from test_cli_advice import write_run

import l2advisor
from l2advisor.errors import InputError

BAD_LRS = [0, -1, math.inf, math.nan]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("checks") / "run", S.family())


@pytest.mark.bad_input
@pytest.mark.parametrize("lr", BAD_LRS)
def test_recommend_and_report_refuse_an_lr_that_is_not_a_finite_positive_number(run: Path, tmp_path: Path,
                                                                                lr: float) -> None:
    with pytest.raises(InputError, match=r"^lr must be a finite number > 0, got "):
        l2advisor.recommend(run, budget=3000, lr=lr, write=False)
    with pytest.raises(InputError, match=r"^lr must be a finite number > 0, got "):
        l2advisor.report(run, out=tmp_path / "figs", budget=3000, lr=lr)
    assert not (tmp_path / "figs").exists()


def test_a_good_lr_is_the_advices(run: Path) -> None:
    """The control: the same calls at a valid lr advise at that lr."""
    assert l2advisor.recommend(run, budget=3000, lr=0.05, write=False).lr == 0.05


def _probe(tmp_path: Path, **kwargs) -> None:
    l2advisor.probe(build_model, blobs(64, 1), blobs(64, 2), out=tmp_path / "run", progress=False, **kwargs)


@pytest.mark.bad_input
@pytest.mark.parametrize("horizon", [True, math.inf, math.nan, -2.0, "2"])
def test_probe_refuses_a_horizon_that_is_not_a_finite_positive_number(tmp_path: Path, horizon) -> None:
    with pytest.raises(InputError, match=r"^horizon must be a finite number > 0 \(a window in tau\), got "):
        _probe(tmp_path, **{**FAST, "horizon": horizon})
    assert not (tmp_path / "run").exists()


@pytest.mark.bad_input
def test_budget_with_both_hand_ladder_keywords_names_both(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^budget= plans the ladder and its cost itself: drop lambdas=, "
                                         r"probe_budget= \(or drop budget="):
        _probe(tmp_path, budget=500, lambdas=[0.1, 0.05, 0.025], probe_budget=900)


@pytest.mark.bad_input
def test_budget_with_a_zero_probe_budget_is_refused_as_a_hand_ladder(tmp_path: Path) -> None:
    """probe_budget=0 is given (a cost chosen by hand), not absent: budget= would override it."""
    with pytest.raises(InputError, match=r"^budget= plans .*: drop probe_budget= \(or"):
        _probe(tmp_path, budget=500, probe_budget=0)


def test_an_empty_lambdas_is_no_hand_ladder(tmp_path: Path) -> None:
    """lambdas=[] chooses no lams: budget= is not refused for it (the next check, a device that
    is not here, is what stops this call)."""
    with pytest.raises(InputError) as refused:
        _probe(tmp_path, budget=500, lambdas=[], device="cuda:99")
    assert "lambdas=" not in str(refused.value) and "cuda:99" in str(refused.value), refused.value


@pytest.mark.bad_input
def test_budget_with_early_stop_true_is_refused_not_ignored(tmp_path: Path) -> None:
    """budget= runs every rung through its whole window: early_stop=True did nothing there."""
    with pytest.raises(InputError, match=r"^budget= runs every rung through the same tau window, with no early "
                                         r"stop: drop early_stop=True \(or drop budget="):
        _probe(tmp_path, budget=500, early_stop=True)
    assert not (tmp_path / "run").exists()


def test_early_stop_false_with_a_budget_and_true_without_one_are_taken(tmp_path: Path) -> None:
    """The controls: early_stop=False says what a budget's plan does (the next check, a device that
    is not here, stops the call), and early_stop=True without a budget is the default ladder's."""
    with pytest.raises(InputError) as refused:
        _probe(tmp_path, budget=500, early_stop=False, device="cuda:99")
    assert "early_stop" not in str(refused.value) and "cuda:99" in str(refused.value), refused.value
    with pytest.raises(InputError) as refused:
        _probe(tmp_path, early_stop=True, device="cuda:99")
    assert "early_stop" not in str(refused.value) and "cuda:99" in str(refused.value), refused.value
