"""The shipped MNIST subset, the torchvision wrappers, and the ready-made model files."""

from __future__ import annotations

import importlib.util
import io
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from l2advisor import datasets
from l2advisor.modelfile.datasets import (
    MNIST_MEAN,
    MNIST_STD,
    load_mnist_subset,
    load_mnist_subset_test,
    load_package_file,
    load_torchvision,
    load_torchvision_test,
)

REPO = Path(__file__).resolve().parents[2]
OFFLINE_MODEL_FILES = [
    REPO / "examples" / "mnist_cnn.py",
    REPO / "probes" / "cnn_bn_mnist.py",
    REPO / "probes" / "cnn_nobn_mnist.py",
    REPO / "probes" / "mlp_mnist.py",
]
WRN_FILE = REPO / "probes" / "wrn_cifar10.py"


def load_model_file(path: Path):
    name = f"_l2advisor_test_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def pixel_values(images: torch.Tensor) -> torch.Tensor:
    """Undo the normalisation: back to 0..255."""
    return (images * MNIST_STD + MNIST_MEAN) * 255.0


# --------------------------------------------------------------------------- shipped subset


def test_package_file_is_small_and_complete():
    raw = load_package_file("mnist_subset.npz")
    assert len(raw) < 3_000_000
    with np.load(io.BytesIO(raw)) as npz:
        assert npz["x_pool"].shape == (6000, 28, 28) and npz["x_pool"].dtype == np.uint8
        assert npz["x_test"].shape == (2000, 28, 28) and npz["x_test"].dtype == np.uint8
        assert np.bincount(npz["y_pool"]).tolist() == [600] * 10
        assert np.bincount(npz["y_test"]).tolist() == [200] * 10
        assert len(np.unique(npz["pool_index"])) == 6000
    with pytest.raises(FileNotFoundError):
        load_package_file("no_such_file.npz")


def test_data_readme_credits_mnist():
    text = (REPO / "l2advisor" / "modelfile" / "data" / "README.md").read_text()
    for needle in ("LeCun", "Cortes", "Burges", "CC BY-SA 3.0", "build_mnist_subset.py"):
        assert needle in text


@pytest.mark.parametrize("flatten", [False, True])
def test_subset_shapes_dtypes_and_normalisation(flatten):
    train, val = load_mnist_subset(n_train=1000, n_val=1000, seed=0, flatten=flatten)
    shape = (784,) if flatten else (1, 28, 28)
    for ds in (train, val):
        x, y = ds.tensors
        assert x.shape == (1000, *shape) and x.dtype == torch.float32
        assert y.shape == (1000,) and y.dtype == torch.int64
        assert int(y.min()) == 0 and int(y.max()) == 9
        pixels = pixel_values(x)
        assert float(pixels.min()) == pytest.approx(0.0, abs=1e-3)
        assert float(pixels.max()) == pytest.approx(255.0, abs=1e-3)
        assert torch.allclose(pixels, pixels.round(), atol=1e-3)  # exact uint8 values
        # normalised with MNIST's statistics: roughly zero mean, unit std
        assert abs(float(x.mean())) < 0.1 and abs(float(x.std()) - 1.0) < 0.1
    xi, yi = train[0]
    assert xi.shape == shape and yi.dtype == torch.int64


def test_subset_train_val_disjoint_and_class_balanced():
    train, val = load_mnist_subset(n_train=1000, n_val=1000, seed=0)
    tr = {bytes(pixel_values(x).round().to(torch.uint8).numpy()) for x in train.tensors[0]}
    va = {bytes(pixel_values(x).round().to(torch.uint8).numpy()) for x in val.tensors[0]}
    assert len(tr) == 1000 and len(va) == 1000  # no duplicates within a split
    assert not tr & va  # and none shared between them
    assert torch.bincount(train.tensors[1], minlength=10).tolist() == [100] * 10
    assert torch.bincount(val.tensors[1], minlength=10).tolist() == [100] * 10
    # shuffled: not sorted by class
    assert (train.tensors[1].diff() != 0).float().mean() > 0.5


def test_subset_whole_pool_and_seeds():
    train, val = load_mnist_subset(n_train=5000, n_val=1000, seed=3)
    assert len(train) + len(val) == 6000
    a, _ = load_mnist_subset(n_train=100, n_val=10, seed=1)
    b, _ = load_mnist_subset(n_train=100, n_val=10, seed=1)
    c, _ = load_mnist_subset(n_train=100, n_val=10, seed=2)
    assert torch.equal(a.tensors[0], b.tensors[0]) and torch.equal(a.tensors[1], b.tensors[1])
    assert not torch.equal(a.tensors[0], c.tensors[0])
    assert torch.bincount(a.tensors[1], minlength=10).tolist() == [10] * 10


def test_subset_rejects_too_many_or_bad_sizes():
    with pytest.raises(ValueError, match="6000"):
        load_mnist_subset(n_train=5000, n_val=1001)
    with pytest.raises(ValueError, match="n_train"):
        load_mnist_subset(n_train=0)
    with pytest.raises(ValueError, match="n_val"):
        load_mnist_subset(n_val=10.5)


def test_subset_test_split():
    test = load_mnist_subset_test()
    x, y = test.tensors
    assert x.shape == (2000, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.bincount(y, minlength=10).tolist() == [200] * 10
    small = load_mnist_subset_test(n=500, flatten=True)
    assert small.tensors[0].shape == (500, 784)
    assert torch.bincount(small.tensors[1], minlength=10).tolist() == [50] * 10
    with pytest.raises(ValueError):
        load_mnist_subset_test(n=2001)


# --------------------------------------------------------------------------- torchvision


def test_data_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("L2ADVISOR_DATA", str(tmp_path))
    assert datasets.data_root() == tmp_path
    assert datasets.data_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("L2ADVISOR_DATA")
    assert datasets.data_root().name == "data"


def test_torchvision_unknown_name():
    with pytest.raises(ValueError, match="cifar10"):
        load_torchvision("imagenet", "/nonexistent")


def test_torchvision_missing_without_download(tmp_path):
    # real torchvision, download=False: checks the empty directory, touches no network
    # (and its own message, "Dataset not found or corrupted. You can use...", is cut to one sentence)
    with pytest.raises(RuntimeError) as info:
        load_torchvision_test("cifar10", tmp_path, download=False)
    message = str(info.value)
    assert "CIFAR-10" in message and str(tmp_path) in message and "download=False" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence


def failing_download(*args, **kwargs):
    """Stands in for a torchvision dataset class whose download has no network."""
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_torchvision_failed_download_is_one_clear_error(monkeypatch, tmp_path):
    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "MNIST", failing_download)
    with pytest.raises(RuntimeError) as info:
        load_torchvision("mnist", tmp_path)
    message = str(info.value)
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    for needle in ("MNIST", str(tmp_path), "could not be downloaded", "already contains"):
        assert needle in message


# --------------------------------------------------------------------------- model files


@pytest.mark.parametrize("path", OFFLINE_MODEL_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_offline_model_file_builds_and_runs(path):
    module = load_model_file(path)
    assert module.__doc__ and len(module.__doc__) > 100
    assert isinstance(module.lr, float) and isinstance(module.batch_size, int)
    assert module.optimizer in ("sgd", "adamw")
    model = module.build_model()
    assert isinstance(model, torch.nn.Module)
    train, val = module.build_data()
    test = module.build_test()
    assert len(train) > 0 and len(val) > 0 and len(test) > 0
    x = torch.stack([train[i][0] for i in range(8)])
    y = torch.stack([train[i][1] for i in range(8)])
    model.train()
    logits = model(x)
    assert logits.shape == (8, 10)
    loss = getattr(module, "loss", torch.nn.functional.cross_entropy)(logits, y)
    loss.backward()
    model.eval()
    with torch.no_grad():
        assert model(val[0][0].unsqueeze(0)).shape == (1, 10)
        assert model(test[0][0].unsqueeze(0)).shape == (1, 10)


def test_model_files_are_fresh_each_call():
    module = load_model_file(OFFLINE_MODEL_FILES[0])
    a, b = module.build_model(), module.build_model()
    assert not torch.equal(a[0].weight, b[0].weight)


def test_wrn_file_builds_model_and_fails_clearly_offline(monkeypatch, tmp_path):
    import torchvision.datasets

    module = load_model_file(WRN_FILE)
    assert (module.lr, module.batch_size, module.momentum) == (0.2, 128, 0.9)
    model = module.build_model()
    n_params = sum(p.numel() for p in model.parameters())
    assert 2_000_000 < n_params < 3_500_000  # WRN-16-4
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)

    monkeypatch.setenv("L2ADVISOR_DATA", str(tmp_path))  # empty directory
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", failing_download)
    with pytest.raises(RuntimeError) as info:
        module.build_data()
    message = str(info.value)
    for needle in ("CIFAR-10", str(tmp_path), "could not be downloaded", "L2ADVISOR_DATA"):
        assert needle in message


def test_the_digits_split_is_disjoint_fixed_by_its_seed_and_scaled() -> None:
    pytest.importorskip("sklearn")
    from l2advisor.datasets import load_digits_split

    train, val = load_digits_split(n_train=1200, seed=0)
    (x, y), (xv, yv) = train.tensors, val.tensors
    assert x.shape == (1200, 64) and xv.shape == (597, 64) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(torch.cat([x, xv]).min()) and float(torch.cat([x, xv]).max()) == 1.0  # pixels 0..16, / 16
    rows = {tuple(r) for r in x.tolist()}
    assert sum(tuple(r) in rows for r in xv.tolist()) < 10  # disjoint images (a few digits repeat exactly)
    again, other = load_digits_split(n_train=1200, seed=0)[0], load_digits_split(n_train=1200, seed=1)[0]
    assert torch.equal(again.tensors[0], x) and not torch.equal(other.tensors[0], x)
    assert set(torch.cat([y, yv]).tolist()) == set(range(10))


@pytest.mark.parametrize("n_train", [0, 1797, 12.5, True])
def test_the_digits_split_refuses_a_size_it_cannot_give(n_train) -> None:
    pytest.importorskip("sklearn")
    from l2advisor.datasets import load_digits_split

    with pytest.raises(ValueError, match="n_train must be an integer from 1 to 1796"):
        load_digits_split(n_train=n_train)


def test_the_digits_split_says_it_needs_scikit_learn(monkeypatch) -> None:
    from l2advisor.datasets import load_digits_split

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails as if not installed
    with pytest.raises(ImportError, match="needs scikit-learn"):
        load_digits_split()
