"""Migrations on the real PostgreSQL: ordered, recorded, idempotent, safe when concurrent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from feeds.postgres import (
    active_feed_version,
    applied_migrations,
    feed_version_by_hash,
    migrate,
    migrations,
    open_pool,
    record_feed_version,
)
from web.settings import Settings


def test_migration_files_are_numbered_and_unique() -> None:
    found = migrations()
    versions = [m.version for m in found]
    assert versions == sorted(set(versions))
    assert versions[0] == 1
    assert found[0].name == "feed_versions"


def test_bad_migration_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match=r"0001_b\.sql: migration number 0001 is also 0001_a\.sql"):
        migrations(tmp_path)
    (tmp_path / "0001_b.sql").unlink()
    (tmp_path / "fix.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match=r"fix\.sql: migration files are named NNNN_name\.sql"):
        migrations(tmp_path)


async def test_migrate_is_recorded_and_idempotent(pg_pool: asyncpg.Pool) -> None:
    everything = [m.version for m in migrations()]
    assert await applied_migrations(pg_pool) == everything
    assert await migrate(pg_pool) == []
    assert await applied_migrations(pg_pool) == everything
    columns = await pg_pool.fetch(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = 'feed_versions'"
        " ORDER BY ordinal_position"
    )
    assert [c["column_name"] for c in columns] == [
        "id",
        "feed_hash",
        "source_path",
        "imported_at",
        "counts",
        "warnings",
        "snapshot_path",
        "active",
    ]


async def test_two_starters_at_once_apply_each_migration_once(settings: Settings) -> None:
    assert settings.database_url is not None

    async def start() -> list[int]:
        assert settings.database_url is not None
        async with open_pool(settings.database_url, settings.db_schema, max_size=2) as pool:
            return await migrate(pool)

    results = await asyncio.gather(*(start() for _ in range(4)))
    applied = sorted(v for r in results for v in r)
    assert applied == [m.version for m in migrations()], "each version applied exactly once"


async def test_a_failing_migration_rolls_back_and_stops(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok_table (x int);")
    (tmp_path / "0002_broken.sql").write_text(
        "CREATE TABLE half_table (x int); SELECT * FROM no_such_table;"
    )
    assert settings.database_url is not None
    async with open_pool(settings.database_url, settings.db_schema) as pool:
        with pytest.raises(asyncpg.UndefinedTableError):
            await migrate(pool, tmp_path)
        assert await applied_migrations(pool) == [1]
        tables = await pool.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        assert {t["tablename"] for t in tables} == {"ok_table", "schema_migrations"}


async def test_pool_uses_its_schema_and_jsonb_codec(
    pg_pool: asyncpg.Pool, settings: Settings
) -> None:
    assert await pg_pool.fetchval("SELECT current_schema()") == settings.db_schema
    assert await pg_pool.fetchval("SELECT $1::jsonb", {"a": [1, 2]}) == {"a": [1, 2]}


async def test_open_pool_refuses_unsafe_schema_names(settings: Settings) -> None:
    assert settings.database_url is not None
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        async with open_pool(settings.database_url, 'x"; DROP SCHEMA public; --'):
            pass


async def test_one_active_feed_version(pg_pool: asyncpg.Pool) -> None:
    a = await record_feed_version(
        pg_pool,
        feed_hash="aa",
        source_path="/a.zip",
        counts={"stops": 3},
        warnings=[],
        snapshot_path=None,
    )
    b = await record_feed_version(
        pg_pool,
        feed_hash="bb",
        source_path="/b.zip",
        counts={"stops": 4},
        warnings=["w"],
        snapshot_path="/s/bb.npz",
    )
    active = await active_feed_version(pg_pool)
    assert active is not None
    assert (active.id, active.counts, active.warnings) == (b.id, {"stops": 4}, ["w"])
    again = await record_feed_version(
        pg_pool,
        feed_hash="aa",
        source_path="/a2.zip",
        counts={"stops": 3},
        warnings=[],
        snapshot_path=None,
    )
    assert again.id == a.id, "re-importing the same bytes keeps the version id"
    active = await active_feed_version(pg_pool)
    assert active is not None
    assert active.feed_hash == "aa"
    old = await feed_version_by_hash(pg_pool, "bb")
    assert old is not None
    assert old.active is False
    assert await pg_pool.fetchval("SELECT count(*) FROM feed_versions WHERE active") == 1
