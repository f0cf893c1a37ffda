"""Recurrent layers: one clear reason why they do not stack, the same for one seed or several."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from l2advisor.training.replicas import CannotBatch, same_python_state, stack_replicas


class Reader(nn.Module):
    def __init__(self, cell: type[nn.RNNBase]) -> None:
        super().__init__()
        self.rnn = cell(3, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0][:, -1])


def seeded(seed: int, cell: type[nn.RNNBase] = nn.LSTM) -> Reader:
    torch.manual_seed(seed)
    return Reader(cell)


@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU])
def test_a_recurrent_layers_list_of_its_own_weights_is_not_state_that_differs_between_seeds(cell) -> None:
    # nn.LSTM keeps its parameters again in `_flat_weights` and weak references to them: no state of its own
    assert same_python_state(seeded(0, cell), seeded(1, cell))


def test_a_plain_list_of_tensors_that_differs_between_seeds_is_state() -> None:
    first, second = seeded(0), seeded(1)
    first.rnn.noise, second.rnn.noise = [torch.randn(3)], [torch.randn(3)]  # not its parameters
    assert not same_python_state(first, second)


@pytest.mark.parametrize("per_replica", [False, True], ids=["one seed", "several seeds"])
def test_an_lstm_cannot_stack_and_says_so_in_our_words(per_replica: bool) -> None:
    models = [seeded(0), seeded(1 if per_replica else 0)]
    with pytest.raises(CannotBatch, match=r"^torch's vmap has no batching rule for aten::lstm\.input$"):
        stack_replicas(models, torch.randn(4, 5, 3), per_replica=per_replica)
