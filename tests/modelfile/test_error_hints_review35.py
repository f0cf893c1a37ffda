"""Refusals that say what to change (a reviewer found each correct but without the fix): a
DataLoader from build_data, a (N, 1) label column, int32 labels, numpy inputs, float targets with
the default loss, a forward returning a dict or tuple, a loss with reduction='none'."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2advisor.errors import InputError
from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from tests.conftest import TINY_MODEL, write_model


def refused(tmp_path: Path, body: str) -> str:
    with pytest.raises(InputError) as error:
        build_task(load_spec(write_model(tmp_path, body)))
    return " ".join(str(error.value).split())


@pytest.mark.parametrize(("change", "said"), [
    ("\n_data = build_data\ndef build_data():\n    from torch.utils.data import DataLoader\n"
     "    tr, va = _data()\n    return DataLoader(tr, batch_size=32), va\n",
     "got DataLoader. Return its dataset (`loader.dataset`) and set `batch_size` in the file"),
    ("\n_data = build_data\ndef build_data():\n    tr, va = _data()\n"
     "    return TensorDataset(tr.tensors[0], tr.tensors[1][:, None]), va\n",
     "a column of labels: squeeze it, e.g. y.squeeze(1)"),
    ("\n_data = build_data\ndef build_data():\n    tr, va = _data()\n"
     "    return TensorDataset(tr.tensors[0], tr.tensors[1].int()), va\n",
     "labels must be int64 (torch.long), got torch.int32; return them as .long()"),
    ("\n_data = build_data\ndef build_data():\n    tr, va = _data()\n"
     "    return TensorDataset(tr.tensors[0], tr.tensors[1].float()), va\n",
     "a regression? set `loss` (e.g. torch.nn.functional.mse_loss) and `metric`"),
    ("\nclass _Dict(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.lin = nn.Linear(8, 4)\n    def forward(self, x):\n        return {'logits': self.lin(x)}\n"
     "def build_model():\n    return _Dict()\n",
     "got dict (return e.g. out[\"logits\"] from forward)"),
    ("\ndef loss(outputs, targets):\n    return nn.functional.cross_entropy(outputs, targets, reduction='none')\n",
     "got Tensor of shape (4,) (reduction='none'? take its .mean())"),
])
def test_the_refusal_says_what_to_change(tmp_path: Path, change: str, said: str) -> None:
    assert said in refused(tmp_path, TINY_MODEL + change)


def test_numpy_items_name_torch_as_tensor(tmp_path: Path) -> None:
    body = TINY_MODEL + '''
from torch.utils.data import Dataset

class _Numpy(Dataset):
    def __init__(self, base):
        self.base = base
    def __len__(self):
        return len(self.base)
    def __getitem__(self, i):
        x, y = self.base[i]
        return x.numpy(), y

_data = build_data
def build_data():
    tr, va = _data()
    return _Numpy(tr), va
'''
    assert "inputs must be tensors, got ndarray (torch.as_tensor(x, dtype=torch.float32) in __getitem__)" in \
        refused(tmp_path, body)


def test_the_tiny_model_itself_is_taken(tmp_path: Path) -> None:  # the control
    assert build_task(load_spec(write_model(tmp_path, TINY_MODEL))).train_size == 256
