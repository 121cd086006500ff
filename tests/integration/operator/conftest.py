"""Operator fixtures on the shell's real-server fixtures (a schema of its own per test)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "operator"


@pytest.fixture
def op_data() -> Path:
    return DATA


@pytest.fixture
def op_pool(pg_pool: asyncpg.Pool) -> asyncpg.Pool:
    """The shell's pool: a fresh schema with every migration (history 0010, jobs 0040)."""
    return pg_pool
