"""Service alerts in PostgreSQL: the ``service_alerts`` table (migration 0160), keyed by id,
with each alert's source (``operator`` or ``poll:<url>``) so that a poll replaces only what its
URL published; ``active_until`` lets readers skip alerts that have ended."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from .alerts import Alert, alert_from_json, alert_to_json

__all__ = ["delete_alert", "load_alerts", "replace_source", "save_alert"]


def _until(alert: Alert) -> datetime | None:
    end = alert.ends_at
    return None if end is None else datetime.fromtimestamp(end, UTC)


async def save_alert(pool: asyncpg.Pool, alert: Alert) -> None:
    """Insert or replace one alert."""
    await pool.execute(
        "INSERT INTO service_alerts (alert_id, source, body, active_until)"
        " VALUES ($1, $2, $3::text::jsonb, $4)"
        " ON CONFLICT (alert_id) DO UPDATE SET source = EXCLUDED.source, body = EXCLUDED.body,"
        " active_until = EXCLUDED.active_until, updated_at = now()",
        alert.alert_id,
        alert.source,
        json.dumps(alert_to_json(alert)),
        _until(alert),
    )


async def delete_alert(pool: asyncpg.Pool, alert_id: str) -> bool:
    """Remove an alert; False when there was none with that id."""
    status: str = await pool.execute("DELETE FROM service_alerts WHERE alert_id = $1", alert_id)
    return status.endswith(" 1")


async def replace_source(pool: asyncpg.Pool, source: str, alerts: Sequence[Alert]) -> int:
    """Make ``alerts`` the whole of what ``source`` publishes (one transaction)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "DELETE FROM service_alerts WHERE source = $1 AND NOT alert_id = ANY($2::text[])",
            source,
            [a.alert_id for a in alerts],
        )
        await conn.executemany(
            "INSERT INTO service_alerts (alert_id, source, body, active_until)"
            " VALUES ($1, $2, $3::text::jsonb, $4)"
            " ON CONFLICT (alert_id) DO UPDATE SET source = EXCLUDED.source,"
            " body = EXCLUDED.body, active_until = EXCLUDED.active_until, updated_at = now()",
            [(a.alert_id, source, json.dumps(alert_to_json(a)), _until(a)) for a in alerts],
        )
    return len(alerts)


async def load_alerts(pool: asyncpg.Pool, *, now: float | None = None) -> list[Alert]:
    """Every stored alert (those ended before ``now`` left out), by id."""
    # body as text: the same with or without a jsonb codec on the pool
    select = (
        "SELECT body::text AS body, extract(epoch FROM created_at)::float8 AS made"
        " FROM service_alerts"
    )
    if now is None:
        rows = await pool.fetch(f"{select} ORDER BY alert_id")
    else:
        rows = await pool.fetch(
            f"{select} WHERE active_until IS NULL OR active_until > $1 ORDER BY alert_id",
            datetime.fromtimestamp(now, UTC),
        )
    out = []
    for row in rows:
        doc = json.loads(row["body"])
        if not doc.get("created_at"):  # stamped by the database (the CLI reads no clock)
            doc["created_at"] = row["made"]
        out.append(alert_from_json(doc))
    return out
