"""The fit's reasons put together: an explanation already given is not given twice."""

from __future__ import annotations


def test_the_first_reasons_say_an_explanation_once() -> None:
    from l2advisor.science.reason_words import first_reasons

    why = ("b = 0.00 [-0.5, 0.5]: ...; the crossings line up 3.6x better on steps than on tau",
           "lam does not clearly set the time to the top: the crossings line up 3.6x better on steps than on tau",
           "a third reason")
    said = first_reasons(why)
    assert said.count("line up 3.6x better") == 1 and said.endswith("; lam does not clearly set the time to the top")
    other = (why[0], "no probe clearly reached its top: c is unknown")  # the control: a new explanation stays
    assert first_reasons(other).endswith("no probe clearly reached its top: c is unknown")
    assert first_reasons(()) == "no reason"


def test_a_reason_whose_explanation_was_given_is_cut_to_its_claim() -> None:
    """report.md and the panel's caveats said "the crossings line up 21x better on steps than on tau" twice
    in a row: in b's line and in "lam does not clearly set the time to the top"."""
    from l2advisor.science.reason_words import unrepeated

    b_line = "b = 0.11 [0.02, 0.20] over 3 lr*lam values: ...; the crossings line up 21x better on steps than on tau"
    claim = "lam does not clearly set the time to the top: the crossings line up 21x better on steps than on tau"
    assert unrepeated([b_line, claim]) == [b_line, "lam does not clearly set the time to the top (why above)"]
    assert unrepeated([claim], said=[b_line]) == ["lam does not clearly set the time to the top (why above)"]
    assert unrepeated([claim]) == [claim]  # the control: nothing said before it
    other = "lam does not clearly set the time to the top: b = 0.11 is below 0.25"
    assert unrepeated([b_line, other]) == [b_line, other]  # a new explanation stays
    assert unrepeated(["x: c is unknown"], said=["so c is unknown here"]) == ["x: c is unknown"]  # too short to tell
