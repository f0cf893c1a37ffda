"""model_shapes, the built model's part of the Python API's fingerprint: a model that differs in a
buffer, a dtype or a parameter's name is another model, and its old probes are not resumed."""

from __future__ import annotations

from torch import nn

from l2advisor.modelfile.fingerprint import model_shapes, python_task_sha256


def _net(width: int = 4) -> nn.Module:
    return nn.Sequential(nn.Linear(3, width), nn.BatchNorm1d(width), nn.Linear(width, 2))


def test_shapes_name_every_parameter_and_buffer_with_its_dtype() -> None:
    shapes = model_shapes(_net())
    assert "0.weight:(4, 3):torch.float32" in shapes and "1.running_mean:(4,):torch.float32" in shapes
    assert "1.num_batches_tracked:():torch.int64" in shapes  # a buffer
    assert model_shapes(_net()) == shapes  # the control: the same model, the same shapes


def test_another_buffer_dtype_or_name_is_another_fingerprint() -> None:
    base = model_shapes(_net())
    without_stats = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False), nn.Linear(4, 2))
    renamed = nn.Sequential()
    renamed.add_module("inp", nn.Linear(3, 4))
    renamed.add_module("1", nn.BatchNorm1d(4))
    renamed.add_module("2", nn.Linear(4, 2))
    others = [model_shapes(without_stats), model_shapes(_net().double()), model_shapes(renamed),
              model_shapes(_net(5))]
    assert all(other != base for other in others)
    digest = python_task_sha256("source", base, [], [])
    assert all(python_task_sha256("source", other, [], []) != digest for other in others)
    assert python_task_sha256("source", model_shapes(_net()), [], []) == digest  # the control
