"""A weight decay so strong that each step's decay alone takes half the weights or more: said
before anything trains (a run there diverges or learns nothing, and hours of trials can go to it).

The shrink of one step is lr*lam for AdamW (decoupled: w <- (1 - lr*lam) w) and lr*lam/(1-momentum)
for SGD, where momentum carries the decay term forward (its steady-state step is 1/(1-momentum)
times one gradient's). The probes' ladder starts at 0.01; 0.5 is fifty times that.
"""

from __future__ import annotations

from typing import Any

STRONG_SHRINK = 0.5  # per-step shrink at and above which the decay undoes each step's learning


def step_shrink(lam: float, lr: float, momentum: float, optimizer: str) -> float:
    """Fraction of each decayed weight one step's decay removes (steady state, no gradient)."""
    return lr * lam if optimizer == "adamw" else lr * lam / (1.0 - momentum)


def strong_decay_note(lam: float, lr: float, momentum: float, optimizer: str, flag: str) -> str | None:
    """One sentence when `flag`'s value `lam` takes STRONG_SHRINK or more of every decayed weight
    each step at this lr (a warning, not a refusal: the user may mean it); None otherwise."""
    shrink = step_shrink(lam, lr, momentum, optimizer)
    if not shrink >= STRONG_SHRINK:
        return None
    how = f"lr*lam = {lr * lam:.3g}" + ("" if optimizer == "adamw" or momentum == 0
                                        else f", {shrink:.3g} with momentum {momentum:g}")
    taken = "all of every decayed weight or more" if shrink >= 1 else f"{shrink:.0%} of every decayed weight"
    return (f"{flag} {lam:g} at lr {lr:g} is {how}: each step's decay alone takes {taken}, so training there "
            "diverges or learns nothing (weight decay acts at lr*lam of 0.01 and below, where the probes start).")


def say_strong_decay(spec: Any, lam: float | None, flag: str) -> None:
    """`strong_decay_note` for the model file's lr, momentum and optimizer, on stderr."""
    if lam is not None:
        _say(strong_decay_note(lam, spec.lr, spec.momentum, spec.optimizer, flag))


def say_strong_probes(spec: Any, lambdas: tuple[float, ...], lrs: tuple[float, ...], lam_max: float | None) -> None:
    """`say_strong_decay` for a hand-made ladder's largest lam (--lambdas) or its top (--lam-max),
    at the largest probe lr (--lrs, else the file's)."""
    top, flag = (max(lambdas), "--lambdas' largest") if lambdas else (lam_max, "--lam-max")
    lr = max(lrs) if lrs else spec.lr
    if top is not None:
        _say(strong_decay_note(top, lr, spec.momentum, spec.optimizer, flag))


def _say(note: str | None) -> None:
    from l2advisor.cli.app import err  # the command line's console, on stderr

    if note is not None:
        err.print(f"[yellow]{note}[/]", highlight=False)
