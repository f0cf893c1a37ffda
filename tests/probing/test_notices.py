"""Notices are said once per command, whoever repeats them."""

from __future__ import annotations

from l2advisor.probing.notices import once


def test_each_sentence_passes_once_and_different_ones_all_pass() -> None:
    heard: list[str] = []
    tell = once(heard.append)
    for text in ("stacked through vmap", "one more seed", "stacked through vmap", "one more seed", "a third"):
        tell(text)
    assert heard == ["stacked through vmap", "one more seed", "a third"]


def test_two_commands_keep_their_own_memory() -> None:
    first: list[str] = []
    second: list[str] = []
    once(first.append)("stacked through vmap")
    once(second.append)("stacked through vmap")
    assert first == second == ["stacked through vmap"]
