"""Build the small MNIST subset that l2advisor ships for its offline default.

Reads the full MNIST arrays (uint8 npz with x_train, y_train, x_test, y_test) and draws,
with a fixed seed, a class-balanced subset:

* a training pool of 6000 images (600 per class) from MNIST's training set; the examples and
  probes take their disjoint train/validation splits from this pool;
* 2000 test images (200 per class) from MNIST's test set, used only for final reports.

Writes ``l2advisor/modelfile/data/mnist_subset.npz`` (uint8, compressed) with arrays
``x_pool (6000, 28, 28)``, ``y_pool (6000,)``, ``x_test (2000, 28, 28)``, ``y_test (2000,)``,
plus ``pool_index``/``test_index`` (the positions in the original MNIST arrays).

Run from the repository root:

    python scripts/build_mnist_subset.py                # reads ../shared/data/mnist_u8.npz
    python scripts/build_mnist_subset.py path/to/mnist_u8.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "mnist_u8.npz"
DEFAULT_OUT = REPO_ROOT / "l2advisor" / "data" / "mnist_subset.npz"
SEED = 20200616  # fixed: the subset must be rebuildable bit for bit
N_CLASSES = 10
POOL_PER_CLASS = 600
TEST_PER_CLASS = 200


def balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """`per_class` random positions of each class, returned in one shuffled order."""
    picks = []
    for c in range(N_CLASSES):
        where = np.flatnonzero(labels == c)
        if where.size < per_class:
            raise ValueError(f"class {c} has only {where.size} images, need {per_class}")
        picks.append(rng.choice(where, size=per_class, replace=False))
    return rng.permutation(np.concatenate(picks))


def build(source: Path, out: Path, seed: int = SEED) -> dict[str, np.ndarray]:
    with np.load(source) as full:
        x_train, y_train = full["x_train"], full["y_train"]
        x_test, y_test = full["x_test"], full["y_test"]
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        if x.dtype != np.uint8 or x.shape[1:] != (28, 28):
            raise ValueError(
                f"{source}: {name} should be uint8 (N, 28, 28), got {x.dtype} {x.shape}"
            )

    rng = np.random.default_rng(seed)
    pool_index = balanced_indices(y_train, POOL_PER_CLASS, rng)
    test_index = balanced_indices(y_test, TEST_PER_CLASS, rng)
    arrays = {
        "x_pool": x_train[pool_index].astype(np.uint8),
        "y_pool": y_train[pool_index].astype(np.uint8),
        "x_test": x_test[test_index].astype(np.uint8),
        "y_test": y_test[test_index].astype(np.uint8),
        "pool_index": pool_index.astype(np.int32),
        "test_index": test_index.astype(np.int32),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source",
        nargs="?",
        type=Path,
        default=DEFAULT_SOURCE,
        help=f"full MNIST uint8 npz (default: {DEFAULT_SOURCE})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"where to write the subset (default: {DEFAULT_OUT})",
    )
    args = parser.parse_args()
    arrays = build(args.source, args.out)
    print(
        f"wrote {args.out} ({args.out.stat().st_size} bytes): "
        f"pool {arrays['x_pool'].shape}, test {arrays['x_test'].shape}"
    )


if __name__ == "__main__":
    main()
