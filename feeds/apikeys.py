"""API keys: random tokens handed out once, stored only as SHA-256 digests, with a role.

Roles are ordered ``rider < ingest < operator``: a key may do what its role and every lower
role may do. A key looks like ``sbk_<prefix>_<secret>``; the short prefix is stored in clear so
an operator can tell keys apart in listings without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

__all__ = [
    "ROLES",
    "ApiKey",
    "ApiKeyError",
    "create_key",
    "find_key",
    "hash_token",
    "list_keys",
    "revoke_key",
    "role_allows",
]

ROLES: Final = ("rider", "ingest", "operator")


class ApiKeyError(ValueError):
    """A key request that cannot be honoured (unknown role, empty name, unknown key)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


def role_allows(have: str, need: str) -> bool:
    """Whether a key of role ``have`` may act as ``need`` (operator > ingest > rider)."""
    if need not in ROLES:
        raise ApiKeyError(f"unknown role {need!r}; roles are {', '.join(ROLES)}")
    return have in ROLES and ROLES.index(have) >= ROLES.index(need)


def hash_token(token: str) -> bytes:
    """The SHA-256 digest stored for a token."""
    return hashlib.sha256(token.encode()).digest()


def _key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        row["id"],
        row["name"],
        row["role"],
        row["key_prefix"],
        row["created_at"],
        row["last_used_at"],
        row["revoked_at"],
    )


async def create_key(pool: asyncpg.Pool, name: str, role: str) -> tuple[ApiKey, str]:
    """Create a key; returns it and its token (the only time the token exists in clear)."""
    if role not in ROLES:
        raise ApiKeyError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    name = name.strip()
    if not name:
        raise ApiKeyError("a key needs a name (who or what uses it)")
    prefix = secrets.token_hex(4)
    token = f"sbk_{prefix}_{secrets.token_urlsafe(32)}"
    row = await pool.fetchrow(
        "INSERT INTO api_keys (name, role, key_prefix, key_hash) VALUES ($1, $2, $3, $4) "
        "RETURNING *",
        name,
        role,
        prefix,
        hash_token(token),
    )
    return _key(row), token


async def find_key(pool: asyncpg.Pool, token: str) -> ApiKey | None:
    """The live (not revoked) key of ``token``, or None; records when it was last used."""
    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    row = await pool.fetchrow(
        "UPDATE api_keys SET last_used_at = now() "
        "WHERE key_hash = $1 AND revoked_at IS NULL RETURNING *",
        digest,
    )
    # the index lookup already matched; compare again in constant time so that no code path
    # ever decides on a key by a short-circuiting comparison
    if row is None or not hmac.compare_digest(bytes(row["key_hash"]), digest):
        return None
    return _key(row)


async def list_keys(pool: asyncpg.Pool) -> list[ApiKey]:
    """Every key, oldest first."""
    return [_key(r) for r in await pool.fetch("SELECT * FROM api_keys ORDER BY id")]


async def revoke_key(pool: asyncpg.Pool, key: str) -> ApiKey:
    """Revoke a key given its prefix or its id; raises ApiKeyError when there is no such key.

    A prefix is 8 hex digits and may well be all decimal digits, so it is looked up first; a
    number that is no key's prefix is then taken as an id.
    """
    revoke = (
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE {} = $1 RETURNING *"
    )
    row = await pool.fetchrow(revoke.format("key_prefix"), key)
    if row is None and key.isdigit() and len(key) <= 18:  # fits a bigint
        row = await pool.fetchrow(revoke.format("id"), int(key))
    if row is None:
        raise ApiKeyError(f"no API key with id or prefix {key!r}")
    return _key(row)
