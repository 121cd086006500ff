"""Batched, durable history of the live path in PostgreSQL (tables of migration 0010).

A :class:`HistoryBatch` collects the rows of many tracker outputs; :meth:`HistoryWriter.write`
stores a batch with one ``COPY`` per table inside one transaction, so a batch is either all
durable or not at all, which is what lets the stream consumer acknowledge after it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from feeds.history_partitions import PARTITION_KEYS, days_of, ensure_days
from predictor.events import TrackerOutput
from transit.pings import Ping

__all__ = ["COLUMNS", "HistoryBatch", "HistoryWriter", "service_date"]

log = logging.getLogger(__name__)

COLUMNS: dict[str, tuple[str, ...]] = {
    "positions": (
        "vehicle_id",
        "ts",
        "lat",
        "lon",
        "trip_id",
        "route_id",
        "direction_id",
        "service_date",
        "speed",
        "bearing",
        "occupancy",
        "occupancy_percent",
        "dist_along",
        "source",
        "pattern_id",
    ),
    "stop_visits": (
        "vehicle_id",
        "trip_id",
        "route_id",
        "stop_id",
        "stop_sequence",
        "service_date",
        "arrival",
        "departure",
        "scheduled",
        "delay_s",
        "source",
    ),
    "segment_traversals": (
        "vehicle_id",
        "trip_id",
        "route_id",
        "from_stop_id",
        "to_stop_id",
        "entered_at",
        "exited_at",
        "length_m",
        "speed_mps",
    ),
    "predictions_log": (
        "issued_at",
        "vehicle_id",
        "trip_id",
        "route_id",
        "stop_id",
        "stop_sequence",
        "predicted",
        "p10",
        "p90",
        "scheduled",
    ),
}


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _opt_ts(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def service_date(yyyymmdd: str | None) -> date | None:
    """The ``service_date`` column of a GTFS ``YYYYMMDD`` date; None when blank or not a date."""
    if not yyyymmdd or len(yyyymmdd) != 8 or not yyyymmdd.isdigit():
        return None
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return None


@dataclass(slots=True)
class HistoryBatch:
    """Rows waiting to be written, per table: one field per table of :data:`COLUMNS`."""

    positions: list[tuple[Any, ...]] = field(default_factory=list)
    stop_visits: list[tuple[Any, ...]] = field(default_factory=list)
    segment_traversals: list[tuple[Any, ...]] = field(default_factory=list)
    predictions_log: list[tuple[Any, ...]] = field(default_factory=list)
    #: scheduled times already converted to datetimes (they recur from ping to ping)
    _sched_ts: dict[float, datetime] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return sum(len(getattr(self, table)) for table in COLUMNS)

    def add(
        self,
        ping: Ping,
        output: TrackerOutput,
        source: str = "",
        *,
        pattern_id: str | None = None,
        visits_source: str | None = None,
    ) -> None:
        """Add the rows of one processed ping: its position (unless rejected) and its effects.

        ``pattern_id`` names the pattern (shape) the state's ``dist_along`` is measured on,
        when the caller knows it; ``visits_source`` marks the stop visits an import derived
        (the live path leaves both None).
        """
        state = output.state
        if output.rejection is None or state is not None:
            self.positions.append(
                (
                    ping.vehicle_id,
                    _ts(ping.timestamp),
                    ping.lat,
                    ping.lon,
                    state.trip_id if state is not None else ping.trip_id,
                    state.route_id if state is not None else ping.route_id,
                    state.direction_id if state is not None else ping.direction_id,
                    service_date(
                        (state.service_date if state is not None else None) or ping.start_date
                    ),
                    ping.speed,
                    ping.bearing,
                    None if ping.occupancy is None else int(ping.occupancy),
                    ping.occupancy_percent,
                    state.dist_along if state is not None else None,
                    source or None,
                    pattern_id if state is not None else None,
                )
            )
        for v in output.visits:
            self.stop_visits.append(
                (
                    v.vehicle_id,
                    v.trip_id,
                    v.route_id,
                    v.stop_id,
                    v.stop_sequence,
                    service_date(v.service_date),
                    _ts(v.arrival),
                    _opt_ts(v.departure),
                    _opt_ts(v.scheduled),
                    v.delay,
                    visits_source,
                )
            )
        for t in output.traversals:
            self.segment_traversals.append(
                (
                    t.vehicle_id,
                    t.trip_id,
                    t.route_id,
                    t.from_stop_id,
                    t.to_stop_id,
                    _ts(t.entered_at),
                    _ts(t.exited_at),
                    t.length_m,
                    t.speed,
                )
            )
        if output.predictions:
            # a ping's predictions share their issue time, and the timetable's times recur
            # from ping to ping: convert each once (datetime conversion dominates this loop)
            sched = self._sched_ts
            if len(sched) > 100_000:
                sched.clear()
            issued_f = math.nan
            issued = None
            append = self.predictions_log.append
            for p in output.predictions:
                if p.issued_at != issued_f:
                    issued_f = p.issued_at
                    issued = _ts(issued_f)
                s = p.scheduled
                if s is None:
                    s_ts = None
                else:
                    s_ts = sched.get(s)
                    if s_ts is None:
                        s_ts = sched[s] = _ts(s)
                append(
                    (
                        issued,
                        p.vehicle_id,
                        p.trip_id,
                        p.route_id,
                        p.stop_id,
                        p.stop_sequence,
                        _ts(p.predicted),
                        _ts(p.p10),
                        _ts(p.p90),
                        s_ts,
                    )
                )


class HistoryWriter:
    """Writes :class:`HistoryBatch` es with COPY, one transaction per batch."""

    def __init__(self, pool: asyncpg.Pool, *, schema: str | None = None) -> None:
        self.pool = pool
        self.schema = schema
        self.rows_written = 0

    async def write(self, batch: HistoryBatch) -> int:
        """Make every row of ``batch`` durable (all or nothing); returns the rows written."""
        if not len(batch):
            return 0
        async with self.pool.acquire() as conn:
            for table, key in PARTITION_KEYS.items():  # the days' partitions first
                rows = getattr(batch, table)
                if rows:
                    await ensure_days(conn, table, days_of(rows, COLUMNS[table].index(key)))
        async with self.pool.acquire() as conn, conn.transaction():
            for table, columns in COLUMNS.items():
                rows = getattr(batch, table)
                if rows:
                    await conn.copy_records_to_table(
                        table, records=rows, columns=columns, schema_name=self.schema
                    )
        n = len(batch)
        self.rows_written += n
        return n
