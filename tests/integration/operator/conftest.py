"""Operator fixtures: a PostgreSQL schema of its own with the history and job tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = ROOT / "feeds" / "migrations"
DATA = ROOT / "tests" / "data" / "operator"
URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def op_data() -> Path:
    return DATA


@pytest.fixture
async def op_pool() -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh schema holding the tables of migrations 0010 and 0040-0049."""
    schema = f"op_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(URL)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    pool = await asyncpg.create_pool(
        URL, min_size=1, max_size=4, server_settings={"search_path": schema}
    )
    try:
        async with pool.acquire() as conn:
            for sql in sorted(MIGRATIONS.glob("001*.sql")) + sorted(MIGRATIONS.glob("004*.sql")):
                await conn.execute(sql.read_text())
        yield pool
    finally:
        await pool.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
