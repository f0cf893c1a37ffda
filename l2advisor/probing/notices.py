"""Notices: one sentence for the user about how the probes run (stacked through vmap, one lam
at a time, a follow-up seed) or what limits what they can read (a validation set too coarse).
Every stack of a model, every parallel job and a follow-up round may say the same thing, so
whoever collects them says each once. No torch (the CLI imports it before any model is loaded)."""

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


COARSE = 4.0  # a validation accuracy moving in steps this many times the tolerance cannot place a peak


def coarse_val_note(n_val: int, accuracy: bool, tolerance: float) -> str | None:
    """A sentence when the validation set is too small for the accuracy to resolve the tolerance the
    probes compare peaks with (a reviewer's 3 images: steps of 0.33, and "at least 1.0000" advised)."""
    step = 1.0 / max(n_val, 1)
    if not accuracy or step <= COARSE * tolerance:
        return None
    return (f"the validation set has {n_val} examples: accuracy moves in steps of {step:.3g}, {step / tolerance:.0f}x "
            f"the tolerance ({tolerance:g}) the probes compare peaks with, so peaks, t* and the plateau will be "
            f"coarse; a validation split of {round(1 / tolerance)} or more resolves it.")


UNEVEN = 1.6  # the most frequent class at this many times an even share (and at least half the labels) is "uneven"


def uneven_classes_note(share: float, n_classes: int) -> str | None:
    """A sentence when accuracy, the probes' metric, is dominated by one class: the most frequent
    class holds `share` of the training labels, of `n_classes` (a reviewer's 80/10/5/3/2 % task: the
    advice chose on accuracy, where the rare classes weigh little, and nothing said so)."""
    if n_classes < 2 or share < max(0.5, UNEVEN / n_classes):
        return None
    return (f"the most frequent class is {share:.0%} of the training labels ({n_classes} classes): accuracy weighs "
            f"the other classes little, and so will the advice; a `metric` of your own in the model file (a "
            f"balanced accuracy, say) makes the probes and the advice weigh every class.")
