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


def test_layers_tell_apart_models_of_the_same_shapes() -> None:
    """An activation swapped (the same parameters and buffers) is another model; the control, a
    second build of the same one, is not."""
    from l2advisor.modelfile.fingerprint import model_layers

    relu = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    tanh = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    assert model_shapes(relu)[:4] == model_shapes(tanh)[:4]  # the parameters alike
    assert model_shapes(relu) != model_shapes(tanh)
    assert model_layers(relu) == model_layers(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)))
    assert "layer 1:torch.nn.modules.activation.ReLU()" in model_layers(relu)
    assert model_layers(nn.Sequential(nn.Dropout(0.1))) != model_layers(nn.Sequential(nn.Dropout(0.2)))


class Holder(nn.Module):
    """A custom module whose settings print a function (with its memory address)."""

    def __init__(self) -> None:
        super().__init__()
        self.fn = _net

    def extra_repr(self) -> str:
        return f"fn={self.fn}"

    def forward(self, x):  # noqa: ANN001, ANN201
        return x


def test_a_custom_class_adds_its_source_and_no_memory_address() -> None:
    from l2advisor.modelfile.fingerprint import model_layers

    layers = model_layers(Holder())
    assert not any("0x" in layer for layer in layers) and "fn=<function _net>" in layers[0]
    assert any(layer.startswith(f"class {__name__}.Holder:") and "no source" not in layer for layer in layers)
    assert model_layers(Holder()) == layers  # another object, the same fingerprint


def test_a_partials_source_is_its_function_and_bound_arguments_never_its_address() -> None:
    import functools

    from l2advisor.modelfile.fingerprint import source_text

    text = source_text(functools.partial(_net, width=8))
    assert "def _net(" in text and "('width', 8)" in text and "0x" not in text
    assert source_text(functools.partial(_net, width=8)) == text  # a new partial object: the same
    assert source_text(functools.partial(_net, width=9)) != text
    unsourced = eval("lambda: None")  # noqa: S307 - no source kept: its name stands in, never a repr
    assert source_text(unsourced) == "<lambda>"
