"""Notices: one sentence for the user about how the probes run (stacked through vmap, one lam
at a time, a follow-up seed). Every stack of a model, every parallel job and a follow-up
round may say the same thing, so whoever collects them says each once. No torch (the CLI
imports it before any model is loaded)."""

from __future__ import annotations

from collections.abc import Callable


def once(notice: Callable[[str], None]) -> Callable[[str], None]:
    """`notice`, passing each sentence on only the first time."""
    said: set[str] = set()

    def tell(text: str) -> None:
        if text not in said:
            said.add(text)
            notice(text)
    return tell
