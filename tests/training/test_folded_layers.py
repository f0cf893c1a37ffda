"""Convolutions, embeddings and free tensors in the folded form (folded_layers.py): each replica's
outputs and gradients are its own model's, uses the fold cannot stand for go to vmap, and the
stack's check catches a fold that hands every replica replica 0's free tensor."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from l2advisor.training import folded, folded_layers
from l2advisor.training.replicas import CannotBatch, FoldedStacked, VmapStacked, stack_replicas
from l2advisor.training.stack_checks import check_independent

ROOT = Path(__file__).resolve().parents[2]


class Convolved(nn.Module):
    """(B, 32) -> (B, 2, 4, 4) -> a 2-D convolution (its own arguments) -> (B, 3); or, `one_d`,
    (B, 2, 16) through a 1-D one."""

    def __init__(self, one_d: bool = False, **conv: object) -> None:
        super().__init__()
        self.one_d = one_d
        self.conv = (nn.Conv1d if one_d else nn.Conv2d)(2, 4, **{"kernel_size": 3, **conv})
        with torch.no_grad():  # the head's input size: the convolution's output on one example
            size = self.conv(torch.zeros(1, *self._shape())).numel()
        self.head = nn.Linear(size, 3)

    def _shape(self) -> tuple[int, ...]:
        return (2, 16) if self.one_d else (2, 4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.conv(x.view(-1, *self._shape()))).flatten(1))


class GroupNormed(Convolved):
    """A convolution, then a group norm (2 groups of 2 channels; affine or not) before the head."""

    def __init__(self, affine: bool = True, **conv: object) -> None:
        super().__init__(**conv)
        self.norm = nn.GroupNorm(2, 4, affine=affine)
        if affine:
            with torch.no_grad():  # not the identity that initialization gives every replica alike
                self.norm.weight.uniform_(0.5, 1.5)
                self.norm.bias.uniform_(-0.5, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.norm(self.conv(x.view(-1, *self._shape())))).flatten(1))


class TokenModel(nn.Module):
    """(B, 6) token ids (0 = padding) -> embedding + a free positional table (1, 6, 8) -> a class
    token in front -> one encoder layer -> (B, 3)."""

    def __init__(self, padding: int | None = 0) -> None:
        super().__init__()
        self.tokens = nn.Embedding(11, 8, padding_idx=padding)
        self.positions = nn.Parameter(0.1 * torch.randn(1, 6, 8))
        self.cls = nn.Parameter(torch.zeros(1, 1, 8))
        self.encoder = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.tokens(ids.long()) + self.positions  # (B, 6, 8)
        h = torch.cat([self.cls.expand(len(h), -1, -1), h], dim=1)  # (B, 7, 8)
        return self.head(self.encoder(h)[:, 0])


class ArangePositions(nn.Module):
    """Positions looked up by `torch.arange`: an embedding called without the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.positions, self.head = nn.Embedding(4, 3), nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.view(-1, 4, 3) + self.positions(torch.arange(4))).mean(1)


class CausalHead(nn.Module):
    """One head of causal self-attention written out, its mask a buffer (nanoGPT's early style)."""

    def __init__(self, width: int, size: int, context: int) -> None:
        super().__init__()
        self.key, self.query, self.value = (nn.Linear(width, size, bias=False) for _ in range(3))
        self.register_buffer("tril", torch.tril(torch.ones(context, context)))

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, size)
        t = h.shape[1]
        scores = self.query(h) @ self.key(h).transpose(-2, -1) * self.key.out_features ** -0.5
        scores = scores.masked_fill(self.tril[:t, :t] == 0, float("-inf"))
        return torch.softmax(scores, dim=-1) @ self.value(h)


class TinyGPT(nn.Module):
    """(B, 6) token ids -> token embedding + positions looked up by `torch.arange(T)` -> two causal
    heads (mask buffers) -> layer norm -> the last position's logits (B, 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens, self.positions = nn.Embedding(11, 8), nn.Embedding(6, 8)
        self.heads = nn.ModuleList(CausalHead(8, 4, 6) for _ in range(2))
        self.norm, self.head = nn.LayerNorm(8), nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.long()
        h = self.tokens(ids) + self.positions(torch.arange(ids.shape[1], device=ids.device))
        h = h + torch.cat([head(h) for head in self.heads], dim=-1)
        return self.head(self.norm(h))[:, -1]


class TiedLM(TinyGPT):
    """TinyGPT read out through its token table, as GPT-2 ties them: the output layer's weight is
    the embedding's, (B, 6) ids -> the last position's (B, 11) logits."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(8, 11, bias=False)
        self.head.weight = self.tokens.weight


class CountingCalls(ArangePositions):
    """A buffer the forward changes (a call counter): replicas sharing it would count each other's calls."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return super().forward(x)


class PositionsTwice(ArangePositions):
    """One embedding looked up on the batch's own indices, then without the batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = (x.view(-1, 4, 3)[..., 0].abs() * 3).long().clamp(max=3)  # (B, 4), computed: not a view of x
        return self.head(self.positions(ids)).mean(1) + super().forward(x)


class FirstRowOfFree(nn.Module):
    """A free (1, 3) tensor indexed as a row, not broadcast over the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.offset, self.head = nn.Parameter(torch.randn(1, 3)), nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x + self.offset[0])


def _tokens(*shape: int) -> torch.Tensor:
    return torch.randint(0, 11, shape, generator=torch.Generator().manual_seed(1)).float()


class BroadcastPositions(ArangePositions):
    """Positions as Hugging Face looks them up: ids (1, T) kept as a buffer, (1, T, D) broadcast
    over the batch; and one more embedding, ids (1,), its (1, D) broadcast over batch and tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("position_ids", torch.arange(4).expand(1, -1))
        self.extra = nn.Embedding(1, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.view(-1, 4, 3) + self.positions(self.position_ids) + self.extra(torch.zeros(1, dtype=torch.long))
        return self.head(h).mean(1)


class FirstRowOfPositions(BroadcastPositions):
    """Takes row 0 of its (1, T, D) lookup: folded, that row is replica 0's, for every replica."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.view(-1, 4, 3) + self.positions(self.position_ids)[0]).mean(1)


MODELS = {"conv2d": (lambda: Convolved(), lambda: torch.randn(3, 5, 32)),
          "conv2d-strided-padded": (lambda: Convolved(stride=2, padding=1, dilation=1), lambda: torch.randn(3, 5, 32)),
          "conv2d-grouped-dilated": (lambda: Convolved(groups=2, padding=2, dilation=2, bias=False),
                                     lambda: torch.randn(3, 5, 32)),
          "conv1d": (lambda: Convolved(one_d=True, stride=2), lambda: torch.randn(3, 5, 32)),
          "group-norm": (lambda: GroupNormed(padding=1), lambda: torch.randn(3, 5, 32)),
          "group-norm-1d-no-affine": (lambda: GroupNormed(affine=False, one_d=True), lambda: torch.randn(3, 5, 32)),
          "tokens": (lambda: TokenModel(), lambda: _tokens(3, 5, 6)),
          "tokens-no-padding": (lambda: TokenModel(padding=None), lambda: _tokens(3, 5, 6)),
          "vit": (lambda: _vit(), lambda: torch.rand(3, 5, 64)),
          "arange-positions": (lambda: ArangePositions(), lambda: torch.randn(3, 5, 12)),
          "broadcast-positions": (lambda: BroadcastPositions(), lambda: torch.randn(3, 5, 12)),
          "tiny-gpt": (lambda: TinyGPT(), lambda: _tokens(3, 5, 6)),
          "tied-lm": (lambda: TiedLM(), lambda: _tokens(3, 5, 6))}


def _vit() -> nn.Module:
    import importlib.util

    spec = importlib.util.spec_from_file_location("vit_digits", ROOT / "examples" / "vit_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.build_model()


@pytest.mark.parametrize("name", list(MODELS))
def test_folded_layers_give_each_replica_its_own_outputs_and_gradients(name: str) -> None:
    assert_folds_as_its_own_models(*MODELS[name])


def assert_folds_as_its_own_models(make, inputs) -> None:  # noqa: ANN001
    """Three replicas of `make()` on their own inputs (K, B, ...) fold, and give what vmap gives
    and each replica's own model gives: outputs in both modes and gradients."""
    torch.manual_seed(0)
    models, x = [make() for _ in range(3)], inputs()
    assert stack_replicas(models, x[0], per_replica=True).kind == "folded"
    stacked = FoldedStacked(models)
    out = stacked(x, True, per_replica=True)
    torch.testing.assert_close(out, VmapStacked(models)(x, True, per_replica=True), rtol=1e-5, atol=1e-5)
    grads = torch.autograd.grad(out.square().sum(), list(stacked.params.values()))
    for k, model in enumerate(models):  # against each replica's own model (vmap's embedding gradients are wrong)
        own = torch.autograd.grad(model.train()(x[k]).square().sum(), list(model.parameters()))
        for mine, theirs in zip(grads, own, strict=True):
            torch.testing.assert_close(mine[k], theirs, rtol=1e-4, atol=1e-5)
    with torch.no_grad():  # each replica's own model, in both modes
        for training in (True, False):
            out = stacked(x, training, per_replica=True)
            for k, model in enumerate(models):
                torch.testing.assert_close(out[k], model.train(training)(x[k]), rtol=1e-5, atol=1e-5)


def _vmap_gives_the_padding_row_a_gradient() -> bool:
    """torch 2.14's vmap honours `padding_idx` for the first replica only."""
    table = torch.ones(2, 3, 1, requires_grad=True)
    out = torch.vmap(lambda w, i: nn.functional.embedding(i, w, padding_idx=0))(table, torch.zeros(2, 2, dtype=torch.long))
    return bool(torch.autograd.grad(out.sum(), table)[0][:, 0].abs().sum() > 0)


class BufferedTokens(TokenModel):
    """TokenModel with a buffer drawn at init, so each replica's differs: neither packed nor
    folded (which shares buffers), only vmap could stack it."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", 0.01 * torch.randn(3))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return super().forward(ids) + self.shift


def test_the_gradient_check_keeps_vmaps_wrong_padding_gradients_from_training() -> None:
    torch.manual_seed(0)
    models = [BufferedTokens() for _ in range(2)]
    sample = _tokens(8, 6)
    assert (sample == 0).any()
    if _vmap_gives_the_padding_row_a_gradient():  # the outputs are right: only the gradient check sees it
        with pytest.raises(CannotBatch, match=r"stacked gradients differ from the model's own \(tokens.weight\)"):
            stack_replicas(models, sample, per_replica=True)
    else:
        assert stack_replicas(models, sample, per_replica=True).kind == "vmap"
    unpadded = [_with(BufferedTokens(), tokens=nn.Embedding(11, 8)) for _ in range(2)]
    assert stack_replicas(unpadded, sample, per_replica=True).kind == "vmap"  # without padding_idx vmap is right


def test_the_padding_row_gets_no_gradient_and_the_free_tensors_are_not_left_on_the_modules() -> None:
    torch.manual_seed(0)
    models = [TokenModel() for _ in range(2)]
    stacked = FoldedStacked(models)
    x = _tokens(2, 5, 6)
    assert (x == 0).any()
    grads = dict(zip(stacked.params, torch.autograd.grad(stacked(x, True, per_replica=True).sum(),
                                                         list(stacked.params.values())), strict=True))
    assert grads["tokens.weight"][:, 0].abs().max() == 0  # padding_idx 0
    assert grads["tokens.weight"][:, 1:].abs().max() > 0
    assert grads["cls"].abs().min() > 0 and grads["positions"].shape == (2, 1, 6, 8)
    assert "positions" not in vars(stacked.folded) and "cls" not in vars(stacked.folded)  # no replica held between calls


@pytest.mark.parametrize(("model", "sample", "why"), [
    (FirstRowOfFree, torch.randn(6, 3), "did not match"),
    (FirstRowOfPositions, torch.randn(6, 12), "did not match"),
    (CountingCalls, torch.randn(6, 12), "changes the buffer calls"),
    (PositionsTwice, torch.randn(6, 12), "was called on"),
    # 2 examples, 2 replicas: the 4 positions look like the folded batch, are read as it, and the check sees it
    (ArangePositions, torch.randn(2, 12), "did not match")])
def test_uses_the_fold_cannot_stand_for_are_caught_by_the_check_and_go_to_vmap(model, sample, why: str) -> None:
    torch.manual_seed(0)
    models = [model() for _ in range(2)]
    stacked = stack_replicas(models, sample)
    assert stacked.kind == "vmap"
    assert any(reason.startswith("folded:") and why in reason for reason in stacked.passed_over), stacked.passed_over


def test_constant_buffers_are_shared_and_positions_looked_up_without_the_batch_fold() -> None:
    torch.manual_seed(0)
    models = [TinyGPT() for _ in range(3)]
    stacked = stack_replicas(models, _tokens(8, 6), per_replica=True)
    assert stacked.kind == "folded" and stacked.buffers == {}
    assert {n for n, _ in stacked.folded.named_buffers()} == {"heads.0.tril", "heads.1.tril"}  # one copy each
    other = TinyGPT()
    other.heads[0].tril[0, 0] = 0  # a mask that differs between replicas cannot be shared
    with pytest.raises(folded_layers.Unsupported, match="buffers that differ"):
        FoldedStacked([models[0], other])


def test_a_constant_buffer_holding_nan_or_inf_is_still_one_constant() -> None:
    """NaN is not equal to itself: compared as plain values, a buffer with a NaN would be said to
    differ between replicas and to change with every call."""
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        model = TinyGPT()
        model.heads[0].register_buffer("unused", torch.tensor([float("nan"), float("inf"), 1.0]))
        models.append(model)
    assert stack_replicas(models, _tokens(8, 6), per_replica=True).kind == "folded"
    models[1].heads[0].unused[1] = float("-inf")  # -inf against inf: they do differ
    with pytest.raises(folded_layers.Unsupported, match="buffers that differ"):
        FoldedStacked(models)


@pytest.mark.parametrize(("make", "why"), [
    (lambda: Convolved(padding=1, padding_mode="reflect"), "'reflect'"),
    (lambda: _with(TokenModel(), tokens=nn.Embedding(11, 8, max_norm=1.0)), "max_norm"),
    (lambda: _with(TokenModel(), cls=nn.Parameter(torch.zeros(8))), "cls: only a free tensor whose first size is 1")])
def test_layers_it_cannot_fold_are_refused_by_name(make, why: str) -> None:
    torch.manual_seed(0)
    with pytest.raises(Exception, match=why):
        FoldedStacked([make(), make()])


def _with(model: nn.Module, **attributes: object) -> nn.Module:
    for name, value in attributes.items():
        setattr(model, name, value)
    return model


def test_the_check_catches_a_fold_that_gives_every_replica_replica_0s_class_token(monkeypatch) -> None:
    # the class token starts at zero in every replica: only a check that also shifts zero weights sees this
    torch.manual_seed(0)
    models = [TokenModel() for _ in range(2)]
    sample = _tokens(5, 6)
    check_independent(FoldedStacked(models), models[0], sample)  # the real fold passes
    real = folded_layers.set_free_tensors

    def first_replicas(free, params, rows):  # a broken fold: replica 0's copy for every row
        real(free, {n: p[:1].expand_as(p) for n, p in params.items()}, rows)

    monkeypatch.setattr("l2advisor.training.folded.set_free_tensors", first_replicas)
    with pytest.raises(CannotBatch, match="did not match"):
        check_independent(FoldedStacked(models), models[0], sample)


def test_the_check_catches_a_group_norm_that_gives_every_replica_replica_0s_scale(monkeypatch) -> None:
    torch.manual_seed(0)
    models = [GroupNormed(padding=1) for _ in range(2)]
    sample = torch.randn(5, 32)
    check_independent(FoldedStacked(models), models[0], sample)  # the real fold passes
    real = folded._FoldedGroupNorm.forward

    def first_replicas(self, h):  # noqa: ANN001, ANN202 - a broken fold: replica 0's scale and shift for all
        params = self.weights.params
        self.weights.params = {n: p[:1].expand_as(p) if n.startswith(self.name) else p for n, p in params.items()}
        try:
            return real(self, h)
        finally:
            self.weights.params = params

    monkeypatch.setattr(folded._FoldedGroupNorm, "forward", first_replicas)
    with pytest.raises(CannotBatch, match="did not match"):
        check_independent(FoldedStacked(models), models[0], sample)
