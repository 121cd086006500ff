"""API keys in PostgreSQL: stored hashed, found by token, revoked, roles ordered."""

from __future__ import annotations

import asyncpg
import pytest

from feeds.apikeys import (
    ApiKeyError,
    create_key,
    find_key,
    hash_token,
    list_keys,
    revoke_key,
    role_allows,
)


async def test_keys_are_stored_hashed_and_found_by_token(ingest_pool: asyncpg.Pool) -> None:
    key, token = await create_key(ingest_pool, "depot feed", "ingest")
    assert token.startswith(f"sbk_{key.prefix}_")
    stored = await ingest_pool.fetchval("SELECT key_hash FROM api_keys WHERE id = $1", key.id)
    assert bytes(stored) == hash_token(token)
    assert token.encode() not in bytes(stored)
    found = await find_key(ingest_pool, token)
    assert found is not None
    assert (found.name, found.role) == ("depot feed", "ingest")
    assert found.last_used_at is not None
    assert await find_key(ingest_pool, token + "x") is None
    assert await find_key(ingest_pool, "") is None


async def test_revoked_keys_stop_working(ingest_pool: asyncpg.Pool) -> None:
    key, token = await create_key(ingest_pool, "old", "operator")
    await revoke_key(ingest_pool, key.prefix)
    assert await find_key(ingest_pool, token) is None
    assert [k.revoked_at is not None for k in await list_keys(ingest_pool)] == [True]
    with pytest.raises(ApiKeyError, match="no API key"):
        await revoke_key(ingest_pool, "999999")


async def test_a_prefix_of_decimal_digits_is_revoked_as_a_prefix(ingest_pool: asyncpg.Pool) -> None:
    # one prefix in 40 is all decimal digits (8 random hex digits): it must not be read as an id
    first, _ = await create_key(ingest_pool, "first", "ingest")
    key, token = await create_key(ingest_pool, "digits", "ingest")
    await ingest_pool.execute("UPDATE api_keys SET key_prefix = '12345678' WHERE id = $1", key.id)
    revoked = await revoke_key(ingest_pool, "12345678")
    assert revoked.id == key.id
    assert await find_key(ingest_pool, token) is None
    # an id still works
    assert (await revoke_key(ingest_pool, str(first.id))).id == first.id


async def test_bad_requests_are_refused(ingest_pool: asyncpg.Pool) -> None:
    with pytest.raises(ApiKeyError, match="unknown role 'admin'"):
        await create_key(ingest_pool, "x", "admin")
    with pytest.raises(ApiKeyError, match="needs a name"):
        await create_key(ingest_pool, "  ", "rider")


def test_roles_are_ordered() -> None:
    assert role_allows("operator", "ingest")
    assert role_allows("ingest", "ingest")
    assert role_allows("ingest", "rider")
    assert not role_allows("rider", "ingest")
    assert not role_allows("ingest", "operator")
    assert not role_allows("nobody", "rider")
