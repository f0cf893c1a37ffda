"""The package layout as a contract: the import-linter layers hold on the real tree, a
deliberately wrong import breaks them, and every `l2advisor.*` name that model files,
examples and benchmarks import still resolves (CI does not run the benchmarks, so a move
would otherwise break them unseen)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
USER_DIRS = ("examples", "probes", "benchmarks")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with this repository's contracts, on the package found in `package_parent`."""
    config = package_parent / "importlinter.toml"
    text = (ROOT / "pyproject.toml").read_text()
    config.write_text(text[text.index("[tool.importlinter]"):])
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--config", str(config), "--no-cache"],
        cwd=package_parent, capture_output=True, text=True,
        env={"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin"},
    )


def test_layers_contract_is_kept(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "l2advisor", tmp_path / "l2advisor", ignore=shutil.ignore_patterns("__pycache__", "data"))
    result = lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "bad_import", "broken"), [
    ("science/curves.py", "import torch", "The science core imports no torch"),
    ("training/train.py", "from l2advisor.probing import probe", "Layers"),
    ("modelfile/task.py", "from l2advisor.training import batches", "Layers"),
    ("runs/store.py", "import l2advisor.cli.app", "Nothing imports the command line"),
])
def test_a_wrong_import_breaks_the_contract(tmp_path: Path, module: str, bad_import: str, broken: str) -> None:
    shutil.copytree(ROOT / "l2advisor", tmp_path / "l2advisor", ignore=shutil.ignore_patterns("__pycache__", "data"))
    path = tmp_path / "l2advisor" / module
    path.write_text(path.read_text() + f"\n{bad_import}  # deliberately wrong\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout, result.stdout


def imported_names(path: Path) -> set[tuple[str, str | None]]:
    """(module, name) for every `from l2advisor.x import name` / `import l2advisor.x` in a file."""
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("l2advisor"):
            found |= {(node.module, alias.name) for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {(a.name, None) for a in node.names if a.name.startswith("l2advisor")}
    return found


def user_facing_imports() -> list[tuple[str, str, str | None]]:
    rows = []
    for folder in USER_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rows += [(str(path.relative_to(ROOT)), m, n) for m, n in sorted(imported_names(path), key=str)]
    return rows


def test_user_facing_files_import_something() -> None:
    modules = {m for _, m, _ in user_facing_imports()}
    assert {"l2advisor.datasets", "l2advisor.zoo"} <= modules  # the names model files use


@pytest.mark.parametrize(("where", "module", "name"), user_facing_imports())
def test_every_name_used_outside_the_package_resolves(where: str, module: str, name: str | None) -> None:
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as missing:  # an optional extra (lightning, transformers) not installed
        if (missing.name or "").startswith("l2advisor"):
            raise
        pytest.skip(f"{where}: {module} needs {missing.name}, an optional extra")
    if name is not None:
        assert hasattr(imported, name) or importlib.util.find_spec(f"{module}.{name}"), f"{where}: {module}.{name}"
