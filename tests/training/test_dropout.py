"""Dropout in stacked replicas: each replica's masks are those of its own run (rate p, survivors
scaled by 1/(1-p), independent of the other replicas), in every stacked form; the stack's checks
still compare exact numbers; other randomness is still refused; and stacked probes of a dropout
model train, over seeds, as one-by-one runs do (not to the bit: the masks come from one stream)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
import torch
from torch import nn

from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.training.batched import CannotBatch, Replica, train_batched
from l2advisor.training.dropout import dropout_use, rates, silenced
from l2advisor.training.replicas import stack_replicas
from l2advisor.training.train import TrainConfig
from tests.conftest import TINY_MODEL, write_model
from tests.training.test_batched import sequential

P = 0.3
WIDTH = 64


class LinearThenDropout(nn.Module):
    """Not an nn.Sequential, parameters only in a linear layer: the folded form."""

    def __init__(self) -> None:
        super().__init__()
        self.linear, self.drop = nn.Linear(8, WIDTH), nn.Dropout(P)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.linear(x))


class ScaledThenDropout(LinearThenDropout):
    """A free (WIDTH,) scale: neither packed nor folded, so vmap."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, WIDTH))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.linear(x) * self.scale)


def packed() -> nn.Module:
    return nn.Sequential(nn.Linear(8, WIDTH), nn.Dropout(P))


def identical_stack(build, k: int = 4, sample_shape: tuple[int, ...] = (6, 8)):  # noqa: ANN001, ANN202
    """k replicas with the same weights (one seed), stacked; and the models."""
    models = []
    for _ in range(k):
        torch.manual_seed(0)
        models.append(build())
    return stack_replicas(models, torch.randn(sample_shape, generator=torch.Generator().manual_seed(1))), models


def mask_stats(train_out: torch.Tensor, eval_out: torch.Tensor) -> tuple[list[float], float, float]:
    """From (K, B, F) outputs of one call in training and one in evaluation mode: each replica's
    share of dropped units, the largest relative error of the survivors against eval/(1-P), and
    how often replicas 0 and 1 agree on which units they keep."""
    dropped = (train_out == 0) & (eval_out != 0)
    kept = ~dropped
    scaled = eval_out / (1 - P)
    error = float(((train_out - scaled).abs() / scaled.abs().clamp_min(1e-6))[kept].max())
    agree = float((kept[0] == kept[1]).float().mean())
    return [float(d.float().mean()) for d in dropped], error, agree


def masks_are_each_replicas_own(rates_: list[float], error: float, agree: float) -> bool:
    """Rate P within 0.03 for every replica (4,096 units each: sd 0.007), survivors scaled right,
    and replicas 0 and 1 agreeing about P^2 + (1-P)^2 = 0.58 of the time (shared masks: 1)."""
    return all(abs(r - P) < 0.03 for r in rates_) and error < 1e-4 and abs(agree - (P**2 + (1 - P) ** 2)) < 0.05


@pytest.mark.parametrize("build,form", [(packed, "packed"), (LinearThenDropout, "folded"), (ScaledThenDropout, "vmap")],
                         ids=["packed", "folded", "vmap"])
def test_each_form_draws_every_replica_its_own_masks(build, form: str) -> None:  # noqa: ANN001
    stacked, _ = identical_stack(build)
    assert stacked.kind == form, stacked.passed_over  # the checks passed with dropout in the model
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        train_out, eval_out = stacked(x, True), stacked(x, False)
    assert masks_are_each_replicas_own(*mask_stats(train_out, eval_out))
    torch.manual_seed(0)
    assert torch.allclose(eval_out[0], build().eval()(x), atol=1e-6)  # evaluation: no dropout at all


@pytest.mark.parametrize("build", [packed, LinearThenDropout, ScaledThenDropout], ids=["packed", "folded", "vmap"])
def test_the_mask_test_fails_a_stack_whose_dropout_is_off(build) -> None:  # noqa: ANN001
    """Negative control: the same stack with its dropout silenced drops nothing, and fails."""
    stacked, models = identical_stack(build)
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad(), silenced(models[0], *getattr(stacked, "modules", ())[:1]):  # as the checks do
        train_out = stacked(x, True)
    with torch.no_grad():
        eval_out = stacked(x, False)
    assert not masks_are_each_replicas_own(*mask_stats(train_out, eval_out))


def test_a_shared_mask_fails_the_independence_test() -> None:
    """Negative control: one mask for every replica (vmap's randomness="same") agrees everywhere."""
    stacked, _ = identical_stack(ScaledThenDropout)
    stacked._mapped, stacked.randomness = {}, "same"
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        rates_, error, agree = mask_stats(stacked(x, True), stacked(x, False))
    assert agree == 1.0 and not masks_are_each_replicas_own(rates_, error, agree)


def test_channel_dropout_drops_whole_channels_of_each_replica() -> None:
    def build() -> nn.Module:
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.Dropout2d(0.5))

    stacked, _ = identical_stack(build, sample_shape=(6, 1, 6, 6))
    assert stacked.kind == "packed", stacked.passed_over
    x = torch.randn(32, 1, 6, 6, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = stacked(x, True)  # (K, B, C, H, W)
    zero = (out == 0).flatten(3)  # (K, B, C, H*W)
    whole = zero.all(-1)
    assert torch.equal(zero.any(-1), whole)  # a channel is dropped whole or not at all
    assert abs(float(whole.float().mean()) - 0.5) < 0.06  # 2,048 channels
    assert float((whole[0] == whole[1]).float().mean()) < 0.65  # replicas' own (shared: 1)


def test_attention_dropout_folds_and_is_unbiased() -> None:
    """nn.TransformerEncoderLayer's default dropout 0.1 (attention weights too) folds; averaged
    over calls, a replica's training-mode output approaches its evaluation-mode output."""
    def build() -> nn.Module:
        return nn.Sequential(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, norm_first=True))

    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(build())
    x = torch.randn(4, 5, 8, generator=torch.Generator().manual_seed(4))
    stacked = stack_replicas(models, x)
    assert stacked.kind == "folded", stacked.passed_over
    with torch.no_grad():
        calls = torch.stack([stacked(x, True) for _ in range(3000)])  # (calls, K, B, T, D)
        eval_out = stacked(x, False)
    assert not torch.equal(calls[0, 0], calls[0, 1])  # the replicas drew their own masks
    bias = (calls.mean(0) - eval_out).abs().max()
    assert bias < 0.06, bias  # one call is off by about 0.3 (sd of the mean over 3,000: 0.006)
    assert (calls[0] - eval_out).abs().max() > 0.2  # which is why the mean is needed


def test_other_randomness_is_still_refused() -> None:
    class Noisy(LinearThenDropout):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x) + 0.1 * torch.randn_like(x[:, :1])

    torch.manual_seed(0)
    model = Noisy()
    sample = torch.randn(6, 8)
    assert dropout_use(model, sample).draws_outside and not dropout_use(LinearThenDropout(), sample).draws_outside
    with pytest.raises(CannotBatch, match="random numbers outside its dropout"):
        stack_replicas([Noisy(), Noisy()], sample)


def test_silenced_restores_every_rate_and_finds_attention_rates() -> None:
    llama_like = nn.Linear(2, 2)
    llama_like.attention_dropout, llama_like.dropout_count, llama_like.scale = 0.4, 3, 0.5  # an int is no rate
    model = nn.Sequential(nn.Dropout(0.2), nn.MultiheadAttention(8, 2, dropout=0.3), nn.Dropout(0.0), llama_like)
    assert sorted(rate for _, _, rate in rates(model)) == [0.2, 0.3, 0.4]  # a rate of 0 is no dropout
    with silenced(model, model):  # the same model twice: its rates still come back
        assert rates(model) == [] and llama_like.scale == 0.5
    assert sorted(rate for _, _, rate in rates(model)) == [0.2, 0.3, 0.4]
    assert model[1].dropout == 0.3 and llama_like.attention_dropout == 0.4 and llama_like.dropout_count == 3


DROPOUT_MLP = TINY_MODEL.replace("nn.ReLU(), nn.Linear(32, 4))", "nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))")
NO_DROPOUT = TINY_MODEL
SEEDS = range(8)


def mean_train_loss(records: list[dict]) -> float:
    return statistics.fmean(r["train_loss"] for r in records[1:])  # step 0 has no training loss


def stacked_and_sequential(tmp_path: Path, stacked_body: str) -> list[float]:
    """Per seed: mean training loss of the seed's stacked run of `stacked_body` minus that of the
    dropout MLP trained alone (same seed: same initial weights and batches; masks differ)."""
    alone = build_task(load_spec(write_model(tmp_path, DROPOUT_MLP, "alone.py"), {}))
    stacked_task = build_task(load_spec(write_model(tmp_path, stacked_body, "stacked.py"), {}))
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=60, eval_every=10, seed=0)
    replicas = [Replica(0.01, 60, 10, seed=s) for s in SEEDS]
    stacked = train_batched(stacked_task, config, replicas)
    return [mean_train_loss(mine.records) - mean_train_loss(sequential(alone, config, replica).records)
            for mine, replica in zip(stacked, replicas, strict=True)]


def significant(differences: list[float]) -> bool:
    """The mean paired difference more than 4 standard errors from 0."""
    return abs(statistics.fmean(differences)) > 4 * statistics.stdev(differences) / len(differences) ** 0.5


def test_stacked_dropout_runs_train_as_one_by_one_runs_over_seeds(tmp_path: Path) -> None:
    assert not significant(stacked_and_sequential(tmp_path, DROPOUT_MLP))


def test_the_seed_test_sees_a_stack_without_dropout(tmp_path: Path) -> None:
    """Negative control: the same comparison with the stacked runs' dropout left out."""
    assert significant(stacked_and_sequential(tmp_path, NO_DROPOUT))


def test_stacked_dropout_runs_repeat_to_the_bit(tmp_path: Path) -> None:
    task = build_task(load_spec(write_model(tmp_path, DROPOUT_MLP), {}))
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=20, eval_every=5, seed=0)
    replicas = [Replica(0.05, 20, 5, seed=0), Replica(0.01, 20, 5, seed=0), Replica(0.01, 12, 4, seed=1)]
    first, second = (train_batched(task, config, replicas) for _ in range(2))
    def numbers(results: list) -> str:  # repr: step 0's NaN training loss equals itself
        return repr([[{k: v for k, v in r.items() if k != "seconds"} for r in result.records] for result in results])

    assert numbers(first) == numbers(second)
    # the same replica (lam 0.01, seed 0: same weights, same batches) in a stack of another make-up
    # draws other masks: reproducible per stack, not per replica
    assert numbers(first[1:2]) != numbers(train_batched(task, config, replicas[1:2]))


class NanoAttention(nn.Module):
    """Causal self-attention as nanoGPT writes it: its rate kept as a float `dropout` passed to
    scaled_dot_product_attention, and dropout layers on the attention's output."""

    def __init__(self, width: int = 16, heads: int = 2, rate: float = 0.2) -> None:
        super().__init__()
        self.c_attn, self.c_proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.resid_dropout = nn.Dropout(rate)
        self.heads, self.dropout = heads, rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in self.c_attn(x).split(c, dim=2))
        y = nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                                       is_causal=True)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(b, t, c)))


def test_a_float_dropout_rate_passed_to_attention_is_silenced_for_the_checks_and_folds() -> None:
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(NanoAttention())
    assert sorted(rate for _, _, rate in rates(models[0])) == [0.2, 0.2]  # the float and the layer
    x = torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(5))
    stacked = stack_replicas(models, x)
    assert stacked.kind == "folded", stacked.passed_over
    with torch.no_grad():
        first, second = stacked(x, True), stacked(x, True)
    assert not torch.equal(first[0], first[1]) and not torch.equal(first, second)  # replicas and calls differ
    with torch.no_grad(), silenced(stacked.modules[0]):
        assert torch.allclose(stacked(x, True)[0], stacked(x, False)[0], atol=1e-6)  # only dropout was random


class DroppedPositions(nn.Module):
    """Dropout of the positions table itself (T, D): one mask for the whole batch."""

    def __init__(self) -> None:
        super().__init__()
        self.embed, self.head = nn.Linear(2, 8), nn.Linear(8, 3)
        self.positions = nn.Embedding(4, 8)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x.view(-1, 4, 2)) + self.drop(self.positions(torch.arange(4)))
        return self.head(h.mean(1))


def test_dropout_of_a_tensor_without_the_batch_goes_to_vmap_which_draws_it_per_batch() -> None:
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(DroppedPositions())
    x = torch.randn(32, 8, generator=torch.Generator().manual_seed(6))
    stacked = stack_replicas(models, x)
    assert dropout_use(models[0], x).outside_batch and not dropout_use(LinearThenDropout(), torch.randn(6, 8)).outside_batch
    assert stacked.kind == "vmap" and any("not the batch's" in why for why in stacked.passed_over)
    # per replica, one mask for the batch: every example's output moves by the same positions
    with torch.no_grad():
        outputs = stacked(x, True) - stacked(x, False)  # (K, B, 3): the head of the mean dropped positions
    assert torch.allclose(outputs[:, :1].expand_as(outputs), outputs, atol=1e-5)
    assert not torch.allclose(outputs[0], outputs[1], atol=1e-5)  # each replica its own mask
    without = [DroppedPositions() for _ in range(2)]
    for model in without:
        model.drop = nn.Dropout(0.0)  # the same model without it folds
    assert stack_replicas(without, x).kind == "folded"


class InPlaceOnInputs(ScaledThenDropout):
    """In-place dropout of a copy of the inputs (vmap's form: the lams of one seed share them)."""

    def __init__(self, inplace: bool = True) -> None:
        super().__init__()
        self.drop_inputs = nn.Dropout(0.5, inplace=inplace)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.drop_inputs(x.clone()))


def test_a_form_whose_dropout_cannot_run_fails_before_training_not_in_its_first_step() -> None:
    """The checks run with dropout off; vmap's in-place dropout of an unmapped tensor would then
    pass them and fail every replica at the first step. One call with dropout on catches it."""
    torch.manual_seed(0)
    sample = torch.randn(6, 8)
    with pytest.raises(CannotBatch, match="inplace"):
        stack_replicas([InPlaceOnInputs(), InPlaceOnInputs()], sample)
    assert stack_replicas([InPlaceOnInputs(inplace=False)] * 2, sample).kind == "vmap"
    stacked = stack_replicas([InPlaceOnInputs(), InPlaceOnInputs()], sample, per_replica=True)  # mapped inputs
    with torch.no_grad():
        assert stacked(torch.randn(2, 6, 8), True, per_replica=True).shape == (2, 6, WIDTH)
