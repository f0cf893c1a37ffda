"""`train --advise` refuses probes that learned nothing in the words of why: it answered every
wording but one with the words for a task solved before training (review 38)."""

from __future__ import annotations

import pytest
from science.test_beyond_constant import CHANCE, _at_chance_on_validation

from l2advisor.science.fit import fit_relations
from l2advisor.science.learned import CHANCE_MARGIN


def test_train_advise_refuses_probes_at_chance_with_what_to_check() -> None:
    """`train --advise` answered every wording but one with the words for a task solved before
    training; probes at chance get the general refusal, the solved wording its own."""
    import types

    from l2advisor.cli.advise_first import _refuse_if_nothing_learned
    from l2advisor.errors import InputError
    from l2advisor.science.learned import SOLVED_OPENING

    at_chance = fit_relations(_at_chance_on_validation(0.10 + CHANCE_MARGIN / 2), baseline=CHANCE)
    with pytest.raises(InputError, match=r"^The probes learned nothing \(the panel above says what to check\)"):
        _refuse_if_nothing_learned(at_chance)
    with pytest.raises(InputError, match="a task solved before training"):
        _refuse_if_nothing_learned(types.SimpleNamespace(reasons=(f"{SOLVED_OPENING}: seed 0's is at 1.0000",)))
    _refuse_if_nothing_learned(fit_relations(_at_chance_on_validation(), baseline=CHANCE))  # barely: trains
