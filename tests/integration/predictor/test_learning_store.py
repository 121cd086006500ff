"""Profiles and checkpoints round-trip through a real PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import asyncpg
import pytest

from feeds.gtfs import load_network
from feeds.history import HistoryBatch, HistoryWriter
from feeds.learning import (
    load_checkpoint,
    load_profiles,
    read_visits,
    save_checkpoint,
    save_profiles,
)
from feeds.replay_files import read_positions
from predictor.events import Rejection, RejectReason, TrackerOutput
from predictor.profiles import build_profiles
from predictor.replay import replay
from transit.pings import Ping

SLICE = Path(__file__).resolve().parents[2] / "data" / "wmata-c53-slice"


async def test_profiles_built_from_stored_visits_round_trip(pg_pool: asyncpg.Pool) -> None:
    net = load_network(SLICE / "gtfs")
    visits = replay(net, read_positions(SLICE / "vehicle_positions.csv").pings).visits
    batch = HistoryBatch()
    # the visits alone (a rejected ping stores no position)
    gone = Rejection("v", 0.0, RejectReason.DUPLICATE)
    batch.add(Ping("v", 0.0, 0.0, 0.0), TrackerOutput(visits=tuple(visits), rejection=gone))
    await HistoryWriter(pg_pool).write(batch)
    stored = await read_visits(pg_pool, date(2026, 2, 16), date(2026, 2, 16))
    assert len(stored) == len(visits)
    assert await read_visits(pg_pool, date(2026, 2, 17), date(2026, 2, 18)) == []
    prof = build_profiles(net, stored)
    direct = build_profiles(net, visits)
    assert prof.links.keys() == direct.links.keys()
    for key, lp in prof.links.items():  # timestamptz keeps microseconds
        assert lp.mean == pytest.approx(direct.links[key].mean, abs=1e-4)
        assert lp.n == direct.links[key].n
    assert await load_profiles(pg_pool) is None
    build = await save_profiles(pg_pool, prof, 1771300000.0)
    got = await load_profiles(pg_pool)
    assert got is not None
    assert got.links == prof.links
    assert got.dwell == prof.dwell
    assert got.starts.snapshot() == prof.starts.snapshot()
    assert (got.first_day, got.last_day, got.visits) == ("20260216", "20260216", len(visits))
    # a second build replaces the first whole
    prof.links = dict(list(prof.links.items())[:3])
    assert await save_profiles(pg_pool, prof, 1771400000.0) > build
    again = await load_profiles(pg_pool)
    assert again is not None
    assert len(again.links) == 3


async def test_checkpoint_is_kept_while_fresh(pg_pool: asyncpg.Pool) -> None:
    snap = {"segments": {"a": [1.0, 2.0]}, "version": 1}
    size = await save_checkpoint(pg_pool, "tracker-0", snap, 1000.0)
    assert size > 0
    assert await load_checkpoint(pg_pool, "tracker-0", 600.0, 1500.0) == snap
    assert await load_checkpoint(pg_pool, "tracker-0", 600.0, 2000.0) is None  # too old
    assert await load_checkpoint(pg_pool, "tracker-1", 600.0, 1500.0) is None
    await save_checkpoint(pg_pool, "tracker-0", {"version": 2}, 1900.0)
    assert await load_checkpoint(pg_pool, "tracker-0", 600.0, 2000.0) == {"version": 2}


@pytest.mark.parametrize("body", [b"not zlib", b"x\x9c\x03\x00\x00\x00\x00\x01"])
async def test_a_broken_checkpoint_is_ignored(pg_pool: asyncpg.Pool, body: bytes) -> None:
    async with pg_pool.acquire() as conn:
        await conn.execute("INSERT INTO tracker_checkpoints VALUES ('t', now(), 1000.0, $1)", body)
    assert await load_checkpoint(pg_pool, "t", 600.0, 1100.0) is None
