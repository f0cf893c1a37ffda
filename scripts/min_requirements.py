"""Print the declared minimum of every dependency as an `==` pin, one per line, for a CI job that
tests the floors in pyproject.toml (`pip install $(python scripts/min_requirements.py dev dask)`;
Python >= 3.11, for tomllib).

Each `name>=X` (also `name[extra]>=X` and `name>=X,<Y`) becomes `name==X`. torch and torchvision
are left out: the machines carry one pinned build, installed separately. A dependency without a
floor is an error: its minimum could not be tested.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
EXCEPTED = {"torch", "torchvision"}  # pinned by the machine, not by us
FLOOR = re.compile(r"^\s*([A-Za-z0-9_.-]+(?:\[[A-Za-z0-9_,.-]+\])?)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*(?:,.*)?(?:;.*)?$")


def floor_pins(requirements: list[str]) -> list[str]:
    """['optuna>=4.0', ...] -> ['optuna==4.0', ...], without the excepted packages."""
    pins = []
    for requirement in requirements:
        match = FLOOR.match(requirement)
        if match is None:
            raise ValueError(f"{requirement!r} has no `>=` floor to test")
        name, version = match.groups()
        if re.split(r"[\[<>=!~; ]", name, maxsplit=1)[0].lower() not in EXCEPTED:
            pins.append(f"{name}=={version}")
    return pins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extras", nargs="*", help="optional-dependency groups to include, e.g. dev dask")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    args = parser.parse_args()
    project = tomllib.loads(args.pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in args.extras:
        if extra not in project.get("optional-dependencies", {}):
            sys.exit(f"pyproject.toml has no optional dependency group {extra!r}")
        requirements += project["optional-dependencies"][extra]
    print("\n".join(floor_pins(requirements)))


if __name__ == "__main__":
    main()
