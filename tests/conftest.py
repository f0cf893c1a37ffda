"""Shared fixtures: tiny model files on generated data (tests never need ../shared or a network)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

TINY_MODEL = '''
"""A tiny generated classification task: Gaussian blobs, a small MLP."""
import torch
from torch import nn
from torch.utils.data import TensorDataset

lr = 0.1
batch_size = 32

def _blobs(n, seed):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(4, 8, generator=torch.Generator().manual_seed(123)) * 1.5
    y = torch.randint(0, 4, (n,), generator=g)
    x = centers[y] + torch.randn(n, 8, generator=g)
    return TensorDataset(x, y)

def build_model():
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))

def build_data():
    return _blobs(256, 1), _blobs(128, 2)

def build_test():
    return _blobs(128, 3)
'''


def write_model(directory: Path, body: str, name: str = "model.py") -> Path:
    """Write a model file and return its path."""
    path = directory / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return write_model(tmp_path, TINY_MODEL, "tiny.py")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    """The reliability tally (issue 7): bad inputs tried, faults survived, property tests.

    Counts tests marked `bad_input`, `fault` and `property`; the pure fit's property tests
    live in tests/science/test_core_properties.py and are counted with them.
    """
    counts = {"bad_input": [0, 0], "fault": [0, 0], "property": [0, 0]}  # [passed, run]
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call":
                continue
            keywords = getattr(report, "keywords", {})
            for marker, count in counts.items():
                if marker in keywords or (marker == "property" and "test_core_properties.py" in report.nodeid):
                    count[0] += outcome == "passed"
                    count[1] += 1
    if any(run for _, run in counts.values()):
        bad, fault, prop = counts["bad_input"], counts["fault"], counts["property"]
        terminalreporter.write_sep("-", "reliability tally")
        terminalreporter.write_line(f"bad inputs tried: {bad[1]} ({bad[0]} answered as expected), "
                                    f"faults survived: {fault[0]} of {fault[1]}, property tests passed: "
                                    f"{prop[0]} of {prop[1]} (reader: test_store.py, fit: test_core_properties.py)")
