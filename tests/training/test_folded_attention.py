"""nn.MultiheadAttention and torch's transformer layers in the folded form (folded_attention.py):
each replica's outputs and gradients are its own model's, what attention cannot fold goes on to
vmap or is refused, and stacked training follows one-by-one training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from l2advisor.training.batched import Replica, train_batched
from l2advisor.training.replicas import FoldedStacked, VmapStacked, stack_replicas
from l2advisor.training.train import TrainConfig
from tests.training.test_batched import assert_same_runs, task_of

ROOT = Path(__file__).resolve().parents[2]


class Attend(nn.Module):
    """(B, 12) -> 4 tokens of 3 -> width 8 -> attention (its own arguments) -> (B, 3)."""

    def __init__(self, cross: bool = False, weights: bool = True, per_head: bool = False, masks: str = "",
                 seq_first: bool = False, **attention: object) -> None:
        super().__init__()
        self.embed, self.head = nn.Linear(3, 8), nn.Linear(8, 3)
        self.attention = nn.MultiheadAttention(8, 2, batch_first=not seq_first, **attention)
        self.cross, self.weights, self.per_head, self.masks, self.seq_first = cross, weights, per_head, masks, seq_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x.view(-1, 4, 3))  # (B, 4, 8)
        memory = h.flip(1)[:, :3] if self.cross else h  # cross-attention: 3 other tokens
        padding = causal = None
        if self.masks:  # (B, S) from each example's input (never its first key), and (L, S) causal
            padding = x.view(-1, 4, 3)[:, : memory.shape[1], 0] > 1.0
            padding[:, 0] = False
            causal = torch.ones(4, memory.shape[1], dtype=torch.bool).triu(1)  # True: not attended
            if self.masks == "float":
                padding, causal = (-1e4 * mask.float() for mask in (padding, causal))
        if self.seq_first:  # (L, B, E) around the attention only: the linear layers keep the batch first
            h, memory = h.transpose(0, 1), memory.transpose(0, 1)
        out, weights = self.attention(h, memory, memory, key_padding_mask=padding, attn_mask=causal,
                                      need_weights=self.weights, average_attn_weights=not self.per_head)
        out = out.transpose(0, 1) if self.seq_first else out
        extra = 0.0 if weights is None else weights.flatten(1).square().mean(-1, keepdim=True)  # weights reach the loss
        return self.head(out.mean(1)) + extra


class Encoder(nn.Module):
    """A two-layer encoder of torch's own layers over 4 tokens, batch first or not."""

    def __init__(self, batch_first: bool = True, norm_first: bool = False) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.embed, self.head = nn.Linear(3, 8), nn.Linear(8, 3)
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x.view(-1, 4, 3))
        h = self.encoder(h) if self.batch_first else self.encoder(h.transpose(0, 1)).transpose(0, 1)
        return self.head(h.mean(1))


def _outputs_and_grads(kind: type, models: list[nn.Module], x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    stacked = kind(models)
    out = stacked(x, True, per_replica=True)  # (K, B, 3)
    return out, torch.autograd.grad(out.square().sum(), list(stacked.params.values()))


@pytest.mark.parametrize("make", [
    lambda: Attend(), lambda: Attend(weights=False), lambda: Attend(per_head=True), lambda: Attend(cross=True),
    lambda: Attend(masks="bool"), lambda: Attend(masks="float", weights=False),
    lambda: Attend(masks="bool", weights=False, cross=True), lambda: Attend(bias=False),
    lambda: Attend(seq_first=True), lambda: Attend(seq_first=True, cross=True, weights=False),
    lambda: Encoder(), lambda: Encoder(norm_first=True)],
    ids=["weights", "no-weights", "per-head", "cross", "bool-masks", "float-masks", "bool-masks-cross", "no-bias",
         "seq-first", "seq-first-cross", "encoder", "norm-first"])
def test_folded_attention_gives_each_replica_its_own_outputs_and_gradients(make) -> None:
    torch.manual_seed(0)
    models = [make() for _ in range(3)]
    x = torch.randn(3, 5, 12)
    assert stack_replicas(models, x[0], per_replica=True).kind == "folded"
    (folded, folded_grads), (vmapped, vmapped_grads) = (_outputs_and_grads(kind, models, x)
                                                         for kind in (FoldedStacked, VmapStacked))
    torch.testing.assert_close(folded, vmapped, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(folded_grads, vmapped_grads, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-6)
    with torch.no_grad():  # and each replica's own model, in both modes (eval: torch's fast path in the model)
        for training in (True, False):
            out = FoldedStacked(models)(x, training, per_replica=True)
            for k, model in enumerate(models):
                torch.testing.assert_close(out[k], model.train(training)(x[k]), rtol=1e-5, atol=1e-5)
    mha = getattr(torch.backends, "mha", None)
    assert mha is None or mha.get_fastpath_enabled()  # turned off only around the folded calls


def test_sequence_first_layers_are_caught_by_the_check_and_go_to_vmap() -> None:
    # the folded linear layers take the leading dimension for the examples; (L, N, E) breaks that
    torch.manual_seed(0)
    models = [Encoder(batch_first=False) for _ in range(2)]
    stacked = stack_replicas(models, torch.randn(5, 12), per_replica=True)
    assert stacked.kind == "vmap"
    assert any(reason.startswith("folded:") and "did not match" in reason for reason in stacked.passed_over)


@pytest.mark.parametrize(("attention", "why"), [({"add_bias_kv": True}, "bias_k"), ({"kdim": 5, "vdim": 5}, "separate")])
def test_attention_it_cannot_fold_goes_to_vmap(attention: dict, why: str) -> None:
    torch.manual_seed(0)

    class Other(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention = nn.MultiheadAttention(8, 2, batch_first=True, **attention)
            self.head = nn.Linear(8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = x.view(-1, 4, 3).repeat(1, 1, 3)[..., :8]  # (B, 4, 8)
            memory = h[..., :5] if attention.get("kdim") else h
            return self.head(self.attention(h, memory, memory, need_weights=False)[0].mean(1))

    stacked = stack_replicas([Other(), Other()], torch.randn(5, 12))
    assert stacked.kind == "vmap" and any(why in reason for reason in stacked.passed_over), stacked.passed_over


def test_attention_dropout_folds() -> None:
    """Checked with its rate at 0 (dropout.py); in training each replica draws its own masks
    (test_dropout.py measures them)."""
    torch.manual_seed(0)
    models = [Attend(dropout=0.2) for _ in range(2)]
    stacked = stack_replicas(models, torch.randn(5, 12))
    assert stacked.kind == "folded" and stacked.modules[0].attention.dropout == 0.2  # the rate is back
    x = torch.randn(5, 12)
    with torch.no_grad():
        assert not torch.equal(stacked(x, True), stacked(x, True))  # random in training
        assert torch.equal(stacked(x, False), stacked(x, False))


@pytest.mark.parametrize("example", ["transformer_digits.py", "vit_digits.py", "gpt_digits.py"])
def test_the_transformer_examples_train_folded_as_one_by_one(tmp_path: Path, example: str) -> None:
    task = task_of(tmp_path, (ROOT / "examples" / example).read_text())
    config = TrainConfig(lr=0.002, batch_size=32, max_steps=1, eval_every=1, seed=0, optimizer="adamw")
    replicas = [Replica(1.25, 12, 4, seed=0), Replica(2.5, 12, 4, seed=0), Replica(1.25, 8, 4, seed=1)]
    forms: list[str] = []
    results = train_batched(task, config, replicas, on_stack=lambda stacked: forms.append(stacked.kind))
    assert forms == ["folded"]
    assert_same_runs(results, task, config, replicas, rel=1e-4)
