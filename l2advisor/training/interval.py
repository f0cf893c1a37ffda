"""The training loss and accuracy between evaluations, reduced lazily: `train()`'s one run and
the stacked loop's K replicas share it (K = 1 for one run).

The hot loop only appends: each step's (K,) batch-mean losses, and the outputs (K, B, classes)
with their labels. They become per-replica sums every COMPACT_EVERY steps (bounded memory) and
when a replica evaluates. On a small model an eager count (max, ==, sum, /, +=) was a tenth of
a stacked step.

Replicas evaluate on their own schedules, so the sums are kept per stack position and a
replica's are read and reset when it evaluates (`take`); when replicas leave a stack the sums
follow the positions that stay (`keep`). The loss is the mean over steps of the batch means
(without the L2 term); the accuracy is correct predictions over examples seen.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["COMPACT_EVERY", "Interval", "predicted_classes"]

COMPACT_EVERY = 64  # steps of training outputs kept before counting the correct ones


def predicted_classes(outputs: Tensor) -> Tensor:
    """The predicted classes of outputs (..., classes). `max` rather than `argmax`: the same
    first maximal index, and 6x faster when the classes are not contiguous, as packed linears
    leave them (packed.py, `replica_linear`)."""
    return outputs.max(-1).indices


class Interval:
    """Per stack position since its last `take`: steps, summed batch-mean losses, correct
    predictions and examples."""

    def __init__(self, k: int, classify: bool, device: torch.device) -> None:
        self.classify = classify
        self.steps = torch.zeros(k, device=device)  # (K,)
        self.loss_sum = torch.zeros(k, device=device)  # (K,) sum over steps of batch means
        self.correct = torch.zeros(k, device=device)  # (K,)
        self.examples = torch.zeros(k, device=device)  # (K,) examples counted for accuracy
        self.losses: list[Tensor] = []  # (K,) each
        self.pending: list[tuple[Tensor, Tensor]] = []  # (K, B, classes), (K, B)

    def add(self, losses: Tensor, outputs: Tensor, targets: Tensor) -> None:
        """One step: losses (K,), outputs (K, B, classes), targets (K, B) or shared (B,)."""
        self.losses.append(losses.detach())
        if self.classify:
            labels = targets if targets.dim() == 2 else targets.expand(len(outputs), -1)  # a view
            self.pending.append((outputs.detach(), labels))
            if len(self.pending) >= COMPACT_EVERY:
                self._count()

    def _count(self) -> None:
        if self.losses:
            self.loss_sum += torch.stack(self.losses).sum(0)
            self.steps += len(self.losses)
            self.losses = []
        if self.pending:
            predicted = predicted_classes(torch.cat([o for o, _ in self.pending], dim=1))  # (K, sum B)
            labels = torch.cat([t for _, t in self.pending], dim=1)
            self.correct += (predicted == labels).sum(1)
            self.examples += labels.shape[1]
            self.pending = []

    def take(self, index: Tensor | None = None) -> tuple[list[float], list[float]]:
        """Mean losses and accuracies of the positions `index` (all: None), NaN where there
        was no step or no example; their sums start again from 0."""
        self._count()
        index = slice(None) if index is None else index
        steps, examples = self.steps[index], self.examples[index]
        losses = torch.where(steps > 0, self.loss_sum[index] / steps, torch.nan).tolist()
        accuracy = torch.where(examples > 0, self.correct[index] / examples, torch.nan).tolist()
        for sums in (self.steps, self.loss_sum, self.correct, self.examples):
            sums[index] = 0.0
        return losses, accuracy

    def keep(self, index: Tensor) -> None:
        """Only the positions `index` stay in the stack (call right after an evaluation)."""
        self._count()
        self.steps, self.loss_sum, self.correct, self.examples = (
            s[index] for s in (self.steps, self.loss_sum, self.correct, self.examples))
