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
    overridden,
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
    # an override settles it without the step's count, which the rule alone reads
    assert overridden(requested, environ) is (not choose_threads(None, 2, requested, environ).reason.startswith(
        "torch's default threads (the model's step could not be measured)"))


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
    assert _traced_flops(_MixerLike(), x) == (_reference_flops(_MixerLike(), x), True)
    assert model_cost(_MixerLike(), x)[1] == _reference_flops(_MixerLike(), x)


class Bilinear(nn.Module):
    """A product through einsum, which tracing does not price."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(16, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bi,ij->bj", x, self.weight)


def test_a_product_tracing_cannot_price_falls_back_to_flop_counter_mode() -> None:
    """Negative control: einsum multiplies matrices too; tracing says it does not know rather
    than leave it out."""
    from l2advisor.training.threads import _traced_flops

    x = torch.randn(32, 16)
    assert _traced_flops(Bilinear(), x) == (0.0, False)  # nothing priced, and it says the count is not whole
    assert model_cost(Bilinear(), x)[1] == _reference_flops(Bilinear(), x) > 0


def test_counting_a_custom_module_does_not_import_dynamo() -> None:
    import subprocess
    import sys

    code = ("import sys, torch; from tests.training.test_threads import _MixerLike; "
            "from l2advisor.training.threads import model_cost; model_cost(_MixerLike(), torch.ones(3, 1, 8, 8)); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


class _Attend(nn.Module):
    """Two heads of scaled dot-product attention between linear projections: (B, 6, 8) -> (B, 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv, self.head = nn.Linear(8, 24), nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (t.unflatten(-1, (2, 4)).transpose(1, 2) for t in self.qkv(x).chunk(3, dim=-1))  # (B, 2, 6, 4)
        attended = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.head(attended.transpose(1, 2).flatten(2)).mean(1)


def test_attention_is_priced_by_tracing_as_flop_counter_mode_prices_it() -> None:
    from l2advisor.training.threads import _traced_flops

    x = torch.randn(5, 6, 8)
    flops, exact = _traced_flops(_Attend(), x)
    projections = _reference_flops(nn.Sequential(nn.Linear(8, 24)), x) + 2 * 5 * 6 * 8 * 3 * 3  # head: x needs grad
    # forward 2*L*S*(d + dv) per batch and head, backward 2*L*S*(3d + 2dv): torch's own sdpa formulas
    attention = 5 * 2 * (2 * 6 * 6 * (4 + 4) + 2 * 6 * 6 * (3 * 4 + 2 * 4))
    assert exact and flops == projections + attention


class _UnrolledLSTM(nn.Module):
    """nn.LSTM's arithmetic written out with linear layers, one time step at a time: what the
    hooks count, a reference that does not share the recurrent formula."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.inputs, self.hidden = nn.Linear(width, 4 * hidden), nn.Linear(hidden, 4 * hidden)
        self.size = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, width) -> (B, hidden)
        h = c = x.new_zeros(len(x), self.size)
        for t in range(x.shape[1]):
            i, f, g, o = (self.inputs(x[:, t]) + self.hidden(h)).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return h


class _Recurrent(nn.Module):
    def __init__(self, kind: type[nn.RNNBase], packed: bool = False) -> None:
        super().__init__()
        self.rnn, self.packed = kind(8, 16, batch_first=True), packed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed:
            x = nn.utils.rnn.pack_padded_sequence(x, [x.shape[1]] * len(x), batch_first=True)
            return nn.utils.rnn.pad_packed_sequence(self.rnn(x)[0], batch_first=True)[0][:, -1]
        return self.rnn(x)[0][:, -1]


def test_recurrent_layers_are_priced_by_tracing() -> None:
    """FlopCounterMode counts nothing for them on the CPU; tracing counts every weight matrix
    once per token, its gradient, and its input's (the hidden states'), which over-counts the
    first layer's input and first step by at most a quarter at 5 steps. A packed sequence is
    not priced (negative control) and goes to FlopCounterMode."""
    from l2advisor.training.threads import _hooked_flops, _traced_flops

    x = torch.randn(3, 5, 8)
    lstm, exact = _traced_flops(_Recurrent(nn.LSTM), x)
    unrolled = _hooked_flops(_UnrolledLSTM(8, 16), x)
    assert exact and 1.0 <= lstm / unrolled <= 1.25, (lstm, unrolled)
    assert _traced_flops(_Recurrent(nn.GRU), x) == (0.75 * lstm, True)  # 3 gates' matrices to 4
    assert _traced_flops(_Recurrent(nn.RNN), x) == (0.25 * lstm, True)
    assert _reference_flops(_Recurrent(nn.LSTM), x) < 0.1 * lstm  # what FlopCounterMode would have said
    assert not _traced_flops(_Recurrent(nn.LSTM, packed=True), x)[1]


def test_the_thread_rule_settles_a_transformer_on_what_tracing_prices_without_dynamo() -> None:
    """nn.MultiheadAttention is not priced; the encoder layer's feed-forward products alone reach
    the threshold, a lower bound the rule says as such. A model whose priced products stay below
    it is counted in full by FlopCounterMode (the einsum model: nothing priced)."""
    import subprocess
    import sys

    code = ("import sys, torch; from torch import nn; from l2advisor.training.threads import thread_flops, "
            "choose_threads; layer = nn.TransformerEncoderLayer(32, 4, 128, dropout=0.0, batch_first=True); "
            "flops, at_least = thread_flops(layer, torch.randn(32, 16, 32)); "
            "print(at_least, choose_threads(flops, 2, environ={}, at_least=at_least).reason, "
            "'torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1].startswith("True 2 thread(s): a large step (at least ")
    assert out.strip().endswith("False")

    from l2advisor.training.threads import thread_flops

    x = torch.randn(32, 16)
    assert thread_flops(Bilinear(), x) == (_reference_flops(Bilinear(), x), False)
