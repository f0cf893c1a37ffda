"""The default thread count's decision (not its speed: benchmarks/threads.py measures that)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.training.threads import (
    ENV,
    MULTI_THREAD_FLOPS,
    choose_threads,
    model_cost,
    rule_threads,
)
from l2advisor.zoo import mlp, small_cnn

BATCH = 64


def step_flops(model: nn.Module, sample_shape: tuple[int, ...]) -> float:
    return model_cost(model, torch.zeros(BATCH, *sample_shape))[1]


def test_flops_of_an_mlp_step_are_counted() -> None:
    """784-32-10 at batch 64: forward 2*B*(784*32 + 32*10) FLOPs; backward, weight gradients of
    both layers and the input gradient of the second: 3x forward minus the first layer's input."""
    forward = 2 * BATCH * (784 * 32 + 32 * 10)
    assert step_flops(mlp(in_features=784, hidden=32, depth=1), (784,)) == 3 * forward - 2 * BATCH * 784 * 32


def test_a_tiny_mlp_trains_on_one_thread_and_large_models_on_all_cores() -> None:
    tiny = step_flops(mlp(in_features=784, hidden=8, depth=1), (784,))  # 1.6 MFLOP: 1 thread 7 % faster
    small = step_flops(mlp(in_features=784, hidden=32, depth=1), (784,))  # 6.5 MFLOP: 2 threads 1.20x
    cnn = step_flops(small_cnn(channels=(8, 16), batch_norm=True), (1, 28, 28))  # the bundled default
    big = step_flops(mlp(in_features=784, hidden=1024, depth=3), (784,))
    assert rule_threads(tiny, available=2) == 1
    assert rule_threads(small, available=2) == 2
    assert rule_threads(cnn, available=2) == 2 and rule_threads(big, available=8) == 8
    assert tiny < MULTI_THREAD_FLOPS <= small  # the threshold sits between the measured models


def _reference_flops(model: nn.Module, x: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model(x).float().sum().backward()
    return float(counter.get_total_flops())


@pytest.mark.parametrize(("model", "shape"), [
    (small_cnn(channels=(8, 16), batch_norm=True), (64, 1, 28, 28)),
    (nn.Sequential(nn.Conv1d(2, 4, 3, stride=2), nn.Flatten(), nn.Linear(28, 3, bias=False)), (8, 2, 16)),
    (nn.Sequential(nn.Linear(5, 6), nn.LayerNorm(6), nn.GELU(), nn.Linear(6, 2)), (4, 3, 5)),  # 3-D inputs
])
def test_torch_nn_models_are_counted_by_hooks_as_flop_counter_mode_counts(model: nn.Module, shape: tuple) -> None:
    x = torch.randn(*shape)
    assert model_cost(model, x)[1] == _reference_flops(model, x)


def test_a_custom_forward_is_counted_by_flop_counter_mode() -> None:
    class Gram(nn.Module):  # multiplies matrices itself: no Linear for a hook to see
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(16, 16))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x @ self.weight

    x = torch.randn(32, 16)
    flops = model_cost(Gram(), x)[1]
    assert flops == _reference_flops(Gram(), x) and flops >= 2 * 32 * 16 * 16 * 2  # forward and weight gradient


def test_torch_nn_layers_with_matmuls_inside_are_counted_by_flop_counter_mode() -> None:
    from l2advisor.training.threads import _hooked_flops

    # all torch.nn, but the attention's matmuls are not calls of Linear modules
    model = nn.Sequential(nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True))
    x = torch.randn(4, 5, 16)
    flops = model_cost(model, x)[1]
    assert flops == _reference_flops(model, x)
    assert _hooked_flops(model, x) < flops  # negative control: the hooks alone would miss the attention


def test_counting_a_torch_nn_model_does_not_import_dynamo() -> None:
    """torch's FlopCounterMode imports torch._dynamo (seconds at every probe's start); hooks do not."""
    import subprocess
    import sys

    code = ("import sys, torch; from torch import nn; from l2advisor.training.threads import model_cost; "
            "model_cost(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), torch.ones(3, 4)); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_counting_leaves_the_random_stream_alone() -> None:
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2))  # dropout draws random numbers
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    model_cost(model, torch.ones(8, 4))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(("requested", "environ", "threads"), [
    (3, {ENV: "2", "OMP_NUM_THREADS": "4"}, 3),  # --threads wins
    (None, {ENV: "2", "OMP_NUM_THREADS": "4"}, 2),  # then L2ADVISOR_THREADS
    (None, {"OMP_NUM_THREADS": "4"}, None),  # then the user's OMP_NUM_THREADS: torch keeps it
    (None, {}, 1),  # then the rule: a small step, one thread
])
def test_overrides_come_before_the_rule(requested: int | None, environ: dict[str, str], threads: int | None) -> None:
    assert choose_threads(1e6, available=2, requested=requested, environ=environ).threads == threads


def test_a_large_step_gets_every_core_whatever_the_load() -> None:
    """The same command gives the same thread count (and so the same rounding) on an idle and a
    busy machine: the rule looks at the model only."""
    big = 10 * MULTI_THREAD_FLOPS
    assert choose_threads(big, available=2, environ={}).threads == 2
    assert choose_threads(big, available=2, requested=1, environ={}).threads == 1  # --threads wins


def test_an_unmeasured_model_keeps_torchs_default() -> None:
    assert choose_threads(None, available=2, environ={}).threads is None


@pytest.mark.bad_input
def test_a_bad_environment_value_is_one_sentence(tiny_model: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(tiny_model), "--budget", "10", "--weight-decay", "0",
                                      "--out", str(tmp_path / "run"), "--device", "cpu"],
                                env={ENV: "two", "OMP_NUM_THREADS": ""})
    assert result.exit_code == 2 and f"{ENV} must be a whole number" in result.stderr, result.output


def test_the_cli_sets_the_rules_count(tiny_model: Path, tmp_path: Path) -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        result = CliRunner().invoke(app, ["train", "--threads", "2", str(tiny_model), "--budget", "10",
                                          "--weight-decay", "0", "--out", str(tmp_path / "a"), "--device", "cpu"])
        assert result.exit_code == 0 and torch.get_num_threads() == 2, result.output
        result = CliRunner().invoke(app, ["train", str(tiny_model), "--budget", "10", "--weight-decay", "0",
                                          "--out", str(tmp_path / "b"), "--device", "cpu"], env={"OMP_NUM_THREADS": ""})
        assert result.exit_code == 0, result.output
        # one thread: the tiny model's step is small
        assert torch.get_num_threads() == 1 and "Threads: 1 thread" in " ".join(result.stderr.split())
    finally:
        torch.set_num_threads(before)


class _MixerLike(nn.Module):
    """A custom module around linear layers (transposed token mixing, as MLP-Mixer), plus a
    product of its own and a convolution: what tracing counts."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.tokens = nn.Linear(8, 16)
        self.direction = nn.Parameter(torch.randn(10, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, 8, 8) -> (B, 10)
        h = self.conv(x).mean(1)  # (B, 8, 8)
        h = self.tokens(h.transpose(1, 2)).transpose(1, 2)  # (B, 16, 8)
        w = self.direction / self.direction.norm(dim=1, keepdim=True)
        return h.mean(2) @ w.T


def test_a_custom_module_is_counted_by_tracing_as_flop_counter_mode_counts() -> None:
    from l2advisor.training.threads import _traced_flops

    x = torch.randn(16, 1, 8, 8)
    assert _traced_flops(_MixerLike(), x) == _reference_flops(_MixerLike(), x) == model_cost(_MixerLike(), x)[1]


def test_a_product_tracing_cannot_price_falls_back_to_flop_counter_mode() -> None:
    """Negative control: einsum multiplies matrices too; tracing says it does not know rather
    than leave it out."""
    from l2advisor.training.threads import _traced_flops

    class Bilinear(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(16, 16))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.einsum("bi,ij->bj", x, self.weight)

    x = torch.randn(32, 16)
    assert _traced_flops(Bilinear(), x) is None
    assert model_cost(Bilinear(), x)[1] == _reference_flops(Bilinear(), x) > 0


def test_counting_a_custom_module_does_not_import_dynamo() -> None:
    import subprocess
    import sys

    code = ("import sys, torch; from tests.training.test_threads import _MixerLike; "
            "from l2advisor.training.threads import model_cost; model_cost(_MixerLike(), torch.ones(3, 1, 8, 8)); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
