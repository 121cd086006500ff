"""The functional core stays pure: no coroutines, and import-linter's contracts hold."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ("transit", "predictor", "routing")


def _async_defs(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith):
            name = getattr(node, "name", type(node).__name__)
            found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    return found


def test_the_core_has_no_async_code() -> None:
    files = [p for pkg in CORE for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert files, "the core packages should contain modules"
    offenders = [hit for p in files for hit in _async_defs(p)]
    assert offenders == [], "async code in the functional core:\n" + "\n".join(offenders)


def test_the_walk_catches_every_kind_of_async_code(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "class A:\n"
        "    async def method(self):\n"
        "        async with x:\n"
        "            pass\n"
        "def plain():\n"
        "    return 1\n",
        encoding="utf-8",
    )
    assert _async_defs(probe, tmp_path) == ["probe.py:2 method", "probe.py:3 AsyncWith"]


def _lint_imports() -> Path:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.fail(f"lint-imports not installed beside {sys.executable}; pip install -e '.[dev]'")
    return exe


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [str(_lint_imports()), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: " in result.stdout
    assert " broken" not in result.stdout.replace("0 broken", "")


def test_every_app_key_is_defined_in_web_keys() -> None:
    found = []
    for path in sorted((ROOT / "web").rglob("*.py")):
        if path.name == "keys.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and "AppKey" in ast.unparse(node.func):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == [], "AppKey made outside web/keys.py:\n" + "\n".join(found)
