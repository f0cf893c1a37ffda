"""fit_memo.py: a command fits the same probes once; nothing is remembered outside its block."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import synthetic as S

from l2advisor.science.fit import fit_relations, fit_to_dict
from l2advisor.science.fit_memo import fit_once, remembered


def same(a, b) -> bool:
    return json.dumps(fit_to_dict(a), sort_keys=True, default=str) == json.dumps(fit_to_dict(b), sort_keys=True,
                                                                               default=str)


def test_the_same_curves_are_fitted_once_inside_a_block_and_always_outside():
    curves = S.family()
    with remembered():
        first = fit_once(curves, 0.005)
        assert fit_once(list(curves), 0.005) is first  # equal contents, another list
        assert fit_once(curves[::-1], 0.005) is first  # another order: the fit takes one order anyway
        with remembered():  # a nested block shares the outer one's fits
            assert fit_once(curves, 0.005) is first
        assert fit_once(curves, 0.005) is first  # and leaves them to the outer block
        assert same(first, fit_relations(curves, tolerance=0.005))
    outside = fit_once(curves, 0.005)
    assert outside is not first and same(outside, first)  # nothing kept after the block


def test_other_curves_or_tolerance_are_fitted_again():
    curves = S.family()
    changed = [dataclasses.replace(curves[0], val_metric=np.asarray(curves[0].val_metric) * 0.9), *curves[1:]]
    with remembered():
        first = fit_once(curves, 0.005)
        other = fit_once(changed, 0.005)
        assert not same(other, first) and same(other, fit_relations(changed, tolerance=0.005))
        assert fit_once(curves, 0.01) is not first


def test_an_exception_ends_the_block_and_what_it_kept():
    curves = S.family()
    try:
        with remembered():
            kept = fit_once(curves, 0.005)
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert fit_once(curves, 0.005) is not kept  # nothing is served after the block, however it ended
    with remembered():
        assert fit_once(curves, 0.005) is not kept  # a new block starts empty


def test_an_array_changed_in_place_is_fitted_again():
    curves = S.family()
    with remembered():
        first = fit_once(curves, 0.005)
        curves[0].val_metric[:] = np.asarray(curves[0].val_metric) * 0.9  # the same Curve object, new numbers
        assert fit_once(curves, 0.005) is not first
