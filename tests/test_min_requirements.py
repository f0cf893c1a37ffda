"""scripts/min_requirements.py: the `==` pins of the CI job that tests the declared floors."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("min_requirements", ROOT / "scripts" / "min_requirements.py")
min_requirements = importlib.util.module_from_spec(spec)
spec.loader.exec_module(min_requirements)


def test_floors_become_pins_and_torch_is_left_out() -> None:
    pins = min_requirements.floor_pins(["torch>=2.2", "torchvision>=0.17", "optuna>=4.0",
                                        "dask[distributed]>=2023.10", "numpy>=1.24,<3", "rich >= 13"])
    assert pins == ["optuna==4.0", "dask[distributed]==2023.10", "numpy==1.24", "rich==13"]


@pytest.mark.parametrize("requirement", ["numpy", "numpy<3", "numpy==1.24", "numpy~=1.24"])
def test_a_dependency_without_a_floor_is_refused(requirement: str) -> None:
    with pytest.raises(ValueError, match="no `>=` floor"):
        min_requirements.floor_pins([requirement])


def test_every_declared_dependency_has_a_floor() -> None:
    """The project's own pyproject: the script runs, and pins every non-torch dependency."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "min_requirements.py"), "dev", "dask"],
                          capture_output=True, text=True, check=True)
    pins = done.stdout.split()
    assert "optuna==4.3" in pins and not any(p.startswith(("torch==", "torchvision==")) for p in pins)
    assert all("==" in pin for pin in pins) and len(pins) >= 10
