"""probe's keywords of the wrong type: one InputError in the keyword's name before anything is
trained or written, not a TypeError from the probing code, nor a lam of True written as `true`
into probes.jsonl (which the next read called a corrupt file)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_api import FAST, blobs, build_model

import l2advisor
from l2advisor.errors import InputError


def _probe(tmp_path: Path, **keywords) -> None:
    l2advisor.probe(build_model, blobs(64, 1), blobs(32, 2), out=tmp_path / "run", progress=False,
                    **{**FAST, **keywords})


@pytest.mark.bad_input
@pytest.mark.parametrize("lambdas", [0.1, "0.1", ["0.1", "0.05"], (True, 0.05), torch.tensor([0.1, 0.05])])
def test_lambdas_that_are_not_a_sequence_of_numbers_are_refused(tmp_path: Path, lambdas) -> None:
    with pytest.raises(InputError, match=r"^lambdas must be a sequence of numbers such as \(0\.1, 0\.05\), got "):
        _probe(tmp_path, lambdas=lambdas)
    assert not (tmp_path / "run").exists()


@pytest.mark.bad_input
@pytest.mark.parametrize(("keyword", "value"), [("tolerance", "0.01"), ("probe_budget", "500"),
                                                ("probe_budget", True)])
def test_a_number_keyword_given_text_is_refused_in_its_name(tmp_path: Path, keyword: str, value) -> None:
    with pytest.raises(InputError, match=rf"^{keyword} must be a number, got "):
        _probe(tmp_path, **{keyword: value})


@pytest.mark.bad_input
@pytest.mark.parametrize("replicas", ["8", 2.5, 0, True])
def test_batch_replicas_must_be_a_whole_number(tmp_path: Path, replicas) -> None:
    with pytest.raises(InputError, match=r"^batch_replicas must be a whole number >= 1, got "):
        _probe(tmp_path, batch_replicas=replicas)


def test_numpy_lambdas_are_numbers(tmp_path: Path) -> None:
    """The control: a numpy array of lams is a sequence of numbers, probed as given."""
    import numpy as np

    results = l2advisor.probe(build_model, blobs(64, 1), blobs(32, 2), out=tmp_path / "run", progress=False,
                              **{**FAST, "lambdas": np.array([0.4, 0.2])})
    assert sorted({row["lam"] for row in results.probes}) == [0.2, 0.4]


@pytest.mark.bad_input
@pytest.mark.parametrize(("keyword", "value", "message"), [("out", 5, "out must be a directory path"),
                                                           ("name", 5, "name must be a string")])
def test_out_and_name_of_the_wrong_type_are_refused(tmp_path: Path, keyword: str, value, message: str) -> None:
    with pytest.raises(InputError, match=rf"^{message}"):
        l2advisor.probe(build_model, blobs(64, 1), blobs(32, 2), progress=False, **{**FAST, keyword: value})


@pytest.mark.bad_input
def test_report_refuses_an_out_that_is_not_a_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^out must be a directory path"):
        l2advisor.report(tmp_path, out=5)
