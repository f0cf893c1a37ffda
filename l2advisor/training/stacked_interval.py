"""The training loss and accuracy of K stacked replicas between their evaluations, reduced lazily.

The stacked loop's analogue of `train()`'s `_Interval`: each step only appends the (K,) batch
losses and the outputs (K, B, classes) with their labels; they become per-replica sums every
COMPACT_EVERY steps (bounded memory) and whenever a replica evaluates. On a small model the
five kernels an eager count costs per step (max, ==, sum, /, +=) were a tenth of a stacked step.

Replicas evaluate on their own schedules, so the sums are kept per stack position and a
replica's are read and reset when it evaluates (`take`); when replicas leave the stack the
sums follow the positions that stay (`keep`). Accuracy is correct predictions over examples
seen, as in `train()`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from l2advisor.training.train import COMPACT_EVERY

__all__ = ["StackedInterval", "predicted_classes"]


def predicted_classes(outputs: Tensor) -> Tensor:
    """The predicted classes of outputs (..., classes). `max` rather than `argmax`: the same
    first maximal index, and 6x faster when the classes are not contiguous, as packed linears
    leave them (packed.py, `replica_linear`)."""
    return outputs.max(-1).indices


class StackedInterval:
    """Per stack position: the sum of batch-mean losses, of correct predictions and of examples."""

    def __init__(self, k: int, classify: bool, device: torch.device) -> None:
        self.classify = classify
        self.loss_sum = torch.zeros(k, device=device)  # (K,) sum over steps of batch means
        self.correct = torch.zeros(k, device=device)  # (K,) correct predictions
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
            self.losses = []
        if self.pending:
            predicted = predicted_classes(torch.cat([o for o, _ in self.pending], dim=1))  # (K, sum B)
            labels = torch.cat([t for _, t in self.pending], dim=1)
            self.correct += (predicted == labels).sum(1)
            self.examples += labels.shape[1]
            self.pending = []

    def take(self, index: Tensor) -> tuple[list[float], list[float]]:
        """The loss sums and accuracies (NaN without examples) of the positions `index`, reset to 0."""
        self._count()
        losses = self.loss_sum[index].tolist()
        examples = self.examples[index]
        accuracy = torch.where(examples > 0, self.correct[index] / examples, torch.nan).tolist()
        for sums in (self.loss_sum, self.correct, self.examples):
            sums[index] = 0.0
        return losses, accuracy

    def keep(self, index: Tensor) -> None:
        """Only the positions `index` stay in the stack (call right after an evaluation)."""
        self._count()
        self.loss_sum, self.correct, self.examples = (s[index] for s in (self.loss_sum, self.correct, self.examples))
