"""Ops that torch's vmap runs one replica at a time (no batching rule) are named in l2advisor's
own notice, not left to torch's warning (vmapped.py `unbatched_ops`); other warnings pass."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.training.batched import Replica, train_batched
from l2advisor.training.replicas import stack_replicas
from l2advisor.training.train import TrainConfig
from l2advisor.training.vmapped import FALLBACK_WARNING, unbatched_ops
from tests.conftest import write_model

TORCH_TEXT = FALLBACK_WARNING + "aten::made_up. Please file us an issue on GitHub so that we can prioritize its implementation."


def test_the_fallback_warning_is_collected_and_others_are_shown() -> None:
    found: list[str] = []
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with unbatched_ops(found):
            warnings.warn(TORCH_TEXT, UserWarning, stacklevel=1)
            warnings.warn("the model's own warning", UserWarning, stacklevel=1)
    assert found == ["aten::made_up"]
    assert [str(w.message) for w in shown] == ["the model's own warning"]  # shown as it came, once


def test_a_filter_that_makes_warnings_errors_still_raises_inside() -> None:
    # only the function that shows warnings is wrapped: the filters stay the user's
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="own"), unbatched_ops([]):
            warnings.warn("the model's own warning", UserWarning, stacklevel=1)


class Attending(nn.Module):
    """A learned position added to 3 tokens, one self-attention through
    F.scaled_dot_product_attention, a head. The free parameter keeps it off the folded form."""

    def __init__(self) -> None:
        super().__init__()
        self.position = nn.Parameter(0.1 * torch.randn(3, 4))
        self.qkv = nn.Linear(4, 24)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 12) -> (B, 3 tokens of 4) -> (B, 3)
        tokens = x.view(-1, 3, 4) + self.position
        q, k, v = self.qkv(tokens).view(-1, 3, 3, 2, 4).permute(2, 0, 3, 1, 4)  # (B, heads 2, 3, 4) each
        attended = nn.functional.scaled_dot_product_attention(q, k, v)  # (B, 2, 3, 4)
        return self.head(attended.transpose(1, 2).flatten(2)).mean(1)


def _sdpa_lacks_a_batching_rule() -> bool:
    """Whether this torch's vmap falls back to a loop for CPU attention (it warns so each time
    under "always"): what the tests below expect to be named."""
    q = torch.randn(2, 1, 2, 3, 4)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        torch.vmap(nn.functional.scaled_dot_product_attention)(q, q, q)
    return any(str(w.message).startswith(FALLBACK_WARNING) for w in seen)


def test_the_stack_names_the_ops_its_check_met() -> None:
    torch.manual_seed(0)
    models = [Attending() for _ in range(2)]
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")  # torch's warning comes every time, not once per line
        stacked = stack_replicas(models, torch.randn(6, 12), per_replica=True)
    assert stacked.kind == "vmap", stacked.passed_over  # a free parameter: neither packed nor folded
    assert not any(FALLBACK_WARNING in str(w.message) for w in shown)
    lacking = _sdpa_lacks_a_batching_rule()
    assert bool(stacked.unbatched) == lacking
    assert all(op.startswith("aten::") and "." not in op for op in stacked.unbatched)
    if lacking:
        assert any("scaled_dot_product" in op for op in stacked.unbatched), stacked.unbatched
        assert len(set(stacked.unbatched)) == len(stacked.unbatched)  # each op named once


MODEL = '''
import torch
from torch import nn
from torch.utils.data import TensorDataset
from tests.training.test_unbatched_ops import Attending

lr = 0.1
batch_size = 16

def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=g)
    return TensorDataset(x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long())

def build_model():
    return Attending()

def build_data():
    return _data(96, 1), _data(48, 2)
'''


def test_the_probe_says_it_in_its_notice_and_torchs_text_never_reaches_the_user(tmp_path: Path) -> None:
    model = write_model(tmp_path, MODEL, "attending.py")
    with warnings.catch_warnings(record=True) as shown:  # what would reach stderr (pytest takes them otherwise)
        warnings.simplefilter("always")  # torch's warning on every call: in the training loop too
        result = CliRunner().invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), "--lambdas",
                                          "0.1,0.05,0.025", "--horizon", "0.4", "--seeds", "0,1"])
    assert result.exit_code == 0, result.output
    assert not [w for w in shown if FALLBACK_WARNING in str(w.message)]
    said = " ".join(result.stderr.split())
    assert "through vmap, the slowest stacked form" in said
    assert "There is a performance drop" not in said and "file us an issue" not in said
    assert ("torch's vmap has no batching rule for aten::" in said) == _sdpa_lacks_a_batching_rule()


class AttendingOnLargeBatches(Attending):
    """The same outputs; attention through F.scaled_dot_product_attention on batches of more
    than 16 examples, written out (matmuls and a softmax, which vmap batches) otherwise: the
    stack's checks, which run on 16 examples, never meet the op the training loop calls."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > 16:
            return super().forward(x)
        tokens = x.view(-1, 3, 4) + self.position
        q, k, v = self.qkv(tokens).view(-1, 3, 3, 2, 4).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1)  # scale 1/sqrt(4)
        return self.head((weights @ v).transpose(1, 2).flatten(2)).mean(1)


def test_an_op_first_met_in_the_training_loop_is_said_once_after_it(tmp_path: Path) -> None:
    body = MODEL.replace("import Attending", "import AttendingOnLargeBatches").replace(
        "return Attending()", "return AttendingOnLargeBatches()")
    task = build_task(load_spec(write_model(tmp_path, body, "late.py"), {}))
    config = TrainConfig(lr=0.1, batch_size=24, max_steps=1, eval_every=1, seed=0)  # the checks' sample: 16
    notices: list[str] = []
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        results = train_batched(task, config, [Replica(0.05, 6, 3), Replica(0.01, 6, 3)], notice=notices.append)
    assert [r.status for r in results] == ["finished", "finished"]
    assert not [w for w in shown if FALLBACK_WARNING in str(w.message)]
    if _sdpa_lacks_a_batching_rule():
        assert len(notices) == 1 and "late.py: torch's vmap also ran aten::" in notices[0], notices
        assert "scaled_dot_product" in notices[0]
    else:
        assert notices == []
