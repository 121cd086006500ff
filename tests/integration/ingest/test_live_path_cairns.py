"""Simulated Cairns buses through the stream, the real tracker and both stores."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from feeds.history import HistoryWriter
from feeds.live_state import LiveState
from feeds.simulator import Simulator, service_day_origin
from feeds.stream import PositionStream
from predictor.tracker import Tracker
from transit.network import Network
from web.tracking.worker import IngestCounters, TrackerWorker

DAY = date(2014, 6, 10)  # a Tuesday of the Cairns feed


@pytest.mark.slow  # the real tracker on ~1,500 pings
async def test_simulated_fleet_becomes_live_arrivals_and_history(
    cairns: Network,
    stream: PositionStream,
    history: HistoryWriter,
    live: LiveState,
    ingest_pool: asyncpg.Pool,
) -> None:
    sim = Simulator(cairns, DAY, interval_s=20.0, dropout=0.0)
    start = service_day_origin(DAY, cairns.timezone) + 7.5 * 3600
    pings = sim.pings_between(start, start + 600)
    assert len({p.vehicle_id for p in pings}) > 20
    clock = [start + 600.0]
    worker = TrackerWorker(
        stream, Tracker(cairns), history, live, IngestCounters(), clock=lambda: clock[0]
    )
    await worker.start()
    published = await stream.publish(pings, source="sim")
    assert published.accepted == len(pings)
    while await worker.step(block_ms=10):
        pass
    c = worker.counters
    assert c.acked == len(pings)
    assert c.processed == len(pings)
    assert c.predictions_issued > len(pings)  # many downstream stops per ping
    assert c.stop_visits > 0
    assert await stream.pending() == 0
    vehicles = await live.vehicles()
    assert {v.vehicle_id for v in vehicles} == {p.vehicle_id for p in pings}
    on_trip = [v for v in vehicles if v.trip_id and v.next_stop_sequence is not None]
    assert on_trip
    upcoming = await live.trip_predictions(on_trip[0].trip_id or "")
    assert upcoming
    assert all(p.stop_sequence >= (on_trip[0].next_stop_sequence or 0) for p in upcoming)
    at_stop = await live.stop_predictions(upcoming[0].stop_id)
    assert any(p.trip_id == on_trip[0].trip_id for p in at_stop)
    assert all(p.p10 <= p.predicted <= p.p90 for p in at_stop)
    counts = {
        table: await ingest_pool.fetchval(f"SELECT count(*) FROM {table}")
        for table in ("positions", "stop_visits", "segment_traversals", "predictions_log")
    }
    assert counts["positions"] == len(pings)
    assert counts["stop_visits"] == c.stop_visits
    assert counts["segment_traversals"] == c.segment_traversals
    assert counts["predictions_log"] == c.predictions_issued
    # a sweep an hour later finds every bus silent and withdraws its predictions
    clock[0] += 3600
    assert await worker.sweep() > 0
    assert await live.trip_predictions(on_trip[0].trip_id or "") == []
