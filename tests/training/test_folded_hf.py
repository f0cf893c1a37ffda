"""A Hugging Face model built from a config (offline) folds: BERT looks its positions up by ids
(1, T) kept as a buffer, broadcast over the batch, and drops out with rate 0.1 by default."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from l2advisor.training.replicas import stack_replicas
from tests.training.test_folded_layers import assert_folds_as_its_own_models

transformers = pytest.importorskip("transformers")


class TinyBert(nn.Module):
    """(B, 8) values in [0, 1) read as 8 tokens of a 17-token vocabulary -> 3 logits."""

    def __init__(self, dropout: float = 0.1) -> None:
        super().__init__()
        config = transformers.BertConfig(vocab_size=17, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=32, max_position_embeddings=8, num_labels=3,
                                         hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
        self.bert = transformers.BertForSequenceClassification(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bert(input_ids=(x * 16).long()).logits


def test_bert_without_dropout_folds_as_its_own_models() -> None:
    assert_folds_as_its_own_models(lambda: TinyBert(dropout=0.0), lambda: torch.rand(3, 5, 8))


def test_bert_with_its_default_dropout_folds_and_each_replica_draws_its_own_masks() -> None:
    torch.manual_seed(0)
    model = TinyBert()
    stacked = stack_replicas([model, TinyBert()], torch.rand(5, 8))
    assert stacked.kind == "folded", stacked.passed_over
    x = torch.rand(5, 8)
    with torch.no_grad():
        train_out, eval_out = stacked(x, True), stacked(x, False)
        assert torch.allclose(eval_out[0], model.eval()(x), atol=1e-5)
    assert not torch.allclose(train_out, eval_out, atol=1e-4)  # dropout is on in training
