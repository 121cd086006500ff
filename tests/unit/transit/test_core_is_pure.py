"""The transit core does no I/O: no coroutines, no imports of the shell's libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[3] / "transit"
FORBIDDEN = {
    "feeds",
    "web",
    "aiohttp",
    "asyncpg",
    "redis",
    "gtfs_kit",
    "pandas",
    "asyncio",
    "requests",
    "socket",
    "pyarrow",
}


@pytest.mark.parametrize("module", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_no_async_and_no_io_imports(module: Path) -> None:
    tree = ast.parse(module.read_text(), filename=str(module))
    for node in ast.walk(tree):
        assert not isinstance(node, ast.AsyncFunctionDef | ast.Await), f"async code in {module}"
        if isinstance(node, ast.Import):
            roots = {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "").split(".")[0]}
        else:
            continue
        assert not roots & FORBIDDEN, f"{module.name} imports {roots & FORBIDDEN}"
