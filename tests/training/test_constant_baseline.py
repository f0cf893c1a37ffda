"""What the best constant prediction scores (training/constant_baseline.py), recorded in the probe
header, and the advice a regression that learns only the mean gets through the real commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_model
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.runs.rundir import BASELINE_KEY, results_path
from l2advisor.training.constant_baseline import MOST_ITEMS, constant_baseline

runner = CliRunner()

CLASSES = """
import torch
from torch import nn
from torch.utils.data import TensorDataset
lr = 0.1
batch_size = 16
def build_model():
    return nn.Linear(4, 3)
def build_data():
    g = torch.Generator().manual_seed(0)
    train_y = torch.tensor([2] * 50 + [0] * 30 + [1] * 20)  # class 2 the most frequent
    val_y = torch.tensor([2] * 10 + [0] * 30)  # 10 of 40 are class 2
    return (TensorDataset(torch.randn(100, 4, generator=g), train_y),
            TensorDataset(torch.randn(40, 4, generator=g), val_y))
"""

# targets = an offset plus noise the inputs do not predict (or, with SIGNAL, a linear function of them)
REGRESSION = """
import torch
from torch import nn
from torch.utils.data import TensorDataset
lr = 0.05
batch_size = 32
SIGNAL = {signal}
def loss(outputs, targets):
    return nn.functional.mse_loss(outputs.squeeze(-1), targets)
def metric(outputs, targets):
    return -((outputs.squeeze(-1) - targets) ** 2).mean()
def build_model():
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
def _set(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = 3.0 + torch.randn(n, generator=g) + SIGNAL * 2.0 * x[:, 0]
    return TensorDataset(x, y)
def build_data():
    return _set(512, 1), _set(256, 2)
"""


def _task(tmp_path: Path, body: str, name: str = "model.py"):
    return build_task(load_spec(write_model(tmp_path, body, name), {}))


def test_accuracy_of_always_the_most_frequent_training_class(tmp_path: Path) -> None:
    baseline = constant_baseline(_task(tmp_path, CLASSES))
    assert baseline is not None and baseline.metric == pytest.approx(0.25) and baseline.scale == pytest.approx(0.75)
    assert baseline.predicts.startswith("class 2") and baseline.train_share == pytest.approx(0.5)  # the training
    # set's majority, not the validation set's (0)


@pytest.mark.parametrize("metric", [
    "def metric(outputs, targets):\n    return -nn.functional.nll_loss(outputs, targets)",  # log-probabilities
    "def metric(outputs, targets):\n    return (outputs.argmax(1) == targets).float().mean()"])
def test_a_metric_of_the_users_on_class_outputs_is_not_scored_on_a_constant(tmp_path: Path, metric: str) -> None:
    """A reviewer's LogSoftmax model with metric -NLL: a one-hot "constant" scored +0.099, above any
    real model's -NLL, and every probe was said to have learned nothing. Outputs of classes may be
    logits, probabilities or log-probabilities: no constant is scored through such a metric."""
    body = CLASSES.replace("lr = 0.1", f"lr = 0.1\nloss = nn.CrossEntropyLoss()\n{metric}")
    assert constant_baseline(_task(tmp_path, body)) is None


def test_a_metric_of_the_users_scores_the_training_mean(tmp_path: Path) -> None:
    task = _task(tmp_path, REGRESSION.format(signal=0.0))
    baseline = constant_baseline(task)
    train_mean = float(task.train.tensors[1].mean())
    val = task.val.tensors[1]
    assert baseline is not None and baseline.predicts == "the training targets' mean" and baseline.train_share is None
    assert baseline.metric == pytest.approx(-float(((train_mean - val) ** 2).mean()), rel=1e-5)
    sd = float(task.train.tensors[1].std())  # the scale: what -MSE loses one (robust) target sd off the mean
    assert baseline.scale == pytest.approx(sd ** 2, rel=0.2)


def test_r_squared_gets_a_scale_near_1_and_outputs_read_as_logits_get_none(tmp_path: Path) -> None:
    """R^2 of the mean is about 0 and one sd off it about -1 (a fixed perfect score of 0 for a
    negative constant had made R^2's yardstick 0.001); a metric for which the mean is no local best
    (binary cross-entropy on logits of soft targets) does not read outputs as predictions: none."""
    r2 = REGRESSION.format(signal=0.0).replace(
        "return -((outputs.squeeze(-1) - targets) ** 2).mean()",
        "return 1 - ((outputs.squeeze(-1) - targets) ** 2).mean() / targets.var()")
    baseline = constant_baseline(_task(tmp_path, r2))
    assert baseline is not None and abs(baseline.metric) < 0.05 and baseline.scale == pytest.approx(1.0, abs=0.25)
    logits = REGRESSION.format(signal=0.0).replace(
        "return -((outputs.squeeze(-1) - targets) ** 2).mean()",
        "return -nn.functional.binary_cross_entropy_with_logits(outputs.squeeze(-1), torch.sigmoid(targets))")
    assert constant_baseline(_task(tmp_path, logits, "logits.py")) is None


def test_zero_one_float_labels_get_no_constant(tmp_path: Path) -> None:
    """0/1 float targets are binary labels, whose outputs may be logits or probabilities: no constant is
    scored, even through a metric for which their mean is a local best (audit 40b: untested)."""
    binary = REGRESSION.format(signal=0.0).replace("return TensorDataset(x, y)", "return TensorDataset(x, (y > 3.0).float())")
    assert constant_baseline(_task(tmp_path, binary)) is None
    assert constant_baseline(_task(tmp_path, REGRESSION.format(signal=0.0), "control.py")) is not None


def test_the_scale_is_what_the_worse_side_loses(tmp_path: Path) -> None:
    """A metric that punishes a bias above 0.6 target sd on one side only (20 * excess^2, nothing half
    an sd off, so the mean stays a local best): one sd above the mean it loses about 1.8 more than
    -MSE alone does, one sd below the same; the scale is the worse side's loss."""
    lopsided = REGRESSION.format(signal=0.0).replace(
        "return -((outputs.squeeze(-1) - targets) ** 2).mean()",
        "e = outputs.squeeze(-1) - targets\n"
        "    return -(e ** 2).mean() - 20.0 * torch.relu(e.mean() - 0.6) ** 2")
    baseline = constant_baseline(_task(tmp_path, lopsided))
    mse_only = constant_baseline(_task(tmp_path, REGRESSION.format(signal=0.0), "mse.py"))
    assert baseline is not None and mse_only is not None
    assert baseline.scale > mse_only.scale + 1.0  # the lopsided side, not the symmetric MSE's


def test_a_metric_that_cannot_score_a_constant_leaves_the_check_out(tmp_path: Path) -> None:
    nan_metric = REGRESSION.format(signal=0.0).replace(
        "return -((outputs.squeeze(-1) - targets) ** 2).mean()",
        "return torch.nan if bool((outputs == outputs[0]).all()) else -((outputs.squeeze(-1) - targets) ** 2).mean()")
    assert constant_baseline(_task(tmp_path, nan_metric)) is None


def test_a_large_dataset_read_item_by_item_is_not_read(tmp_path: Path) -> None:
    body = CLASSES.replace("from torch.utils.data import TensorDataset", """from torch.utils.data import Dataset, TensorDataset
class Items(Dataset):
    def __init__(self, n): self.n = n
    def __len__(self): return self.n
    def __getitem__(self, i): return torch.ones(4), i % 3""").replace(
        "return (TensorDataset(torch.randn(100, 4, generator=g), train_y),",
        f"return (Items({MOST_ITEMS + 1}),")
    assert constant_baseline(_task(tmp_path, body)) is None
    small = constant_baseline(_task(tmp_path, body.replace(f"Items({MOST_ITEMS + 1})", "Items(30)"), "small.py"))
    assert small is not None and small.predicts.startswith("class 0")  # 0, 1, 2 tied: the first


@pytest.mark.parametrize("signal", [0.0, 1.0])
def test_probes_that_learn_only_the_mean_are_said_to_barely_beat_it(tmp_path: Path, signal: float) -> None:
    """Targets that are an offset plus unpredictable noise: every probe climbs from the untrained
    outputs (near 0, MSE about 10) to the mean (MSE about 1), a rise the old check took for
    learning. With a signal in the inputs (the control) the probes learn beyond the mean. Either
    way an advice and its prediction are given."""
    model = write_model(tmp_path, REGRESSION.format(signal=signal))
    out = tmp_path / "run"
    probed = runner.invoke(app, ["probe", str(model), "--out", str(out), "--budget", "4000", "--horizon", "2",
                                 "--device", "cpu"])
    assert probed.exit_code == 0, probed.output
    header = json.loads(results_path(out).read_text().splitlines()[0])
    assert header[BASELINE_KEY]["scale"] > 0.5 and header[BASELINE_KEY]["metric"] < -0.5
    advised = runner.invoke(app, ["recommend", str(out), "--json"])
    assert advised.exit_code == 0, advised.output
    record = json.loads(advised.stdout)
    said = any("the probes barely beat a constant prediction" in r for r in record["caveats"] + record["reasons"])
    assert said is (signal == 0.0) and record["learned_nothing"] is False and record["predicted_metric"] is not None
    if signal == 0.0:
        assert record["verdict"] in ("cannot tell", "does not hold")
        panel = runner.invoke(app, ["recommend", str(out)])
        assert "the probes barely beat a constant prediction" in " ".join(panel.stdout.replace("│", " ").split())


def test_mae_on_outlier_heavy_targets_takes_the_median_and_a_robust_scale(tmp_path: Path) -> None:
    """Review 39: under MAE with Cauchy noise the mean (pulled by outliers) was the constant and the
    sd (inflated 28-fold) its yardstick, so a 22-32% cut in MAE read as under 5% of the scale."""
    body = REGRESSION.format(signal=0.0).replace(
        "y = 3.0 + torch.randn(n, generator=g) + SIGNAL * 2.0 * x[:, 0]",
        "y = 3.0 + torch.distributions.Cauchy(0.0, 1.0).sample((n,))").replace(
        "return -((outputs.squeeze(-1) - targets) ** 2).mean()",
        "return -(outputs.squeeze(-1) - targets).abs().mean()")
    task = _task(tmp_path, body.replace("def _set(n, seed):", "def _set(n, seed):\n    torch.manual_seed(seed)"))
    baseline = constant_baseline(task)
    y = task.train.tensors[1]
    assert baseline is not None and baseline.predicts == "the training targets' median"
    assert baseline.scale < 1.5 < float(y.std())  # about what MAE loses one robust sd (~1.5) off: not the sd's


def test_plan_does_not_score_the_constant_and_probe_does(tiny_model: Path, tmp_path: Path, monkeypatch) -> None:
    """`probe --plan` writes nothing, so it reads no dataset's targets for a header (it did)."""
    import l2advisor.probing.settings as probing_settings

    calls: list[object] = []
    real = probing_settings.constant_baseline
    monkeypatch.setattr(probing_settings, "constant_baseline", lambda task: calls.append(task) or real(task))
    args = ["probe", str(tiny_model), "--out", str(tmp_path / "run"), "--budget", "2000", "--horizon", "1",
            "--seeds", "0", "--device", "cpu"]
    assert runner.invoke(app, [*args, "--plan"]).exit_code == 0 and calls == []
    assert runner.invoke(app, args).exit_code == 0 and len(calls) == 1  # the control: the probe records it


def test_a_dataset_read_item_by_item_is_read_once_for_the_baseline_and_the_class_shares() -> None:
    """`probe` asks for the constant baseline and for the class shares (its uneven-classes note): a
    dataset read item by item (transforms on every item) is read once, and another dataset is read anew."""
    import torch
    from torch.utils.data import Dataset

    from l2advisor.training.constant_baseline import _targets

    class Counted(Dataset):
        def __init__(self, n: int) -> None:
            self.n, self.reads = n, 0

        def __len__(self) -> int:
            return self.n

        def __getitem__(self, i: int):
            self.reads += 1
            return torch.ones(2), i % 3

    first, second = Counted(30), Counted(30)
    assert _targets(first).tolist() == [i % 3 for i in range(30)] and first.reads == 30
    assert _targets(first).tolist() == [i % 3 for i in range(30)] and first.reads == 30  # not again
    assert _targets(second) is not None and second.reads == 30  # the control: a new dataset is read
