"""What `compare` says of its probes that failed or diverged, as `recommend` and `train --advise`
do: a note naming each (the advice rests on the others), or, when every probe failed on an error
(no divergence, so no lam's doing), a stop before any arm trains the same failing model file."""

from __future__ import annotations

from collections.abc import Sequence

from l2advisor.errors import RunFailed
from l2advisor.probing.probe import failure_lines
from l2advisor.runs.store import RunState

BAD = ("failed", "diverged")


def refuse_when_all_failed(states: Sequence[RunState]) -> None:
    """Every probe failed on an error: raise RunFailed with the first one's message."""
    if states and all(state.status == "failed" for state in states):
        first = (states[0].end or {}).get("message") or "no message recorded"
        raise RunFailed(f"All {len(states)} probes failed ({states[0].run_id}: {first}), so there is no advice to "
                        "compare, and every other arm trains the same model file: fix what fails there (or in its "
                        "data or loss) and run again; finished work is reused.")


def failed_probes_note(states: Sequence[RunState]) -> str | None:
    """Some probes failed or diverged: which, and that the advice rests on the others."""
    bad = [state for state in states if state.status in BAD]
    if not bad:
        return None
    return (f"{len(bad)} of {len(states)} probes failed or diverged and are left out of the advice: "
            + "; ".join(failure_lines(bad)) + ".")
